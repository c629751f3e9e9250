"""Revoking every connection a selector matches (a user's, a provider's, those in a status or with
labels): an operator's dangerous act, shared by the admin API (``POST /v1/connections/revocations``)
and the console's revocations page.

It must be confirmed: ``confirm`` must echo the number of connections the selector matches now,
else ``ConfirmationRequired`` with that number in ``details.affected`` and nothing is revoked, so
the caller sees what it is about to do and a selector that grew since is refused. Each connection
is then revoked as one is revoked alone (``Revoker``), audited as ``connection.revoked`` with the
caller; each revocation is a transaction of its own, as the provider is called between them. The
act as a whole is audited too, as ``connections.revoked_by_selector`` with the selector and the
number confirmed (written before the first revocation, so an interrupted act still shows).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from gateway.audit import store as audit
from gateway.connections import queries
from gateway.connections.revocation import Revocation, Revoker
from gateway.exceptions import ConfirmationRequired
from gateway.kit.db import Database
from gateway.models import Connection

ACTION = "connections.revoked_by_selector"


async def affected(db: Database, where: queries.ConnectionFilter) -> Sequence[Connection]:
    """The connections revoking by ``where`` would act on now."""
    return await db.read(lambda session: queries.revocable(session, where))


@dataclass(frozen=True)
class Revoked:
    connection_id: uuid.UUID
    revocation: Revocation


async def revoke_confirmed(
    db: Database,
    revoker: Revoker,
    where: queries.ConnectionFilter,
    *,
    confirm: int | None,
    actor: str,
) -> list[Revoked]:
    """Revoke what ``where`` matches, when ``confirm`` is their number."""
    targets = await affected(db, where)
    if confirm != len(targets):
        raise ConfirmationRequired(
            f"this revokes {len(targets)} connection(s): send confirm={len(targets)} to do it",
            details={"affected": len(targets)},
        )
    async with db.transaction() as session:
        audit.record(
            session,
            actor=actor,
            action=ACTION,
            connection_id=None,
            details={"selector": _selector(where), "confirmed": len(targets)},
        )
    return [Revoked(target.id, await revoker.revoke(target.id, actor=actor)) for target in targets]


def _selector(where: queries.ConnectionFilter) -> dict[str, Any]:
    labels = [s.key if s.value is None else f"{s.key}={s.value}" for s in where.labels]
    found: dict[str, Any] = {
        "user_id": where.user_id,
        "provider": where.provider,
        "status": where.status.value if where.status is not None else None,
        "label": labels or None,
    }
    return {name: value for name, value in found.items() if value is not None}
