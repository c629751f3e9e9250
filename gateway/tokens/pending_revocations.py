"""Tokens owed a revocation at the provider, kept until it is done: each revoked grant's tokens
sealed into a ``pending_revocations`` row (bound to that row), written in the transaction that
revoked the connection. ``connections.upstream_revocation`` attempts and retries them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kit.crypto import Binding, KeyRing
from gateway.models import Connection, PendingRevocation
from gateway.settings import Settings

TABLE = "pending_revocations"
# Upstream calls of one attempt at most: introspection, two RFC 7009 revocations, the admin API.
CALLS_PER_ATTEMPT = 4


@dataclass(frozen=True)
class Tokens:
    """Tokens on their way to being revoked; the repr shows stars."""

    access_token: SecretStr | None
    refresh_token: SecretStr | None

    def __bool__(self) -> bool:
        return self.access_token is not None or self.refresh_token is not None


@dataclass(frozen=True)
class Claim:
    """One attempt's hold on a pending row, with its tokens opened."""

    id: uuid.UUID
    connection_id: uuid.UUID
    provider: str
    tokens: Tokens
    provider_connection_id: str | None
    revoked_version: int
    attempts: int


def claim_seconds(settings: Settings) -> float:
    """How long one attempt holds its row: the longest its upstream calls can take."""
    per_call = settings.http_connect_timeout_seconds + settings.http_read_timeout_seconds
    return CALLS_PER_ATTEMPT * per_call


def _binding(row_id: uuid.UUID, column: str) -> Binding:
    return Binding(TABLE, column, str(row_id))


def add(
    session: AsyncSession,
    keys: KeyRing,
    connection: Connection,
    tokens: Tokens,
    settings: Settings,
    now: datetime,
) -> Claim:
    """Queue ``tokens`` of the (just revoked) ``connection``, claimed by the caller for one attempt."""
    row = _row(keys, connection, tokens, attempts=1)
    row.next_attempt_at = now + timedelta(seconds=claim_seconds(settings))
    session.add(row)
    return claim(row, tokens)


def queue(
    session: AsyncSession, keys: KeyRing, connection: Connection, tokens: Tokens, now: datetime
) -> None:
    """Queue ``tokens`` of the (just revoked) ``connection`` for the background retry, due at
    ``now``: no attempt has been made."""
    row = _row(keys, connection, tokens, attempts=0)
    row.next_attempt_at = now
    session.add(row)


def _row(
    keys: KeyRing, connection: Connection, tokens: Tokens, *, attempts: int
) -> PendingRevocation:
    row = PendingRevocation(
        id=uuid.uuid4(),
        connection_id=connection.id,
        provider=connection.provider,
        provider_connection_id=connection.provider_connection_id,
        revoked_version=connection.token_version,
        attempts=attempts,
    )
    for column in ("access_token", "refresh_token"):
        token: SecretStr | None = getattr(tokens, column)
        if token is not None:
            sealed = keys.seal(token.get_secret_value(), _binding(row.id, column))
            setattr(row, column, sealed)
    return row


async def pending_for(session: AsyncSession, connection_id: uuid.UUID) -> PendingRevocation | None:
    return await session.scalar(
        select(PendingRevocation)
        .where(PendingRevocation.connection_id == connection_id)
        .order_by(PendingRevocation.created_at.desc())
        .limit(1)
    )


def claim(row: PendingRevocation, tokens: Tokens) -> Claim:
    return Claim(
        id=row.id,
        connection_id=row.connection_id,
        provider=row.provider,
        tokens=tokens,
        provider_connection_id=row.provider_connection_id,
        revoked_version=row.revoked_version,
        attempts=row.attempts,
    )


def open_tokens(keys: KeyRing, row: PendingRevocation) -> Tokens:
    """The row's tokens; DecryptionError when one does not open with ``keys``."""

    def opened(column: str) -> SecretStr | None:
        sealed: str | None = getattr(row, column)
        if sealed is None:
            return None
        return SecretStr(keys.open(sealed, _binding(row.id, column)))

    return Tokens(access_token=opened("access_token"), refresh_token=opened("refresh_token"))
