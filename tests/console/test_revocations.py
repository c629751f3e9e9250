"""Revoking connections by selector in the console, a dangerous action: the selector's form, the
confirmation step showing how many it matches now, the number typed to confirm (another number is
refused with the step shown again), each revocation audited as the operator's; only from
``operator`` up, and only after a recent sign-in (a key session signs in again with its key)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import event, select

from gateway.console import console_sessions as sessions
from gateway.console.revocations import SHOWN
from gateway.console.secret import SigningKeys
from gateway.kit.db import Database
from gateway.models import AuditEvent, Connection, ConnectionStatus
from tests.console.conftest import Admin, csrf_of, labelled_batch, new_operator, sign_in, statuses
from tests.fixtures.stack import Stack

REVOCATIONS = "/console/revocations"


async def revoked_by(db: Database, actor: str) -> set[object]:
    async with db.transaction() as session:
        found = await session.scalars(
            select(AuditEvent.connection_id).where(
                AuditEvent.actor == actor, AuditEvent.action == "connection.revoked"
            )
        )
        return set(found)


async def test_the_selector_form_revokes_nothing(console: httpx.AsyncClient) -> None:
    form = await console.get(REVOCATIONS)
    assert form.status_code == 200
    assert 'id="selector"' in form.text and 'id="confirm-form"' not in form.text
    assert 'id="nav-revocations"' in form.text


async def test_the_typed_count_confirms_and_each_revocation_is_the_operators(
    console: httpx.AsyncClient, operator: Admin, db: Database
) -> None:
    batch = await labelled_batch(db, 3)
    step = await console.get(batch.preview)
    assert step.status_code == 200, step.text
    assert 'data-count="3"' in step.text and 'id="confirm-form"' in step.text
    assert all(str(one) in step.text for one in batch.ids)
    assert operator.actor in step.text
    csrf = csrf_of(step.text)

    for typed in ("", "2", "4", "three"):
        refused = await console.post(
            REVOCATIONS, data={"csrf": csrf, "label": batch.label, "confirm": typed}
        )
        assert refused.status_code == 428, typed
        assert 'id="refused"' in refused.text and 'data-count="3"' in refused.text
    assert await statuses(db, batch.ids) == {ConnectionStatus.ACTIVE}

    done = await console.post(
        REVOCATIONS, data={"csrf": csrf, "label": batch.label, "confirm": "3"}
    )
    assert done.status_code == 200, done.text
    assert 'data-action="revoked" data-count="3" data-skipped="0" data-queued="0"' in done.text
    assert await statuses(db, batch.ids) == {ConnectionStatus.REVOKED}
    assert await revoked_by(db, operator.actor) >= set(batch.ids)
    async with db.transaction() as session:
        [act] = await session.scalars(
            select(AuditEvent).where(
                AuditEvent.actor == operator.actor,
                AuditEvent.action == "connections.revoked_by_selector",
            )
        )
    assert act.details == {"selector": {"label": [batch.label]}, "confirmed": 3}

    again = await console.get(batch.preview)
    assert 'data-count="0"' in again.text and 'id="confirm-form"' not in again.text


class Loads:
    """Connections the ORM builds while counting (the stack's gateway serves from a thread of this
    process)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.connections = 0

    def _loaded(self, *_: object) -> None:
        with self._lock:
            self.connections += 1

    @contextmanager
    def counting(self) -> Iterator[Loads]:
        event.listen(Connection, "load", self._loaded)
        try:
            yield self
        finally:
            event.remove(Connection, "load", self._loaded)


