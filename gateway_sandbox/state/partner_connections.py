"""Connections, Contio's admin view of a user's grants, derived without I/O from the store's records.

A connection's id is stable for one user and client (a UUIDv5), so it survives revocation and
re-authorization and can be found again from any token of that user (introspection's ``ext``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from gateway_sandbox.state.content_records import rfc3339
from gateway_sandbox.state.records import Connection, Grant, IssuedToken, User

_IDS = uuid.UUID("0b6c2f4e-8d1a-4c39-a5e7-3f9b1d2c6a80")
STATUSES = ("active", "revoked", "expired")


def connection_id(client_id: str, user_id: UUID) -> UUID:
    return uuid.uuid5(_IDS, f"connection:{client_id}:{user_id}")


def partner_app_id(client_id: str) -> UUID:
    return uuid.uuid5(_IDS, f"partner-app:{client_id}")


def summarize(
    client_id: str, user: User, grants: list[Grant], tokens: Iterable[IssuedToken], now: float
) -> Connection:
    """The connection of ``user`` made of ``grants`` (at least one) and their ``tokens``."""
    grant_ids = {grant.id for grant in grants}
    live_grants = {grant.id for grant in grants if grant.revoked_at is None}
    refresh_tokens = [t for t in tokens if t.kind == "refresh_token" and t.grant_id in grant_ids]
    live = [
        t
        for t in refresh_tokens
        if t.grant_id in live_grants and t.revoked_at is None and t.rotated_at is None
    ]
    if not live_grants:
        status = "revoked"
    elif any(now < t.expires_at for t in live):
        status = "active"
    else:
        status = "expired"
    newest = max(grants, key=lambda grant: grant.created_at)
    moments = [grant.created_at for grant in grants]
    moments += [grant.revoked_at for grant in grants if grant.revoked_at is not None]
    moments += [t.issued_at for t in refresh_tokens]
    used = [grant.last_used_at for grant in grants if grant.last_used_at is not None]
    return Connection(
        id=connection_id(client_id, user.id),
        user=user,
        scopes=newest.scopes,
        status=status,
        expires_at=max((t.expires_at for t in live), default=None),
        activated_at=min(grant.created_at for grant in grants),
        last_used_at=max(used, default=None),
        updated_at=max(moments),
    )


def to_json(connection: Connection) -> dict[str, Any]:
    def moment(value: float | None) -> str | None:
        return None if value is None else rfc3339(value)

    return {
        "id": str(connection.id),
        "user_id": str(connection.user.id),
        "user_name": connection.user.name,
        "user_email": connection.user.email,
        "oauth_scopes": list(connection.scopes),
        "oauth_expires_at": moment(connection.expires_at),
        "feature_activated_at": rfc3339(connection.activated_at),
        "last_used_at": moment(connection.last_used_at),
        "status": connection.status,
        "created_at": rfc3339(connection.activated_at),
        "updated_at": rfc3339(connection.updated_at),
    }
