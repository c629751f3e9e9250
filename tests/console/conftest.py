"""The console over real HTTP against the shared stack, as a browser without JavaScript would use it:
one cookie jar per operator, forms posted with the CSRF token the page gave."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx
import pytest

from gateway.clients.store import create_client
from gateway.console.secret import SigningKeys, signing_keys
from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus
from tests.fixtures.stack import Stack

CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class Admin:
    """An operator's own admin client."""

    name: str
    key: str

    @property
    def actor(self) -> str:
        return f"client:{self.name}"


async def new_operator(db: Database, scopes: tuple[str, ...] = ("admin",)) -> Admin:
    name = f"op-{uuid.uuid4().hex[:10]}"
    async with db.transaction() as session:
        _client, issued = await create_client(session, name, list(scopes), [])
    return Admin(name, issued.key)


def csrf_of(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found is not None, "the page has no CSRF field"
    return found.group(1)


async def sign_in(browser: httpx.AsyncClient, key: str) -> httpx.Response:
    """Open the sign-in page and submit the key; returns the answer to the form."""
    form = await browser.get("/console/sign-in")
    assert form.status_code == 200, form.text
    return await browser.post(
        "/console/sign-in", data={"csrf": csrf_of(form.text), "key": key, "next": ""}
    )


@pytest.fixture
async def browser(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie jar of its own, signed out, following no redirect by itself."""
    async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=10) as client:
        yield client


@pytest.fixture
async def operator(db: Database) -> Admin:
    return await new_operator(db)


@pytest.fixture
async def console(browser: httpx.AsyncClient, operator: Admin) -> httpx.AsyncClient:
    """``browser``, signed in as ``operator``."""
    response = await sign_in(browser, operator.key)
    assert response.status_code == 303, response.text
    return browser


@dataclass(frozen=True)
class Batch:
    """Connections labelled ``batch=<value>`` (holding no tokens: nothing to revoke at the
    provider), and the console's confirmation step for revoking them by that label."""

    label: str
    ids: tuple[uuid.UUID, ...]

    @property
    def preview(self) -> str:
        return "/console/revocations?" + urlencode({"label": self.label})


async def labelled_batch(db: Database, count: int) -> Batch:
    label = f"batch={uuid.uuid4().hex[:10]}"
    key, _, value = label.partition("=")
    ids = tuple(uuid.uuid4() for _ in range(count))
    async with db.transaction() as session:
        for n, connection_id in enumerate(ids):
            session.add(
                Connection(
                    id=connection_id,
                    user_id=f"batch-user-{n}-{connection_id.hex[:6]}",
                    provider="contio",
                    subject=f"batch-{connection_id.hex[:8]}",
                    status=ConnectionStatus.ACTIVE,
                    token_version=1,
                    connected_at=utcnow(),
                    labels={key: value},
                )
            )
    return Batch(label, ids)


async def statuses(db: Database, ids: tuple[uuid.UUID, ...]) -> set[ConnectionStatus]:
    async with db.transaction() as session:
        return {(await session.get(Connection, one, populate_existing=True)).status for one in ids}  # type: ignore[union-attr]


def page_of(connection: Connection) -> str:
    """The connection's page in the console."""
    return f"/console/connections/{connection.id}"


async def post_form(
    console: httpx.AsyncClient, page: str, action: str, **fields: str
) -> httpx.Response:
    """Open ``page`` and post its form to ``action`` with the page's CSRF token."""
    opened = await console.get(page)
    assert opened.status_code == 200, opened.text
    return await console.post(action, data={"csrf": csrf_of(opened.text), **fields})


@pytest.fixture(scope="session")
def signing(stack: Stack) -> SigningKeys:
    assert stack.settings.encryption_keys is not None
    ring = KeyRing.parse(stack.settings.encryption_keys.get_secret_value())
    return signing_keys(stack.settings, ring.active_key_id)
