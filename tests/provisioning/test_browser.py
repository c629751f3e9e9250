"""The verify page once through a real headless Chromium (Debian's, via Playwright): a person types a
wrong code, then the right one, and sees their account connected."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy.engine import URL

from gateway.kit.db import Database
from tests.e2e.test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.stack import new_client
from tests.fixtures.sync import run_sync
from tests.provisioning.conftest import ProvisioningStack
from tests.provisioning.flows import bearer, load, new_user, wrong

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def service_key(database_url: URL) -> str:
    async def make() -> str:
        db = Database(database_url, pool_size=1)
        try:
            return await new_client(db, ["connect"], [])
        finally:
            await db.dispose()

    return run_sync(make)


def connection_of(database_url: URL, provisioning_id: str) -> uuid.UUID | None:
    async def find() -> uuid.UUID | None:
        db = Database(database_url, pool_size=1)
        try:
            return (await load(db, provisioning_id)).connection_id
        finally:
            await db.dispose()

    return run_sync(find)


def test_person_types_the_emailed_code_on_the_page_and_is_connected(
    browser: Browser, pstack: ProvisioningStack, service_key: str, database_url: URL
) -> None:
    user_id, email = new_user()
    begun = httpx.post(
        f"{pstack.gateway.url}/v1/provisioning",
        json={"user_id": user_id, "email": email},
        headers=bearer(service_key),
    ).json()
    outbox = httpx.get(f"{pstack.sandbox.url}/_sandbox/outbox", params={"email": email}).json()
    code = outbox["messages"][-1]["code"]
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page()

    page.goto(begun["verify_url"])
    assert page.inner_text("h1") == "Enter the code we emailed you"
    assert page.inner_text("#email") == email
    page.screenshot(path=str(ARTIFACTS / "provision_form.png"))

    page.fill("input[name=code]", wrong(code))
    page.click("button[type=submit]")
    page.wait_for_selector("#message")
    assert page.inner_text("#message") == "That code is not correct. 4 attempts left."
    page.screenshot(path=str(ARTIFACTS / "provision_wrong_code.png"))

    page.fill("input[name=code]", code)
    page.click("button[type=submit]")
    page.wait_for_selector("#result")
    page.screenshot(path=str(ARTIFACTS / "provision_connected.png"))
    assert page.get_attribute("#result", "data-status") == "connected"
    assert page.url == f"{pstack.gateway.url}/provision/{begun['id']}"  # no token left in view
    assert page.inner_text("#connection-id") == str(connection_of(database_url, begun["id"]))
    page.close()
