"""Retries against the Contio sandbox that must not do the work twice: the sandbox executes a
create, then loses the answer (its ``lose_response`` fault); only a request carrying an
``Idempotency-Key`` may be sent again, and the sandbox runs it once and replays the stored answer."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from gateway.kit.db import Database
from tests.e2e.flows import connect_new_user
from tests.fixtures.stack import Stack, new_client

CREATE = "POST /v1/partner/user/meetings"


@pytest.fixture
async def sandbox(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """The sandbox's control API, counters zeroed; faults reset afterwards."""
    async with httpx.AsyncClient(base_url=stack.sandbox.url, timeout=10) as client:
        await client.post("/_sandbox/stats/reset")
        try:
            yield client
        finally:
            await client.delete("/_sandbox/faults")


@pytest.fixture
async def writer(db: Database) -> str:
    return await new_client(db, ["connect", "proxy"], ["* /**"])


async def lose_next_answer(sandbox: httpx.AsyncClient, mode: str) -> None:
    response = await sandbox.post("/_sandbox/faults", json={"lose_response": mode, "lose_next": 1})
    assert response.status_code == 200, response.text


async def executions(sandbox: httpx.AsyncClient) -> int:
    counts: dict[str, int] = (await sandbox.get("/_sandbox/executions")).json()
    return counts.get(CREATE, 0)


async def create_meeting(
    http: httpx.AsyncClient, key: str, user_id: str, idempotency_key: str | None
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return await http.post(
        f"/proxy/users/{user_id}/meetings", json={"title": "Quarterly review"}, headers=headers
    )


@pytest.mark.parametrize("mode", ["drop", "502"])
async def test_a_post_with_an_idempotency_key_is_retried_and_executed_once(
    http: httpx.AsyncClient, writer: str, sandbox: httpx.AsyncClient, mode: str
) -> None:
    user_id = await connect_new_user(http, writer)
    await lose_next_answer(sandbox, mode)
    response = await create_meeting(http, writer, user_id, f"create-{user_id}")
    assert response.status_code == 201, response.text
    assert response.headers["idempotent-replayed"] == "true"
    assert response.json()["title"] == "Quarterly review"
    assert await executions(sandbox) == 1


async def test_a_plain_post_whose_answer_was_lost_is_not_retried(
    http: httpx.AsyncClient, writer: str, sandbox: httpx.AsyncClient
) -> None:
    user_id = await connect_new_user(http, writer)
    await lose_next_answer(sandbox, "drop")
    response = await create_meeting(http, writer, user_id, None)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unreachable"
    assert response.headers["gateway-error"] == "1"
    assert await executions(sandbox) == 1


async def test_a_plain_post_answered_502_gets_the_providers_502(
    http: httpx.AsyncClient, writer: str, sandbox: httpx.AsyncClient
) -> None:
    user_id = await connect_new_user(http, writer)
    await lose_next_answer(sandbox, "502")
    response = await create_meeting(http, writer, user_id, None)
    assert response.status_code == 502
    assert "gateway-error" not in response.headers, "the provider's own 502, passed through"
    assert await executions(sandbox) == 1
