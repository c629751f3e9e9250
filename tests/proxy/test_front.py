"""The proxy's front door: what the rest of the app gets from its middleware, the proxy gets here
(request id, metrics, the error shape for a bug), and what it does not serve takes the ordinary way."""

from __future__ import annotations

import httpx
import pytest

import gateway.proxy.front
from tests.proxy.conftest import bearer


async def test_a_method_the_proxy_does_not_serve_is_a_405_in_the_gateway_shape(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str]
) -> None:
    user_id, _ = user
    response = await gw.request("TRACE", f"/proxy/users/{user_id}/meetings", headers=bearer(key))
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.headers["x-request-id"]


async def test_a_bug_is_a_500_with_the_request_id_and_is_counted(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, _ = user

    async def broken(*_args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(gateway.proxy.front, "serve", broken)
    response = await gw.get(
        f"/proxy/users/{user_id}/meetings", headers={**bearer(key), "X-Request-Id": "bug-1"}
    )
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "internal_error"
    assert response.headers["x-request-id"] == "bug-1"
    monkeypatch.undo()
    metrics = (await gw.get("/metrics")).text
    assert (
        'gateway_http_requests_total{method="GET",'
        'route="/proxy/users/{user_id}/{path:path}",status="500"}'
    ) in metrics
