"""What the console's pages show: display values built from the admin API's own views, never a token."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.connections.timeline.entries import OUTBOUND_EVENT, TimelineEntry
from gateway.connections.views import connection_json, requested_json
from gateway.kit.clock import rfc3339
from gateway.models import AuthMode, Connection, ConnectionStatus
from gateway.models.connection import STORED_CREDENTIAL_MODES
from gateway.providers.credential_profile import CredentialProfile
from gateway.providers.profile import BEARER, AuthHeader

STATUS_MEANING = {
    ConnectionStatus.ACTIVE: "usable; the gateway refreshes it ahead of expiry",
    ConnectionStatus.NEEDS_REAUTH: (
        "the provider rejected the user's grant; the user must connect again"
    ),
    ConnectionStatus.REVOKED: (
        "revoked and its tokens erased; a new connect session for the user reactivates it"
    ),
    ConnectionStatus.CREDENTIALS_UNREADABLE: (
        "its stored tokens do not open with the gateway's keys; the user must connect again, "
        "unless the missing key is restored"
    ),
}


# An active connection that holds a stored credential has nothing to refresh.
STORED_ACTIVE = "usable; its stored credential is sent as it is, with nothing to refresh"


def meaning(c: Connection) -> str:
    if c.status is ConnectionStatus.ACTIVE and c.auth_mode in STORED_CREDENTIAL_MODES:
        return STORED_ACTIVE
    return STATUS_MEANING[c.status]


@dataclass(frozen=True)
class Moment:
    at: str | None
    relative: str


def moment(value: datetime | None, now: datetime) -> Moment:
    if value is None:
        return Moment(None, "")
    return Moment(rfc3339(value), span(int((value - now).total_seconds())))


def span(seconds: int) -> str:
    size = abs(seconds)
    if size < 60:
        return "just now"
    if size < 3600:
        text = f"{size // 60}m"
    elif size < 86400:
        text = f"{size // 3600}h {size % 3600 // 60:02d}m"
    else:
        text = f"{size // 86400}d {size % 86400 // 3600}h"
    return f"in {text}" if seconds > 0 else f"{text} ago"


def connection(
    c: Connection, now: datetime, owner: str, external_ids: Sequence[str]
) -> dict[str, Any]:
    """``owner``: the owning client's name or ``operator`` (``ownership.owner_label``)."""
    return {
        **connection_json(c, owner, external_ids),
        "subject": c.subject,
        "meaning": meaning(c),
        "created": moment(c.created_at, now),
        "connected": moment(c.connected_at, now),
        "access_expires": moment(c.expires_at, now),
        "refresh_expires": moment(c.refresh_token_expires_at, now),
        "last_refreshed": moment(c.last_refreshed_at, now),
        "next_refresh": moment(c.next_refresh_at, now),
        "revision": c.revision,
        "label_pairs": [f"{key}={value}" for key, value in sorted(c.labels.items())],
        "metadata_text": json.dumps(c.metadata_, indent=2, ensure_ascii=False, sort_keys=True),
    }


@dataclass(frozen=True)
class Detail:
    """One line of what the connection page says of how a connection authenticates: ``key`` names
    it for tests and styles, ``term`` for people."""

    key: str
    term: str
    value: str


# How a stored credential of each kind reaches its provider (the header's name is the profile's).
SENT_AS = {
    AuthMode.API_KEY: "Authorization: Bearer <the API key>",
    AuthMode.BASIC: "Authorization: Basic <user name and password> (RFC 7617)",
}


def auth_details(
    c: Connection, profile: CredentialProfile | None, auth: AuthHeader = BEARER
) -> list[Detail]:
    """How the connection holds or obtains its credential, and its non-secret settings: what its
    row and its provider's profiles (``profile``, None when the provider takes no stored
    credential or is not configured; ``auth``, how it takes an access token or an API key) say,
    never a secret."""
    details = _credential_details(c, profile, auth)
    if c.provider_settings:
        shown = ", ".join(f"{name}={value}" for name, value in sorted(c.provider_settings.items()))
        details.append(Detail("settings", "Settings", shown))
    return details


def _credential_details(
    c: Connection, profile: CredentialProfile | None, auth: AuthHeader
) -> list[Detail]:
    if c.auth_mode in STORED_CREDENTIAL_MODES:
        header = (profile.header_name if profile is not None else None) or "its header"
        check = profile.verification if profile is not None else None
        sent_as = SENT_AS.get(AuthMode(c.auth_mode), f"{header}: <the value>")
        if c.auth_mode == AuthMode.API_KEY and auth != BEARER:
            sent_as = (
                f"?{auth.query_param}=<the API key>"
                if auth.query_param is not None
                else f"{auth.header}: {auth.header_value('<the API key>')}"
            )
        return [
            Detail("sent-as", "Sent as", sent_as),
            Detail(
                "verification",
                "Verification",
                f"{check.method} {check.path}, expecting {check.expect_status}"
                if check is not None
                else "none: stored unchecked",
            ),
        ]
    requested = requested_json(c)
    if requested is not None:
        return [
            Detail("grant", "Grant", "client credentials: the gateway's own client, no user"),
            Detail("requested-scopes", "Requested scopes", " ".join(requested["scopes"]) or "—"),
            Detail("audience", "Audience", requested["audience"] or "—"),
            Detail("resources", "Resources", " ".join(requested["resources"]) or "—"),
        ]
    grant = "the user's consent (authorization code); refreshed with its refresh token"
    return [Detail("grant", "Grant", grant)]


@dataclass(frozen=True)
class Entry:
    """One line of a connection's timeline: what happened, when, who did it."""

    id: str
    kind: str
    at: Moment
    actor: str
    details: str
    # An outbound event's delivery to each endpoint (``entries.delivery_json``).
    deliveries: list[dict[str, Any]]


def details_text(details: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{key}={value if isinstance(value, str) else json.dumps(value)}"
        for key, value in details.items()
    )


def timeline_entry(entry: TimelineEntry, now: datetime) -> Entry:
    details = dict(entry.details)
    deliveries = details.pop("deliveries", []) if entry.kind == OUTBOUND_EVENT else []
    shown = {key: value for key, value in details.items() if value is not None}
    return Entry(
        str(entry.id),
        entry.kind,
        moment(entry.at, now),
        entry.actor or "gateway",
        details_text(shown),
        deliveries,
    )


def delegated_key(key: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A delegated key as listed (``delegated_keys.key_json``), with its state: ``live``,
    ``expired`` or ``revoked``."""
    if key["revoked_at"] is not None:
        state = "revoked"
    # Both times are rfc3339's fixed format, so they compare as text.
    elif key["expires_at"] <= rfc3339(now):
        state = "expired"
    else:
        state = "live"
    return {**key, "state": state}
