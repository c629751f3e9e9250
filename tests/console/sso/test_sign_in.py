"""Operators signing in to the console at the company's identity provider (the sandbox, over loopback):
role mapping, the role checked again, sign-out at both ends, the break-glass sign-in on and off, ID
and tokens that fail validation (a fresh sign-in before a dangerous action: test_dangerous_actions)."""

from __future__ import annotations

import html
import re
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import select

from gateway.console import console_sessions as sessions
from gateway.kit.db import Database
from gateway.models import AuditEvent
from tests.console.conftest import (
    new_operator,
    sign_in,
)
from tests.console.sso.conftest import SsoStack, new_email, sso_sign_in

DEADLINE_SECONDS = 20
END_SESSION = re.compile(r'<a href="([^"]+)" id="end-session">')


@pytest.fixture
async def strict_browser(sso: SsoStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=sso.strict.url, timeout=10) as client:
        yield client


async def signed_in(browser: httpx.AsyncClient) -> bool:
    page = await browser.get("/console/connections")
    assert page.status_code in (200, 303), page.text
    return page.status_code == 200


async def last_sign_in(db: Database, actor: str) -> AuditEvent | None:
    async with db.transaction() as tx:
        found = await tx.scalars(
            select(AuditEvent)
            .where(AuditEvent.actor == actor, AuditEvent.action == "console.signed_in")
            .order_by(AuditEvent.occurred_at.desc())
        )
        return found.first()


@pytest.mark.parametrize(
    ("groups", "role"),
    [
        (["ops-viewers"], "viewer"),
        (["ops-support"], "support"),
        (["staff", "ops-operators"], "operator"),
        (["ops-viewers", "ops-admins"], "security"),
    ],
)
async def test_a_mapped_group_signs_in_with_its_role(
    sso: SsoStack, browser: httpx.AsyncClient, db: Database, groups: list[str], role: str
) -> None:
    email = new_email()
    sso.groups(email, groups)
    answer = await sso_sign_in(browser, email)
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == "/console/connections"
    page = await browser.get("/console/connections")
    assert page.status_code == 200
    assert email in page.text  # who is signed in, for display
    entry = await last_sign_in(db, f"sso:{email}")
    assert entry is not None and entry.details == {"role": role, "method": "sso"}


async def test_groups_mapped_to_no_role_give_no_access(
    sso: SsoStack, browser: httpx.AsyncClient
) -> None:
    email = new_email()
    sso.groups(email, ["staff", "engineering"])
    answer = await sso_sign_in(browser, email)
    assert answer.status_code == 403
    assert 'data-code="sso_sign_in_refused"' in answer.text
    assert "no console role" in answer.text
    assert not await signed_in(browser)


async def test_no_groups_claim_at_all_gives_no_access(
    sso: SsoStack, browser: httpx.AsyncClient
) -> None:
    answer = await sso_sign_in(browser, new_email())  # never given groups: no claim, and userinfo
    assert answer.status_code == 403  # has none either
    assert not await signed_in(browser)


async def test_a_group_removed_at_the_provider_ends_that_session_within_the_recheck_period(
    sso: SsoStack, browser: httpx.AsyncClient
) -> None:
    email, colleague = new_email(), new_email()
    sso.groups(email, ["ops-operators"])
    sso.groups(colleague, ["ops-operators"])
    assert (await sso_sign_in(browser, email)).status_code == 303
    async with httpx.AsyncClient(base_url=sso.main.url, timeout=10) as other:
        assert (await sso_sign_in(other, colleague)).status_code == 303
        sso.groups(email, ["staff"])
        deadline = time.monotonic() + DEADLINE_SECONDS
        while await signed_in(browser):  # re-checked a second after the last check
            assert time.monotonic() < deadline, "the session outlived the re-check period"
        assert await signed_in(other)  # the colleague keeps theirs


async def test_a_moved_group_changes_the_role_at_the_next_check(
    sso: SsoStack, browser: httpx.AsyncClient
) -> None:
    email = new_email()
    sso.groups(email, ["ops-viewers"])
    assert (await sso_sign_in(browser, email)).status_code == 303
    refreshes = sso.stat("refresh_successes")
    sso.groups(email, ["ops-support"])
    deadline = time.monotonic() + DEADLINE_SECONDS
    while sso.stat("refresh_successes") == refreshes:  # the role asked of the provider again
        assert await signed_in(browser)
        assert time.monotonic() < deadline, "the role was never checked again"
    assert await signed_in(browser)


async def test_a_signed_in_operator_opening_the_sign_in_page_keeps_a_working_session(
    sso: SsoStack, browser: httpx.AsyncClient
) -> None:
    email = new_email()
    sso.groups(email, ["ops-viewers"])
    assert (await sso_sign_in(browser, email)).status_code == 303
    checks = sso.stat("refresh_successes")
    deadline = time.monotonic() + DEADLINE_SECONDS
    while sso.stat("refresh_successes") < checks + 2:  # re-checked on both pages, tokens kept
        assert (await browser.get("/console/sign-in")).status_code == 303
        assert await signed_in(browser)
        assert time.monotonic() < deadline, "the role was never checked again"


async def test_the_session_goes_on_while_the_provider_is_down_within_the_grace(
    sso: SsoStack, browser: httpx.AsyncClient
) -> None:
    email = new_email()
    sso.groups(email, ["ops-viewers"])
    assert (await sso_sign_in(browser, email)).status_code == 303
    calls = sso.stat("refresh_calls")
    sso.faults(token_endpoint_down=True)
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while sso.stat("refresh_calls") == calls:  # until a re-check has met the outage
            assert await signed_in(browser)
            assert time.monotonic() < deadline, "the role was never checked again"
        assert await signed_in(browser)
    finally:
        sso.reset_faults()


