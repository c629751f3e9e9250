"""Moving a user's default connection: the one of (user, provider, space) that a flow re-connects
and ``/proxy/users/{user_id}/...`` uses.

Only an actor owning both the current default and the new one (or an operator) may move it. A
connection in any status may become the default: a ``needs_reauth`` or ``revoked`` one is then
what the proxy refuses for the user, and what the user's next (non-additional) connect repairs, so
moving the default to it is how an additional connection is re-connected. Callers own the
transaction.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import store as audit
from gateway.connections import store
from gateway.connections.errors import ConnectionConflict, DefaultNotAllowed, NotConnectionOwner
from gateway.connections.ownership import Actor
from gateway.models import Connection

DEFAULT_CHANGED = "connection.default_changed"


async def make_default(
    session: AsyncSession, actor: Actor, connection: Connection, *, audit_actor: str
) -> Connection:
    """Make ``connection`` (which the caller has locked) the default of its user, provider and
    space, in this transaction: the old default stops being it first (the partial unique index
    allows one at a time), both revisions grow, and ``connection.default_changed`` is audited with
    ``from`` and ``to``. A connection that already is the default is returned unchanged; an
    app-level one (client credentials) is refused with 409 ``default_not_allowed``.

    403 ``not_connection_owner`` unless ``actor`` owns both or is an operator; 409
    ``connection_conflict`` when another move of the same default committed meanwhile.
    """
    if connection.is_default:
        return connection
    if not connection.may_be_default:
        raise DefaultNotAllowed(
            "a client-credentials connection is app-level: it is never a user's default and is "
            "reached only by its id (/proxy/connections/{id}/...)",
            details={"connection_id": str(connection.id), "auth_mode": connection.auth_mode},
        )
    current = await store.find(
        session,
        connection.user_id,
        connection.provider,
        connection.confined_to_client_id,
        lock=True,
    )
    for involved in (connection, current):
        if involved is not None and not actor.may_change(involved):
            raise NotConnectionOwner(
                "only the owner of both connections or an operator may move the default",
                details={"connection_id": str(involved.id)},
            )
    try:
        if current is not None:
            current.is_default = False
            current.revision += 1
            await session.flush()
        connection.is_default = True
        connection.revision += 1
        await session.flush()
    except IntegrityError as exc:
        raise ConnectionConflict(
            "the default connection was moved at the same moment; try again",
            details={"connection_id": str(connection.id)},
        ) from exc
    audit.record(
        session,
        actor=audit_actor,
        action=DEFAULT_CHANGED,
        connection_id=connection.id,
        details={
            "from": str(current.id) if current is not None else None,
            "to": str(connection.id),
        },
    )
    await session.flush()
    await session.refresh(connection)  # updated_at is the database's
    return connection
