"""Three service clients for the ownership tests, on the stack's real gateway and sandbox.

``confined`` (A) lives in a space of its own; ``patterned`` (B) is unconfined and may act only
for user ids starting ``b-``; ``open_`` (C) is unconfined for any user. ``operator`` holds the
admin scope.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from gateway.clients.store import ClientChanges, create_client, update_client
from gateway.kit.db import Database
from gateway.models import Connection
from tests.e2e.flows import open_session, to_callback
from tests.fixtures.stack import Stack

PATTERN = r"b-[0-9a-f]+"


@dataclass(frozen=True)
class Client:
    id: uuid.UUID
    name: str
    key: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


async def make_client(
    db: Database, scopes: list[str], allow: list[str] | None = None, **changes: Any
) -> Client:
    """A new service client (allowed ``GET /**`` through the proxy unless ``allow`` says else)."""
    name = f"svc-{uuid.uuid4().hex[:10]}"
    async with db.transaction() as session:
        created, issued = await create_client(session, name, scopes, allow or ["GET /**"])
        if changes:
            await update_client(session, name, ClientChanges(**changes))
    return Client(created.id, name, issued.key)


@dataclass(frozen=True)
class Clients:
    confined: Client  # A
    patterned: Client  # B
    open_: Client  # C
    operator: Client


@pytest.fixture
async def clients(db: Database) -> Clients:
    service = ["connect", "proxy"]
    return Clients(
        confined=await make_client(db, service, own_users_only=True),
        patterned=await make_client(db, service, user_pattern=PATTERN),
        open_=await make_client(db, service),
        operator=await make_client(db, ["admin"]),
    )


@pytest.fixture
async def sandbox(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.sandbox.url, timeout=10) as client:
        yield client


def b_user() -> str:
    """A user id B's pattern admits (and C may act for too)."""
    return f"b-{uuid.uuid4().hex[:10]}"


def account() -> str:
    """A fresh provider account (the sandbox creates the user at its first sign-in)."""
    return f"acct-{uuid.uuid4().hex[:10]}@example.com"


async def connect_as(
    http: httpx.AsyncClient, client: Client, user_id: str, email: str, **body: Any
) -> httpx.Response:
    """The whole connect flow for ``user_id``, signing in as ``email``; the callback's answer."""
    session = await open_session(http, client.key, user_id=user_id, login_hint=email, **body)
    return await finish(session, accept_json=True)


async def finish(session: dict[str, Any], *, accept_json: bool = False) -> httpx.Response:
    headers = {"Accept": "application/json"} if accept_json else {}
    async with httpx.AsyncClient(timeout=10, headers=headers) as browser:
        return await browser.get(await to_callback(browser, session["connect_url"]))


async def rows(db: Database, user_id: str) -> list[Connection]:
    async with db.transaction() as session:
        found = await session.scalars(
            select(Connection)
            .where(Connection.user_id == user_id)
            .order_by(Connection.created_at)
            .execution_options(populate_existing=True)
        )
        return list(found)


def workspace_of(stack: Stack, email: str) -> str:
    user = stack.sandbox_store.user_by_email(email)
    assert user is not None
    return str(user.workspace_id)


def subject_of(stack: Stack, email: str) -> str:
    user = stack.sandbox_store.user_by_email(email)
    assert user is not None
    return str(user.id)


async def proxied_workspaces(http: httpx.AsyncClient, client: Client, user_id: str) -> set[str]:
    """Whose account the client's calls for ``user_id`` reach: the workspaces of its meetings."""
    response = await http.get(f"/proxy/users/{user_id}/meetings", headers=client.auth)
    assert response.status_code == 200, response.text
    return {meeting["workspace_id"] for meeting in response.json()["items"]}


def error_code(response: httpx.Response) -> str:
    assert response.headers.get("Gateway-Error") == "1", response.text
    code: str = response.json()["error"]["code"]
    return code
