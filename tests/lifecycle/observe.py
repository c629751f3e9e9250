"""What the tests read off the running product: connection rows, leases, the breaker, events."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta

import httpx

from gateway.kit.clock import utcnow
from gateway.models import Connection, ConnectionStatus
from tests.lifecycle.stack import LifecycleStack
from tests.lifecycle.waiting import until

ConnectionState = tuple[str, int, int]


def state(rows: dict[str, Connection]) -> dict[str, ConnectionState]:
    """What a client error must not change: status, token version, consecutive failures."""
    return {
        user: (row.status.value, row.token_version, row.consecutive_failures)
        for user, row in rows.items()
    }


def not_active(rows: dict[str, Connection]) -> list[str]:
    return [
        f"{user} {row.status.value}"
        for user, row in rows.items()
        if row.status is not ConnectionStatus.ACTIVE
    ]


async def not_refreshed_since(
    stack: LifecycleStack, moment: datetime, *, users: Collection[str] | None = None
) -> list[str]:
    """Active connections (of ``users``) not refreshed successfully since ``moment``."""
    return [
        user
        for user, row in (await stack.connections()).items()
        if (users is None or user in users)
        and row.status is ConnectionStatus.ACTIVE
        and (
            row.last_refreshed_at is None
            or row.last_refreshed_at <= moment
            or row.consecutive_failures > 0
        )
    ]


async def failing(stack: LifecycleStack) -> list[str]:
    return [user for user, row in (await stack.connections()).items() if row.consecutive_failures]


async def not_due_yet(stack: LifecycleStack) -> list[str]:
    now = utcnow()
    return [
        user
        for user, row in (await stack.connections()).items()
        if row.next_refresh_at is None or row.next_refresh_at > now
    ]


async def every_replica_refreshing(stack: LifecycleStack) -> bool:
    """Every live replica holds at least two unexpired refresh leases right now."""
    now = utcnow()
    owners = [lease.owner for lease in (await stack.leases()).values() if lease.expires_at > now]
    busy = {owner for owner in owners if owners.count(owner) >= 2}
    return len(busy) == len(stack.live_urls())


async def owners_after(stack: LifecycleStack, moment: datetime) -> set[str]:
    """The lease owners of the live replicas: they take leases after ``moment``."""
    lease = timedelta(seconds=stack.profile.lease_seconds)
    alive: set[str] = set()

    async def all_seen() -> bool:
        leases = (await stack.leases()).values()
        alive.update(held.owner for held in leases if held.expires_at - lease > moment)
        return len(alive) == len(stack.live_urls())

    await until(all_seen, within=20, what="every live replica takes leases", every=0.02)
    return alive


async def leases_not_of(stack: LifecycleStack, owners: set[str]) -> list[uuid.UUID]:
    return [cid for cid, held in (await stack.leases()).items() if held.owner not in owners]


async def leases_taken_before(stack: LifecycleStack, moment: datetime) -> list[uuid.UUID]:
    """Unexpired leases taken before ``moment``: refreshes that may still be in flight."""
    lease = timedelta(seconds=stack.profile.lease_seconds)
    now = utcnow()
    return [
        cid
        for cid, held in (await stack.leases()).items()
        if held.expires_at - lease < moment and held.expires_at > now
    ]


async def unchanged_since(
    stack: LifecycleStack, versions: dict[uuid.UUID, int], connection_ids: Collection[uuid.UUID]
) -> list[uuid.UUID]:
    """Of ``connection_ids``, those still active at the token version they had."""
    rows = {row.id: row for row in (await stack.connections()).values()}
    return [
        cid
        for cid in connection_ids
        if rows[cid].status is ConnectionStatus.ACTIVE and rows[cid].token_version == versions[cid]
    ]


async def breaker_open(stack: LifecycleStack) -> bool:
    breaker = await stack.breaker()
    return breaker is not None and breaker.open_until is not None and breaker.open_until > utcnow()


async def breaker_retried(stack: LifecycleStack) -> bool:
    """The breaker let a probe through after opening, and the provider refused it again."""
    breaker = await stack.breaker()
    return breaker is not None and breaker.consecutive_failures >= 2


async def without_event(
    stack: LifecycleStack,
    rows: dict[str, Connection],
    users: Collection[str],
    event_type: str,
    since: datetime,
) -> list[str]:
    """Of ``users``, those whose connection got no ``event_type`` event since ``since``."""
    got = stack.receiver.connection_ids(event_type, since)
    return [user for user in users if str(rows[user].id) not in got]


def wrong_answers(
    rows: dict[str, Connection], answers: dict[str, httpx.Response]
) -> dict[str, str]:
    """Users whose proxied call did not get what their connection's state promises: 200 when it
    is active, 409 ``reauth_required`` when the user must connect again."""
    expected = {ConnectionStatus.ACTIVE: 200, ConnectionStatus.NEEDS_REAUTH: 409}
    return {
        user: f"{row.status.value}: {answers[user].status_code} {answers[user].text[:200]}"
        for user, row in rows.items()
        if answers[user].status_code != expected.get(row.status)
    }
