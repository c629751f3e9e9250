"""Managing service clients, for the CLI and the admin API alike: create one, change it, give it a
new key, disable it; each act audited with its actor (``client:<name>`` for the API, ``cli:<user>``
for the CLI). The rules on names, scopes, allow rules, user patterns and rate limits are
``clients.store``'s, the same whichever way the change comes. Callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import store as audit
from gateway.clients.limits import RateLimit, RateLimitError
from gateway.clients.service_keys import IssuedKey
from gateway.clients.store import (
    ClientChanges,
    create_client,
    find_client,
    replace_key,
    update_client,
)
from gateway.clients.views import client_json
from gateway.exceptions import BadRequest
from gateway.models import ServiceClient


@dataclass(frozen=True)
class NewClient:
    """A client to create: its name, scopes and allow rules, and what else is set at once."""

    name: str
    scopes: Sequence[str]
    allow: Sequence[str] = ()
    settings: ClientChanges = field(default_factory=ClientChanges)


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
    client, issued = await replace_key(session, name)
    _audited(session, actor, "client.key_rotated", {"client": name})
    return client, issued
