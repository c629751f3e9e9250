"""The consent and result pages once through a real headless Chromium (Debian's, via Playwright)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import select
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.clients.store import create_client
from gateway.kit.db import Database
from gateway.models import Connection
from gateway_sandbox import SandboxOptions, create_sandbox_app
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import gateway_settings
from tests.fixtures.sync import run_sync

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def consent_stack(database_url: URL) -> Iterator[tuple[str, str]]:
    """A gateway wired to a sandbox that shows its consent page; yields (gateway URL, key)."""
    port = free_port()
    sandbox = ServerThread(
        create_sandbox_app(
            SandboxOptions(redirect_uris=(f"http://127.0.0.1:{port}/oauth/callback",))
        )
    ).start()
    gateway = ServerThread(
        create_app(gateway_settings(port, sandbox.url), database_url), port=port
    ).start()

    async def make_key() -> str:
        db = Database(database_url, pool_size=1)
        async with db.transaction() as session:
            _c, issued = await create_client(
                session, f"web-{uuid.uuid4().hex[:6]}", ["connect"], []
            )
        await db.dispose()
        return issued.key

    try:
        yield gateway.url, run_sync(make_key)
    finally:
        gateway.stop()
        sandbox.stop()


def connect_url(gateway: str, key: str, user_id: str) -> str:
    import httpx

    response = httpx.post(
        f"{gateway}/v1/connect-sessions",
        json={"user_id": user_id},
        headers={"Authorization": f"Bearer {key}"},
    )
    url: str = response.json()["connect_url"]
    return url


def stored_connection(database_url: URL, user_id: str) -> Connection | None:
    async def find() -> Connection | None:
        db = Database(database_url, pool_size=1)
        async with db.transaction() as session:
            found = await session.scalar(select(Connection).where(Connection.user_id == user_id))
        await db.dispose()
        return found

    return run_sync(find)


def test_person_approves_on_the_consent_page_and_sees_success(
    browser: Browser, consent_stack: tuple[str, str], database_url: URL
) -> None:
    gateway, key = consent_stack
    user_id = f"browser-{uuid.uuid4().hex[:6]}"
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page()
    page.goto(connect_url(gateway, key, user_id))
    assert "wants to access your Contio account" in page.inner_text("h1")
    page.fill("input[name=email]", f"{user_id}@example.com")
    page.screenshot(path=str(ARTIFACTS / "consent.png"))
    page.click("button[value=approve]")
    page.wait_for_selector("#result")
    page.screenshot(path=str(ARTIFACTS / "connected.png"))
    assert page.get_attribute("#result", "data-status") == "connected"
    assert page.url.startswith(f"{gateway}/oauth/callback")
    connection = stored_connection(database_url, user_id)
    assert connection is not None
    assert page.inner_text("#connection-id") == str(connection.id)
    page.close()


def test_person_denies_and_sees_the_error_page(
    browser: Browser, consent_stack: tuple[str, str], database_url: URL
) -> None:
    gateway, key = consent_stack
    user_id = f"browser-{uuid.uuid4().hex[:6]}"
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page()
    page.goto(connect_url(gateway, key, user_id))
    page.fill("input[name=email]", f"{user_id}@example.com")
    page.click("button[value=deny]")
    page.wait_for_selector("#result")
    page.screenshot(path=str(ARTIFACTS / "denied.png"))
    assert page.get_attribute("#result", "data-status") == "error"
    assert page.inner_text("#error-code") == "access_denied"
    assert stored_connection(database_url, user_id) is None
    page.close()
