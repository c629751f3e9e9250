"""A connection as the admin API and the CLI show it: state, times and the owner's annotations,
never a token."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.connections import external_ids, ownership
from gateway.connections.sharing import RevocationPlan
from gateway.kit.clock import rfc3339
from gateway.models import AuthMode, Connection
from gateway.providers.client_credentials import TokenRequest


def etag(connection: Connection) -> str:
    """The connection's strong entity tag: its ``revision``, which every change of a settable
    field (``enabled``, ``metadata``, ``external_ids``, ``labels``, ``is_default``) grows."""
    return f'"{connection.revision}"'


async def connections_json(
    session: AsyncSession, connections: Sequence[Connection]
) -> list[dict[str, Any]]:
    """The connections' JSON, their owners' names and external ids read in one query each."""
    names = await ownership.owner_names(session, connections)
    ids = await external_ids.of(session, (c.id for c in connections))
    return [
        connection_json(c, ownership.owner_label(c, names), ids.get(c.id, [])) for c in connections
    ]


async def one_json(session: AsyncSession, connection: Connection) -> dict[str, Any]:
    [shown] = await connections_json(session, [connection])
    return shown


def connection_json(
    connection: Connection, owner: str, external_ids: Sequence[str]
) -> dict[str, Any]:
    """``owner`` is the owning client's name or ``operator`` (``ownership.owner_label``)."""
    return {
        "id": str(connection.id),
        "user_id": connection.user_id,
        "provider": connection.provider,
        "owner": owner,
        # In its owner's own space (the owner is confined), rather than the shared one.
        "confined": connection.confined_to_client_id is not None,
        # The one of the user's connections to the provider in its space that
        # ``/proxy/users/{user_id}/...`` uses.
        "is_default": connection.is_default,
        # How it holds or obtains its credential: ``oauth_user`` (a user's grant),
        # ``client_credentials``, or a stored credential (``api_key``, ``basic``, ``header``).
        "auth_mode": connection.auth_mode,
        # What a client-credentials exchange asks for (scopes, audience, resources); else null.
        "requested": requested_json(connection),
        "status": connection.status.value,
        # False: paused; the proxy refuses it, the refresher keeps it fresh.
        "enabled": connection.enabled,
        "metadata": connection.metadata_,
        "external_ids": list(external_ids),
        "labels": connection.labels,
        # What the provider's token response said about the connection, or an operator set.
        "settings": connection.provider_settings,
        "scopes": list(connection.scopes or []),
        "access_token_expires_at": rfc3339(connection.expires_at),
        "refresh_token_expires_at": rfc3339(connection.refresh_token_expires_at),
        "last_refreshed_at": rfc3339(connection.last_refreshed_at),
        "last_refresh_error": refresh_error_json(connection.last_refresh_error),
        "consecutive_failures": connection.consecutive_failures,
        "created_at": rfc3339(connection.created_at),
        "updated_at": rfc3339(connection.updated_at),
    }


def requested_json(connection: Connection) -> dict[str, Any] | None:
    if connection.auth_mode != AuthMode.CLIENT_CREDENTIALS:
        return None
    return TokenRequest.of_json(connection.token_request).to_json()


def refresh_error_json(stored: dict[str, Any] | None) -> dict[str, str | None] | None:
    """``{code, message, at}`` from what the refresher stored (its ``at`` is any ISO offset)."""
    if not stored:
        return None
    at = stored.get("at")
    try:
        moment = datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        moment = None
    return {
        "code": str(stored.get("code", "unknown")),
        "message": str(stored.get("message", "")),
        "at": rfc3339(moment) if moment is not None and moment.tzinfo is not None else None,
    }


# What each upstream method does, in an operator's words (the CLI and the console show them).
UPSTREAM_METHOD_TEXT = {
    "none": "nothing is left to revoke at the provider",
    "grant_tokens": "this grant's tokens only (RFC 7009 token revocation)",
    "account_wide": "every grant of the provider account (the provider's account-wide revocation)",
}


def revocation_json(plan: RevocationPlan) -> dict[str, Any]:
    """What a revocation of ``plan.connection`` does (or did) at the provider and to the other
    connections holding a grant for the same provider account."""
    ended = {other.id for other in plan.ended}
    return {
        "connection_id": str(plan.connection.id),
        "upstream": plan.upstream,
        "sharing_connections": [
            {
                "id": str(other.id),
                "user_id": other.user_id,
                "provider": other.provider,
                "status": other.status.value,
                "ended": other.id in ended,
            }
            for other in plan.sharing
        ],
    }
