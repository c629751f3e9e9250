"""Connections the managed-connection tests work on, connected through the stack's real gateway and
sandbox by the clients of ``tests.hostile.owner_fixtures``: A confined, B unconfined with a user
pattern (``b-…``), C unconfined for anyone, and an operator (scope admin)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
from sqlalchemy import select

from gateway.kit.db import Database
from gateway.models import AuditEvent, Connection
from tests.hostile.owner_fixtures import Client, account, b_user, connect_as, rows

MERGE_PATCH = "application/merge-patch+json"


async def connected(
    http: httpx.AsyncClient, db: Database, client: Client, user_id: str | None = None
) -> Connection:
    """A fresh provider account connected for ``user_id`` (a new ``b-`` user by default), owned
    by ``client``."""
    user_id = user_id or b_user()
    response = await connect_as(http, client, user_id, account())
    assert response.status_code == 200, response.text
    [row] = [r for r in await rows(db, user_id) if r.owner_client_id == client.id]
    return row


def path(connection: Connection | uuid.UUID) -> str:
    connection_id = connection.id if isinstance(connection, Connection) else connection
    return f"/v1/connections/{connection_id}"


async def patch(
    http: httpx.AsyncClient,
    client: Client,
    connection: Connection,
    body: Any,
    *,
    if_match: str | None = None,
    content_type: str = MERGE_PATCH,
) -> httpx.Response:
    headers = {**client.auth, "Content-Type": content_type}
    if if_match is not None:
        headers["If-Match"] = if_match
    return await http.patch(path(connection), content=json.dumps(body), headers=headers)


async def reloaded(db: Database, connection: Connection) -> Connection:
    async with db.transaction() as session:
        found = await session.get(Connection, connection.id, populate_existing=True)
    assert found is not None
    return found


async def audit_of(db: Database, connection: Connection) -> list[AuditEvent]:
    """The connection's audit events, oldest first."""
    async with db.transaction() as session:
        found = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.connection_id == connection.id)
            .order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
        return list(found)


async def actions(db: Database, connection: Connection) -> list[str]:
    return [event.action for event in await audit_of(db, connection)]
