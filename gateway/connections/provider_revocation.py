"""A provider says a user's account connection was revoked: which of our connections does it end?

A connection whose account no other connection holds (or ever held) is the one the event is about:
it is revoked. On an account several connections hold grants for, the event names the account,
not a grant (Contio's connection id and ``for_user`` are the same for every grant of the user), and
one connection's own revocation (RFC 7009) may be behind it; so the provider is asked (RFC 7662
introspection) about each of them, and a connection stays only while the provider confirms its grant
active. A connection that joined the account after the event arrived is not the event's.

``findings`` reads and asks outside any transaction; the caller applies them in its own, with the
rows locked, so a grant refreshed or replaced meanwhile (its ``token_version`` moved) is kept.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kit.crypto import DecryptionError, KeyRing
from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus
from gateway.providers.client import OAuthClient
from gateway.providers.errors import ProviderError, ProviderUnavailable
from gateway.providers.spender import REFRESHER
from gateway.tokens import grant

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finding:
    """Whether the event ends one connection; ``at_version`` set when that was asked of the provider
    about the grant at that version (a later grant is not concerned)."""

    connection_id: uuid.UUID
    ends: bool
    at_version: int | None
    reason: str

    def applies_to(self, connection: Connection) -> bool:
        return self.ends and (self.at_version in (None, connection.token_version))


async def findings(
    db: Database,
    keys: KeyRing,
    provider: OAuthClient,
    *,
    subject: str | None,
    provider_connection_id: str | None,
) -> dict[uuid.UUID, Finding]:
    """What the event does to each unrevoked connection it matches, keyed by connection id.

    Raises ``ProviderUnavailable`` when the provider cannot be asked now (the event is retried)."""
    async with db.transaction() as session:
        matched = await _matched(session, provider.name, subject, provider_connection_id)
        shared = await _shared_subjects(session, provider.name, {c.subject for c in matched})
    found: dict[uuid.UUID, Finding] = {}
    for connection in matched:
        if connection.subject not in shared:
            found[connection.id] = Finding(connection.id, True, None, "sole_connection")
            continue
        active = await _grant_active(keys, provider, connection)
        reason = "grant_still_active" if active else "grant_ended"
        found[connection.id] = Finding(connection.id, not active, connection.token_version, reason)
    return found


async def locked_matches(
    session: AsyncSession,
    provider: str,
    subject: str | None,
    provider_connection_id: str | None,
) -> Sequence[Connection]:
    """The unrevoked connections the event matches, locked, in id order."""
    return await _matched(session, provider, subject, provider_connection_id, for_update=True)


async def _matched(
    session: AsyncSession,
    provider: str,
    subject: str | None,
    provider_connection_id: str | None,
    *,
    for_update: bool = False,
) -> Sequence[Connection]:
    # Matched by the provider's connection id when we learned it, else by the user's subject.
    matches = []
    if subject is not None:
        matches.append(Connection.subject == subject)
    if provider_connection_id is not None:
        matches.append(Connection.provider_connection_id == provider_connection_id)
    if not matches:
        return ()
    statement = (
        select(Connection)
        .where(
            Connection.provider == provider,
            or_(*matches),
            Connection.status != ConnectionStatus.REVOKED,
        )
        .order_by(Connection.id)
        .execution_options(populate_existing=True)
    )
    if for_update:
        statement = statement.with_for_update()
    return (await session.scalars(statement)).all()


async def _shared_subjects(session: AsyncSession, provider: str, subjects: set[str]) -> set[str]:
    """The subjects more than one connection (in any state) holds or held."""
    if not subjects:
        return set()
    rows = await session.execute(
        select(Connection.subject)
        .where(Connection.provider == provider, Connection.subject.in_(subjects))
        .group_by(Connection.subject)
        .having(func.count() > 1)
    )
    return {subject for (subject,) in rows}


async def _grant_active(keys: KeyRing, provider: OAuthClient, connection: Connection) -> bool:
    """Whether the provider still honours a token of the connection's grant; False when it cannot
    tell (no token that opens, an introspection it refuses)."""
    try:
        refresh = grant.refresh_token(keys, connection)
        access = grant.access_token(keys, connection) if connection.access_token else None
    except DecryptionError:
        log.error("connection %s: its tokens do not open with the key ring", connection.id)
        return False
    for token in (refresh, access):
        if token is None:
            continue
        try:
            # The provider's own event asked: the gateway's work, not a caller's.
            answer = await provider.introspect(token, spender=REFRESHER)
        except ProviderUnavailable:
            raise
        except ProviderError as exc:
            log.warning("connection %s: introspection failed (%s)", connection.id, exc.code)
            return False
        if answer.get("active") is True:
            return True
    return False
