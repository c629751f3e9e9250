"""Connecting a user through the redirect flow, end to end against the sandbox."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import select, update

from gateway.kit.db import Database
from gateway.models import Connection, ConnectSession
from tests.e2e.flows import connect, open_session, query, to_callback
from tests.fixtures.stack import RETURN_URL, Stack, new_client


def user() -> str:
    return f"user-{uuid.uuid4().hex[:8]}"


async def test_connect_session_answers_with_url_and_expiry(
    http: httpx.AsyncClient, service_key: str, stack: Stack
) -> None:
    session = await open_session(http, service_key, user_id=user())
    assert session["connect_url"].startswith(f"{stack.gateway.url}/connect?token=")
    expires = datetime.fromisoformat(session["expires_at"])
    assert timedelta(minutes=9) < expires - datetime.now(UTC) <= timedelta(minutes=10)


async def test_connect_stores_one_active_connection_with_the_subject(
    http: httpx.AsyncClient, service_key: str, db: Database, stack: Stack
) -> None:
    user_id = user()
    response = await connect(http, service_key, user_id, login_hint=f"{user_id}@example.com")
    assert response.status_code == 200
    assert "is connected" in response.text
    async with db.transaction() as session:
        connection = await session.scalar(select(Connection).where(Connection.user_id == user_id))
    assert connection is not None
    assert connection.status == "active"
    sandbox_user = stack.sandbox_store.user_by_email(f"{user_id}@example.com")
    assert connection.subject == str(sandbox_user.id)
    assert connection.expires_at is not None


async def test_reconnecting_updates_the_same_connection(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    user_id = user()
    await connect(http, service_key, user_id)
    await connect(http, service_key, user_id)
    async with db.transaction() as session:
        rows = (
            await session.scalars(select(Connection).where(Connection.user_id == user_id))
        ).all()
    assert len(rows) == 1
    assert rows[0].token_version == 2


async def test_success_redirects_to_return_url_with_connection_id(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    user_id = user()
    response = await connect(http, service_key, user_id, return_url=RETURN_URL + "?tab=x")
    assert response.status_code == 302
    location = response.headers["location"]
    assert location.startswith(RETURN_URL)
    params = query(location)
    assert params["status"] == "connected"
    assert params["tab"] == "x"
    async with db.transaction() as session:
        connection = await session.get(Connection, uuid.UUID(params["connection_id"]))
    assert connection is not None and connection.user_id == user_id


async def test_return_url_outside_the_allow_list_is_refused(
    http: httpx.AsyncClient, service_key: str
) -> None:
    response = await http.post(
        "/v1/connect-sessions",
        json={"user_id": user(), "return_url": "https://evil.example.com/"},
        headers={"Authorization": f"Bearer {service_key}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "return_url_not_allowed"


async def test_connect_session_needs_the_connect_scope(
    http: httpx.AsyncClient, db: Database
) -> None:
    key = await new_client(db, ["proxy"])
    response = await http.post(
        "/v1/connect-sessions", json={"user_id": user()}, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"


async def test_connect_session_without_a_key_is_unauthorized(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/connect-sessions", json={"user_id": user()})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["gateway-error"] == "1"
    assert response.json()["error"]["code"] == "unauthorized"


async def test_connect_session_with_a_wrong_key_is_unauthorized(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/v1/connect-sessions",
        json={"user_id": user()},
        headers={"Authorization": "Bearer gw_" + "x" * 43},
    )
    assert response.status_code == 401


async def test_connect_session_body_is_validated(http: httpx.AsyncClient, service_key: str) -> None:
    auth = {"Authorization": f"Bearer {service_key}"}
    missing = await http.post("/v1/connect-sessions", json={}, headers=auth)
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "validation_error"
    assert missing.json()["error"]["details"]["errors"][0]["field"] == "user_id"
    extra = await http.post("/v1/connect-sessions", json={"user_id": "a", "x": 1}, headers=auth)
    assert extra.status_code == 400
    broken = await http.post(
        "/v1/connect-sessions",
        content=b"{not json",
        headers={**auth, "Content-Type": "application/json"},
    )
    assert broken.json()["error"]["code"] == "invalid_json"


async def test_unknown_provider_is_refused(http: httpx.AsyncClient, service_key: str) -> None:
    response = await http.post(
        "/v1/connect-sessions",
        json={"user_id": user(), "provider": "nope"},
        headers={"Authorization": f"Bearer {service_key}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_provider"


async def test_authorize_redirect_carries_state_and_pkce(
    http: httpx.AsyncClient, service_key: str, stack: Stack
) -> None:
    session = await open_session(http, service_key, user_id=user())
    async with httpx.AsyncClient() as browser:
        opened = await browser.get(session["connect_url"])
    params = query(opened.headers["location"])
    assert opened.headers["location"].startswith(f"{stack.sandbox.url}/oauth2/authorize")
    assert params["code_challenge_method"] == "S256"
    assert len(params["state"]) >= 32
    assert params["redirect_uri"] == f"{stack.gateway.url}/oauth/callback"
    assert "nonce" in params
    cookie = opened.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/oauth/callback" in cookie


async def test_connect_url_can_be_reopened_until_used(
    http: httpx.AsyncClient, service_key: str
) -> None:
    session = await open_session(http, service_key, user_id=user())
    async with httpx.AsyncClient() as browser:
        first = await to_callback(browser, session["connect_url"])
        second = await to_callback(browser, session["connect_url"])
        stale = await browser.get(first)
        done = await browser.get(second)
        again = await browser.get(session["connect_url"])
    assert stale.status_code == 400 and "invalid_state" in stale.text
    assert done.status_code == 200
    assert again.status_code == 400 and "connect_session_used" in again.text


async def test_reused_callback_is_refused_and_stores_nothing_new(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    user_id = user()
    session = await open_session(http, service_key, user_id=user_id)
    async with httpx.AsyncClient() as browser:
        callback = await to_callback(browser, session["connect_url"])
        assert (await browser.get(callback)).status_code == 200
        replay = await browser.get(callback, headers={"Accept": "application/json"})
    assert replay.status_code == 400
    assert replay.json()["error"]["code"] == "connect_session_used"
    async with db.transaction() as s:
        connection = await s.scalar(select(Connection).where(Connection.user_id == user_id))
    assert connection is not None and connection.token_version == 1


async def test_callback_from_another_browser_is_refused(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    user_id = user()
    session = await open_session(http, service_key, user_id=user_id)
    async with httpx.AsyncClient() as browser:
        callback = await to_callback(browser, session["connect_url"])
    async with httpx.AsyncClient() as other_browser:
        response = await other_browser.get(callback, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "browser_mismatch"
    assert response.headers["gateway-error"] == "1"
    async with db.transaction() as s:
        assert await s.scalar(select(Connection).where(Connection.user_id == user_id)) is None


async def test_unknown_state_gets_a_400_page(http: httpx.AsyncClient) -> None:
    response = await http.get("/oauth/callback", params={"state": "made-up", "code": "x"})
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert "invalid_state" in response.text


async def test_expired_session_redirects_to_return_url_with_error(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    user_id = user()
    session = await open_session(http, service_key, user_id=user_id, return_url=RETURN_URL)
    async with httpx.AsyncClient() as browser:
        callback = await to_callback(browser, session["connect_url"])
        async with db.transaction() as s:
            await s.execute(
                update(ConnectSession)
                .where(ConnectSession.id == uuid.UUID(session["id"]))
                .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        response = await browser.get(callback)
    assert response.status_code == 302
    assert query(response.headers["location"]) == {
        "status": "error",
        "error": "connect_session_expired",
    }
    async with db.transaction() as s:
        assert await s.scalar(select(Connection).where(Connection.user_id == user_id)) is None


async def test_denied_consent_redirects_with_access_denied(
    http: httpx.AsyncClient, service_key: str
) -> None:
    session = await open_session(http, service_key, user_id=user(), return_url=RETURN_URL)
    async with httpx.AsyncClient() as browser:
        opened = await browser.get(session["connect_url"])
        state = query(opened.headers["location"])["state"]
        response = await browser.get(
            f"{http.base_url}".rstrip("/") + "/oauth/callback",
            params={"state": state, "error": "access_denied"},
        )
    assert query(response.headers["location"])["error"] == "access_denied"


async def test_missing_code_is_refused(http: httpx.AsyncClient, service_key: str) -> None:
    session = await open_session(http, service_key, user_id=user())
    async with httpx.AsyncClient() as browser:
        opened = await browser.get(session["connect_url"])
        state = query(opened.headers["location"])["state"]
        response = await browser.get(
            f"{http.base_url}".rstrip("/") + "/oauth/callback",
            params={"state": state},
            headers={"Accept": "application/json"},
        )
    assert response.json()["error"]["code"] == "missing_code"


async def test_failed_exchange_stores_nothing(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    user_id = user()
    session = await open_session(http, service_key, user_id=user_id)
    async with httpx.AsyncClient() as browser:
        callback = await to_callback(browser, session["connect_url"])
        params = query(callback)
        response = await browser.get(
            f"{http.base_url}".rstrip("/") + "/oauth/callback",
            params={"state": params["state"], "code": "forged-code"},
            headers={"Accept": "application/json"},
        )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "token_exchange_failed"
    async with db.transaction() as s:
        assert await s.scalar(select(Connection).where(Connection.user_id == user_id)) is None


async def test_unknown_connect_token_gets_a_400_page(http: httpx.AsyncClient) -> None:
    response = await http.get("/connect", params={"token": "nope"})
    assert response.status_code == 400
    assert "invalid_connect_token" in response.text
