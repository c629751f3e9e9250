"""Creating, finding and authenticating service clients. Callers own the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.clients.keys import IssuedKey, issue_key, key_matches, lookup_prefix
from gateway.clients.policy import AllowRule, RuleError, parse_rules
from gateway.exceptions import BadRequest, Conflict
from gateway.models import ServiceClient

SCOPES = ("connect", "proxy", "admin")


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    client_id: uuid.UUID
    name: str
    scopes: frozenset[str]
    rules: tuple[AllowRule, ...]


def validate_client(name: str, scopes: Sequence[str], allow: Sequence[str]) -> None:
    if not name or len(name) > 100 or not name.replace("-", "").replace("_", "").isalnum():
        raise BadRequest(
            "client name must be 1-100 letters, digits, - or _", code="invalid_client_name"
        )
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise BadRequest(
            f"scopes must be one or more of {', '.join(SCOPES)}",
            code="invalid_scope",
            details={"unknown": unknown},
        )
    try:
        parse_rules(allow)
    except RuleError as exc:
        raise BadRequest(str(exc), code="invalid_rule") from exc


async def create_client(
    session: AsyncSession, name: str, scopes: Sequence[str], allow: Sequence[str]
) -> tuple[ServiceClient, IssuedKey]:
    validate_client(name, scopes, allow)
    issued = issue_key()
    client = ServiceClient(
        name=name,
        key_prefix=issued.lookup_prefix,
        key_hash=issued.key_hash,
        scopes=sorted(set(scopes)),
        allow_rules=[str(rule) for rule in parse_rules(allow)],
    )
    session.add(client)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"a client named {name!r} already exists", code="client_exists") from exc
    return client, issued


async def list_clients(session: AsyncSession) -> Sequence[ServiceClient]:
    return (await session.scalars(select(ServiceClient).order_by(ServiceClient.name))).all()


async def authenticate(session: AsyncSession, key: str) -> Principal | None:
    prefix = lookup_prefix(key)
    if prefix is None:
        return None
    candidates = await session.scalars(
        select(ServiceClient).where(
            ServiceClient.key_prefix == prefix, ServiceClient.revoked_at.is_(None)
        )
    )
    for client in candidates:
        if key_matches(key, client.key_hash):
            return Principal(
                client_id=client.id,
                name=client.name,
                scopes=frozenset(client.scopes),
                rules=parse_rules(client.allow_rules),
            )
    return None