async def test_the_step_counts_every_match_and_reads_only_those_it_shows(
    console: httpx.AsyncClient, db: Database
) -> None:
    batch = await labelled_batch(db, SHOWN + 21)
    with Loads().counting() as loads:
        step = await console.get(batch.preview)
    assert step.status_code == 200, step.text
    assert f'data-count="{SHOWN + 21}"' in step.text and 'id="confirm-form"' in step.text
    # The oldest first; one transaction wrote them all, so by id.
    shown = sorted(batch.ids)[:SHOWN]
    assert step.text.count("<tr data-connection-id=") == SHOWN
    assert all(f'data-connection-id="{one}"' in step.text for one in shown)
    assert "and 21 more." in step.text
    assert loads.connections == SHOWN

    csrf = csrf_of(step.text)
    with Loads().counting() as loads:
        refused = await console.post(
            REVOCATIONS, data={"csrf": csrf, "label": batch.label, "confirm": str(SHOWN)}
        )
    assert refused.status_code == 428
    assert f'data-count="{SHOWN + 21}"' in refused.text and "and 21 more." in refused.text
    assert loads.connections == SHOWN
    assert await statuses(db, batch.ids) == {ConnectionStatus.ACTIVE}


async def test_a_whole_provider_is_a_selector(console: httpx.AsyncClient) -> None:
    form = await console.get(REVOCATIONS)
    assert '<a href="/console/revocations?provider=contio" data-provider="contio">' in form.text
    step = await console.get(REVOCATIONS, params={"provider": "contio"})
    assert step.status_code == 200
    count = int(step.text.split('<section id="confirm" data-count="')[1].split('"')[0])
    assert count >= 0 and '<option value="contio" selected>' in step.text


async def test_bad_selectors_are_refused(console: httpx.AsyncClient) -> None:
    for params, code in (
        ({"status": "revoked"}, "invalid_status"),
        ({"label": "no spaces=in keys!"}, "invalid_label"),
        ({"user_id": "x" * 300}, "invalid_user_id"),
    ):
        answer = await console.get(REVOCATIONS, params=params)
        assert answer.status_code == 400, params
        assert f'data-code="{code}"' in answer.text
    csrf = csrf_of((await console.get(REVOCATIONS)).text)
    empty = await console.post(REVOCATIONS, data={"csrf": csrf, "confirm": "0"})
    assert empty.status_code == 400 and 'data-code="invalid_selector"' in empty.text


async def test_below_operator_revoking_is_refused(stack: Stack, db: Database) -> None:
    batch = await labelled_batch(db, 1)
    for scope in ("viewer", "support"):
        someone = await new_operator(db, (scope,))
        async with httpx.AsyncClient(base_url=stack.gateway.url, timeout=10) as browser:
            assert (await sign_in(browser, someone.key)).status_code == 303
            home = await browser.get("/console/connections")
            assert 'id="nav-revocations"' not in home.text
            step = await browser.get(batch.preview)
            assert step.status_code == 403 and 'data-code="role_required"' in step.text
            posted = await browser.post(
                REVOCATIONS,
                data={"csrf": csrf_of(home.text), "label": batch.label, "confirm": "1"},
            )
            assert posted.status_code == 403 and "operator" in posted.text
    assert await statuses(db, batch.ids) == {ConnectionStatus.ACTIVE}


async def test_a_key_session_signed_in_long_ago_signs_in_again_first(
    console: httpx.AsyncClient, operator: Admin, db: Database, signing: SigningKeys
) -> None:
    batch = await labelled_batch(db, 2)
    csrf = csrf_of((await console.get(batch.preview)).text)
    session = sessions.decode(console.cookies[sessions.COOKIE], signing)
    assert session is not None and session.signed_in_at is not None
    stale = replace(session, signed_in_at=session.signed_in_at - 3600)
    console.cookies.set(
        sessions.COOKIE, sessions.encode(stale, signing), domain="127.0.0.1", path="/console"
    )

    for asked in (
        await console.get(batch.preview),
        await console.post(REVOCATIONS, data={"csrf": csrf, "label": batch.label, "confirm": "2"}),
    ):
        assert asked.status_code == 303
        target = urlsplit(asked.headers["location"])
        assert target.path == "/console/sign-in"
        assert parse_qs(target.query) == {"next": [batch.preview], "fresh": ["1"]}
    assert await statuses(db, batch.ids) == {ConnectionStatus.ACTIVE}

    again = await console.post(
        "/console/sign-in", data={"csrf": csrf, "key": operator.key, "next": batch.preview}
    )
    assert again.status_code == 303 and again.headers["location"] == batch.preview
    step = await console.get(batch.preview)
    assert step.status_code == 200 and 'data-count="2"' in step.text
