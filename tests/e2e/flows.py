"""Driving the connect flow over real HTTP, as a browser with auto-approve would."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from gateway.kit.db import Database
from gateway.models import Connection


async def open_session(http: httpx.AsyncClient, key: str, **body: Any) -> dict[str, Any]:
    response = await http.post(
        "/v1/connect-sessions", json=body, headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def to_callback(browser: httpx.AsyncClient, connect_url: str) -> str:
    """Open the connect URL and follow the provider's redirect; returns the callback URL."""
    opened = await browser.get(connect_url)
    assert opened.status_code == 302, opened.text
    authorize = await browser.get(opened.headers["location"])
    assert authorize.status_code == 302, authorize.text
    return authorize.headers["location"]


async def connect(http: httpx.AsyncClient, key: str, user_id: str, **body: Any) -> httpx.Response:
    """The whole flow; returns the gateway's answer to the callback."""
    session = await open_session(http, key, user_id=user_id, **body)
    async with httpx.AsyncClient(timeout=10) as browser:
        callback = await to_callback(browser, session["connect_url"])
        return await browser.get(callback)


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def connect_new_user(http: httpx.AsyncClient, key: str) -> str:
    """Connect a fresh user (``<id>@example.com`` at the sandbox); returns their user id."""
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    response = await connect(http, key, user_id, login_hint=f"{user_id}@example.com")
    assert response.status_code == 200, response.text
    return user_id


async def load_connection(db: Database, user_id: str) -> Connection:
    async with db.transaction() as session:
        found = await session.scalar(select(Connection).where(Connection.user_id == user_id))
    assert found is not None
    return found


async def proxy_get(http: httpx.AsyncClient, key: str, user_id: str, path: str) -> httpx.Response:
    return await http.get(
        f"/proxy/users/{user_id}{path}", headers={"Authorization": f"Bearer {key}"}
    )
