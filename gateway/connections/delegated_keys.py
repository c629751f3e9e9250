"""Delegated keys: short-lived gateway keys that may only proxy for one connection.

A delegated key carries part of its issuing client's proxy power, never more: the issuer must hold
the ``proxy`` scope and be able to proxy for the connection itself (the connection is in its space
and its ``user_pattern`` admits the user), and the key's allow rules must each be covered by one of
the issuer's (``allow_rules.covers``). At the proxy the key keeps being held to its issuer: it stops
working when the issuer is disabled or loses the proxy scope, and keeps only the rules the issuer's
current rules still cover (``clients.store.authenticate_delegated``). Its calls spend the issuer's
rate limit and share of the OAuth budget.

Only the connection's owner or an operator issues, lists and revokes them (``access.changed_by``);
the CLI issues on behalf of a client (by default the connection's owner). The key is shown once, at
issue; only its SHA-256 is stored. Revoking the connection, or transferring it, revokes its keys.
Callers own the transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import store as audit
from gateway.clients.allow_rules import RuleError, covers, parse_rules
from gateway.clients.service_keys import IssuedKey, issue_key
from gateway.clients.store import (
    PROXY_SCOPE,
    Principal,
    client_names,
    find_client,
    principal_of,
)
from gateway.exceptions import BadRequest, Forbidden, NotFound
from gateway.kit import query
from gateway.kit.clock import rfc3339, utcnow
from gateway.kit.pagination import keyset_page
from gateway.models import Connection, ConnectionStatus, DelegatedKey, ServiceClient
from gateway.tokens.errors import ConnectionRevoked

DEFAULT_TTL_SECONDS = 900
MAX_TTL_SECONDS = 3600
MAX_RULES = 50
MAX_RULE_LENGTH = 300
LISTING = "delegated-keys"
ISSUED_ACTION = "connection.delegated_key_issued"
REVOKED_ACTION = "connection.delegated_key_revoked"


class AllowNotSubset(BadRequest):
    """Raised when a requested rule is not covered by any of the issuer's own rules."""

    code = "allow_not_subset"


class DelegationForbidden(Forbidden):
    """Raised when the issuer could not proxy for the connection itself (no ``proxy`` scope, or
    the connection is outside its space or user pattern)."""

    code = "delegation_forbidden"


class DelegatedKeyNotFound(NotFound):
    """Raised when the connection has no delegated key with the given id."""

    code = "delegated_key_not_found"


Rule = Annotated[str, Field(min_length=1, max_length=MAX_RULE_LENGTH)]


class DelegatedKeyRequest(BaseModel):
    """``POST /v1/connections/{id}/keys``."""

    model_config = ConfigDict(extra="forbid")

    ttl_seconds: int = Field(DEFAULT_TTL_SECONDS, ge=1, le=MAX_TTL_SECONDS, strict=True)
    allow: list[Rule] | None = Field(None, min_length=1, max_length=MAX_RULES)


def check_issuer(issuer: Principal, connection: Connection) -> None:
    """DelegationForbidden unless ``issuer`` could proxy for ``connection`` itself."""
    if PROXY_SCOPE not in issuer.scopes:
        reason, message = "no_proxy_scope", "the issuer lacks the 'proxy' scope it would delegate"
    elif connection.confined_to_client_id != issuer.space:
        reason, message = "outside_space", "the connection is outside the issuer's space"
    elif not issuer.namespace.admits_user_id(connection.user_id):
        reason, message = "user_pattern", "the issuer's user_pattern does not admit the user"
    else:
        return
    raise DelegationForbidden(
        f"{message}: a delegated key carries its issuer's own proxy power, never more",
        details={"reason": reason, "connection_id": str(connection.id), "issuer": issuer.name},
    )


async def client_issuer(
    session: AsyncSession, connection: Connection, name: str | None
) -> Principal:
    """The client an operator at the CLI issues a key on behalf of: ``name``, by default the
    connection's owner; it must be enabled."""
    if name is None:
        owner = connection.owner_client_id
        client = await session.get(ServiceClient, owner) if owner is not None else None
        if client is None:
            raise DelegationForbidden(
                "the connection is owned by operator: name the client whose proxy power the key "
                "carries",
                details={"reason": "no_client", "connection_id": str(connection.id)},
            )
    else:
        client = await find_client(session, name)
    if client.revoked_at is not None:
        raise DelegationForbidden(
            f"client {client.name} is disabled",
            details={"reason": "client_disabled", "connection_id": str(connection.id)},
        )
    return principal_of(client)


def chosen_rules(issuer: Principal, allow: Sequence[str] | None) -> list[str]:
    """``allow`` (each rule covered by one of the issuer's), or the issuer's own rules."""
    if allow is None:
        return [str(rule) for rule in issuer.rules]
    try:
        wanted = parse_rules(allow)
    except RuleError as exc:
        raise BadRequest(str(exc), code="invalid_rule") from exc
    for text, rule in zip(allow, wanted, strict=True):
        if not any(covers(own, rule) for own in issuer.rules):
            raise AllowNotSubset(
                f"rule {str(rule)!r} is not covered by any of the issuer's own rules",
                details={"rule": text, "issuer_rules": [str(own) for own in issuer.rules]},
            )
    return list(dict.fromkeys(str(rule) for rule in wanted))


