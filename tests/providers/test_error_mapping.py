"""How upstream failures become the gateway's errors (httpx.MockTransport: error mapping only)."""

from __future__ import annotations

import time
from email.utils import formatdate

import httpx
import pytest
from pydantic import SecretStr

from gateway.providers import (
    ClientRejected,
    GrantRejected,
    ProviderError,
    ProviderUnavailable,
)
from gateway.providers.errors import parse_retry_after
from gateway.providers.spender import OPERATOR
from tests.providers.factories import SECRET, Handler, mock_client

CODE = "the-authorization-code"
VERIFIER = "v" * 43


def answer(status: int, body: object = None, *, text: str | None = None, **headers: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if text is not None:
            return httpx.Response(status, text=text, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


def fail_with(exc: Exception) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


async def exchange(handler: Handler, **overrides: object) -> ProviderError:
    client, http = mock_client(handler, **overrides)
    async with http:
        with pytest.raises(ProviderError) as caught:
            await client.exchange_code(
                code=CODE,
                redirect_uri="https://gw.example/cb",
                code_verifier=VERIFIER,
                spender=OPERATOR,
            )
    return caught.value


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (400, {"error": "invalid_grant", "error_description": "The code has expired."}),
        (401, {"error": "invalid_grant"}),
        (400, {"code": "invalid_grant", "message": "Refresh token revoked"}),
    ],
)
async def test_invalid_grant_is_grant_rejected(status: int, body: object) -> None:
    error = await exchange(answer(status, body))
    assert type(error) is GrantRejected
    assert (error.code, error.status_code) == ("grant_rejected", 502)
    assert (error.oauth_error, error.upstream_status) == ("invalid_grant", status)


@pytest.mark.parametrize("oauth_error", ["invalid_client", "unauthorized_client"])
async def test_client_errors_are_client_rejected(oauth_error: str) -> None:
    error = await exchange(answer(401, {"error": oauth_error}))
    assert type(error) is ClientRejected
    assert error.code == "provider_client_rejected"
    assert error.oauth_error == oauth_error


async def test_non_json_4xx_is_client_rejected() -> None:
    error = await exchange(answer(403, text="<html><body>Request blocked by WAF</body></html>"))
    assert type(error) is ClientRejected
    assert error.upstream_status == 403


async def test_other_oauth_errors_are_provider_errors() -> None:
    error = await exchange(answer(400, {"error": "invalid_scope", "error_description": "nope"}))
    assert type(error) is ProviderError
    assert (error.code, error.oauth_error) == ("provider_error", "invalid_scope")


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_5xx_is_unavailable(status: int) -> None:
    error = await exchange(answer(status, text="upstream broke"))
    assert type(error) is ProviderUnavailable
    assert (error.code, error.status_code, error.upstream_status) == (
        "provider_unavailable",
        503,
        status,
    )
    assert error.retry_after is None


async def test_429_is_unavailable_with_retry_after_seconds() -> None:
    error = await exchange(answer(429, {"error": "rate_limit_exceeded"}, **{"Retry-After": "120"}))
    assert isinstance(error, ProviderUnavailable)
    assert error.retry_after == 120
    assert error.headers["Retry-After"] == "120"


async def test_503_with_retry_after_http_date() -> None:
    later = formatdate(time.time() + 90, usegmt=True)
    error = await exchange(answer(503, text="maintenance", **{"Retry-After": later}))
    assert isinstance(error, ProviderUnavailable)
    assert error.retry_after is not None
    assert 80 <= error.retry_after <= 90


async def test_network_error_is_unavailable() -> None:
    error = await exchange(fail_with(httpx.ConnectError("[Errno 111] Connection refused")))
    assert type(error) is ProviderUnavailable
    assert "network error" in error.message
    assert isinstance(error.__cause__, httpx.ConnectError)


async def test_timeout_is_unavailable() -> None:
    error = await exchange(fail_with(httpx.ReadTimeout("timed out")))
    assert type(error) is ProviderUnavailable
    assert "timed out" in error.message


async def test_200_without_json_is_provider_error() -> None:
    error = await exchange(answer(200, text="<html>login</html>"))
    assert type(error) is ProviderError


async def test_200_without_access_token_is_provider_error() -> None:
    error = await exchange(answer(200, {"token_type": "Bearer"}))
    assert type(error) is ProviderError
    assert "access_token" in error.message


async def test_messages_name_the_provider_error_but_no_secret_or_code() -> None:
    body = {"error": "invalid_grant", "error_description": "Code expired. " + "x" * 500}
    error = await exchange(answer(400, body))
    assert "acme" in error.message
    assert "invalid_grant" in error.message
    assert "Code expired." in error.message
    assert len(error.message) < 300
    for secret in (CODE, VERIFIER, SECRET):
        assert secret not in error.message
        assert secret not in str(error.body())


async def test_next_secret_is_tried_on_invalid_client() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        if len(seen) == 1:
            return httpx.Response(401, json={"error": "invalid_client"})
        return httpx.Response(200, json={"access_token": "at", "token_type": "Bearer"})

    client, http = mock_client(handler, client_secrets=(SecretStr("old"), SecretStr("new")))
    async with http:
        tokens = await client.refresh("rt", spender=OPERATOR)
    assert tokens.access_token.get_secret_value() == "at"
    assert len(seen) == 2
    assert seen[0] != seen[1]


async def test_client_rejected_when_every_secret_is_invalid() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(401, json={"error": "invalid_client"})

    error = await exchange(handler, client_secrets=(SecretStr("a"), SecretStr("b"), SecretStr("c")))
    assert type(error) is ClientRejected
    assert len(calls) == 3


async def test_invalid_grant_is_not_retried_with_another_secret() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(400, json={"error": "invalid_grant"})

    error = await exchange(handler, client_secrets=(SecretStr("a"), SecretStr("b")))
    assert type(error) is GrantRejected
    assert len(calls) == 1


async def test_userinfo_401_is_grant_rejected() -> None:
    challenge = 'Bearer error="invalid_token", error_description="expired"'
    client, http = mock_client(answer(401, text="", **{"WWW-Authenticate": challenge}))
    async with http:
        with pytest.raises(GrantRejected) as caught:
            await client.userinfo("access-token-value")
    assert caught.value.oauth_error == "invalid_token"
    assert "access-token-value" not in caught.value.message


async def test_userinfo_403_is_provider_error() -> None:
    client, http = mock_client(answer(403, {"error": "insufficient_scope"}))
    async with http:
        with pytest.raises(ProviderError) as caught:
            await client.userinfo("access-token-value")
    assert type(caught.value) is ProviderError
    assert caught.value.oauth_error == "insufficient_scope"


async def test_revocation_5xx_is_unavailable() -> None:
    client, http = mock_client(answer(503, text="", **{"Retry-After": "5"}))
    async with http:
        with pytest.raises(ProviderUnavailable) as caught:
            await client.revoke("token", "refresh_token", spender=OPERATOR)
    assert caught.value.retry_after == 5


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 60.0),
        ("Wed, 21 Oct 2015 07:26:00 GMT", 0.0),  # in the past: retry now
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    now = 1445412420.0  # Wed, 21 Oct 2015 07:27:00 GMT
    assert parse_retry_after(value, now=now) == expected
