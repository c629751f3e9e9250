"""Helpers for the delegated-key tests: a connected user, and the keys API as an owner calls it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from gateway.kit.db import Database
from gateway.models import AuditEvent, Connection
from tests.hostile.owner_fixtures import Client, account, b_user, connect_as, rows


async def connection_of(http: httpx.AsyncClient, db: Database, client: Client) -> Connection:
    """A fresh user connected by ``client`` (a ``b-`` user, which every client may act for)."""
    user_id = b_user()
    response = await connect_as(http, client, user_id, account())
    assert response.status_code == 200, response.text
    [row] = await rows(db, user_id)
    return row


async def issue(
    http: httpx.AsyncClient, client: Client, connection_id: object, **body: Any
) -> httpx.Response:
    return await http.post(f"/v1/connections/{connection_id}/keys", json=body, headers=client.auth)


async def issued(
    http: httpx.AsyncClient, client: Client, connection_id: object, **body: Any
) -> dict[str, Any]:
    """The answer to an issue that must succeed: the key's fields and the key."""
    response = await issue(http, client, connection_id, **body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def bearer(key: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {key['key']}"}


async def audited(db: Database, connection_id: uuid.UUID, action: str) -> list[AuditEvent]:
    """The connection's audit events of ``action``, oldest first."""
    async with db.transaction() as session:
        found = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.connection_id == connection_id, AuditEvent.action == action)
            .order_by(AuditEvent.occurred_at)
        )
        return list(found)
