"""Who owns a connection, which space it lives in, and who may change it.

Every connection has one owner: the service client whose flow created it, or ``operator`` (NULL)
for connections an operator created or imported. Changing a connection (re-connect, a new identity,
an import over it, a transfer) is for its owner and for operators: an admin-scope key or the CLI.

Every connection lives in one space. A confined client (``own_users_only``) has a space of its own:
it sees and uses only the connections there, and no one else sees or uses them. Unconfined clients
share one space (NULL), each for the user ids its ``user_pattern`` admits; the first to connect a
user owns that connection, and the others are refused (``ConnectionOwnedByOtherClient``). A
connection stays in its space when its client's confinement is switched later; an operator moves
it with ``transfer``, which also hands it to the target.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import store as audit
from gateway.clients.store import Principal, client_names, find_client, principal_of
from gateway.connections import delegated_keys, external_ids, queries, store
from gateway.connections.errors import (
    ConnectionOwnedByOtherClient,
    ExternalIdTaken,
    TransferConflict,
    UserNotAllowed,
)
from gateway.kit.namespace import UserNamespace
from gateway.models import Connection, ServiceClient
from gateway.operators.roles import Permission, permits, role_of_scopes

OPERATOR = "operator"


@dataclass(frozen=True)
class Actor:
    """Who is acting on connections: a service client, or an operator (``client_id`` None).

    An admin key whose role may manage connections is an operator too: it may change any
    connection, but it sees the space its own confinement gives it and is held to its own
    ``user_pattern``.
    """

    client_id: uuid.UUID | None
    operator: bool
    space: uuid.UUID | None = None
    namespace: UserNamespace = field(default_factory=UserNamespace)
    # The client's name, as the audit trail names it (``client:<name>``).
    name: str | None = None

    @classmethod
    def of(cls, principal: Principal, *, operator: bool | None = None) -> Actor:
        """The client as an actor; an operator when ``operator`` says so (the admin API's
        ``authorize`` decided it), else when its key's role may manage connections."""
        if operator is None:
            operator = permits(role_of_scopes(principal.scopes), Permission.MANAGE_CONNECTIONS)
        return cls(
            client_id=principal.client_id,
            name=principal.name,
            operator=operator,
            space=principal.space,
            namespace=principal.namespace,
        )

    @classmethod
    def of_client(cls, client: ServiceClient) -> Actor:
        return cls.of(principal_of(client))

    def may_change(self, connection: Connection) -> bool:
        return self.operator or (
            self.client_id is not None and connection.owner_client_id == self.client_id
        )


AS_OPERATOR = Actor(client_id=None, operator=True)


async def acting_client(session: AsyncSession, client_id: uuid.UUID) -> Actor:
    """The actor a flow's client is now (its confinement and pattern as they are today)."""
    client = await session.get(ServiceClient, client_id, populate_existing=True)
    assert client is not None  # service clients are disabled, never deleted
    return Actor.of_client(client)


def check_user(namespace: UserNamespace, user_id: str) -> None:
    """UserNotAllowed unless the client's ``user_pattern`` admits ``user_id``."""
    if not namespace.admits_user_id(user_id):
        raise UserNotAllowed("this service may not act for this user", details={"user_id": user_id})


async def check_may_connect(
    session: AsyncSession,
    actor: Actor,
    user_id: str,
    provider: str,
    *,
    lock: bool = False,
    additional: bool = False,
) -> Connection | None:
    """Refuse a flow that would (re)connect a user the actor may not act for, or re-connect a
    default connection in its space it does not own (an ``additional`` one, created beside the
    default, needs no ownership of it); returns the default (locked with ``lock``), if any."""
    check_user(actor.namespace, user_id)
    existing = await store.find(session, user_id, provider, actor.space, lock=lock)
    if existing is not None and not additional and not actor.may_change(existing):
        raise ConnectionOwnedByOtherClient(
            "another service owns this user's connection; its owner or an operator may change "
            "it, and an operator may transfer it",
            details={
                "user_id": user_id,
                "provider": provider,
                "owner": await owner_name(session, existing),
            },
        )
    return existing


async def owner_names(
    session: AsyncSession, connections: Iterable[Connection]
) -> dict[uuid.UUID, str]:
    """The names of the clients owning ``connections`` (for ``owner_label``)."""
    return await client_names(session, (c.owner_client_id for c in connections))


def owner_label(connection: Connection, names: Mapping[uuid.UUID, str]) -> str:
    """The owner as shown: a client's name, or ``operator``."""
    if connection.owner_client_id is None:
        return OPERATOR
    return names.get(connection.owner_client_id, str(connection.owner_client_id))


async def owner_name(session: AsyncSession, connection: Connection) -> str:
    return owner_label(connection, await owner_names(session, [connection]))


@dataclass(frozen=True)
class Target:
    """Where a connection goes: its new owner (None: ``operator``) and the space that decides."""

    owner: uuid.UUID | None
    space: uuid.UUID | None
    name: str
    namespace: UserNamespace = field(default_factory=UserNamespace)


async def target(session: AsyncSession, name: str) -> Target:
    """``operator`` or a client's name; a confined client's space is its own, else shared."""
    if name == OPERATOR:
        return Target(owner=None, space=None, name=OPERATOR)
    client = await find_client(session, name)
    principal = principal_of(client)
    return Target(
        owner=client.id, space=principal.space, name=client.name, namespace=principal.namespace
    )


async def transfer(
    session: AsyncSession, connection_id: uuid.UUID, to: str, *, actor: str
) -> Connection:
    """Give the connection to ``to`` and move it into that owner's space, as its default there (an
    operator's act, audited as ``connection.transferred``), its external ids with it, revoking its
    delegated keys; TransferConflict when that space already holds a default for the user and
    provider, or the new owner already uses one of its external ids for another connection at the
    provider."""
    connection = await queries.get(session, connection_id, for_update=True)
    moved_to = await target(session, to)
    moves_space = moved_to.space != connection.confined_to_client_id
    if moves_space and connection.may_be_default:
        occupant = await store.find(
            session, connection.user_id, connection.provider, moved_to.space
        )
        if occupant is not None:
            raise TransferConflict(
                f"{moved_to.name}'s space already holds a default {connection.provider} "
                "connection for this user; revoke or transfer that one first",
                details={"connection_id": str(connection.id), "existing": str(occupant.id)},
            )
    try:
        await external_ids.move(session, connection, moved_to.owner)
    except ExternalIdTaken as exc:
        raise TransferConflict(
            f"{moved_to.name} already uses one of this connection's external ids for another "
            f"{connection.provider} connection; change one of them first",
            details={
                "connection_id": str(connection.id),
                "external_id": (exc.details or {}).get("external_id"),
                "existing": (exc.details or {}).get("connection_id"),
            },
        ) from exc
    previous = await owner_name(session, connection)
    connection.owner_client_id = moved_to.owner
    connection.confined_to_client_id = moved_to.space
    if moves_space and connection.may_be_default:
        # The target space holds no default for the user and provider: this one becomes it.
        connection.is_default = True
    # Keys carry the previous owner's proxy power: the new owner issues its own.
    await delegated_keys.revoke_all(session, connection.id, actor=actor, reason="transferred")
    audit.record(
        session,
        actor=actor,
        action="connection.transferred",
        connection_id=connection.id,
        details={
            "from": previous,
            "to": moved_to.name,
            "confined": moved_to.space is not None,
            "labels": connection.labels,
        },
    )
    await session.flush()
    await session.refresh(connection)  # updated_at is the database's
    return connection
