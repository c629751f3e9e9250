"""Managing service clients, for the CLI and the admin API alike: create one, change it, give it a
new key, disable it; each act audited with its actor (``client:<name>`` for the API, ``cli:<user>``
for the CLI). The rules on names, scopes, allow rules, user patterns and rate limits are
``clients.store``'s, the same whichever way the change comes; over HTTP and in the console, no one
grants or touches a role above their own (``check_grant``, ``managed``). Callers own the
transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import store as audit
from gateway.clients.authorization import require_role
from gateway.clients.limits import RateLimit, RateLimitError
from gateway.clients.service_keys import IssuedKey
from gateway.clients.store import (
    ClientChanges,
    create_client,
    find_client,
    new_key,
    update_client,
)
from gateway.clients.views import client_json
from gateway.exceptions import BadRequest
from gateway.models import ServiceClient
from gateway.operators.roles import Role, role_of_scopes

MAX_SCOPES = 10
MAX_RULES = 100
MAX_PATTERN_LENGTH = 500


@dataclass(frozen=True)
class NewClient:
    """A client to create: its name, scopes and allow rules, and what else is set at once."""

    name: str
    scopes: Sequence[str]
    allow: Sequence[str] = ()
    settings: ClientChanges = field(default_factory=ClientChanges)

    @classmethod
    def of(
        cls,
        name: str,
        scopes: Sequence[str],
        allow: Sequence[str],
        *,
        own_users_only: bool,
        user_pattern: str | None,
        rate_limit: RateLimitBody | None,
    ) -> NewClient:
        settings = ClientChanges(
            own_users_only=own_users_only or None,
            user_pattern=user_pattern,
            rate_limit=limit_of(rate_limit),
        )
        return cls(name, scopes, allow, settings)


def rate_limit_of(spec: str | None, burst: int | None) -> RateLimit | None:
    """``RATE/UNIT`` and a burst (``clients.limits``) as a client's rate limit; None for none."""
    if spec is None:
        if burst is not None:
            raise BadRequest("a burst goes with a rate limit", code="invalid_rate_limit")
        return None
    try:
        return RateLimit.parse(spec, burst)
    except RateLimitError as exc:
        raise BadRequest(str(exc), code="invalid_rate_limit") from exc


def _audited(session: AsyncSession, actor: str, action: str, details: dict[str, Any]) -> None:
    audit.record(session, actor=actor, action=action, connection_id=None, details=details)


async def create(
    session: AsyncSession, new: NewClient, *, actor: str
) -> tuple[ServiceClient, IssuedKey]:
    """The new client and its key (to show once; only its hash is kept)."""
    client, issued = await create_client(session, new.name, new.scopes, new.allow)
    if new.settings != ClientChanges():
        client = await update_client(session, new.name, new.settings)
    _audited(session, actor, "client.created", {"client": new.name, "scopes": client.scopes})
    return client, issued


async def change(
    session: AsyncSession,
    name: str,
    changes: ClientChanges,
    *,
    actor: str,
    action: str = "client.updated",
) -> ServiceClient:
    """Apply ``changes``, auditing what they changed."""
    before = client_json(await find_client(session, name))
    client = await update_client(session, name, changes)
    after = client_json(client)
    changed = {k: after[k] for k in after if after[k] != before[k] and k != "updated_at"}
    _audited(session, actor, action, {"client": name, "changed": changed})
    return client


async def disable(session: AsyncSession, name: str, *, actor: str) -> ServiceClient:
    """Refuse the client's key from now on (``change`` with ``disabled`` undoes it)."""
    client = await update_client(session, name, ClientChanges(disabled=True))
    _audited(session, actor, "client.revoked", {"client": name})
    return client


async def rotate_key(
    session: AsyncSession, name: str, *, actor: str
) -> tuple[ServiceClient, IssuedKey]:
    """A new key for the client (to show once); the old one stops working on commit."""
    client, issued = await new_key(session, name)
    _audited(session, actor, "client.key_rotated", {"client": name})
    return client, issued


class RateLimitBody(BaseModel):
    """``rate``: ``RATE/UNIT`` as the CLI takes it (``50/s``, ``3000/min``); ``burst`` optional."""

    model_config = ConfigDict(extra="forbid")

    rate: str = Field(max_length=40)
    burst: int | None = Field(None, ge=1, le=1_000_000)


class ClientPatch(BaseModel):
    """``PATCH /v1/clients/{name}``: a given list replaces the client's; ``null`` lifts a user
    pattern or a rate limit; ``enabled`` false disables the client, true enables it again."""

    model_config = ConfigDict(extra="forbid")

    scopes: list[str] | None = Field(None, min_length=1, max_length=MAX_SCOPES)
    allow: list[str] | None = Field(None, max_length=MAX_RULES)
    own_users_only: bool | None = None
    user_pattern: str | None = Field(None, max_length=MAX_PATTERN_LENGTH)
    rate_limit: RateLimitBody | None = None
    enabled: bool | None = None


def limit_of(body: RateLimitBody | None) -> RateLimit | None:
    return None if body is None else rate_limit_of(body.rate, body.burst)


def changes_of(client: ServiceClient, patch: ClientPatch) -> ClientChanges:
    """The patch as ``clients.store``'s changes to ``client`` as it is."""
    given = patch.model_fields_set
    scopes = set(client.scopes) if patch.scopes is None else set(patch.scopes)
    rules = list(client.allow_rules) if patch.allow is None else patch.allow
    return ClientChanges(
        add_allow=[rule for rule in rules if rule not in client.allow_rules],
        remove_allow=[rule for rule in client.allow_rules if rule not in rules],
        add_scopes=sorted(scopes - set(client.scopes)),
        remove_scopes=sorted(set(client.scopes) - scopes),
        own_users_only=patch.own_users_only,
        user_pattern=patch.user_pattern,
        clear_user_pattern="user_pattern" in given and patch.user_pattern is None,
        rate_limit=limit_of(patch.rate_limit),
        clear_rate_limit="rate_limit" in given and patch.rate_limit is None,
        disabled=None if patch.enabled is None else not patch.enabled,
    )


def check_grant(held: Role | None, scopes: Sequence[str]) -> None:
    """Refuse a caller holding ``held`` giving a client a role above it."""
    require_role(held, role_of_scopes(scopes))


async def managed(session: AsyncSession, held: Role | None, name: str) -> ServiceClient:
    """The named client, locked, if the caller's role is at least the client's own."""
    found = await find_client(session, name, for_update=True)
    check_grant(held, found.scopes)
    return found