async def issue(
    session: AsyncSession,
    connection: Connection,
    issuer: Principal,
    *,
    ttl_seconds: int,
    allow: Sequence[str] | None,
    actor: str,
) -> tuple[DelegatedKey, IssuedKey]:
    """A new key for ``connection`` (locked by the caller, who checked the actor may change it),
    carrying ``issuer``'s proxy power; audited as ``connection.delegated_key_issued``."""
    check_issuer(issuer, connection)
    if connection.status is ConnectionStatus.REVOKED:
        raise ConnectionRevoked(
            "the connection was revoked", details={"connection_id": str(connection.id)}
        )
    rules = chosen_rules(issuer, allow)
    issued = issue_key()
    delegated = DelegatedKey(
        id=uuid.uuid4(),
        connection_id=connection.id,
        key_prefix=issued.lookup_prefix,
        key_hash=issued.key_hash,
        allow_rules=rules,
        issued_by_client_id=issuer.client_id,
        issued_by=actor[:128],
        expires_at=utcnow() + timedelta(seconds=ttl_seconds),
    )
    session.add(delegated)
    await session.flush()
    await session.refresh(delegated)  # created_at is the database's
    audit.record(
        session,
        actor=actor,
        action=ISSUED_ACTION,
        connection_id=connection.id,
        details={
            "delegated_key_id": str(delegated.id),
            "key_prefix": delegated.key_prefix,
            "allow": rules,
            "client": issuer.name,
            "expires_at": rfc3339(delegated.expires_at),
        },
    )
    return delegated, issued


async def listing(
    session: AsyncSession, connection_id: uuid.UUID, *, cursor: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the connection's keys as listed (``key_json``), newest first, revoked and
    expired ones included, and the cursor of the next page."""
    page = await keyset_page(
        session,
        select(DelegatedKey).where(DelegatedKey.connection_id == connection_id),
        listing=LISTING,
        at=DelegatedKey.created_at,
        id_=DelegatedKey.id,
        cursor=cursor,
        limit=limit,
    )
    names = await client_names(session, (key.issued_by_client_id for key in page.items))
    return [key_json(key, names) for key in page.items], page.next_cursor


async def revoke(
    session: AsyncSession, connection_id: uuid.UUID, key_id: str, *, actor: str
) -> DelegatedKey:
    """Revoke the connection's key ``key_id`` (a revoked one stays as it is); every replica drops
    it on commit. DelegatedKeyNotFound when the connection has no such key."""
    delegated = await session.scalar(
        select(DelegatedKey)
        .where(
            DelegatedKey.id == query.id_in_path(key_id), DelegatedKey.connection_id == connection_id
        )
        .with_for_update()
    )
    if delegated is None:
        raise DelegatedKeyNotFound(
            f"the connection has no delegated key with the id {key_id[:64]!r}",
            details={"connection_id": str(connection_id), "key_id": key_id[:64]},
        )
    if delegated.revoked_at is None:
        delegated.revoked_at = utcnow()
        audit.record(
            session,
            actor=actor,
            action=REVOKED_ACTION,
            connection_id=connection_id,
            details={"delegated_key_id": str(delegated.id), "reason": "revoked"},
        )
    return delegated


async def revoke_all(
    session: AsyncSession, connection_id: uuid.UUID, *, actor: str, reason: str
) -> list[uuid.UUID]:
    """Revoke every live key of the connection (it was revoked or transferred); each revocation
    audited with ``reason``."""
    return await revoke_all_of(session, [connection_id], actor=actor, reason=reason)


async def revoke_all_of(
    session: AsyncSession, connection_ids: Sequence[uuid.UUID], *, actor: str, reason: str
) -> list[uuid.UUID]:
    """``revoke_all`` for each of the connections, in one statement."""
    now = utcnow()
    revoked = (
        await session.execute(
            update(DelegatedKey)
            .where(
                DelegatedKey.connection_id.in_(connection_ids),
                DelegatedKey.revoked_at.is_(None),
                DelegatedKey.expires_at > now,
            )
            .values(revoked_at=now)
            .returning(DelegatedKey.id, DelegatedKey.connection_id)
        )
    ).all()
    for key_id, connection_id in revoked:
        audit.record(
            session,
            actor=actor,
            action=REVOKED_ACTION,
            connection_id=connection_id,
            details={"delegated_key_id": str(key_id), "reason": reason},
        )
    return [key_id for key_id, _ in revoked]


def key_json(key: DelegatedKey, names: Mapping[uuid.UUID, str]) -> dict[str, Any]:
    """A key as listed: never the key itself, only its prefix."""
    client = key.issued_by_client_id
    return {
        "id": str(key.id),
        "connection_id": str(key.connection_id),
        "prefix": key.key_prefix,
        "allow": list(key.allow_rules),
        "client": names.get(client, str(client)) if client is not None else None,
        "issued_by": key.issued_by,
        "created_at": rfc3339(key.created_at),
        "expires_at": rfc3339(key.expires_at),
        "revoked_at": rfc3339(key.revoked_at),
    }


def issued_json(
    key: DelegatedKey, issued: IssuedKey, names: dict[uuid.UUID, str]
) -> dict[str, Any]:
    """The answer to an issue: the listed fields and, this once, the key."""
    return {**key_json(key, names), "key": issued.key}
