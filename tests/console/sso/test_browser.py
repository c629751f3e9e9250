"""An operator signs in to the console at the company's identity provider (the sandbox) in a real
headless Chromium, is sent to the page they asked for, then signs out here and at the provider; an
hour after signing in, revoking connections by selector sends them to sign in at the provider
again before the confirmation step. Screenshots go to tests/artifacts/console-sso-*.png."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import Browser
from sqlalchemy.engine import URL

from gateway.kit.db import Database
from gateway.models import ConnectionStatus
from tests.console.conftest import Batch, labelled_batch, statuses
from tests.console.sso.conftest import SsoStack
from tests.console.test_browser import chromium, csp_refusals, shot
from tests.fixtures.sync import run_sync

pytestmark = pytest.mark.browser


__all__ = ["chromium"]  # the browser fixture, shared with the console's other browser tests


def test_an_operator_signs_in_and_out_at_the_identity_provider(
    chromium: Browser, sso: SsoStack
) -> None:
    email = f"op-{uuid.uuid4().hex[:10]}@corp.example.com"
    sso.groups(email, ["ops-operators"])
    page = chromium.new_page()
    page.goto(f"{sso.main.url}/console/subscriptions")
    assert page.url.startswith(f"{sso.main.url}/console/sign-in")
    shot(page, "sso-sign-in")

    page.click("#sign-in-sso")
    assert page.url.startswith(f"{sso.sandbox.url}/oauth2/authorize")
    page.fill("#email", email)
    shot(page, "sso-provider")
    page.click("button[value=approve]")

    assert page.url == f"{sso.main.url}/console/subscriptions"
    assert page.inner_text("#operator") == email
    shot(page, "sso-signed-in")

    ended = sso.stat("end_sessions")
    page.click("#sign-out")
    page.wait_for_url(f"{sso.main.url}/console/sign-in")  # through the provider's logout
    shot(page, "sso-signed-out")
    assert sso.stat("end_sessions") == ended + 1
    page.goto(f"{sso.main.url}/console/connections")
    assert page.url.startswith(f"{sso.main.url}/console/sign-in")
    # The provider forgot the sign-in too: it asks again rather than signing in at once.
    page.click("#sign-in-sso")
    assert page.url.startswith(f"{sso.sandbox.url}/oauth2/authorize")
    assert page.locator("#email").is_visible()
    page.close()


def test_a_person_with_no_console_role_sees_why_in_the_browser(
    chromium: Browser, sso: SsoStack
) -> None:
    email = f"dev-{uuid.uuid4().hex[:10]}@corp.example.com"
    sso.groups(email, ["engineering"])
    page = chromium.new_page()
    page.goto(f"{sso.main.url}/console/sign-in")
    page.click("#sign-in-sso")
    page.fill("#email", email)
    page.click("button[value=approve]")

    assert page.get_attribute("#error", "data-code") == "sso_sign_in_refused"
    assert "no console role" in page.inner_text("#error")
    shot(page, "sso-no-role")
    page.click("#sign-in-again")
    assert page.url.startswith(f"{sso.main.url}/console/sign-in")
    page.close()


def test_revoking_by_selector_signs_in_at_the_provider_again_in_the_browser(
    chromium: Browser, sso: SsoStack, database_url: URL
) -> None:
    email = f"op-{uuid.uuid4().hex[:10]}@corp.example.com"
    sso.groups(email, ["ops-operators"])

    async def make() -> Batch:
        db = Database(database_url, pool_size=1)
        try:
            return await labelled_batch(db, 2)
        finally:
            await db.dispose()

    async def now(batch: Batch) -> set[ConnectionStatus]:
        db = Database(database_url, pool_size=1)
        try:
            return await statuses(db, batch.ids)
        finally:
            await db.dispose()

    batch = run_sync(make)
    page = chromium.new_page()
    refusals = csp_refusals(page)
    page.goto(f"{sso.main.url}/console/sign-in")
    page.click("#sign-in-sso")
    page.fill("#email", email)
    page.click("button[value=approve]")
    assert page.url == f"{sso.main.url}/console/connections"

    # An hour later the provider, remembering the sign-in, signs the operator in at once: their
    # session is not fresh enough for a dangerous action.
    sso.age_sign_ins(email, 3600)
    page.goto(f"{sso.main.url}/console/sso/start?next=/console/connections")
    assert page.url == f"{sso.main.url}/console/connections"
    page.click("#nav-revocations")
    page.fill("#selector-label", batch.label)
    page.click("#preview")
    page.wait_for_url(f"{sso.sandbox.url}/oauth2/authorize?**")  # through the asking page
    assert page.locator("#email").is_visible()  # asked again (prompt=login)
    page.fill("#email", email)
    page.click("button[value=approve]")

    page.wait_for_url(f"{sso.main.url}/console/revocations?**")
    assert page.inner_text("#count") == "2" and "label=batch" in page.url
    shot(page, "sso-revocations-confirm")
    page.fill("#confirm-count", "2")
    page.click("#confirm-revoke")
    assert page.get_attribute("#outcome", "data-count") == "2"
    shot(page, "sso-revocations-done")
    assert run_sync(lambda: now(batch)) == {ConnectionStatus.REVOKED}
    assert refusals == []
    page.close()
