"""An operator in a real headless Chromium (Debian's, via Playwright): sign in, find a user's
connection by searching, open it, revoke it after confirming, and see it revoked; pause one, edit
its labels, see both on its timeline, and issue a delegated key shown once. Screenshots go to
tests/artifacts/console-*.png."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, ViewportSize, sync_playwright
from sqlalchemy.engine import URL

from gateway.clients.store import ClientChanges, create_client, update_client
from gateway.kit.db import Database
from tests.console.conftest import Admin, new_operator
from tests.e2e.flows import connect, connect_new_user
from tests.e2e.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.stack import Stack, new_client
from tests.fixtures.sync import run_sync

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def scene(stack: Stack, database_url: URL) -> tuple[Admin, str]:
    """An operator's admin client and a freshly connected user."""

    async def make() -> tuple[Admin, str]:
        db = Database(database_url, pool_size=1)
        try:
            admin = await new_operator(db)
            key = await new_client(db, ["connect", "proxy"], ["GET /**"])
        finally:
            await db.dispose()
        async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=10) as http:
            return admin, await connect_new_user(http, key)

    return run_sync(make)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"console-{name}.png"), full_page=True)


def csp_refusals(page: Page) -> list[str]:
    """What the console's CSP refuses on ``page`` from now on (an inline style, say), as the
    browser reports it on its console."""
    refused: list[str] = []
    page.on(
        "console",
        lambda message: (
            refused.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    return refused


def test_operator_finds_and_revokes_a_users_connection(
    chromium: Browser, stack: Stack, scene: tuple[Admin, str]
) -> None:
    admin, user_id = scene
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    refused = csp_refusals(page)
    page.goto(f"{stack.gateway.url}/console")
    assert page.url.startswith(f"{stack.gateway.url}/console/sign-in")

    page.fill("#key", admin.key)
    shot(page, "sign-in")
    page.click("#sign-in button[type=submit]")
    assert page.inner_text("#operator") == admin.name

    page.fill("#user", user_id[: len("user-") + 4])
    page.click("#search button[type=submit]")
    row = page.locator(f'tr[data-user-id="{user_id}"]')
    shot(page, "search")
    row.locator("a").click()
    assert page.get_attribute("#status", "data-status") == "active"
    assert page.locator("#timeline tr[data-kind='created']").count() == 1
    shot(page, "connection")

    page.click("#revoke")
    assert user_id in page.inner_text("#confirm-user")
    shot(page, "confirm-revoke")
    page.click("#confirm-revoke")

    assert page.get_attribute("#outcome", "data-upstream") == "done"
    assert page.get_attribute("#status", "data-status") == "revoked"
    audit = page.locator("#timeline tr[data-kind='revoked'] .actor")
    assert audit.inner_text() == admin.actor
    shot(page, "revoked")
    assert refused == []
    page.close()


def test_a_wrong_key_shows_the_error_in_the_browser(chromium: Browser, stack: Stack) -> None:
    page = chromium.new_page()
    page.goto(f"{stack.gateway.url}/console/sign-in")
    page.fill("#key", f"gw_{uuid.uuid4().hex}")
    page.click("#sign-in button[type=submit]")

    assert "cannot sign in" in page.inner_text("#sign-in-error")
    shot(page, "sign-in-refused")
    page.close()


@pytest.fixture
def shared_scene(stack: Stack, database_url: URL) -> tuple[Admin, str, str]:
    """An operator and two user ids connected (by two service clients, one confined to its own
    users) to one sandbox account."""

    async def make() -> tuple[Admin, str, str]:
        db = Database(database_url, pool_size=1)
        try:
            admin = await new_operator(db)
            key = await new_client(db, ["connect", "proxy"], ["GET /**"])
            name = f"svc-{uuid.uuid4().hex[:10]}"
            async with db.transaction() as session:
                _client, confined = await create_client(session, name, ["connect"], [])
                await update_client(session, name, ClientChanges(own_users_only=True))
        finally:
            await db.dispose()
        email = f"shared-{uuid.uuid4().hex[:8]}@example.com"
        users = f"user-{uuid.uuid4().hex[:8]}", f"user-{uuid.uuid4().hex[:8]}"
        async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=10) as http:
            for client_key, user_id in zip((key, confined.key), users, strict=True):
                response = await connect(http, client_key, user_id, login_hint=email)
                assert response.status_code == 200, response.text
        return admin, *users

    return run_sync(make)


def open_connection(page: Page, stack: Stack, admin: Admin, user_id: str) -> None:
    """Sign in as ``admin``, search for ``user_id`` and open their connection's page."""
    page.goto(f"{stack.gateway.url}/console/sign-in")
    page.fill("#key", admin.key)
    page.click("#sign-in button[type=submit]")
    page.fill("#user", user_id)
    page.click("#search button[type=submit]")
    page.locator(f'tr[data-user-id="{user_id}"] a').click()


def test_the_revoke_confirmation_lists_the_connections_sharing_the_account(
    chromium: Browser, stack: Stack, shared_scene: tuple[Admin, str, str]
) -> None:
    admin, user_id, sharing_user = shared_scene
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    open_connection(page, stack, admin, user_id)

    page.click("#revoke")

    assert page.get_attribute("#upstream-method", "data-upstream-method") == "grant_tokens"
    rows = page.locator("#sharing tr.sharing")
    assert rows.count() == 1
    assert sharing_user in rows.inner_text() and "stays connected" in rows.inner_text()
    assert rows.get_attribute("data-ended") == "false"
    shot(page, "confirm-revoke-shared")
    page.click("#confirm-revoke")

    assert page.get_attribute("#status", "data-status") == "revoked"
    assert "1 other connection(s) of the same account stay connected" in page.inner_text("#outcome")
    page.goto(f"{stack.gateway.url}/console")
    page.fill("#user", sharing_user)
    page.click("#search button[type=submit]")
    page.locator(f'tr[data-user-id="{sharing_user}"] a').click()
    assert page.get_attribute("#status", "data-status") == "active"
    page.close()


PHONE: ViewportSize = {"width": 375, "height": 740}


def overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the screen (0: nothing scrolls sideways), once
    the page a click navigated to has its body (evaluated earlier, between two documents, there is
    none yet)."""
    page.wait_for_load_state("load")
    page.wait_for_function("document.body !== null")
    width: int = page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - window.innerWidth"
    )
    return width


def test_every_page_fits_a_phones_width(
    chromium: Browser, stack: Stack, scene: tuple[Admin, str]
) -> None:
    admin, user_id = scene
    page = chromium.new_page(viewport=PHONE)
    page.goto(f"{stack.gateway.url}/console/sign-in")
    assert overflow(page) <= 0
    page.fill("#key", admin.key)
    page.click("#sign-in button[type=submit]")
    assert overflow(page) <= 0, "connections list"
    page.fill("#user", user_id)
    page.click("#search button[type=submit]")
    assert page.locator(f'tr[data-user-id="{user_id}"]').count() == 1
    assert overflow(page) <= 0, "search results"
    page.locator(f'tr[data-user-id="{user_id}"] a').click()
    assert overflow(page) <= 0, "connection page"
    page.click("#revoke")
    assert overflow(page) <= 0, "revoke confirmation"
    page.click("#confirm-revoke")
    assert page.get_attribute("#status", "data-status") == "revoked"
    assert overflow(page) <= 0, "revoked connection page"
    shot(page, "phone-revoked")
    page.goto(f"{stack.gateway.url}/console/clients")
    assert overflow(page) <= 0, "service clients"
    shot(page, "phone-clients")
    page.close()


def test_operator_pauses_edits_labels_sees_the_timeline_and_issues_a_key(
    chromium: Browser, stack: Stack, scene: tuple[Admin, str]
) -> None:
    admin, user_id = scene
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    refused = csp_refusals(page)
    open_connection(page, stack, admin, user_id)

    page.click("#pause")
    assert page.get_attribute("#outcome", "data-action") == "paused"
    assert page.get_attribute("#enabled", "data-enabled") == "false"
    page.fill("#labels-field", "team=sales\ntier=gold")
    page.click("#save")

    assert page.get_attribute("#outcome", "data-action") == "updated"
    assert page.inner_text("#labels").split() == ["team=sales", "tier=gold"]
    paused = page.locator("#timeline tr[data-kind='paused'] .actor")
    assert paused.inner_text() == admin.actor
    updated = page.locator("#timeline tr[data-kind='updated']")
    assert "team" in updated.first.inner_text()
    shot(page, "edited")
    page.fill("#ttl-seconds", "300")
    page.click("#issue")
    assert page.inner_text("#secret").startswith("gw_")
    shot(page, "key-issued")
    page.reload()
    assert page.locator("#secret").count() == 0 and page.locator("#not-shown").count() == 1
    page.click("#back")
    assert page.locator("#keys tr[data-state='live']").count() == 1
    page.goto(f"{stack.gateway.url}/console/connections")
    page.fill("#label", "team=sales")
    page.select_option("#enabled", "false")
    page.click("#search button[type=submit]")
    row = page.locator(f'tr[data-user-id="{user_id}"]')
    assert row.count() == 1 and "paused" in row.inner_text()
    assert refused == []
    page.close()
