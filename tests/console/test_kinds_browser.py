"""An operator in a real headless Chromium, against a gateway with a provider of each kind: create a
stored-credential connection and a client-credentials one with the console's forms, see how each
authenticates, verify them, find them with the auth-mode filter and revoke them; the secret is in
no page after it was submitted. The new-connection page fits a phone's width. Screenshots go to
tests/artifacts/console-*.png."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy.engine import URL

from gateway.kit.db import Database
from tests.connections.kinds_fixtures import KEYED, REPORTS, kinds_stack
from tests.console.conftest import Admin, new_operator
from tests.console.test_browser import PHONE, chromium, csp_refusals, overflow, shot
from tests.fixtures.stack import Stack
from tests.fixtures.sync import run_sync

__all__ = ["chromium", "kinds_stack"]  # fixtures

pytestmark = pytest.mark.browser


@pytest.fixture
def scene(kinds_stack: Stack, database_url: URL) -> tuple[Admin, str]:
    """An operator's admin client, and an API key the sandbox takes."""

    async def make() -> tuple[Admin, str]:
        db = Database(database_url, pool_size=1)
        try:
            admin = await new_operator(db)
        finally:
            await db.dispose()
        key = f"sk_browser_{uuid.uuid4().hex}"
        async with httpx.AsyncClient(base_url=kinds_stack.sandbox.url, timeout=10) as sandbox:
            added = await sandbox.post("/_sandbox/api-keys", json={"api_key": key})
            assert added.status_code == 204, added.text
        return admin, key

    return run_sync(make)


def sign_in(page: Page, stack: Stack, admin: Admin) -> None:
    page.goto(f"{stack.gateway.url}/console/sign-in")
    page.fill("#key", admin.key)
    page.click("#sign-in button[type=submit]")
    assert page.inner_text("#operator") == admin.name


def verify_and_revoke(page: Page, admin: Admin) -> None:
    """On a connection's page: verify it, then revoke it after the confirmation step."""
    page.click("#verify")
    assert page.get_attribute("#outcome", "data-action") == "verified"
    assert page.locator("#timeline tr[data-kind='verified'] .actor").inner_text() == admin.actor
    page.click("#revoke")
    page.click("#confirm-revoke")
    assert page.get_attribute("#status", "data-status") == "revoked"
    assert page.locator("#verify").count() == 0


def test_operator_creates_verifies_finds_and_revokes_each_kind(
    chromium: Browser, kinds_stack: Stack, scene: tuple[Admin, str]
) -> None:
    admin, key = scene
    user_id = f"b-{uuid.uuid4().hex[:10]}"
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    refused = csp_refusals(page)
    seen: list[str] = []
    page.on("response", lambda response: seen.append(response.url))
    sign_in(page, kinds_stack, admin)

    page.click("#new-connection")
    page.select_option("#cred-provider", KEYED)
    page.fill("#cred-user-id", user_id)
    page.fill("#cred-secret", key)
    shot(page, "new-credential")
    page.click("#store-credential")
    assert page.get_attribute("#outcome", "data-action") == "created"
    assert page.inner_text("#detail-sent-as") == "Authorization: Bearer <the API key>"
    assert key not in page.content()
    shot(page, "stored-credential")
    verify_and_revoke(page, admin)
    page.go_back()  # the browser's history holds no page with the secret either
    assert key not in page.content()

    page.goto(f"{kinds_stack.gateway.url}/console/connections/new")
    page.select_option("#cc-provider", REPORTS)
    page.fill("#cc-user-id", user_id)
    page.fill("#cc-scopes", "reports:read")
    page.click("#create-client-credentials")
    assert page.get_attribute("#outcome", "data-action") == "created"
    assert page.inner_text("#detail-requested-scopes") == "reports:read"
    shot(page, "client-credentials")

    page.goto(f"{kinds_stack.gateway.url}/console/connections")
    page.fill("#user", user_id)
    page.select_option("#auth_mode", "client_credentials")
    page.click("#search button[type=submit]")
    rows = page.locator(f'tr[data-user-id="{user_id}"]')
    assert rows.count() == 1 and rows.locator(".auth-mode").inner_text() == "client_credentials"
    rows.locator("a").click()
    verify_and_revoke(page, admin)
    assert not any(key in url for url in seen)
    assert refused == []
    page.close()


def test_the_new_connection_page_fits_a_phones_width(
    chromium: Browser, kinds_stack: Stack, scene: tuple[Admin, str]
) -> None:
    admin, _key = scene
    page = chromium.new_page(viewport=PHONE)
    sign_in(page, kinds_stack, admin)
    page.goto(f"{kinds_stack.gateway.url}/console/connections/new")
    assert overflow(page) <= 0, "new connection"
    shot(page, "phone-new-connection")
    page.close()
