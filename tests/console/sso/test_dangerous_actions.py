"""A fresh sign-in before a dangerous action, on the console's real pages: revoking connections by
selector (the confirmation step and the form) and re-sealing under the encryption key. A person
signed in at the provider long ago is sent there again with ``prompt=login`` and ``max_age``; a key
session (break-glass) signs in again with its key; the action is audited with who did it."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from urllib.parse import parse_qs, quote, urlsplit

import httpx
from sqlalchemy import select

from gateway.console import console_sessions as sessions
from gateway.kit.db import Database
from gateway.models import AuditEvent, ConnectionStatus
from tests.console.conftest import (
    Batch,
    csrf_of,
    labelled_batch,
    new_operator,
    sign_in,
    statuses,
)
from tests.console.sso.conftest import SsoStack, new_email, sso_sign_in, through_provider

ROTATION = "/console/keys/rotation"
AGAIN = re.compile(r'<a href="([^"]+)" id="sign-in-again-sso">')


def to_sign_in_again(asked: httpx.Response) -> str:
    """Where the page asking for a fresh sign-in at the provider goes by itself (a page, not a
    redirect: the console's CSP stops a form's answer redirecting to another origin)."""
    assert asked.status_code == 200 and 'id="fresh-sign-in"' in asked.text, asked.text
    found = AGAIN.search(asked.text)
    assert found is not None
    link = html.unescape(found.group(1))
    assert f'content="0;url={found.group(1)}"' in asked.text  # and the page goes there itself
    return link


async def revoke_batch(browser: httpx.AsyncClient, batch: Batch) -> httpx.Response:
    """On the confirmation step, type the batch's count and revoke it."""
    step = await browser.get(batch.preview)
    assert step.status_code == 200, step.text
    assert f'<section id="confirm" data-count="{len(batch.ids)}">' in step.text
    return await browser.post(
        "/console/revocations",
        data={"csrf": csrf_of(step.text), "label": batch.label, "confirm": str(len(batch.ids))},
    )


async def revoked_as(db: Database, batch: Batch, actor: str) -> bool:
    async with db.transaction() as tx:
        found = await tx.scalars(
            select(AuditEvent.connection_id).where(
                AuditEvent.actor == actor, AuditEvent.action == "connection.revoked"
            )
        )
        return set(batch.ids) <= set(found)


async def test_a_dangerous_action_needs_a_fresh_sign_in_at_the_provider(
    sso: SsoStack, browser: httpx.AsyncClient, db: Database
) -> None:
    email = new_email()
    sso.groups(email, ["ops-admins"])
    batch = await labelled_batch(db, 2)
    dangerous = batch.preview
    assert (await sso_sign_in(browser, email)).status_code == 303
    # An hour later, the provider still remembers the sign-in and signs the operator in at once.
    sso.age_sign_ins(email, 3600)
    answer = await sso_sign_in(browser, email, next_=dangerous)
    assert answer.headers["location"] == dangerous

    asked = await browser.get(dangerous)
    again = to_sign_in_again(asked)
    start = urlsplit(again)
    assert start.path == "/console/sso/start"
    assert parse_qs(start.query) == {"next": [dangerous], "fresh": ["1"]}
    to_provider = await browser.get(again)
    authorize = parse_qs(urlsplit(to_provider.headers["location"]).query)
    assert authorize["prompt"] == ["login"] and authorize["max_age"] == ["300"]
    back = await through_provider(browser, to_provider.headers["location"], email)
    assert back.status_code == 303 and back.headers["location"] == dangerous

    done = await revoke_batch(browser, batch)
    assert done.status_code == 200 and 'data-action="revoked"' in done.text
    assert await statuses(db, batch.ids) == {ConnectionStatus.REVOKED}
    assert await revoked_as(db, batch, f"sso:{email}")


async def test_the_key_rotation_needs_a_fresh_sign_in_at_the_provider_too(
    sso: SsoStack, browser: httpx.AsyncClient
) -> None:
    email = new_email()
    sso.groups(email, ["ops-admins"])
    assert (await sso_sign_in(browser, email)).status_code == 303
    step = await browser.get(ROTATION)
    assert step.status_code == 200 and 'id="confirm"' in step.text  # just signed in
    sso.age_sign_ins(email, 3600)
    assert (await sso_sign_in(browser, email)).status_code == 303  # at once, not freshly

    csrf = csrf_of((await browser.get("/console/keys")).text)
    for asked in (
        await browser.get(ROTATION),
        await browser.post(ROTATION, data={"csrf": csrf, "confirm": "0"}),
    ):
        start = urlsplit(to_sign_in_again(asked))
        assert start.path == "/console/sso/start"
        assert parse_qs(start.query) == {"next": [ROTATION], "fresh": ["1"]}


async def test_below_operator_an_sso_person_cannot_revoke(
    sso: SsoStack, browser: httpx.AsyncClient, db: Database
) -> None:
    email = new_email()
    sso.groups(email, ["ops-support"])
    batch = await labelled_batch(db, 1)
    assert (await sso_sign_in(browser, email, next_=batch.preview)).status_code == 303
    refused = await browser.get(batch.preview)
    assert refused.status_code == 403 and 'data-code="role_required"' in refused.text
    assert await statuses(db, batch.ids) == {ConnectionStatus.ACTIVE}


async def test_a_key_session_signed_in_just_now_may_act_at_once(
    browser: httpx.AsyncClient, db: Database
) -> None:
    operator = await new_operator(db)
    batch = await labelled_batch(db, 2)
    assert (await sign_in(browser, operator.key)).status_code == 303
    done = await revoke_batch(browser, batch)
    assert done.status_code == 200 and 'data-action="revoked"' in done.text
    assert await revoked_as(db, batch, operator.actor)


async def test_a_key_session_signed_in_long_ago_signs_in_again_with_the_key(
    sso: SsoStack, browser: httpx.AsyncClient, db: Database
) -> None:
    operator = await new_operator(db)
    batch = await labelled_batch(db, 2)
    dangerous = batch.preview
    assert (await sign_in(browser, operator.key)).status_code == 303
    session = sessions.decode(browser.cookies[sessions.COOKIE], sso.signing)
    assert session is not None and session.signed_in_at is not None
    an_hour_earlier = replace(session, signed_in_at=session.signed_in_at - 3600)
    browser.cookies.set(
        sessions.COOKIE,
        sessions.encode(an_hour_earlier, sso.signing),
        domain="127.0.0.1",
        path="/console",
    )

    asked = await browser.get(dangerous)
    assert asked.status_code == 303
    assert asked.headers["location"] == f"/console/sign-in?next={quote(dangerous, safe='')}&fresh=1"
    form = await browser.get(asked.headers["location"])
    assert form.status_code == 200  # the form, though signed in
    csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
    again = await browser.post(
        "/console/sign-in", data={"csrf": csrf, "key": operator.key, "next": dangerous}
    )
    assert again.status_code == 303 and again.headers["location"] == dangerous
    done = await revoke_batch(browser, batch)
    assert done.status_code == 200 and 'data-action="revoked"' in done.text
    assert await revoked_as(db, batch, operator.actor)
