"""Retries that cannot duplicate work, and the gateway's own upstream failures.

The echo gateway retries after 10-50 ms and reads with a 0.5 s timeout (see conftest).
"""

from __future__ import annotations

import logging
import uuid

import httpx
import pytest

from gateway.kit.db import Database
from tests.proxy.conftest import DEAD, EchoGateway, bearer, seed_user
from tests.proxy.upstream import EchoUpstream


def unique(prefix: str) -> str:
    return f"/{prefix}/{uuid.uuid4().hex[:8]}"


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
async def test_idempotent_methods_are_retried_through_a_503(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str], upstream: EchoUpstream, method: str
) -> None:
    user_id, _ = user
    path = unique("flaky")
    upstream.plan(path, [503, 502])
    response = await gw.request(method, f"/proxy/users/{user_id}{path}", headers=bearer(key))
    assert response.status_code == 200
    attempts = upstream.seen(path)
    assert len(attempts) == 3
    assert len({seen.header("x-request-id") for seen in attempts}) == 1


async def test_retries_stop_at_the_attempt_limit_and_pass_the_last_answer_back(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str], upstream: EchoUpstream
) -> None:
    user_id, _ = user
    path = unique("flaky")
    upstream.plan(path, [503, 503, 504, 503])
    response = await gw.get(f"/proxy/users/{user_id}{path}", headers=bearer(key))
    assert response.status_code == 504
    assert response.json() == {"code": "planned", "status": 504}, "the provider's own body"
    assert "gateway-error" not in response.headers
    assert len(upstream.seen(path)) == 3


@pytest.mark.parametrize("method", ["POST", "PATCH"])
async def test_a_plain_post_or_patch_is_never_retried(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str], upstream: EchoUpstream, method: str
) -> None:
    user_id, _ = user
    path = unique("flaky")
    upstream.plan(path, [503])
    response = await gw.request(
        method, f"/proxy/users/{user_id}{path}", content=b"{}", headers=bearer(key)
    )
    assert response.status_code == 503
    assert len(upstream.seen(path)) == 1


async def test_a_post_with_an_idempotency_key_is_retried(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str], upstream: EchoUpstream
) -> None:
    user_id, _ = user
    path = unique("flaky")
    upstream.plan(path, [502])
    response = await gw.post(
        f"/proxy/users/{user_id}{path}",
        content=b'{"title": "x"}',
        headers={**bearer(key), "Idempotency-Key": "create-x-1"},
    )
    assert response.status_code == 200
    attempts = upstream.seen(path)
    assert [seen.header("idempotency-key") for seen in attempts] == ["create-x-1"] * 2
    assert {seen.body_length for seen in attempts} == {len(b'{"title": "x"}')}


async def test_a_429_goes_straight_back_with_its_retry_after(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str], upstream: EchoUpstream
) -> None:
    user_id, _ = user
    path = unique("flaky")
    upstream.plan(path, [429])
    response = await gw.get(f"/proxy/users/{user_id}{path}?retry_after=7", headers=bearer(key))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert "gateway-error" not in response.headers
    assert len(upstream.seen(path)) == 1


async def test_a_503_asking_for_a_long_wait_goes_back_at_once(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str], upstream: EchoUpstream
) -> None:
    user_id, _ = user
    path = unique("flaky")
    upstream.plan(path, [503])
    response = await gw.get(f"/proxy/users/{user_id}{path}?retry_after=120", headers=bearer(key))
    assert response.status_code == 503
    assert response.headers["retry-after"] == "120"
    assert len(upstream.seen(path)) == 1


async def test_a_streamed_body_is_not_retried(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str], upstream: EchoUpstream
) -> None:
    user_id, _ = user
    path = unique("flaky")
    upstream.plan(path, [503])
    big = b"b" * (2 * 1024 * 1024)  # beyond the 1 MiB kept for replay
    response = await gw.put(f"/proxy/users/{user_id}{path}", content=big, headers=bearer(key))
    assert response.status_code == 503
    assert len(upstream.seen(path)) == 1


async def test_an_answer_lost_halfway_is_retried_when_safe(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str], upstream: EchoUpstream
) -> None:
    user_id, _ = user
    before = len(upstream.seen("/drop"))
    response = await gw.get(f"/proxy/users/{user_id}/drop", headers=bearer(key))
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unreachable"
    assert response.headers["gateway-error"] == "1"
    assert len(upstream.seen("/drop")) - before == 3


async def test_an_answer_lost_halfway_to_a_plain_post_is_a_502_without_retry(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str], upstream: EchoUpstream
) -> None:
    user_id, _ = user
    before = len(upstream.seen("/drop"))
    response = await gw.post(f"/proxy/users/{user_id}/drop", content=b"{}", headers=bearer(key))
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unreachable"
    assert len(upstream.seen("/drop")) - before == 1


async def test_a_slow_provider_is_a_504_upstream_timeout(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str], upstream: EchoUpstream
) -> None:
    user_id, _ = user
    path = unique("slow")
    response = await gw.post(
        f"/proxy/users/{user_id}{path}?seconds=2", content=b"{}", headers=bearer(key)
    )
    assert response.status_code == 504
    assert response.json()["error"]["code"] == "upstream_timeout"
    assert response.headers["gateway-error"] == "1"
    assert len(upstream.seen(path)) == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
async def test_an_unreachable_provider_is_a_502_after_retrying_the_connection(
    gw: httpx.AsyncClient,
    key: str,
    db: Database,
    echo_gateway: EchoGateway,
    caplog: pytest.LogCaptureFixture,
    method: str,
) -> None:
    # Nothing was sent, so even a plain POST may try the connection again.
    user_id, _ = await seed_user(db, echo_gateway, provider=DEAD)
    request_id = uuid.uuid4().hex
    with caplog.at_level(logging.WARNING, logger="gateway.proxy.forward"):
        response = await gw.request(
            method,
            f"/proxy/users/{user_id}/meetings",
            headers={**bearer(key), "Gateway-Provider": DEAD, "X-Request-Id": request_id},
        )
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_unreachable"
    assert response.headers["gateway-error"] == "1"
    retried = [r for r in caplog.records if getattr(r, "request_id", None) == request_id]
    assert len(retried) == 2, "three attempts: two retries"


async def test_upstream_errors_pass_through_with_status_and_body(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str], upstream: EchoUpstream
) -> None:
    user_id, _ = user
    path = unique("flaky")
    upstream.plan(path, [409])
    response = await gw.delete(f"/proxy/users/{user_id}{path}", headers=bearer(key))
    assert response.status_code == 409
    assert response.json() == {"code": "planned", "status": 409}
    assert "gateway-error" not in response.headers
