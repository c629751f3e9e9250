"""The connect endpoints answer as the document says: sessions, the browser entry, the callback."""

from __future__ import annotations

import uuid

import httpx

from tests.e2e.flows import connect, open_session, to_callback
from tests.fixtures.stack import RETURN_URL, Stack
from tests.openapi.conformance import conforms, error_code

SESSIONS = "/v1/connect-sessions"
CONNECT = "/connect"
CALLBACK = "/oauth/callback"
AS_JSON = {"Accept": "application/json"}


def user() -> str:
    return f"openapi-{uuid.uuid4().hex[:8]}"


async def test_a_session_is_201(api: httpx.AsyncClient) -> None:
    response = conforms(await api.post(SESSIONS, json={"user_id": user()}), SESSIONS)
    assert response.status_code == 201
    assert response.json()["expires_at"].endswith("Z")


async def test_a_bad_body_is_400_validation_error(api: httpx.AsyncClient) -> None:
    response = conforms(await api.post(SESSIONS, json={"user_id": ""}), SESSIONS)
    assert error_code(response) == "validation_error"


async def test_validation_errors_are_in_the_gateways_words(api: httpx.AsyncClient) -> None:
    body = {"user_id": "", "scopes": "read", "surprise": 1}
    response = conforms(await api.post(SESSIONS, json=body), SESSIONS)
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    problems = {item["field"]: item["problem"] for item in error["details"]["errors"]}
    assert problems["user_id"] == "must be at least 1 character"
    assert problems["surprise"] == "is not a field of this request"
    assert "user_id: must be at least 1 character" in error["message"]
    for text in (error["message"], *problems.values()):
        assert "Input should" not in text and "pydantic" not in text and "http" not in text


async def test_not_json_is_400_invalid_json(api: httpx.AsyncClient) -> None:
    response = conforms(await api.post(SESSIONS, content=b"user_id=x"), SESSIONS)
    assert error_code(response) == "invalid_json"


async def test_an_unknown_provider_is_400(api: httpx.AsyncClient) -> None:
    response = await api.post(SESSIONS, json={"user_id": user(), "provider": "nope"})
    assert error_code(conforms(response, SESSIONS)) == "unknown_provider"


async def test_a_foreign_return_url_is_400(api: httpx.AsyncClient) -> None:
    body = {"user_id": user(), "return_url": "https://evil.example.com/"}
    response = conforms(await api.post(SESSIONS, json=body), SESSIONS)
    assert error_code(response) == "return_url_not_allowed"


async def test_a_nul_in_a_field_is_400_not_500(api: httpx.AsyncClient) -> None:
    # Regression: PostgreSQL refused the NUL on insert and the gateway answered 500.
    for field, value in (("login_hint", "a\x00b"), ("return_url", RETURN_URL + "/\x00")):
        response = conforms(
            await api.post(SESSIONS, json={"user_id": user(), field: value}), SESSIONS
        )
        assert error_code(response) == "validation_error"
        assert response.json()["error"]["details"]["errors"][0]["field"] == field


async def test_a_body_nested_too_deeply_is_400_not_500(api: httpx.AsyncClient) -> None:
    # Regression: json.loads raised RecursionError, which no handler expected.
    deep = b"[" * 5000 + b"]" * 5000
    response = await api.post(SESSIONS, content=deep, headers={"Content-Type": "application/json"})
    assert error_code(conforms(response, SESSIONS)) == "invalid_json"


async def test_without_a_key_it_is_401(gateway_http: httpx.AsyncClient) -> None:
    response = conforms(await gateway_http.post(SESSIONS, json={"user_id": user()}), SESSIONS)
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_without_the_scope_it_is_403(
    gateway_http: httpx.AsyncClient, proxy_only_key: str
) -> None:
    headers = {"Authorization": f"Bearer {proxy_only_key}"}
    response = await gateway_http.post(SESSIONS, json={"user_id": user()}, headers=headers)
    assert error_code(conforms(response, SESSIONS)) == "insufficient_scope"


async def test_the_connect_link_redirects_to_the_provider(
    api: httpx.AsyncClient, key: str, stack: Stack
) -> None:
    session = await open_session(api, key, user_id=user())
    link = session["connect_url"].replace(stack.gateway.url, "")
    response = conforms(await api.get(link), CONNECT)
    assert response.status_code == 302
    assert response.headers["location"].startswith(stack.sandbox.url)


async def test_an_unknown_link_is_a_400_page_or_json(api: httpx.AsyncClient) -> None:
    page = conforms(await api.get(CONNECT, params={"token": "nope"}), CONNECT)
    assert page.status_code == 400
    assert page.headers["content-type"].startswith("text/html")
    answer = conforms(await api.get(CONNECT, params={"token": "nope"}, headers=AS_JSON), CONNECT)
    assert error_code(answer) == "invalid_connect_token"


async def test_the_callback_shows_the_connected_page(http: httpx.AsyncClient, key: str) -> None:
    response = conforms(await connect(http, key, user()), CALLBACK)
    assert response.status_code == 200


async def test_the_callback_redirects_to_the_return_url(http: httpx.AsyncClient, key: str) -> None:
    response = conforms(await connect(http, key, user(), return_url=RETURN_URL), CALLBACK)
    assert response.status_code == 302
    assert response.headers["location"].startswith(RETURN_URL)


async def test_a_used_link_is_400_connect_session_used(http: httpx.AsyncClient, key: str) -> None:
    session = await open_session(http, key, user_id=user())
    async with httpx.AsyncClient(timeout=10) as browser:
        await browser.get(await to_callback(browser, session["connect_url"]))
        again = await browser.get(session["connect_url"], headers=AS_JSON)
    assert error_code(conforms(again, CONNECT)) == "connect_session_used"


async def test_an_unknown_state_is_400_invalid_state(api: httpx.AsyncClient) -> None:
    response = await api.get(CALLBACK, params={"state": "nope", "code": "x"}, headers=AS_JSON)
    assert error_code(conforms(response, CALLBACK)) == "invalid_state"


async def test_a_callback_in_another_browser_is_400_browser_mismatch(
    http: httpx.AsyncClient, key: str
) -> None:
    session = await open_session(http, key, user_id=user())
    async with httpx.AsyncClient(timeout=10) as browser:
        callback = await to_callback(browser, session["connect_url"])
    async with httpx.AsyncClient(timeout=10) as other:
        response = await other.get(callback, headers=AS_JSON)
    assert error_code(conforms(response, CALLBACK)) == "browser_mismatch"
