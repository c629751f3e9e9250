"""What the console's pages show: display values built from the admin API's own views, never a token."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gateway.connections.views import connection_json
from gateway.console.history import History, Outbound
from gateway.kit.clock import rfc3339
from gateway.models import AuditEvent, Connection, ConnectionStatus, EventDelivery

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
# The audit actions and outbound events that tell a connection's refresh story. The refresher audits
# what changes a connection's state; its routine successes are metrics, and ``last_refreshed_at``.
REFRESH_ACTIONS = frozenset(
    {
        "connection.needs_reauth",
        "connection.refresh_requested",
        "connection.credentials_unreadable",
        "connection.credentials_readable",
    }
)
REFRESH_EVENTS = frozenset({"connection.refresh_failed", "connection.recovered"})
REFRESHER = "gateway:refresher"


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
        "meaning": STATUS_MEANING[c.status],
        "created": moment(c.created_at, now),
        "connected": moment(c.connected_at, now),
        "access_expires": moment(c.expires_at, now),
        "refresh_expires": moment(c.refresh_token_expires_at, now),
        "last_refreshed": moment(c.last_refreshed_at, now),
        "next_refresh": moment(c.next_refresh_at, now),
    }


@dataclass(frozen=True)
class Entry:
    """One line of a history: who did what, when."""

    when: datetime
    at: Moment
    what: str
    by: str
    details: str


def details_text(details: Mapping[str, Any]) -> str:
    return ", ".join(
        f"{key}={value if isinstance(value, str) else json.dumps(value)}"
        for key, value in details.items()
    )


def audit_entries(events: Iterable[AuditEvent], now: datetime) -> list[Entry]:
    return [
        Entry(e.occurred_at, moment(e.occurred_at, now), e.action, e.actor, details_text(e.details))
        for e in events
    ]


def refresh_history(history: History, now: datetime) -> list[Entry]:
    audited = audit_entries((e for e in history.audit if e.action in REFRESH_ACTIONS), now)
    reported = [
        Entry(
            o.event.occurred_at,
            moment(o.event.occurred_at, now),
            o.event.type,
            REFRESHER,
            details_text({"reason": o.event.data.get("reason")}),
        )
        for o in history.outbound
        if o.event.type in REFRESH_EVENTS
    ]
    return sorted(audited + reported, key=lambda entry: entry.when, reverse=True)


@dataclass(frozen=True)
class Delivery:
    endpoint: str
    state: str
    attempts: int
    at: Moment
    last_error: str | None


def delivery(d: EventDelivery, now: datetime) -> Delivery:
    if d.delivered_at is not None:
        state, when = "delivered", d.delivered_at
    elif d.abandoned_at is not None:
        state, when = "abandoned", d.abandoned_at  # in the dead-letter list
    else:
        state, when = "pending", d.next_attempt_at
    return Delivery(d.endpoint, state, d.attempts, moment(when, now), d.last_error)


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    at: Moment
    reason: str | None
    deliveries: list[Delivery]


def event(o: Outbound, now: datetime) -> Event:
    reason = o.event.data.get("reason")
    return Event(
        str(o.event.id),
        o.event.type,
        moment(o.event.occurred_at, now),
        str(reason) if reason is not None else None,
        [delivery(d, now) for d in o.deliveries],
    )
