"""One flow, one outcome: concurrent or repeated callbacks of one connect attempt, and concurrent
verifies of one provisioning, exchange one code once; every other caller gets a stable error and the
grant that was stored stays live (proved by proxying with it).

The sandbox replays what a careful provider does: a code presented twice revokes the grant it
produced. A gate in front of the sandbox holds the first flow inside the provider call until every
other one has been answered, so the outcome never depends on timing.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

import httpx
import pytest

from tests.e2e.flows import open_session, to_callback
from tests.hostile.claim_fixtures import GatedStack, client_key, gated, gw, sandbox
from tests.lifecycle.waiting import until
from tests.provisioning.flows import bearer, latest_code, started, wrong

__all__ = ["client_key", "gated", "gw", "sandbox"]  # fixtures

CONCURRENT = 6
JSON = {"Accept": "application/json"}
WITHIN = 20.0


def counted(stack: GatedStack, name: str) -> int:
    return stack.sandbox_store.counters.snapshot()[name]


async def held_while_others_answer(
    stack: GatedStack, path: str, calls: list[Callable[[], Coroutine[Any, Any, httpx.Response]]]
) -> list[httpx.Response]:
    """Run ``calls`` at once with ``path`` gated: wait until exactly one is held at the sandbox
    and every other one has been answered, then let the held one through."""
    stack.gate.close(path)
    try:
        tasks = [asyncio.create_task(call()) for call in calls]

        async def settled() -> bool:
            answered = sum(task.done() for task in tasks)
            return stack.gate.held >= 1 and answered == len(tasks) - 1

        await until(settled, within=WITHIN, what="one call held at the provider, the rest answered")
        assert stack.gate.held == 1, "more than one call reached the provider"
    finally:
        stack.gate.open()
    return list(await asyncio.gather(*tasks))


async def proxies(gw: httpx.AsyncClient, key: str, user_id: str) -> None:
    response = await gw.get(f"/proxy/users/{user_id}/meetings", headers=bearer(key))
    assert response.status_code == 200, response.text
    assert "gateway-error" not in response.headers


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


# -- connect callbacks -----------------------------------------------------------------------------


async def _to_callback(
    gw: httpx.AsyncClient, key: str, browser: httpx.AsyncClient, user_id: str, **body: Any
) -> str:
    opened = await open_session(
        gw, key, user_id=user_id, login_hint=f"{user_id}@example.com", **body
    )
    return await to_callback(browser, opened["connect_url"])


async def test_concurrent_callbacks_exchange_the_code_once(
    gated: GatedStack, gw: httpx.AsyncClient, client_key: str
) -> None:
    user_id = f"claim-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(timeout=WITHIN * 2) as browser:
        callback = await _to_callback(gw, client_key, browser, user_id)
        exchanges = counted(gated, "code_exchanges")
        responses = await held_while_others_answer(
            gated,
            "/oauth2/token",
            [lambda: browser.get(callback, headers=JSON) for _ in range(CONCURRENT)],
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [400] * (CONCURRENT - 1), [r.text for r in responses]
    losers = [r for r in responses if r.status_code != 200]
    assert {error_code(r) for r in losers} == {"connect_session_used"}
    assert counted(gated, "code_exchanges") - exchanges == 1
    await proxies(gw, client_key, user_id)


async def test_a_repeated_callback_after_success_does_not_replay_the_code(
    gated: GatedStack, gw: httpx.AsyncClient, client_key: str
) -> None:
    user_id = f"claim-{uuid.uuid4().hex[:8]}"
    return_url = gated.settings.allowed_return_urls[0]
    async with httpx.AsyncClient(timeout=10) as browser:
        callback = await _to_callback(gw, client_key, browser, user_id, return_url=return_url)
        # The success answer deletes the flow's cookie: the replay sends it as it was.
        cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies.jar)
        first = await browser.get(callback)
        exchanges = counted(gated, "code_exchanges")
        again = await browser.get(callback, headers={"Cookie": cookie})
    assert "status=connected" in first.headers["location"]
    assert again.status_code == 302
    assert "error=connect_session_used" in again.headers["location"]
    assert counted(gated, "code_exchanges") == exchanges
    await proxies(gw, client_key, user_id)


async def test_a_failed_exchange_spends_the_attempt_and_reopening_the_link_starts_another(
    gated: GatedStack, gw: httpx.AsyncClient, client_key: str
) -> None:
    user_id = f"claim-{uuid.uuid4().hex[:8]}"
    opened = await open_session(
        gw, client_key, user_id=user_id, login_hint=f"{user_id}@example.com"
    )
    async with httpx.AsyncClient(timeout=30) as browser:
        callback = await to_callback(browser, opened["connect_url"])
        gated.sandbox_store.faults.update({"token_endpoint_down": True})
        try:
            failed = await browser.get(callback, headers=JSON)
        finally:
            gated.sandbox_store.faults.reset()
        exchanges = counted(gated, "code_exchanges")
        retried = await browser.get(callback, headers=JSON)
        assert counted(gated, "code_exchanges") == exchanges  # the spent attempt sends nothing
        second = await browser.get(await to_callback(browser, opened["connect_url"]))
    assert (failed.status_code, error_code(failed)) == (503, "provider_unavailable")
    assert (retried.status_code, error_code(retried)) == (400, "connect_session_used")
    assert second.status_code == 200, second.text
    await proxies(gw, client_key, user_id)


# -- provisioning ----------------------------------------------------------------------------------


async def _provisioning(
    gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, key: str
) -> tuple[str, dict[str, Any], str]:
    user_id = f"claimp-{uuid.uuid4().hex[:8]}"
    begun = await started(gw, key, user_id=user_id, email=f"{user_id}@example.com")
    return user_id, begun, await latest_code(sandbox, f"{user_id}@example.com")


async def test_concurrent_verifies_exchange_once(
    gated: GatedStack, gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, client_key: str
) -> None:
    user_id, begun, code = await _provisioning(gw, sandbox, client_key)
    url = f"/v1/provisioning/{begun['id']}/verify"
    verified, exchanges = counted(gated, "codes_verified"), counted(gated, "code_exchanges")
    responses = await held_while_others_answer(
        gated,
        "/auth/verify",
        [
            lambda: gw.post(url, json={"code": code}, headers=bearer(client_key))
            for _ in range(CONCURRENT)
        ],
    )
    winners = [r for r in responses if r.status_code == 200]
    losers = [r for r in responses if r.status_code != 200]
    assert len(winners) == 1, [r.text for r in responses]
    assert {(r.status_code, error_code(r)) for r in losers} == {(409, "provisioning_in_progress")}
    assert all(int(r.headers["retry-after"]) >= 1 for r in losers)
    assert counted(gated, "codes_verified") - verified == 1
    assert counted(gated, "code_exchanges") - exchanges == 1
    await proxies(gw, client_key, user_id)
    late = await gw.post(url, json={"code": code}, headers=bearer(client_key))
    assert late.json()["connection_id"] == winners[0].json()["connection_id"]
    assert counted(gated, "code_exchanges") - exchanges == 1


async def test_concurrent_page_submissions_exchange_once(
    gated: GatedStack, gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, client_key: str
) -> None:
    user_id, begun, code = await _provisioning(gw, sandbox, client_key)
    page = httpx.URL(begun["verify_url"])
    form = {"token": page.params["token"], "code": code}
    exchanges = counted(gated, "code_exchanges")
    responses = await held_while_others_answer(
        gated,
        "/auth/verify",
        [lambda: gw.post(page.copy_with(query=None), data=form) for _ in range(CONCURRENT)],
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [409] * (CONCURRENT - 1), [r.text for r in responses]
    assert all("being checked already" in r.text for r in responses if r.status_code == 409)
    assert counted(gated, "code_exchanges") - exchanges == 1
    await proxies(gw, client_key, user_id)


async def test_concurrent_wrong_codes_count_one_attempt_each_that_reached_the_provider(
    gated: GatedStack, gw: httpx.AsyncClient, sandbox: httpx.AsyncClient, client_key: str
) -> None:
    user_id, begun, code = await _provisioning(gw, sandbox, client_key)
    url = f"/v1/provisioning/{begun['id']}/verify"
    limit = gated.settings.provisioning_max_attempts
    responses = await held_while_others_answer(
        gated,
        "/auth/verify",
        [
            lambda: gw.post(url, json={"code": wrong(code)}, headers=bearer(client_key))
            for _ in range(CONCURRENT)
        ],
    )
    refused = [r for r in responses if r.status_code == 400]
    assert len(refused) == 1, [r.text for r in responses]
    assert refused[0].json()["error"]["details"]["attempts_remaining"] == limit - 1
    assert sorted(r.status_code for r in responses) == [400] + [409] * (CONCURRENT - 1)
    # Not a digit, not ASCII: still a wrong code, counted like any other.
    odd = await gw.post(url, json={"code": "\u00e9\u00e9"}, headers=bearer(client_key))
    assert (odd.status_code, error_code(odd)) == (400, "invalid_code")
    assert odd.json()["error"]["details"]["attempts_remaining"] == limit - 2
    right = await gw.post(url, json={"code": code}, headers=bearer(client_key))
    assert right.status_code == 200, right.text
    await proxies(gw, client_key, user_id)


@pytest.fixture(autouse=True)
def _faults_off(gated: GatedStack) -> None:
    gated.sandbox_store.faults.reset()
