"""Re-connecting a user: same connection, active again, and never silently a different account."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select, update

from gateway.kit.db import Database
from gateway.models import AuditEvent, Connection, ConnectionStatus
from tests.e2e.flows import connect, load_connection, query
from tests.fixtures.stack import RETURN_URL, Stack


def user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


async def _set_status(db: Database, connection_id: uuid.UUID, status: ConnectionStatus) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Connection).where(Connection.id == connection_id).values(status=status)
        )


async def _actions(db: Database, connection_id: uuid.UUID) -> list[str]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.connection_id == connection_id)
            .order_by(AuditEvent.occurred_at)
        )
        return list(rows)


async def test_reconnect_reactivates_a_connection_that_needs_reauth(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    user_id = user()
    email = f"{user_id}@example.com"
    await connect(http, service_key, user_id, login_hint=email)
    first = await load_connection(db, user_id)
    await _set_status(db, first.id, ConnectionStatus.NEEDS_REAUTH)

    response = await connect(http, service_key, user_id, login_hint=email)

    assert response.status_code == 200, response.text
    again = await load_connection(db, user_id)
    assert again.id == first.id
    assert again.status is ConnectionStatus.ACTIVE
    assert again.token_version == first.token_version + 1
    assert await _actions(db, first.id) == ["connection.created", "connection.reconnected"]


async def test_reconnect_reactivates_a_revoked_connection(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    user_id = user()
    email = f"{user_id}@example.com"
    await connect(http, service_key, user_id, login_hint=email)
    first = await load_connection(db, user_id)
    await _set_status(db, first.id, ConnectionStatus.REVOKED)

    response = await connect(http, service_key, user_id, login_hint=email)

    assert response.status_code == 200, response.text
    again = await load_connection(db, user_id)
    assert (again.id, again.status) == (first.id, ConnectionStatus.ACTIVE)


async def test_reconnect_as_another_account_is_refused_and_changes_nothing(
    http: httpx.AsyncClient, service_key: str, db: Database, stack: Stack
) -> None:
    user_id = user()
    await connect(http, service_key, user_id, login_hint=f"{user_id}@example.com")
    first = await load_connection(db, user_id)
    other_email = f"other-{user_id}@example.com"

    response = await connect(
        http, service_key, user_id, login_hint=other_email, return_url=RETURN_URL
    )

    assert response.status_code == 302
    assert query(response.headers["location"]) == {"status": "error", "error": "identity_mismatch"}
    after = await load_connection(db, user_id)
    assert (after.subject, after.token_version, after.access_token) == (
        first.subject,
        first.token_version,
        first.access_token,
    )
    # The other account's new grant was not kept: the gateway revoked it at the provider.
    other = stack.sandbox_store.user_by_email(other_email)
    assert other is not None
    kept = [c.status for c in stack.sandbox_store.connections() if c.user.id == other.id]
    assert kept == ["revoked"]


async def test_reconnect_as_another_account_without_return_url_answers_409(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    user_id = user()
    await connect(http, service_key, user_id, login_hint=f"{user_id}@example.com")

    response = await connect(http, service_key, user_id, login_hint=f"x-{user_id}@example.com")

    assert response.status_code == 409
    assert response.headers["Gateway-Error"] == "1"
    assert "different account" in response.text


async def test_reconnect_as_another_account_replaces_it_when_the_session_asks(
    http: httpx.AsyncClient, service_key: str, db: Database, stack: Stack
) -> None:
    user_id = user()
    await connect(http, service_key, user_id, login_hint=f"{user_id}@example.com")
    first = await load_connection(db, user_id)
    other_email = f"other-{user_id}@example.com"

    response = await connect(
        http, service_key, user_id, login_hint=other_email, replace_identity=True
    )

    assert response.status_code == 200, response.text
    after = await load_connection(db, user_id)
    other = stack.sandbox_store.user_by_email(other_email)
    assert other is not None
    assert after.id == first.id
    assert after.subject == str(other.id) != first.subject
    async with db.transaction() as session:
        audit = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.connection_id == first.id,
                AuditEvent.action == "connection.reconnected",
            )
        )
    assert audit is not None and audit.details["identity_replaced"] is True
