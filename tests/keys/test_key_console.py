"""The encryption keys in the console (``security``): what each key seals, and re-sealing under
the active key after a confirmation step where the operator types the number of values to
re-seal; another number is refused with the step shown again. A recent sign-in is needed for the
step and the re-sealing; lower roles see no keys page and are refused it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest
from sqlalchemy import select

from gateway.console import console_sessions as sessions
from gateway.console.secret import SigningKeys, signing_keys
from gateway.keys import rotation
from gateway.kit.db import Database
from gateway.models import AuditEvent
from gateway.settings import Settings
from tests.console.conftest import Admin, csrf_of, new_operator, sign_in
from tests.fixtures.servers import ServerThread
from tests.keys.test_rotation import ring, seed

KEYS = "/console/keys"
ROTATION = "/console/keys/rotation"


@pytest.fixture
async def browser(rotating_gateway: ServerThread) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=rotating_gateway.url, timeout=30) as client:
        yield client


async def signed_in(browser: httpx.AsyncClient, db: Database, scope: str) -> Admin:
    operator = await new_operator(db, (scope,))
    assert (await sign_in(browser, operator.key)).status_code == 303
    return operator


async def test_the_page_counts_each_keys_values(browser: httpx.AsyncClient, kdb: Database) -> None:
    await signed_in(browser, kdb, "security")
    await seed(kdb, ring("old"), 2)
    shown = await browser.get(KEYS)
    assert shown.status_code == 200, shown.text
    assert 'data-key="old" data-count="4"' in shown.text
    assert 'id="rotate"' in shown.text and 'id="confirm-form"' not in shown.text
    assert 'id="nav-keys"' in shown.text


async def test_the_typed_count_reseals_and_is_the_operators(
    browser: httpx.AsyncClient, kdb: Database
) -> None:
    operator = await signed_in(browser, kdb, "security")
    await seed(kdb, ring("old"), 2)
    step = await browser.get(ROTATION)
    assert step.status_code == 200
    count = (await rotation.usage(kdb)).total() - (await rotation.usage(kdb))["new"]
    assert f'<section id="confirm" data-count="{count}">' in step.text
    assert operator.actor in step.text
    csrf = csrf_of(step.text)

    for typed in ("", str(count - 1), "all"):
        refused = await browser.post(ROTATION, data={"csrf": csrf, "confirm": typed})
        assert refused.status_code == 428 and 'id="refused"' in refused.text
    assert (await rotation.usage(kdb))["old"] == 4

    done = await browser.post(ROTATION, data={"csrf": csrf, "confirm": str(count)})
    assert done.status_code == 200, done.text
    assert f'data-values="{count}" data-complete="true"' in done.text
    assert 'id="nothing-left"' in done.text
    assert "old" not in await rotation.usage(kdb)
    async with kdb.transaction() as session:
        [entry] = await session.scalars(
            select(AuditEvent).where(
                AuditEvent.action == "keys.rotated", AuditEvent.actor == operator.actor
            )
        )
    assert entry.details["resealed_values"] == count


async def test_a_key_session_signed_in_long_ago_signs_in_again_first(
    browser: httpx.AsyncClient, kdb: Database, rotating_settings: Settings
) -> None:
    await signed_in(browser, kdb, "security")
    await seed(kdb, ring("old"), 1)
    csrf = csrf_of((await browser.get(KEYS)).text)
    signing: SigningKeys = signing_keys(rotating_settings, "new")
    session = sessions.decode(browser.cookies[sessions.COOKIE], signing)
    assert session is not None and session.signed_in_at is not None
    stale = replace(session, signed_in_at=session.signed_in_at - 3600)
    browser.cookies.set(
        sessions.COOKIE, sessions.encode(stale, signing), domain="127.0.0.1", path="/console"
    )
    assert (await browser.get(KEYS)).status_code == 200  # reading needs no fresh sign-in
    for asked in (
        await browser.get(ROTATION),
        await browser.post(ROTATION, data={"csrf": csrf, "confirm": "2"}),
    ):
        assert asked.status_code == 303
        assert (
            asked.headers["location"]
            == "/console/sign-in?next=%2Fconsole%2Fkeys%2Frotation&fresh=1"
        )
    assert (await rotation.usage(kdb))["old"] == 2


@pytest.mark.parametrize("scope", ["viewer", "support", "operator"])
async def test_below_security_there_is_no_keys_page(
    browser: httpx.AsyncClient, kdb: Database, scope: str
) -> None:
    await signed_in(browser, kdb, scope)
    await seed(kdb, ring("old"), 1)
    home = await browser.get("/console/connections")
    assert 'id="nav-keys"' not in home.text
    for method, path in (("GET", KEYS), ("GET", ROTATION), ("POST", ROTATION)):
        data = {"csrf": csrf_of(home.text), "confirm": "2"} if method == "POST" else None
        answer = await browser.request(method, path, data=data)
        assert answer.status_code == 403 and "security" in answer.text, (scope, path)
    assert (await rotation.usage(kdb))["old"] == 2
