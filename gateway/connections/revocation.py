"""Revoking a connection: locally at once, at the provider now or in the background.

``mark_revoked`` is the local half, shared by every way a connection ends (an operator here, the
user or an admin at the provider, whose webhook tells us): in the caller's transaction it marks the
connection revoked, erases its ciphertexts (bumping ``token_version``, so a refresh in flight loses
its compare-and-swap and cannot write tokens back), stops its refreshes, writes the audit event and
the ``connection.revoked`` event.

``Revoker.revoke`` is an operator's revocation: the local half, then the provider's (see
``upstream_revocation``) outside any transaction. It is idempotent: revoking a revoked connection
changes nothing and calls no provider.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import store as audit
from gateway.connections import queries, store
from gateway.connections.upstream_revocation import Claim, Tokens, UpstreamRevoker, add
from gateway.events.outbox import connection_data, emit
from gateway.kit.clock import utcnow
from gateway.kit.crypto import DecryptionError, KeyRing
from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus
from gateway.providers.registry import ProviderRegistry
from gateway.providers.spender import OPERATOR
from gateway.settings import Settings

log = logging.getLogger(__name__)

UpstreamState = Literal["done", "pending"]


async def mark_revoked(
    session: AsyncSession,
    endpoints: Sequence[str],
    connection: Connection,
    *,
    actor: str,
    action: str,
    reason: str,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Revoke ``connection`` (locked by the caller) in the caller's transaction."""
    newly = connection.status is not ConnectionStatus.REVOKED
    connection.status = ConnectionStatus.REVOKED
    store.erase_tokens(connection)
    connection.next_refresh_at = None
    audit.record(session, actor=actor, action=action, connection_id=connection.id, details=details)
    if newly:
        await emit(session, endpoints, "connection.revoked", connection_data(connection, reason))


@dataclass(frozen=True)
class Revocation:
    connection: Connection
    upstream: UpstreamState


class Revoker:
    def __init__(
        self,
        db: Database,
        keys: KeyRing,
        providers: ProviderRegistry,
        settings: Settings,
        http: httpx.AsyncClient,
    ) -> None:
        self._db = db
        self._keys = keys
        self._settings = settings
        self.upstream = UpstreamRevoker(db, keys, providers, settings, http)

    async def revoke(self, connection_id: uuid.UUID, *, actor: str) -> Revocation:
        """Revoke locally, then try the provider once; ``pending`` means the worker retries it."""
        claim: Claim | None = None
        async with self._db.transaction() as session:
            connection = await queries.get(session, connection_id, for_update=True)
            if _has_tokens(connection) or connection.status is not ConnectionStatus.REVOKED:
                tokens = self._tokens(connection)
                await mark_revoked(
                    session,
                    self._settings.event_endpoints,
                    connection,
                    actor=actor,
                    action="connection.revoked",
                    reason="revoked_by_operator",
                )
                if tokens:
                    claim = add(session, self._keys, connection, tokens, self._settings, utcnow())
        if claim is None:
            pending = await self.upstream.is_pending(connection_id)
        else:
            pending = not await self.upstream.attempt(claim, OPERATOR)  # an operator revokes
        async with self._db.transaction() as session:
            connection = await queries.get(session, connection_id)
        upstream: UpstreamState = "pending" if pending else "done"
        log.info("connection %s revoked by %s (upstream: %s)", connection_id, actor, upstream)
        return Revocation(connection, upstream)

    def _tokens(self, connection: Connection) -> Tokens:
        """The tokens to revoke upstream; none if they no longer open (a retired key)."""
        try:
            access = store.access_token(self._keys, connection) if connection.access_token else None
            refresh = store.refresh_token(self._keys, connection)
        except DecryptionError:
            log.error(
                "connection %s: its tokens do not open with the key ring; revoking it locally only",
                connection.id,
            )
            return Tokens(None, None)
        return Tokens(
            access_token=SecretStr(access) if access is not None else None,
            refresh_token=SecretStr(refresh) if refresh is not None else None,
        )


def _has_tokens(connection: Connection) -> bool:
    return connection.access_token is not None or connection.refresh_token is not None
