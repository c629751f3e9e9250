"""Finding endpoints from an issuer: the URLs tried, the fallback, and failures (MockTransport)."""

from __future__ import annotations

import httpx
import pytest

from gateway.providers import ProviderUnavailable
from gateway.providers.discovery import ServerMetadata, discover, metadata_urls

ISSUER = "https://id.example/tenant"
METADATA = {
    "issuer": ISSUER,
    "authorization_endpoint": f"{ISSUER}/authorize",
    "token_endpoint": f"{ISSUER}/token",
}


def test_oidc_then_rfc8414_urls() -> None:
    assert metadata_urls(ISSUER) == (
        "https://id.example/tenant/.well-known/openid-configuration",
        "https://id.example/.well-known/oauth-authorization-server/tenant",
    )
    assert metadata_urls("https://id.example/") == (
        "https://id.example/.well-known/openid-configuration",
        "https://id.example/.well-known/oauth-authorization-server",
    )


async def run(handler: httpx.MockTransport) -> ServerMetadata:
    async with httpx.AsyncClient(transport=handler) as http:
        return await discover(http, ISSUER, provider="acme")


async def test_rfc8414_is_tried_when_oidc_metadata_is_missing() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        if "openid-configuration" in request.url.path:
            return httpx.Response(404)
        return httpx.Response(200, json=METADATA)

    metadata = await run(httpx.MockTransport(handler))
    assert metadata.token_endpoint == f"{ISSUER}/token"
    assert metadata.revocation_endpoint is None
    assert len(seen) == 2


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(404),
        httpx.Response(500),
        httpx.Response(429, headers={"Retry-After": "30"}),
        httpx.Response(200, text="<html></html>"),
        httpx.Response(200, json={**METADATA, "issuer": "https://evil.example"}),
        httpx.Response(200, json={**METADATA, "token_endpoint": None}),
        httpx.Response(200, json={**METADATA, "jwks_uri": "javascript:alert(1)"}),
        httpx.Response(200, json={**METADATA, "token_endpoint": "http://id.example/token"}),
    ],
    ids=[
        "404",
        "500",
        "429",
        "not-json",
        "other-issuer",
        "no-token-endpoint",
        "bad-url",
        "http-endpoint-of-an-https-issuer",
    ],
)
async def test_failures_are_unavailable(response: httpx.Response) -> None:
    with pytest.raises(ProviderUnavailable) as caught:
        await run(httpx.MockTransport(lambda request: response))
    assert caught.value.provider == "acme"


async def test_a_network_error_is_unavailable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with pytest.raises(ProviderUnavailable, match="network error"):
        await run(httpx.MockTransport(handler))
