"""An operator in a real headless Chromium subscribes a client, copies the secret shown once,
rotates it and disables the subscription. Screenshots go to tests/artifacts/console-*.png."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Browser
from sqlalchemy.engine import URL

from gateway.clients.store import create_client
from gateway.kit.db import Database
from tests.console.conftest import Admin, new_operator
from tests.console.test_browser import chromium, csp_refusals, shot
from tests.fixtures.stack import Stack
from tests.fixtures.sync import run_sync

__all__ = ["chromium"]  # fixtures

pytestmark = pytest.mark.browser


@pytest.fixture
def operator_and_client(database_url: URL) -> tuple[Admin, str]:
    async def make() -> tuple[Admin, str]:
        db = Database(database_url, pool_size=1)
        try:
            admin = await new_operator(db)
            name = f"svc-{uuid.uuid4().hex[:10]}"
            async with db.transaction() as session:
                await create_client(session, name, ["connect"], [])
        finally:
            await db.dispose()
        return admin, name

    return run_sync(make)


def test_operator_subscribes_a_client_rotates_the_secret_and_disables_it(
    chromium: Browser, stack: Stack, operator_and_client: tuple[Admin, str]
) -> None:
    admin, client = operator_and_client
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    refused = csp_refusals(page)
    page.goto(f"{stack.gateway.url}/console/sign-in")
    page.fill("#key", admin.key)
    page.click("#sign-in button[type=submit]")
    page.click("nav a[href='/console/subscriptions']")

    page.select_option("#client", client)
    page.fill("#url", "https://93.184.216.34/hooks/crm")
    page.fill("#event-types", "connection.* provider.contio.*")
    page.fill("#labels", "team=sales")
    shot(page, "subscription-form")
    page.click("#subscribe")
    first = page.inner_text("#secret")
    assert first.startswith("whsec_")
    shot(page, "subscription-created")

    page.click("#rotate")
    second = page.inner_text("#secret")
    assert second.startswith("whsec_") and second != first
    page.click("#disable")
    assert page.inner_text("#state") == "disabled"
    assert page.locator("#secret").count() == 0
    shot(page, "subscription-disabled")

    page.click("#back")
    row = page.locator("#subscriptions tr", has_text="93.184.216.34")
    assert client in row.first.inner_text() and "disabled" in row.first.inner_text()
    assert refused == []
    page.close()
