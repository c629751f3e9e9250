"""The proxy's deadlines: one watchdog cancels what runs past its deadline, as a timer would."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

import pytest

from gateway.providers.profile import DEFAULT_PROFILE
from gateway.proxy.errors import UpstreamTimeout
from gateway.proxy.forward import Forwarder, RequestBody, RetryPolicy, UpstreamRequest
from gateway.proxy.headers import CallerHeaders
from gateway.proxy.injection import Injection
from gateway.proxy.upstream import Body, RawResponse, Watchdog

BEARER = Injection.of("token", None, DEFAULT_PROFILE, {})


@pytest.fixture
async def watchdog() -> AsyncIterator[Watchdog]:
    watchdog = Watchdog()
    stop = asyncio.Event()
    running = asyncio.create_task(watchdog.run(stop))
    yield watchdog
    stop.set()
    await running


async def test_a_block_past_its_deadline_raises_timeout(watchdog: Watchdog) -> None:
    never = asyncio.Event()
    with pytest.raises(TimeoutError), watchdog.limit(time.monotonic() + 0.1):
        await never.wait()


async def test_a_block_within_its_deadline_is_untouched(watchdog: Watchdog) -> None:
    with watchdog.limit(time.monotonic() + 60):
        await asyncio.sleep(0)
    with watchdog.limit(time.monotonic() - 1):  # already past, but nothing to wait for
        pass
    assert not watchdog._pending


async def test_a_deadline_moved_later_inside_its_block_is_kept_as_moved(
    watchdog: Watchdog,
) -> None:
    """The forwarder holds the read timeout until the answer starts, then moves the attempt's
    entry to the total deadline: the watchdog reads where it stands now."""
    with watchdog.limit(time.monotonic() + 0.1) as limit:
        limit.when = time.monotonic() + 60
        await asyncio.sleep(0.3)  # past the first deadline, within the moved one

    async def moved_sooner() -> None:
        with watchdog.limit(time.monotonic() + 60) as limit:
            limit.when = time.monotonic() + 0.1
            await asyncio.Event().wait()

    with pytest.raises(TimeoutError):
        await moved_sooner()


async def test_a_cancellation_from_outside_stays_a_cancellation(watchdog: Watchdog) -> None:
    entered = asyncio.Event()

    async def guarded() -> None:
        with watchdog.limit(time.monotonic() + 60):
            entered.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(guarded())
    await entered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


class Silent:
    """An upstream that never answers."""

    async def send(
        self, method: str, url: str, headers: Sequence[tuple[str, str]], body: Body
    ) -> RawResponse:
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def aclose(self) -> None:
        pass


async def test_an_exchange_past_the_total_deadline_is_an_upstream_timeout(
    watchdog: Watchdog,
) -> None:
    policy = RetryPolicy(max_attempts=3, base_seconds=0.01, max_seconds=0.05, total_seconds=0.2)
    forwarder = Forwarder(Silent(), policy, 1024, watchdog, read_timeout=60)
    request = UpstreamRequest(
        "GET", "http://upstream/x", CallerHeaders(), "req-1", RequestBody(b""), True
    )
    with pytest.raises(UpstreamTimeout):
        await forwarder.exchange(request, BEARER, forwarder.deadline())
