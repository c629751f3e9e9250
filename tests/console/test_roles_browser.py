"""Roles in a real headless Chromium: a viewer sees their role and a connection with no button to
change it, and no service-clients page; a support operator gets pause and refresh, not revoke."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser
from sqlalchemy.engine import URL

from gateway.kit.db import Database
from tests.console.conftest import Admin, new_operator
from tests.console.test_browser import chromium
from tests.e2e.flows import connect_new_user
from tests.fixtures.stack import Stack, new_client
from tests.fixtures.sync import run_sync

pytestmark = pytest.mark.browser
__all__ = ["chromium"]  # fixtures


@pytest.fixture
def scene(stack: Stack, database_url: URL) -> tuple[Admin, Admin, str]:
    """A viewer, a support operator and a freshly connected user."""

    async def make() -> tuple[Admin, Admin, str]:
        db = Database(database_url, pool_size=1)
        try:
            viewer = await new_operator(db, ("viewer",))
            support = await new_operator(db, ("support",))
            key = await new_client(db, ["connect", "proxy"], ["GET /**"])
        finally:
            await db.dispose()
        async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=10) as http:
            return viewer, support, await connect_new_user(http, key)

    return run_sync(make)


def test_the_console_hides_what_a_role_cannot_do(
    chromium: Browser, stack: Stack, scene: tuple[Admin, Admin, str]
) -> None:
    viewer, support, user_id = scene
    for operator, role, present, absent in (
        (viewer, "viewer", (), ("#pause", "#refresh", "#revoke", "#save", "#issue")),
        (support, "support", ("#pause", "#refresh"), ("#revoke", "#save", "#issue")),
    ):
        page = chromium.new_page()
        page.goto(f"{stack.gateway.url}/console/sign-in")
        page.fill("#key", operator.key)
        page.click("#sign-in button[type=submit]")
        assert page.get_attribute("#role", "data-role") == role
        assert page.locator('nav a[href="/console/clients"]').count() == 0
        page.fill("#user", user_id)
        page.click("#search button[type=submit]")
        page.locator(f'tr[data-user-id="{user_id}"] a').click()
        assert page.get_attribute("#status", "data-status") == "active"
        for selector in present:
            assert page.locator(selector).count() == 1, (role, selector)
        for selector in absent:
            assert page.locator(selector).count() == 0, (role, selector)
        page.close()
