"""The gateway's core promise, proved against real processes (the short variants, in ``make test``).

A connection stays usable across any number of gateway replicas, provider hiccups and crashes; when
it cannot, the gateway says so at once instead of failing silently. Each test starts from a settled
stack (``stack.settle``): three replicas, no fault, every connection active and refreshing.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from functools import partial

from gateway.kit.clock import utcnow
from gateway.models import ConnectionStatus
from gateway.tokens.schedule import BASE_BACKOFF_SECONDS
from tests.lifecycle import observe
from tests.lifecycle.stack import LifecycleStack, delta, nonzero
from tests.lifecycle.traffic import sweep
from tests.lifecycle.waiting import until, until_empty

REFRESHES_PER_CONNECTION = 2
# A slow provider during the kill: the victim is sure to die with refreshes in flight.
KILL_LATENCY_MS = 500


def report(name: str, started: float, counters: dict[str, int], *extra: object) -> None:
    took = time.monotonic() - started
    print(f"\n[lifecycle] {name}: {took:.1f}s, sandbox {nonzero(counters)};", *extra)


async def test_three_replicas_refresh_continuously_with_no_reuse_no_loss_and_no_5xx(
    stack: LifecycleStack,
) -> None:
    started = time.monotonic()
    before_stats = await stack.stats()
    before = {user: row.token_version for user, row in (await stack.connections()).items()}

    async def behind() -> list[str]:
        rows = await stack.connections()
        wanted = REFRESHES_PER_CONNECTION
        return [user for user, seen in before.items() if rows[user].token_version < seen + wanted]

    async with stack.traffic().running() as tally:
        await until_empty(behind, within=40, what=f"{REFRESHES_PER_CONNECTION} refreshes each")
    counters = delta(await stack.stats(), before_stats)
    report("three replicas", started, counters, tally.summary())

    assert counters["reuse_detections"] == 0
    assert counters["refresh_replays"] == 0, "a refresh token was presented twice"
    assert counters["refresh_calls"] == counters["refresh_successes"]
    assert counters["refresh_calls"] >= REFRESHES_PER_CONNECTION * len(before)
    assert tally.gateway_5xx == 0, tally.summary()
    assert tally.statuses.keys() == {200}, tally.summary()
    assert not observe.not_active(await stack.connections())


async def test_a_replica_killed_mid_refresh_leaves_no_connection_silently_broken(
    stack: LifecycleStack,
) -> None:
    started = time.monotonic()
    lease = stack.profile.lease_seconds
    before_stats = await stack.stats()
    await stack.faults(latency_ms=KILL_LATENCY_MS)
    try:
        async with stack.traffic().running() as tally:
            await until(
                lambda: observe.every_replica_refreshing(stack),
                within=20,
                what="every replica holding refresh leases",
                every=0.02,
            )
            stack.gateways[0].kill()
            killed_at = utcnow()
            held = await stack.leases()
            versions = {row.id: row.token_version for row in (await stack.connections()).values()}
            alive = await observe.owners_after(stack, killed_at)
            orphaned = {
                cid
                for cid, held_lease in held.items()
                if held_lease.owner not in alive and held_lease.expires_at > killed_at
            }
            assert orphaned, "the killed replica held no lease: it did not die mid-refresh"
            taken_over_in = await until_empty(
                lambda: observe.unchanged_since(stack, versions, orphaned),
                within=stack.profile.reuse_grace,
                what="the survivors finish the killed replica's refreshes within the grace",
            )
            await until_empty(
                lambda: observe.leases_not_of(stack, alive),
                within=lease + 5,
                what="no lease of the killed replica left",
            )
    finally:
        await stack.clear_faults()
    counters = delta(await stack.stats(), before_stats)
    report(
        "sigkill",
        started,
        counters,
        f"{len(orphaned)} refreshes cut short, finished by survivors {taken_over_in:.1f}s later;",
        tally.summary(),
    )

    rows = await stack.connections()
    broken = [user for user, row in rows.items() if row.status is not ConnectionStatus.ACTIVE]
    await until_empty(
        lambda: observe.without_event(stack, rows, broken, "connection.needs_reauth", killed_at),
        within=15,
        what="a connection.needs_reauth event for each connection that lost its grant",
    )
    answers = await sweep(stack.live_urls(), stack.users, stack.key)
    assert not observe.wrong_answers(rows, answers)
    assert stack.receiver.rejected == 0, "an event came with a bad signature"
    # The grace outlasts a lease: every refresh the kill cut short was completed by a survivor.
    assert counters["reuse_detections"] == 0
    assert not broken
    assert tally.gateway_5xx == 0, tally.summary()


async def test_provider_outage_backs_off_loses_no_connection_and_recovers(
    stack: LifecycleStack,
) -> None:
    started = time.monotonic()
    before_stats = await stack.stats()
    await stack.faults(token_endpoint_down=True)
    down_at = utcnow()
    try:
        await until(
            lambda: half_failing(stack),
            within=stack.profile.token_ttl + 10,
            what="half the connections tried the provider and failed",
        )
        during = delta(await stack.stats(), before_stats)
        rows = await stack.connections()
    finally:
        await stack.clear_faults()
    up_at = utcnow()
    failed = [user for user, row in rows.items() if row.consecutive_failures]
    assert not observe.not_active(rows), "an outage made connections need re-authorization"
    for user in failed:
        error, retry_at = rows[user].last_refresh_error, rows[user].next_refresh_at
        assert error is not None and retry_at is not None
        backoff = retry_at - datetime.fromisoformat(error["at"])
        assert backoff >= timedelta(seconds=BASE_BACKOFF_SECONDS / 2), (user, backoff)
    # One attempt per backoff, not one per refresher cycle.
    assert during["refresh_calls"] <= 2 * len(failed), during

    recovered_in = await until_empty(
        lambda: observe.not_refreshed_since(stack, up_at),
        within=4 * BASE_BACKOFF_SECONDS,
        what="every connection refreshed once the provider is back",
    )
    for event in ("connection.refresh_failed", "connection.recovered"):
        await until_empty(
            partial(observe.without_event, stack, rows, failed, event, down_at),
            within=15,
            what=f"a {event} event for each connection that failed",
        )
    counters = delta(await stack.stats(), before_stats)
    report(
        "provider down",
        started,
        counters,
        f"{len(failed)} connections failed, {during['refresh_calls']} calls while down; "
        f"all refreshed {recovered_in:.1f}s after",
    )
    rows = await stack.connections()
    answers = await sweep(stack.live_urls(), stack.users, stack.key)
    assert not observe.wrong_answers(rows, answers)
    assert stack.receiver.rejected == 0, "an event came with a bad signature"
    assert counters["reuse_detections"] == 0
    assert not observe.not_active(rows)


async def test_rejected_client_opens_the_breaker_touches_no_connection_and_recovers(
    stack: LifecycleStack,
) -> None:
    started = time.monotonic()
    before_stats = await stack.stats()
    await stack.faults(invalid_client=True)
    switched_at = utcnow()
    try:
        await until(lambda: observe.breaker_open(stack), within=10, what="the breaker opens")
        await until(
            lambda: has_event(stack, "provider.client_error", switched_at),
            within=15,
            what="a provider.client_error event delivered",
        )
        # Refreshes past the fault switch before it flipped may still land: let them finish.
        await until_empty(
            lambda: observe.leases_taken_before(stack, switched_at),
            within=stack.profile.lease_seconds + 5,
            what="refreshes begun before the fault finish",
        )
        frozen = observe.state(await stack.connections())
        await until_empty(
            lambda: observe.not_due_yet(stack),
            within=stack.profile.token_ttl + 5,
            what="every connection comes due while the breaker is open",
        )
        await until(lambda: observe.breaker_retried(stack), within=10, what="a probe refused")
        during = delta(await stack.stats(), before_stats)
        assert observe.state(await stack.connections()) == frozen, "a client error touched them"
    finally:
        await stack.clear_faults()
    cleared_at = utcnow()
    breaker = await stack.breaker()
    assert breaker is not None and breaker.open_until is not None
    # Doubling per probe, an open period never exceeds the time since the first trip (plus one
    # base period): the breaker must let the gateway recover about as fast as the fault went.
    bound = cleared_at - switched_at + timedelta(seconds=stack.profile.breaker_open_seconds + 1)
    if breaker.open_until - cleared_at > bound:
        # Not an open period but a probe's window: a probe sent just before the fault cleared
        # holds the others back while it is in flight. Its outcome is what the bound is about.
        in_flight = breaker.consecutive_failures
        await until(
            lambda: probe_settled(stack, in_flight),
            within=(breaker.open_until - utcnow()).total_seconds() + 5,
            what="the probe in flight when the fault cleared settles",
        )
        breaker = await stack.breaker()
        assert breaker is not None
    assert breaker.open_until is None or breaker.open_until - cleared_at <= bound, (
        f"the breaker stays open until {breaker.open_until:%H:%M:%S} "
        f"after {breaker.consecutive_failures} trips"
    )
    recovered_in = await until_empty(
        lambda: observe.not_refreshed_since(stack, cleared_at),
        within=bound.total_seconds() + stack.profile.token_ttl + 5,
        what="every connection refreshed once the client is accepted again",
    )
    counters = delta(await stack.stats(), before_stats)
    report(
        "invalid_client",
        started,
        counters,
        f"while rejected {nonzero(during)}; all refreshed {recovered_in:.1f}s after",
    )
    breaker = await stack.breaker()
    assert breaker is not None and breaker.open_until is None
    assert counters["reuse_detections"] == 0
    assert not observe.not_active(await stack.connections())


async def probe_settled(stack: LifecycleStack, failures: int) -> bool:
    """Whether the breaker closed, or its probe was refused once more, since it stood at
    ``failures`` trips."""
    breaker = await stack.breaker()
    return breaker is None or breaker.open_until is None or breaker.consecutive_failures != failures


async def half_failing(stack: LifecycleStack) -> bool:
    return len(await observe.failing(stack)) >= len(stack.users) // 2


async def has_event(stack: LifecycleStack, event_type: str, since: datetime) -> bool:
    return bool(stack.receiver.events(event_type, since))
