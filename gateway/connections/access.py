"""Who may see and who may change a connection through the admin API.

Operators (an admin key whose role may call the route, ``clients.authorization``) see and change every connection. A service client with the
``connect`` scope sees the connections it may use under the ownership rule (``ownership``): those
in its space whose user id its ``user_pattern`` admits; it changes only the ones it owns. A
connection a caller may not see is answered as if it did not exist (404 ``connection_not_found``);
one it sees but does not own is refused with 403 ``not_connection_owner``.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from gateway.clients.authorization import Caller, authorize
from gateway.connections import queries
from gateway.connections.errors import NotConnectionOwner
from gateway.connections.ownership import Actor
from gateway.kit.namespace import may_use
from gateway.models import Connection


def actor_of(caller: Caller) -> Actor:
    return Actor.of(caller.principal, operator=caller.operator)


async def connections_actor(request: Request) -> Actor:
    """The caller as an actor on connections: an operator (``clients.authorization`` decided its
    role may call the route) or a ``connect`` client."""
    return actor_of(await authorize(request))


def visibility(actor: Actor) -> queries.Visibility | None:
    """``may_see`` as a query's condition: None for an operator, who sees every connection."""
    if actor.operator:
        return None
    return queries.Visibility(space=actor.space, user_pattern=actor.namespace.user_pattern)


def may_see(actor: Actor, connection: Connection) -> bool:
    if actor.operator:
        return True
    return may_use(
        actor.space, actor.namespace, connection.confined_to_client_id, connection.user_id
    )


async def seen(
    session: AsyncSession, actor: Actor, connection_id: uuid.UUID, *, for_update: bool = False
) -> Connection:
    """The connection, if ``actor`` may see it; else 404 ``connection_not_found``."""
    connection = await queries.get(session, connection_id, for_update=for_update)
    if not may_see(actor, connection):
        raise queries.not_found(connection_id)
    return connection


async def changed_by(
    session: AsyncSession, actor: Actor, connection_id: uuid.UUID, *, for_update: bool = True
) -> Connection:
    """The connection, if ``actor`` may change it (its owner or an operator); locked by default."""
    connection = await seen(session, actor, connection_id, for_update=for_update)
    if not actor.may_change(connection):
        raise NotConnectionOwner(
            "only this connection's owner or an operator may change it",
            details={"connection_id": str(connection_id)},
        )
    return connection
