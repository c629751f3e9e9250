"""The change feed against a real PostgreSQL: one connection carries every part's channels, each
notification goes to its channel's handler; a part hears ``lost`` the moment the connection goes
and ``catch_up`` each time the feed listens again; a handler that fails makes its own part catch up.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg
import pytest
from sqlalchemy.engine import URL

from gateway.kit.db import sync_url
from gateway.kit.feed import APPLICATION_NAME, ChangeFeed
from tests.fixtures.database import fresh_database

WITHIN = 10.0


@pytest.fixture(scope="module")
def feed_url(server_url: URL) -> Iterator[URL]:
    with fresh_database(server_url, "gw_feed", migrate=False) as url:
        yield url


@dataclass
class Part:
    """A part of a process that registers with the feed and records what it is told."""

    heard: list[tuple[str, str]] = field(default_factory=list)
    lost: int = 0
    caught_up: int = 0
    fails_on: str | None = None

    def register(self, feed: ChangeFeed, *channels: str) -> None:
        feed.register(
            {channel: self._handler(channel) for channel in channels},
            lost=self._lose,
            catch_up=self._catch_up,
        )

    def _handler(self, channel: str) -> Callable[[str], None]:
        def handle(payload: str) -> None:
            if payload == self.fails_on:
                raise ValueError(f"cannot read {payload!r}")
            self.heard.append((channel, payload))

        return handle

    def _lose(self) -> None:
        self.lost += 1

    def _catch_up(self) -> None:
        self.caught_up += 1


@asynccontextmanager
async def running(feed: ChangeFeed) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(feed.run(stop))
    try:
        await until(feed.listening.is_set, "the feed listens")
        yield
    finally:
        stop.set()
        await task


async def until(check: Callable[[], bool] | Callable[[], Awaitable[bool]], what: str) -> None:
    deadline = time.monotonic() + WITHIN
    while True:
        outcome = check()
        if outcome if isinstance(outcome, bool) else await outcome:
            return
        assert time.monotonic() < deadline, f"not within {WITHIN}s: {what}"
        await asyncio.sleep(0.02)


async def sql(url: URL, statement: str, *args: object) -> object:
    connection = await asyncpg.connect(sync_url(url))
    try:
        return await connection.fetchval(statement, *args)
    finally:
        await connection.close()


async def feed_connections(url: URL) -> int:
    count = await sql(
        url,
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE application_name = $1 AND datname = current_database()",
        APPLICATION_NAME,
    )
    assert isinstance(count, int)
    return count


async def notify(url: URL, channel: str, payload: str) -> None:
    await sql(url, "SELECT pg_notify($1, $2)::text", channel, payload)


def new_feed(url: URL) -> ChangeFeed:
    return ChangeFeed(url, retry_seconds=0.05)


async def test_every_part_hears_its_own_channels_over_one_connection(feed_url: URL) -> None:
    feed, caches, reload = new_feed(feed_url), Part(), Part()
    caches.register(feed, "feed_a", "feed_b")
    reload.register(feed, "feed_reload")

    async with running(feed):
        assert await feed_connections(feed_url) == 1
        await notify(feed_url, "feed_a", "1")
        await notify(feed_url, "feed_reload", "")
        await notify(feed_url, "feed_b", "2")
        await until(lambda: len(caches.heard) == 2 and len(reload.heard) == 1, "all heard")

    assert caches.heard == [("feed_a", "1"), ("feed_b", "2")]
    assert reload.heard == [("feed_reload", "")]
    assert (caches.caught_up, reload.caught_up) == (1, 1), "each caught up as the feed began"


async def test_a_part_is_told_the_feed_is_lost_and_catches_up_once_it_is_back(
    feed_url: URL,
) -> None:
    feed, part, other = new_feed(feed_url), Part(), Part()
    part.register(feed, "feed_a")
    other.register(feed, "feed_b")

    async with running(feed):
        await sql(
            feed_url,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = $1 AND datname = current_database()",
            APPLICATION_NAME,
        )
        await until(lambda: part.lost == 1 and other.lost == 1, "every part hears it is lost")
        await until(lambda: part.caught_up == 2 and other.caught_up == 2, "both catch up")
        assert feed.listening.is_set()

        async def one_connection() -> bool:
            return await feed_connections(feed_url) == 1

        await until(one_connection, "one connection again, the old one gone")
        await notify(feed_url, "feed_a", "after")
        await until(lambda: part.heard == [("feed_a", "after")], "heard on the new connection")


async def test_a_handler_that_fails_makes_its_own_part_catch_up(feed_url: URL) -> None:
    feed, failing, other = new_feed(feed_url), Part(fails_on="garbled"), Part()
    failing.register(feed, "feed_a")
    other.register(feed, "feed_b")

    async with running(feed):
        await notify(feed_url, "feed_a", "garbled")
        await until(lambda: failing.caught_up == 2, "the failing part catches up")
        await notify(feed_url, "feed_b", "still")
        await until(lambda: other.heard == [("feed_b", "still")], "the feed goes on")

    assert other.caught_up == 1
    assert failing.lost == other.lost == 1, "the stop counts as lost, and nothing else did"


async def test_a_stopped_feed_leaves_no_connection_and_its_parts_told(feed_url: URL) -> None:
    feed, part = new_feed(feed_url), Part()
    part.register(feed, "feed_a")

    async with running(feed):
        assert part.lost == 0

    assert part.lost == 1 and not feed.listening.is_set()

    async def closed() -> bool:
        return await feed_connections(feed_url) == 0

    await until(closed, "the feed's connection is closed")


async def test_a_feed_without_channels_opens_no_connection(feed_url: URL) -> None:
    feed = new_feed(feed_url)
    stop = asyncio.Event()
    task = asyncio.create_task(feed.run(stop))
    assert await feed_connections(feed_url) == 0
    stop.set()
    await task
    assert not feed.listening.is_set()


async def test_channels_are_registered_once_and_before_the_feed_runs(feed_url: URL) -> None:
    feed = new_feed(feed_url)
    Part().register(feed, "feed_a")
    with pytest.raises(ValueError, match="feed_a"):
        Part().register(feed, "feed_a", "feed_b")

    async with running(feed):
        with pytest.raises(RuntimeError):
            Part().register(feed, "feed_c")
