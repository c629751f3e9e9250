"""Where a connection's external ids and labels go besides its own JSON: to outbound events and
audit entries about it, and, on a transfer, to its new owner."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select

from gateway.kit.db import Database
from gateway.models import ConnectionExternalId, OutboxEvent
from tests.connections.managed import audit_of, connected, patch, path
from tests.hostile.owner_fixtures import Clients, clients, error_code

__all__ = ["clients"]  # fixtures


async def events_of(db: Database, connection_id: uuid.UUID) -> list[OutboxEvent]:
    async with db.transaction() as session:
        found = await session.scalars(
            select(OutboxEvent)
            .where(OutboxEvent.data["connection_id"].astext == str(connection_id))
            .order_by(OutboxEvent.occurred_at)
        )
        return list(found)


async def test_events_and_audit_entries_carry_the_external_ids_and_labels(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    owner = clients.open_
    connection = await connected(http, db, owner)
    [created] = await events_of(db, connection.id)
    assert (created.data["external_ids"], created.data["labels"]) == ([], {})
    annotations = {"labels": {"team": "sales"}, "external_ids": ["crm-2", "crm-1"]}
    assert (await patch(http, owner, connection, annotations)).status_code == 200

    revoked = await http.delete(path(connection), headers=clients.operator.auth)

    assert revoked.status_code == 200, revoked.text
    event = (await events_of(db, connection.id))[-1]
    assert event.type == "connection.revoked"
    assert event.data["connection_id"] == str(connection.id)
    assert event.data["user_id"] == connection.user_id
    assert event.data["external_ids"] == ["crm-1", "crm-2"]
    assert event.data["labels"] == {"team": "sales"}
    [entry] = [e for e in await audit_of(db, connection) if e.action == "connection.revoked"]
    assert entry.details["labels"] == {"team": "sales"}


async def test_a_transfer_moves_the_external_ids_to_the_new_owner_unless_it_uses_them(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    tag = uuid.uuid4().hex[:8]
    moving = await connected(http, db, clients.open_)
    kept = await connected(http, db, clients.patterned)
    assert (await patch(http, clients.open_, moving, {"external_ids": [f"a-{tag}"]})).is_success
    assert (await patch(http, clients.patterned, kept, {"external_ids": [f"b-{tag}"]})).is_success
    to_b = {"to": clients.patterned.name}

    moved = await http.post(f"{path(moving)}/transfer", json=to_b, headers=clients.operator.auth)

    assert moved.status_code == 200, moved.text
    assert moved.json()["external_ids"] == [f"a-{tag}"]
    async with db.transaction() as session:
        row = await session.scalar(
            select(ConnectionExternalId).where(ConnectionExternalId.connection_id == moving.id)
        )
    assert row is not None and row.owner_client_id == clients.patterned.id
    # B now may not give the id to its other connection; and C's new connection may use it.
    clash = await patch(http, clients.patterned, kept, {"external_ids": [f"a-{tag}"]})
    assert error_code(clash) == "external_id_taken"
    other = await connected(http, db, clients.open_)
    assert (await patch(http, clients.open_, other, {"external_ids": [f"b-{tag}"]})).is_success
    back = await http.post(f"{path(other)}/transfer", json=to_b, headers=clients.operator.auth)
    assert back.status_code == 409
    assert error_code(back) == "transfer_conflict"
    assert back.json()["error"]["details"]["external_id"] == f"b-{tag}"
    assert back.json()["error"]["details"]["existing"] == str(kept.id)
