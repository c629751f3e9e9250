"""``Idempotency-Key`` on ``POST /v1/provisioning``: a retry gets the first answer, and nobody is
provisioned (or mailed a code) twice."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx

from gateway.clients.store import authenticate
from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from gateway.models import IdempotencyKey
from gateway.provisioning.endpoints import OPERATION
from gateway.provisioning.idempotency import fingerprint
from gateway.provisioning.schemas import ProvisioningRequest
from tests.fixtures.stack import new_client
from tests.provisioning.flows import codes, error_code, executions, new_user, start
from tests.provisioning.test_errors import connections_of


def idempotency_key() -> str:
    return f"key-{uuid.uuid4()}"


async def test_a_retry_with_the_same_key_replays_the_first_answer(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str
) -> None:
    user_id, email = new_user()
    ikey = idempotency_key()
    initiated = await executions(sandbox, "POST /auth/initiate")
    first = await start(gw, key, idempotency_key=ikey, user_id=user_id, email=email)

    retry = await start(gw, key, idempotency_key=ikey, email=email, user_id=user_id)

    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    assert (retry.status_code, retry.json()) == (201, first.json())
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert await executions(sandbox, "POST /auth/initiate") == initiated + 1
    assert len(await codes(sandbox, email)) == 1


async def test_the_same_key_with_another_body_is_422_idempotency_key_reused(
    gw: httpx.AsyncClient, key: str
) -> None:
    user_id, email = new_user()
    ikey = idempotency_key()
    await start(gw, key, idempotency_key=ikey, user_id=user_id, email=email)

    other = await start(gw, key, idempotency_key=ikey, user_id=user_id, email=f"x{email}")

    assert (other.status_code, error_code(other)) == (422, "idempotency_key_reused")


async def test_the_same_key_while_the_first_is_in_flight_is_409_with_retry_after(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, db: Database
) -> None:
    user_id, email = new_user()
    body = {"user_id": user_id, "email": email}
    ikey = idempotency_key()
    await _in_flight(db, key, ikey, body, lease=60)  # the first request, still unanswered
    initiated = await executions(sandbox, "POST /auth/initiate")

    response = await start(gw, key, idempotency_key=ikey, **body)

    assert (response.status_code, error_code(response)) == (409, "idempotency_in_flight")
    assert int(response.headers["Retry-After"]) >= 1
    assert await executions(sandbox, "POST /auth/initiate") == initiated


async def test_a_key_whose_first_request_died_may_be_taken_over(
    gw: httpx.AsyncClient, key: str, db: Database
) -> None:
    user_id, email = new_user()
    body = {"user_id": user_id, "email": email}
    ikey = idempotency_key()
    await _in_flight(db, key, ikey, body, lease=-1)  # its process died
    response = await start(gw, key, idempotency_key=ikey, **body)

    assert response.status_code == 201, response.text


async def test_a_refusal_is_replayed_too(gw: httpx.AsyncClient, key: str) -> None:
    user_id, email = new_user()
    ikey = idempotency_key()
    body = {"user_id": user_id, "email": email, "workspace_id": str(uuid.uuid4())}
    first = await start(gw, key, idempotency_key=ikey, **body)

    retry = await start(gw, key, idempotency_key=ikey, **body)

    assert (first.status_code, error_code(first)) == (404, "workspace_not_found")
    assert (retry.status_code, retry.json()) == (404, first.json())
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert error_code(retry) == "workspace_not_found"


async def test_after_a_transient_failure_the_key_may_be_retried_for_real(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str, db: Database
) -> None:
    user_id, email = new_user()
    ikey = idempotency_key()
    await sandbox.post("/_sandbox/faults", json={"lose_response": "502", "lose_prefix": "/auth/"})
    failed = await start(gw, key, idempotency_key=ikey, user_id=user_id, email=email)
    await sandbox.delete("/_sandbox/faults")

    retried = await start(gw, key, idempotency_key=ikey, user_id=user_id, email=email)

    assert (failed.status_code, error_code(failed)) == (503, "provider_unavailable")
    assert retried.status_code == 201, retried.text
    assert "Idempotent-Replayed" not in retried.headers
    assert await connections_of(db, user_id) == 0


async def test_keys_belong_to_one_service_client(
    gw: httpx.AsyncClient, key: str, db: Database
) -> None:
    other = await new_client(db, ["connect"], [])
    ikey = idempotency_key()
    first_user, first_email = new_user()
    second_user, second_email = new_user()

    mine = await start(gw, key, idempotency_key=ikey, user_id=first_user, email=first_email)
    theirs = await start(gw, other, idempotency_key=ikey, user_id=second_user, email=second_email)

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


async def test_a_malformed_key_is_400(gw: httpx.AsyncClient, key: str) -> None:
    user_id, email = new_user()

    response = await start(gw, key, idempotency_key="x" * 256, user_id=user_id, email=email)

    assert (response.status_code, error_code(response)) == (400, "invalid_idempotency_key")


async def _in_flight(db: Database, key: str, ikey: str, body: dict[str, str], lease: float) -> None:
    """Store the claim a first request with ``ikey`` would hold, its lease ending in ``lease`` s."""
    async with db.transaction() as session:
        principal = await authenticate(session, key)
        assert principal is not None
        session.add(
            IdempotencyKey(
                service_client_id=principal.client_id,
                operation=OPERATION,
                key=ikey,
                request_hash=fingerprint(ProvisioningRequest(**body).model_dump(mode="json")),
                expires_at=utcnow() + timedelta(hours=24),
                lease_expires_at=utcnow() + timedelta(seconds=lease),
            )
        )