async def test_past_the_grace_an_unreachable_provider_ends_the_session(
    sso: SsoStack, strict_browser: httpx.AsyncClient
) -> None:
    email = new_email()
    sso.groups(email, ["ops-viewers"])
    assert (await sso_sign_in(strict_browser, email)).status_code == 303
    sso.faults(token_endpoint_down=True)
    try:
        deadline = time.monotonic() + DEADLINE_SECONDS
        while await signed_in(strict_browser):
            assert time.monotonic() < deadline, "the session outlived the grace"
    finally:
        sso.reset_faults()


async def test_signing_out_ends_the_session_here_and_at_the_provider(
    sso: SsoStack, browser: httpx.AsyncClient, db: Database
) -> None:
    email = new_email()
    sso.groups(email, ["ops-viewers"])
    assert (await sso_sign_in(browser, email)).status_code == 303
    page = await browser.get("/console/connections")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    ended = sso.stat("end_sessions")

    answer = await browser.post("/console/sign-out", data={"csrf": csrf})
    assert answer.status_code == 200
    end_session = html.unescape(END_SESSION.findall(answer.text)[0])
    logout = urlsplit(end_session)
    assert f"{logout.scheme}://{logout.netloc}{logout.path}" == f"{sso.sandbox.url}/oauth2/logout"
    query = parse_qs(logout.query)
    assert query["post_logout_redirect_uri"] == [f"{sso.main.url}/console/sign-in"]
    assert query["id_token_hint"][0].count(".") == 2
    assert not await signed_in(browser)  # ended here before the provider is even asked

    back = await browser.get(end_session)
    assert back.status_code == 302
    assert back.headers["location"] == f"{sso.main.url}/console/sign-in"
    assert sso.stat("end_sessions") == ended + 1
    async with db.transaction() as tx:
        actions = await tx.scalars(
            select(AuditEvent.action).where(AuditEvent.actor == f"sso:{email}")
        )
        assert "console.signed_out" in set(actions)
    # The provider forgot the sign-in: the next one asks for it again.
    started = await browser.get("/console/sso/start")
    assert (await browser.get(started.headers["location"])).status_code == 200


async def test_a_person_whose_role_was_taken_away_still_signs_out_at_both_ends(
    sso: SsoStack, browser: httpx.AsyncClient, db: Database
) -> None:
    email = new_email()
    sso.groups(email, ["ops-support"])
    assert (await sso_sign_in(browser, email)).status_code == 303
    page = await browser.get("/console/connections")
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    sso.groups(email, ["engineering"])  # mapped to no role now
    # A session holding no role at all (as a withdrawn one leaves it): the sign-out needs none.
    session = sessions.decode(browser.cookies[sessions.COOKIE], sso.signing)
    assert session is not None and session.sso is not None
    roleless = replace(session, sso=replace(session.sso, role=""))
    browser.cookies.set(
        sessions.COOKIE,
        sessions.encode(roleless, sso.signing),
        domain="127.0.0.1",
        path="/console",
    )

    answer = await browser.post("/console/sign-out", data={"csrf": csrf})
    assert answer.status_code == 200 and END_SESSION.search(answer.text) is not None
    assert not await signed_in(browser)
    async with db.transaction() as tx:
        actions = await tx.scalars(
            select(AuditEvent.action).where(AuditEvent.actor == f"sso:{email}")
        )
        assert "console.signed_out" in set(actions)


async def test_the_admin_key_still_signs_in_beside_single_sign_on(
    browser: httpx.AsyncClient, db: Database
) -> None:
    form = await browser.get("/console/sign-in")
    assert 'id="sign-in-sso"' in form.text and 'id="key"' in form.text
    operator = await new_operator(db)
    assert (await sign_in(browser, operator.key)).status_code == 303
    assert await signed_in(browser)


async def test_with_the_break_glass_off_no_admin_key_signs_in(
    sso: SsoStack, strict_browser: httpx.AsyncClient, db: Database
) -> None:
    form = await strict_browser.get("/console/sign-in")
    assert 'id="sign-in-sso"' in form.text and 'id="key"' not in form.text
    operator = await new_operator(db)
    answer = await strict_browser.post(
        "/console/sign-in", data={"csrf": "", "key": operator.key, "next": ""}
    )
    assert answer.status_code == 403
    assert "turned off" in answer.text
    assert not await signed_in(strict_browser)
    # Single sign-on still lets people in.
    email = new_email()
    sso.groups(email, ["ops-viewers"])
    assert (await sso_sign_in(strict_browser, email)).status_code == 303
    assert await signed_in(strict_browser)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [
        ("issuer", "iss"),
        ("audience", "aud"),
        ("nonce", "nonce"),
        ("expired", "exp"),
    ],
)
async def test_an_id_token_failing_validation_is_refused_with_a_page(
    sso: SsoStack, browser: httpx.AsyncClient, fault: str, reason: str
) -> None:
    email = new_email()
    sso.groups(email, ["ops-admins"])
    sso.faults(id_token_fault=fault)
    try:
        answer = await sso_sign_in(browser, email)
    finally:
        sso.reset_faults()
    assert answer.status_code == 403
    assert 'data-code="sso_sign_in_refused"' in answer.text
    assert "ID token rejected" in answer.text and reason in answer.text
    assert not await signed_in(browser)


async def test_a_callback_this_browser_did_not_start_is_refused(
    sso: SsoStack, browser: httpx.AsyncClient
) -> None:
    answer = await browser.get("/console/sso/callback", params={"code": "x", "state": "y"})
    assert answer.status_code == 400
    assert 'data-code="sso_sign_in_expired"' in answer.text
