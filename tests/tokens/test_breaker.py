"""The provider breaker: opens once, lets one probe through when its time is up, backs off on failure."""

from __future__ import annotations

import uuid
from datetime import timedelta

from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from gateway.models import ProviderBreaker
from gateway.tokens import breaker

BASE = 60.0
PROBE = 30.0


def provider() -> str:
    return f"p{uuid.uuid4().hex[:10]}"


async def test_a_closed_breaker_admits_everyone(db: Database) -> None:
    async with db.transaction() as session:
        admission = await breaker.admit(session, provider(), utcnow(), PROBE)
    assert (admission.allowed, admission.probe) == (True, False)


async def test_the_first_refusal_opens_it_and_later_ones_in_flight_change_nothing(
    db: Database,
) -> None:
    name, now = provider(), utcnow()
    async with db.transaction() as session:
        until, opened = await breaker.trip(session, name, "invalid_client", now, BASE)
    assert opened and until == now + timedelta(seconds=BASE)
    for _ in range(12):  # every replica's in-flight refresh is refused too
        async with db.transaction() as session:
            again, opened = await breaker.trip(session, name, "invalid_client", now, BASE)
        assert (again, opened) == (until, False)
    async with db.transaction() as session:
        row = await session.get(ProviderBreaker, name)
        admission = await breaker.admit(session, name, now + timedelta(seconds=1), PROBE)
    assert row is not None and row.consecutive_failures == 1
    assert (admission.allowed, admission.closed_until) == (False, until)


async def test_when_its_time_is_up_one_probe_goes_through_and_the_rest_wait(db: Database) -> None:
    name, now = provider(), utcnow()
    async with db.transaction() as session:
        await breaker.trip(session, name, "invalid_client", now, BASE)
    later = now + timedelta(seconds=BASE + 1)
    admissions = []
    for _ in range(3):
        async with db.transaction() as session:
            admissions.append(await breaker.admit(session, name, later, PROBE))
    assert [(a.allowed, a.probe) for a in admissions] == [
        (True, True),
        (False, False),
        (False, False),
    ]


async def test_a_refused_probe_doubles_the_wait_and_a_successful_one_closes_it(
    db: Database,
) -> None:
    name, now = provider(), utcnow()
    async with db.transaction() as session:
        await breaker.trip(session, name, "invalid_client", now, BASE)
    later = now + timedelta(seconds=BASE + 1)
    async with db.transaction() as session:
        assert (await breaker.admit(session, name, later, PROBE)).probe
        until, opened = await breaker.trip(session, name, "invalid_client", later, BASE, probe=True)
    assert (until, opened) == (later + timedelta(seconds=2 * BASE), False)

    even_later = until + timedelta(seconds=1)
    async with db.transaction() as session:
        assert (await breaker.admit(session, name, even_later, PROBE)).probe
        await breaker.reset(session, name)  # the probe's refresh succeeded
    async with db.transaction() as session:
        admission = await breaker.admit(session, name, even_later, PROBE)
    assert (admission.allowed, admission.probe) == (True, False)
