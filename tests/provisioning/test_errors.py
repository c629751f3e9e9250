"""Every way a provisioning is refused, each with its stable code in the gateway's error shape."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select

from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from gateway.models import Connection, ProvisioningStatus
from gateway_sandbox.seed import GLOBEX
from tests.fixtures.stack import new_client
from tests.provisioning.conftest import ProvisioningStack
from tests.provisioning.flows import (
    bearer,
    error_code,
    executions,
    latest_code,
    load,
    new_user,
    set_columns,
    shared_workspace,
    start,
    started,
    verify,
    wrong,
)


async def connections_of(db: Database, user_id: str) -> int:
    async with db.transaction() as session:
        count = await session.scalar(
            select(func.count()).select_from(Connection).where(Connection.user_id == user_id)
        )
    return int(count or 0)


# Starting


async def test_an_unknown_workspace_is_404_workspace_not_found(
    gw: httpx.AsyncClient, key: str
) -> None:
    user_id, email = new_user()

    response = await start(gw, key, user_id=user_id, email=email, workspace_id=str(uuid.uuid4()))

    assert response.status_code == 404
    assert error_code(response) == "workspace_not_found"


async def test_another_partners_workspace_is_403_workspace_not_authorized(
    gw: httpx.AsyncClient, key: str
) -> None:
    user_id, email = new_user()

    response = await start(gw, key, user_id=user_id, email=email, workspace_id=str(GLOBEX.id))

    assert response.status_code == 403
    assert error_code(response) == "workspace_not_authorized"


async def test_a_user_of_another_workspace_is_409_workspace_conflict_naming_it(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, pstack: ProvisioningStack
) -> None:
    user_id, email = new_user()
    await started(gw, key, user_id=user_id, email=email)  # a personal workspace of their own
    sandbox_user = pstack.sandbox_store.user_by_email(email)
    assert sandbox_user is not None
    acme = await shared_workspace(sandbox)

    response = await start(gw, key, user_id=user_id, email=email, workspace_id=acme["workspace_id"])

    assert response.status_code == 409
    assert error_code(response) == "workspace_conflict"
    assert response.json()["error"]["details"] == {"workspace_id": str(sandbox_user.workspace_id)}


@pytest.mark.parametrize(
    "body",
    [
        {"email": "someone@example.com"},
        {"user_id": "u1"},
        {"user_id": "u1", "email": "not-an-email"},
        {"user_id": "u1", "email": "a@example.com", "workspace_id": "acme"},
        {"user_id": "u1", "email": "a@example.com", "is_admin": "yes"},
        {"user_id": "u1", "email": "a@example.com", "tokens": "please"},
    ],
)
async def test_a_malformed_request_is_400_validation_error(
    gw: httpx.AsyncClient, key: str, body: dict[str, object]
) -> None:
    response = await gw.post("/v1/provisioning", json=body, headers=bearer(key))

    assert response.status_code == 400
    assert error_code(response) == "validation_error"


async def test_provisioning_needs_the_connect_scope(gw: httpx.AsyncClient, db: Database) -> None:
    proxy_only = await new_client(db, ["proxy"], ["GET /**"])
    user_id, email = new_user()

    response = await start(gw, proxy_only, user_id=user_id, email=email)

    assert response.status_code == 403
    assert error_code(response) == "insufficient_scope"


async def test_an_unreachable_provider_is_503_with_retry_after(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str
) -> None:
    user_id, email = new_user()
    await sandbox.post(
        "/_sandbox/faults",
        json={"lose_response": "drop", "lose_prefix": "/auth/initiate", "lose_next": 1},
    )

    response = await start(gw, key, user_id=user_id, email=email)

    assert response.status_code == 503
    assert error_code(response) == "provider_unavailable"
    assert int(response.headers["Retry-After"]) >= 1


# Verifying


async def test_a_wrong_code_is_400_invalid_code_with_the_attempts_left(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, db: Database
) -> None:
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    code = await latest_code(sandbox, email)

    response = await verify(gw, key, begun["id"], wrong(code))

    assert response.status_code == 400
    assert error_code(response) == "invalid_code"
    assert response.json()["error"]["details"] == {"attempts_remaining": 4}
    # A mistake is not the end: the right code still connects.
    assert (await verify(gw, key, begun["id"], code)).status_code == 200


async def test_the_fifth_wrong_code_closes_the_provisioning_409_provisioning_failed(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, db: Database
) -> None:
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    code = await latest_code(sandbox, email)
    left = []
    for _ in range(4):
        response = await verify(gw, key, begun["id"], wrong(code))
        left.append(response.json()["error"]["details"]["attempts_remaining"])

    fifth = await verify(gw, key, begun["id"], wrong(code))
    with_the_right_code = await verify(gw, key, begun["id"], code)

    assert left == [4, 3, 2, 1]
    assert (fifth.status_code, error_code(fifth)) == (409, "provisioning_failed")
    assert (with_the_right_code.status_code, error_code(with_the_right_code)) == (
        409,
        "provisioning_failed",
    )
    closed = await load(db, begun["id"])
    assert (closed.status, closed.attempts, closed.provider_session) == (
        ProvisioningStatus.FAILED,
        5,
        None,
    )
    assert await connections_of(db, user_id) == 0


async def test_a_code_past_three_minutes_by_the_gateways_clock_is_410_code_expired(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, db: Database
) -> None:
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    code = await latest_code(sandbox, email)
    await set_columns(db, begun["id"], code_expires_at=utcnow() - timedelta(seconds=1))
    verifies = await executions(sandbox, "POST /auth/verify")

    response = await verify(gw, key, begun["id"], code)

    assert response.status_code == 410
    assert error_code(response) == "code_expired"
    assert await executions(sandbox, "POST /auth/verify") == verifies  # the provider was spared
    assert (await load(db, begun["id"])).provider_session is None


async def test_a_code_the_provider_says_expired_is_410_code_expired(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, pstack: ProvisioningStack
) -> None:
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    code = await latest_code(sandbox, email)
    pstack.clock.offset = 181  # the provider's clock only

    response = await verify(gw, key, begun["id"], code)

    assert response.status_code == 410
    assert error_code(response) == "code_expired"


async def _verified_but_not_connected(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str
) -> dict[str, object]:
    """A provisioning whose code the provider took, stopped before the token exchange."""
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    code = await latest_code(sandbox, email)
    await sandbox.post("/_sandbox/faults", json={"token_endpoint_down": True})
    response = await verify(gw, key, begun["id"], code)
    assert response.status_code == 503, response.text
    await sandbox.delete("/_sandbox/faults")
    return {**begun, "code": code, "user_id": user_id}


async def test_a_provider_outage_after_the_code_is_503_and_a_retry_finishes_the_flow(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, db: Database
) -> None:
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    code = await latest_code(sandbox, email)
    await sandbox.post("/_sandbox/faults", json={"token_endpoint_down": True})

    down = await verify(gw, key, begun["id"], code)
    await sandbox.delete("/_sandbox/faults")
    retried = await verify(gw, key, begun["id"], code)

    assert (down.status_code, error_code(down)) == (503, "provider_unavailable")
    assert int(down.headers["Retry-After"]) >= 1
    assert retried.status_code == 200, retried.text
    assert await connections_of(db, user_id) == 1


async def test_a_session_past_thirty_minutes_by_the_gateways_clock_is_410_session_expired(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, db: Database
) -> None:
    begun = await _verified_but_not_connected(gw, sandbox, key)
    assert (await load(db, str(begun["id"]))).status is ProvisioningStatus.VERIFIED
    await set_columns(db, str(begun["id"]), session_expires_at=utcnow() - timedelta(seconds=1))

    response = await verify(gw, key, str(begun["id"]), str(begun["code"]))

    assert response.status_code == 410
    assert error_code(response) == "session_expired"
    assert await connections_of(db, str(begun["user_id"])) == 0


async def test_a_session_the_provider_says_expired_is_410_session_expired(
    gw: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    key: str,
    db: Database,
    pstack: ProvisioningStack,
) -> None:
    begun = await _verified_but_not_connected(gw, sandbox, key)
    pstack.clock.offset = 1801  # the provider's clock only

    response = await verify(gw, key, str(begun["id"]), str(begun["code"]))
    again = await verify(gw, key, str(begun["id"]), str(begun["code"]))

    assert (response.status_code, error_code(response)) == (410, "session_expired")
    assert (again.status_code, error_code(again)) == (410, "session_expired")
    assert (await load(db, str(begun["id"]))).failure_code == "session_expired"


async def test_a_verify_while_another_holds_the_provisioning_is_409_in_progress(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, db: Database
) -> None:
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    await set_columns(db, begun["id"], lease_expires_at=utcnow() + timedelta(seconds=60))
    verifies = await executions(sandbox, "POST /auth/verify")

    response = await verify(gw, key, begun["id"], await latest_code(sandbox, email))

    assert (response.status_code, error_code(response)) == (409, "provisioning_in_progress")
    assert int(response.headers["Retry-After"]) >= 1
    assert await executions(sandbox, "POST /auth/verify") == verifies


async def test_an_unknown_provisioning_is_404(gw: httpx.AsyncClient, key: str) -> None:
    for provisioning_id in (str(uuid.uuid4()), "not-a-uuid"):
        response = await verify(gw, key, provisioning_id, "123456")
        looked_up = await gw.get(f"/v1/provisioning/{provisioning_id}", headers=bearer(key))

        assert (response.status_code, error_code(response)) == (404, "provisioning_not_found")
        assert (looked_up.status_code, error_code(looked_up)) == (404, "provisioning_not_found")


async def test_another_clients_provisioning_is_404_to_it(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, db: Database
) -> None:
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    other = await new_client(db, ["connect"], [])

    response = await verify(gw, other, begun["id"], await latest_code(sandbox, email))
    looked_up = await gw.get(f"/v1/provisioning/{begun['id']}", headers=bearer(other))

    assert (response.status_code, error_code(response)) == (404, "provisioning_not_found")
    assert (looked_up.status_code, error_code(looked_up)) == (404, "provisioning_not_found")
    assert (await load(db, begun["id"])).status is ProvisioningStatus.CODE_SENT


async def test_a_verify_without_a_code_is_400_validation_error(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str
) -> None:
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)

    response = await gw.post(
        f"/v1/provisioning/{begun['id']}/verify", json={"code": ""}, headers=bearer(key)
    )

    assert (response.status_code, error_code(response)) == (400, "validation_error")


async def test_a_verify_whose_answer_was_lost_is_finished_by_the_retry(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, db: Database
) -> None:
    user_id, email = new_user()
    begun = await started(gw, key, user_id=user_id, email=email)
    code = await latest_code(sandbox, email)
    # The provider takes the code, then the connection drops before its answer arrives.
    await sandbox.post(
        "/_sandbox/faults",
        json={"lose_response": "drop", "lose_prefix": "/auth/verify", "lose_next": 1},
    )

    lost = await verify(gw, key, begun["id"], code)
    retried = await verify(gw, key, begun["id"], code)

    assert (lost.status_code, error_code(lost)) == (503, "provider_unavailable")
    assert retried.status_code == 200, retried.text
    assert await connections_of(db, user_id) == 1
