"""Revoking a connection: locally at once, at the provider now or in the background.

``mark_revoked`` is the local half, shared by every way a connection ends (an operator here, the
user or an admin at the provider, whose webhook tells us): in the caller's transaction it marks the
connection revoked, erases its ciphertexts (bumping ``token_version``, so a refresh in flight loses
its compare-and-swap and cannot write tokens back), stops its refreshes, revokes its delegated keys,
writes the audit event and the ``connection.revoked`` event.

``Revoker.revoke`` is an operator's revocation: the local half, then the provider's (see
``upstream_revocation``) outside any transaction. It is idempotent: revoking a revoked connection
changes nothing and calls no provider. It never ends another connection that holds a grant for the
same provider account (see ``sharing``): with one still active, only this grant's tokens are
revoked; ``Revoker.preview`` tells what a revocation would do before it is done, and the
``Revocation`` tells what was done.
Tokens that do not open with the key ring are still erased here, but cannot be revoked at the
provider: the outcome says so (``not_possible``, with the reason). When the provider was asked and
did not revoke them (unreachable, refusing, or not configured in this gateway: ``pending``), the
outcome names that error too.
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
from gateway.connections import delegated_keys, queries, sharing
from gateway.connections.sharing import RevocationPlan
from gateway.connections.upstream_revocation import UpstreamRevoker, account_wide_available
from gateway.events.outbox import connection_data_of, emit_each
from gateway.exceptions import CredentialsUnreadable
from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus
from gateway.providers.registry import ProviderRegistry
from gateway.providers.spender import OPERATOR
from gateway.settings import Settings
from gateway.tokens import grant
from gateway.tokens.pending_revocations import Claim, Tokens, add

log = logging.getLogger(__name__)

UpstreamState = Literal["done", "pending", "not_possible"]
# An operator's revocation, as audited and as the ``connection.revoked`` event gives its reason.
ACTION = "connection.revoked"
REASON = "revoked_by_operator"


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
    await mark_all_revoked(
        session, endpoints, [(connection, details or {})], actor=actor, action=action, reason=reason
    )


async def mark_all_revoked(
    session: AsyncSession,
    endpoints: Sequence[str],
    revoked: Sequence[tuple[Connection, Mapping[str, Any]]],
    *,
    actor: str,
    action: str,
    reason: str,
) -> None:
    """``mark_revoked`` for each connection (all locked by the caller), with its audit details, in
    the caller's transaction: its writes go out together when the session flushes, one statement
    per table whatever their number."""
    newly = [
        connection for connection, _ in revoked if connection.status is not ConnectionStatus.REVOKED
    ]
    for connection, details in revoked:
        connection.status = ConnectionStatus.REVOKED
        grant.erase_tokens(connection)
        connection.next_refresh_at = None
        audit.record(
            session,
            actor=actor,
            action=action,
            connection_id=connection.id,
            details={**details, "labels": connection.labels},
        )
    await delegated_keys.revoke_all_of(
        session,
        [connection.id for connection, _ in revoked],
        actor=actor,
        reason="connection_revoked",
    )
    if newly:
        await emit_each(
            session,
            endpoints,
            "connection.revoked",
            await connection_data_of(session, newly, reason),
        )


async def preview(
    session: AsyncSession, settings: Settings, connection_id: uuid.UUID
) -> RevocationPlan:
    """What revoking the connection would do now, at the provider and to its account's other
    connections; changes nothing."""
    connection = await queries.get(session, connection_id)
    others = await sharing.sharing(session, connection)
    available = account_wide_available(settings, connection.provider)
    return sharing.plan(connection, others, account_wide_available=available)


@dataclass(frozen=True)
class UpstreamProblem:
    """Why the provider has not revoked the tokens: a stable code and an operator's message."""

    code: str
    message: str

    def json(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


UNREADABLE_UPSTREAM = (
    "the connection's tokens do not open with the gateway's keys, so they could not be revoked at "
    "the provider: revoke the grant in the provider's console"
)


@dataclass(frozen=True)
class Revocation:
    connection: Connection
    upstream: UpstreamState
    # What this revocation did at the provider, and the other connections of the account.
    plan: RevocationPlan
    # Why the provider was not asked (``not_possible``) or has not revoked them yet (``pending``),
    # when this revocation's attempt learnt why.
    upstream_error: UpstreamProblem | None = None

    def outcome(self) -> dict[str, Any]:
        """The upstream half of the answer, as the admin API and the CLI's JSON give it."""
        return upstream_outcome(self.upstream, self.upstream_error)


def upstream_outcome(upstream: UpstreamState, error: UpstreamProblem | None) -> dict[str, Any]:
    """``upstream_revocation``, and ``upstream_revocation_error`` when there is one."""
    found: dict[str, Any] = {"upstream_revocation": upstream}
    if error is not None:
        found["upstream_revocation_error"] = error.json()
    return found


@dataclass(frozen=True)
class LocalRevocation:
    """Revoking a locked connection here, decided before it is written: what it does at the
    provider and to its account's other connections, the tokens still to revoke there, and why
    they cannot be (they do not open with the key ring)."""

    connection: Connection
    plan: RevocationPlan
    tokens: Tokens
    unreadable: CredentialsUnreadable | None = None

    def details(self) -> dict[str, Any]:
        """The ``connection.revoked`` audit entry's details."""
        found = _plan_details(self.plan)
        if self.unreadable is not None:
            found |= {"upstream": "not_possible", "reason": self.unreadable.code}
        return found


def decide(
    keys: KeyRing, settings: Settings, connection: Connection, others: Sequence[Connection]
) -> LocalRevocation:
    """How revoking ``connection``, whose account's other unrevoked connections are ``others``,
    goes; changes nothing."""
    plan = sharing.plan(
        connection,
        others,
        account_wide_available=account_wide_available(settings, connection.provider),
    )
    try:
        tokens, unreadable = tokens_of(keys, connection), None
    except CredentialsUnreadable as exc:
        tokens, unreadable = Tokens(None, None), exc
    if not tokens:  # nothing opens, or nothing is left: nothing to revoke upstream
        plan = RevocationPlan(connection, "none", plan.sharing)
    return LocalRevocation(connection, plan, tokens, unreadable)


def tokens_of(keys: KeyRing, connection: Connection) -> Tokens:
    """The tokens to revoke upstream; CredentialsUnreadable if one does not open."""
    access = grant.access_token(keys, connection) if connection.access_token else None
    refresh = grant.refresh_token(keys, connection)
    return Tokens(
        access_token=SecretStr(access) if access is not None else None,
        refresh_token=SecretStr(refresh) if refresh is not None else None,
    )


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

    async def preview(self, connection_id: uuid.UUID) -> RevocationPlan:
        async with self._db.transaction() as session:
            return await preview(session, self._settings, connection_id)

    async def revoke(self, connection_id: uuid.UUID, *, actor: str) -> Revocation:
        """Revoke locally, then try the provider once; ``pending`` means the worker retries it."""
        claim: Claim | None = None
        async with self._db.transaction() as session:
            connection, others = await sharing.lock_account(session, connection_id)
            local = decide(self._keys, self._settings, connection, others)
            plan, unreadable = local.plan, local.unreadable
            if _has_tokens(connection) or connection.status is not ConnectionStatus.REVOKED:
                await mark_revoked(
                    session,
                    self._settings.event_endpoints,
                    connection,
                    actor=actor,
                    action=ACTION,
                    reason=REASON,
                    details=local.details(),
                )
                if local.tokens:
                    claim = add(
                        session, self._keys, connection, local.tokens, self._settings, utcnow()
                    )
        if unreadable is not None:
            async with self._db.transaction() as session:
                connection = await queries.get(session, connection_id)
            log.warning(
                "connection %s revoked by %s; not at the provider: its tokens do not open",
                connection_id,
                actor,
            )
            return Revocation(
                connection,
                "not_possible",
                RevocationPlan(connection, plan.upstream, plan.sharing),
                UpstreamProblem(unreadable.code, UNREADABLE_UPSTREAM),
            )
        problem: UpstreamProblem | None = None
        if claim is None:
            pending = await self.upstream.is_pending(connection_id)
        else:
            failed = await self.upstream.attempt(claim, OPERATOR)  # an operator revokes
            pending = failed is not None
            if failed is not None:
                problem = UpstreamProblem(failed.code, failed.message)
        async with self._db.transaction() as session:
            connection = await queries.get(session, connection_id)
        upstream: UpstreamState = "pending" if pending else "done"
        log.info(
            "connection %s revoked by %s (upstream: %s, %s; %d other connection(s) share the "
            "account)",
            connection_id,
            actor,
            plan.upstream,
            upstream,
            len(plan.sharing),
        )
        return Revocation(
            connection, upstream, RevocationPlan(connection, plan.upstream, plan.sharing), problem
        )


def _plan_details(plan: RevocationPlan) -> dict[str, Any]:
    return {
        "upstream": plan.upstream,
        "sharing_connection_ids": [str(other.id) for other in plan.sharing],
    }


def _has_tokens(connection: Connection) -> bool:
    return (
        connection.access_token is not None
        or connection.refresh_token is not None
        or connection.credential is not None
    )
