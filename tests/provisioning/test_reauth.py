"""Provisioning a user who is already connected behaves as re-connecting through the redirect flow:
the same connection comes back to life, and never silently as a different account."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import select, update

from gateway.kit.db import Database
from gateway.models import AuditEvent, Connection, ConnectionStatus, OutboxEvent
from tests.e2e.flows import connect_new_user, load_connection
from tests.provisioning.conftest import ProvisioningStack
from tests.provisioning.flows import (
    error_code,
    latest_code,
    new_user,
    provision,
    started,
    verify,
)


async def _needs_reauth(db: Database, connection_id: uuid.UUID) -> None:
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == connection_id)
            .values(status=ConnectionStatus.NEEDS_REAUTH)
        )


async def _history(db: Database, connection_id: uuid.UUID) -> tuple[list[str], list[str]]:
    """The connection's audit actions and outbox event types, oldest first."""
    async with db.transaction() as session:
        actions = await session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.connection_id == connection_id)
            .order_by(AuditEvent.occurred_at)
        )
        events = await session.scalars(
            select(OutboxEvent.type)
            .where(OutboxEvent.data["connection_id"].astext == str(connection_id))
            .order_by(OutboxEvent.occurred_at)
        )
        return list(actions), list(events)


async def test_provisioning_a_connected_user_again_reconnects_the_same_connection(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, db: Database
) -> None:
    user_id, email = new_user()
    await provision(gw, sandbox, key, user_id=user_id, email=email)
    first = await load_connection(db, user_id)
    await _needs_reauth(db, first.id)

    again = await provision(gw, sandbox, key, user_id=user_id, email=email)

    after = await load_connection(db, user_id)
    assert again["connection_id"] == str(first.id)
    assert after.status is ConnectionStatus.ACTIVE
    assert after.token_version == first.token_version + 1
    assert await _history(db, first.id) == (
        ["connection.created", "connection.reconnected"],
        ["connection.created", "connection.recovered"],
    )


async def test_provisioning_reconnects_a_user_connected_by_the_redirect_flow(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, db: Database
) -> None:
    user_id = await connect_new_user(gw, key)  # signed in at the sandbox as <user_id>@example.com
    first = await load_connection(db, user_id)

    again = await provision(gw, sandbox, key, user_id=user_id, email=f"{user_id}@example.com")

    assert again["connection_id"] == str(first.id)
    assert (await load_connection(db, user_id)).token_version == first.token_version + 1


async def test_provisioning_as_another_account_is_409_identity_mismatch_and_keeps_nothing(
    gw: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    key: str,
    db: Database,
    pstack: ProvisioningStack,
) -> None:
    user_id, email = new_user()
    await provision(gw, sandbox, key, user_id=user_id, email=email)
    first = await load_connection(db, user_id)
    other_email = f"other-{email}"
    begun = await started(gw, key, user_id=user_id, email=other_email)
    code = await latest_code(sandbox, other_email)

    response = await verify(gw, key, begun["id"], code)
    again = await verify(gw, key, begun["id"], code)

    assert (response.status_code, error_code(response)) == (409, "identity_mismatch")
    assert (again.status_code, error_code(again)) == (409, "identity_mismatch")
    after = await load_connection(db, user_id)
    assert (after.subject, after.token_version, after.access_token) == (
        first.subject,
        first.token_version,
        first.access_token,
    )
    # The other account's new grant was not kept: the gateway revoked it at the provider.
    other = pstack.sandbox_store.user_by_email(other_email)
    assert other is not None
    kept = [c.status for c in pstack.sandbox_store.connections() if c.user.id == other.id]
    assert kept == ["revoked"]


async def test_provisioning_as_another_account_replaces_it_when_asked(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, db: Database
) -> None:
    user_id, email = new_user()
    await provision(gw, sandbox, key, user_id=user_id, email=email)
    first = await load_connection(db, user_id)

    again = await provision(
        gw, sandbox, key, user_id=user_id, email=f"other-{email}", replace_identity=True
    )

    after = await load_connection(db, user_id)
    assert again["connection_id"] == str(first.id)
    assert after.subject != first.subject
