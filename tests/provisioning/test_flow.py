"""Provisioning end to end: a service provisions a user, the code comes back, the user is connected."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from sqlalchemy import select

from gateway.kit.db import Database
from gateway.models import AuditEvent, OutboxEvent, ProvisioningStatus
from tests.e2e.flows import load_connection, proxy_get
from tests.provisioning.conftest import ProvisioningStack
from tests.provisioning.flows import (
    bearer,
    error_code,
    latest_code,
    load,
    new_user,
    provision,
    shared_workspace,
    started,
    verify,
)


async def test_a_user_provisioned_into_a_shared_workspace_reads_their_profile_through_the_proxy(
    gw: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    key: str,
    pstack: ProvisioningStack,
    db: Database,
) -> None:
    workspace = await shared_workspace(sandbox)
    user_id, email = new_user()

    begun = await started(
        gw,
        key,
        user_id=user_id,
        email=email,
        name="Ada Lovelace",
        workspace_id=workspace["workspace_id"],
        is_admin=True,
    )

    assert begun["status"] == "code_sent"
    assert begun["user_provisioned"] is True
    assert begun["verify_url"].startswith(f"{pstack.gateway.url}/provision/{begun['id']}?token=")
    assert begun["expires_at"].endswith("Z")
    code = await latest_code(sandbox, email)

    response = await verify(gw, key, begun["id"], code)

    assert response.status_code == 200, response.text
    connection = await load_connection(db, user_id)
    assert response.json() == {
        "id": begun["id"],
        "status": "connected",
        "connection_id": str(connection.id),
    }
    profile = await proxy_get(gw, key, user_id, "/profile")
    assert profile.status_code == 200, profile.text
    shown = profile.json()
    assert shown["email"] == email
    assert (shown["workspace_id"], shown["workspace_name"], shown["workspace_role"]) == (
        workspace["workspace_id"],
        "Acme Team",
        "WORKSPACE_ADMIN",
    )


async def test_the_connection_is_stored_as_the_redirect_flow_stores_it(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, db: Database
) -> None:
    user_id, email = new_user()

    answer = await provision(gw, sandbox, key, user_id=user_id, email=email)

    connection = await load_connection(db, user_id)
    assert str(connection.id) == answer["connection_id"]
    assert (connection.provider, connection.status.value) == ("contio", "active")
    assert connection.refresh_token is not None and connection.next_refresh_at is not None
    async with db.transaction() as session:
        audit = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.connection_id == connection.id)
            )
        ).all()
        events = (
            await session.scalars(
                select(OutboxEvent.type).where(
                    OutboxEvent.data["connection_id"].astext == str(connection.id)
                )
            )
        ).all()
    assert [(a.action, a.details) for a in audit] == [
        ("connection.created", {"provisioning_id": answer["id"]})
    ]
    assert list(events) == ["connection.created"]
    provisioning = await load(db, answer["id"])
    assert provisioning.status is ProvisioningStatus.CONNECTED
    assert provisioning.provider_session is None


async def test_a_personal_workspace_user_is_provisioned_without_a_workspace_id(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str
) -> None:
    user_id, email = new_user()

    await provision(gw, sandbox, key, user_id=user_id, email=email)

    profile = (await proxy_get(gw, key, user_id, "/profile")).json()
    assert profile["workspace_role"] == "WORKSPACE_OWNER"


async def test_verifying_again_after_success_answers_the_same(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str
) -> None:
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    code = await latest_code(sandbox, email)
    first = await verify(gw, key, begun["id"], code)

    again = await verify(gw, key, begun["id"], code)

    assert (again.status_code, again.json()) == (200, first.json())


async def test_the_service_can_follow_the_provisioning(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str
) -> None:
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    before = (await gw.get(f"/v1/provisioning/{begun['id']}", headers=bearer(key))).json()
    await verify(gw, key, begun["id"], await latest_code(sandbox, email))

    after = (await gw.get(f"/v1/provisioning/{begun['id']}", headers=bearer(key))).json()

    assert (before["status"], before["connection_id"], before["error"]) == ("code_sent", None, None)
    assert after["status"] == "connected"
    assert uuid.UUID(after["connection_id"])


async def test_two_verifies_at_once_run_one_after_the_other_never_together(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str
) -> None:
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    code = await latest_code(sandbox, email)
    # The token endpoint answers slowly, so the first verify still holds the row when the second
    # arrives.
    await sandbox.post("/_sandbox/faults", json={"latency_ms": 400})

    first, second = await asyncio.gather(
        verify(gw, key, begun["id"], code), verify(gw, key, begun["id"], code)
    )

    statuses = sorted([first.status_code, second.status_code])
    assert statuses == [200, 409], (first.text, second.text)
    refused = first if first.status_code == 409 else second
    assert error_code(refused) == "provisioning_in_progress"
    assert int(refused.headers["Retry-After"]) >= 1
