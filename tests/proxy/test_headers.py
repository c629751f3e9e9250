"""Header hygiene: an allow-list goes upstream, hop-by-hop headers go nowhere, and the caller can
never choose the Authorization the provider sees."""

from __future__ import annotations

import httpx

from tests.proxy.conftest import bearer
from tests.proxy.upstream import EchoUpstream


def received(response: httpx.Response) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for name, value in response.json()["headers"]:
        headers.setdefault(name, []).append(value)
    return headers


async def test_the_provider_sees_the_users_token_never_the_callers_authorization(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str]
) -> None:
    user_id, token = user
    response = await gw.get(
        f"/proxy/users/{user_id}/echo/auth",
        headers=[
            ("Authorization", f"Bearer {key}"),
            ("Authorization", "Bearer attacker-token"),
            ("Proxy-Authorization", "Basic eDp5"),
            ("X-Forwarded-Authorization", "Bearer attacker-token"),
        ],
    )
    assert response.status_code == 200
    assert received(response)["authorization"] == [f"Bearer {token}"]
    assert key not in response.text and "attacker-token" not in response.text


async def test_only_allowed_request_headers_are_forwarded(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str]
) -> None:
    user_id, _ = user
    allowed = {
        "accept": "application/json",
        "accept-language": "de",
        "content-type": "application/json",
        "idempotency-key": "key-123",
        "x-client-timezone": "Europe/Berlin",
        "if-match": '"v1"',
        "if-none-match": '"v2"',
    }
    refused = {
        "cookie": "session=abc",
        "x-forwarded-for": "10.0.0.1",
        "x-internal-secret": "s3cr3t",
        "host-override": "evil.example",
        "gateway-provider": "contio",
    }
    response = await gw.post(
        f"/proxy/users/{user_id}/echo/headers",
        content=b"{}",
        headers={**bearer(key), **allowed, **refused},
    )
    seen = received(response)
    for name, value in allowed.items():
        assert seen[name] == [value], name
    for name in refused:
        assert name not in seen, name
    assert seen["content-length"] == ["2"]
    assert seen["user-agent"] == ["gateway-proxy/1"]


async def test_the_gateway_says_what_the_upstream_client_would_otherwise_add(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str]
) -> None:
    user_id, _ = user
    request = gw.build_request(
        "GET", f"/proxy/users/{user_id}/echo/bare", headers={**bearer(key), "User-Agent": "mine"}
    )
    del request.headers["accept"], request.headers["accept-encoding"]  # httpx's own defaults
    bare = received(await gw.send(request))
    assert bare["accept"] == ["*/*"]
    assert bare["accept-encoding"] == ["identity"]  # no compression the caller did not ask for
    assert bare["user-agent"] == ["gateway-proxy/1"]
    asked = received(
        await gw.get(
            f"/proxy/users/{user_id}/echo/asked",
            headers={**bearer(key), "Accept-Encoding": "gzip", "Accept": "text/csv"},
        )
    )
    assert asked["accept-encoding"] == ["gzip"]
    assert asked["accept"] == ["text/csv"]


async def test_hop_by_hop_request_headers_are_dropped(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str]
) -> None:
    user_id, _ = user
    response = await gw.get(
        f"/proxy/users/{user_id}/echo/hop",
        headers={
            **bearer(key),
            "Connection": "keep-alive, Accept-Language",
            "Accept-Language": "fr",  # named by Connection: hop-by-hop for this hop only
            "Keep-Alive": "timeout=5",
            "TE": "trailers",
            "Upgrade": "h2c",
            "Proxy-Connection": "keep-alive",
        },
    )
    seen = received(response)
    for name in ("accept-language", "keep-alive", "te", "upgrade", "proxy-connection"):
        assert name not in seen, name
    assert seen.get("connection", ["keep-alive"]) == ["keep-alive"]  # the gateway's own, if any


async def test_hop_by_hop_and_private_response_headers_are_dropped(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str]
) -> None:
    user_id, _ = user
    response = await gw.get(f"/proxy/users/{user_id}/hop", headers=bearer(key))
    assert response.status_code == 200
    assert response.headers["x-provider-header"] == "kept"
    for name in ("x-private-hop", "keep-alive", "proxy-authenticate", "upgrade", "trailer"):
        assert name not in response.headers, name
    assert "set-cookie" not in response.headers
    assert "gateway-error" not in response.headers, "a provider cannot pose as the gateway"


async def test_a_callers_request_id_is_forwarded_and_returned(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str]
) -> None:
    user_id, _ = user
    response = await gw.get(
        f"/proxy/users/{user_id}/echo/rid", headers={**bearer(key), "X-Request-Id": "trace-42.a"}
    )
    assert response.headers["x-request-id"] == "trace-42.a"
    assert received(response)["x-request-id"] == ["trace-42.a"]


async def test_a_request_id_is_made_when_missing_or_unusable(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str]
) -> None:
    user_id, _ = user
    response = await gw.get(
        f"/proxy/users/{user_id}/echo/rid", headers={**bearer(key), "X-Request-Id": "bad id\t!"}
    )
    made = response.headers["x-request-id"]
    assert made != "bad id\t!" and len(made) >= 16
    assert received(response)["x-request-id"] == [made]


async def test_redirects_are_returned_never_followed(
    gw: httpx.AsyncClient, key: str, user: tuple[str, str], upstream: EchoUpstream
) -> None:
    user_id, _ = user
    response = await gw.get(f"/proxy/users/{user_id}/redirect", headers=bearer(key))
    assert response.status_code == 302
    assert response.headers["location"].endswith("/stolen")
    assert upstream.seen("/stolen") == []
