"""The proxy's caches hold at most ``GATEWAY_PROXY_CACHE_MAX_BYTES`` together, whatever the number of
users: each entry weighed once when it is put, the oldest shed first; a gateway whose caches hold
fewer users than call it reads the others again and serves each its own token."""

from __future__ import annotations

import hashlib
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.engine import URL

from gateway.clients.store import Principal
from gateway.kit.db import Database
from gateway.providers import OAuthClient
from gateway.proxy.admission import Admission, Call
from gateway.proxy.assembly import admission_weight, token_weight
from gateway.proxy.cache import SHED_SHARE, LocalCache
from gateway.proxy.injection import Injection
from gateway.proxy.loader import Key
from gateway.proxy.paths import split_connection_target
from gateway.proxy.token_cache import UserToken
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import Stack, beside_the_stack
from tests.providers.factories import make_config
from tests.proxy.conftest import EchoGateway, bearer, make_client, seed_user

SMALLEST_BOUND = 64 * 1024  # the setting's minimum: a third each, about twenty users' entries
USERS = 60  # three times what the token cache holds at that bound


def weighed_cache(max_bytes: int) -> LocalCache[str, str]:
    cache: LocalCache[str, str] = LocalCache(
        10.0, max_bytes=max_bytes, weigh=lambda _key, value: len(value)
    )
    cache.resume()
    return cache


def test_entries_weigh_at_most_the_bound_together_and_the_oldest_go_first() -> None:
    cache = weighed_cache(100)
    for name in "abcde":
        cache.put(name, name * 30, cache.epoch)
    assert cache.bytes == 90
    assert [cache.get(name) for name in "ab"] == [None, None]
    cache.put("f", "f" * 70, cache.epoch)  # needs two entries' room
    assert cache.bytes == 100
    assert (cache.get("c"), cache.get("d"), cache.get("e"), cache.get("f")) == (
        None,
        None,
        "e" * 30,
        "f" * 70,
    )


def test_a_replaced_entry_counts_once_and_becomes_the_newest() -> None:
    cache = weighed_cache(100)
    cache.put("a", "a" * 40, cache.epoch)
    cache.put("b", "b" * 40, cache.epoch)
    cache.put("a", "A" * 50, cache.epoch)
    assert cache.bytes == 90
    cache.put("c", "c" * 10, cache.epoch)
    assert cache.bytes == 100
    cache.put("d", "d" * 10, cache.epoch)  # "b" is now the oldest
    assert (cache.get("a"), cache.get("b"), cache.bytes) == ("A" * 50, None, 70)


def test_what_leaves_the_cache_gives_its_weight_back() -> None:
    clock = [0.0]
    cache: LocalCache[str, str] = LocalCache(
        10.0, max_bytes=1000, weigh=lambda _key, value: len(value), clock=lambda: clock[0]
    )
    cache.resume()
    for name in "abcd":
        cache.put(name, name * 10, cache.epoch)
    cache.invalidate("a")
    cache.invalidate_where(lambda value: value.startswith("b"))
    assert cache.bytes == 20
    clock[0] = 11.0
    assert cache.get("c") is None
    assert cache.lookup("d") == (None, False)
    assert cache.bytes == 0
    cache.put("e", "e" * 10, cache.epoch)
    cache.clear()
    assert cache.bytes == 0


def test_an_entry_heavier_than_the_bound_is_not_kept() -> None:
    cache = weighed_cache(100)
    cache.put("a", "a" * 50, cache.epoch)
    cache.put("big", "x" * 101, cache.epoch)
    assert (cache.get("a"), cache.get("big"), cache.bytes) == ("a" * 50, None, 50)


def token_entry(number: int) -> tuple[Key, UserToken]:
    key: Key = (f"user-{number}", "contio", None, None)
    credential = f"Bearer cto_at_v1_{uuid.uuid4().hex}{uuid.uuid4().hex}"
    token = UserToken(
        uuid.uuid4(),
        key,
        1,
        datetime.now(UTC),
        3600,
        Injection(("authorization", credential), False, None, None),
        1.0e9,
        None,
        True,
    )
    return key, token


# The principal and provider every admission of a client shares.
PRINCIPAL = Principal(uuid.uuid4(), "weighed", frozenset({"proxy"}), ())
PROVIDER = OAuthClient(make_config(api_base_url="http://127.0.0.1:9"), httpx.AsyncClient())


def admission_entry(number: int) -> tuple[Any, Admission]:
    """An admission by id: one per connection (by user, one serves every user)."""
    connection_id = uuid.uuid4()
    target = f"/proxy/connections/{connection_id}/v1/partner/user/meetings/{number}"
    _, path = split_connection_target(target)
    call = Call(PRINCIPAL, "GET", path, f"user-{number}", connection_id)
    admission = Admission.of(call, PROVIDER)
    return (hashlib.blake2s(b"Bearer key").digest(), "GET", target, None), admission


@pytest.mark.parametrize(
    ("make", "weigh"),
    [(token_entry, token_weight), (admission_entry, admission_weight)],
    ids=["tokens", "admissions"],
)
def test_a_full_cache_holds_no_more_memory_than_its_bound(
    make: Callable[[int], tuple[Any, Any]], weigh: Callable[[Any, Any], int]
) -> None:
    bound = 1024 * 1024

    def filled() -> LocalCache[Any, Any]:
        cache: LocalCache[Any, Any] = LocalCache(30.0, max_bytes=bound, weigh=weigh)
        cache.resume()
        for number in range(5 * bound // 700):  # several times what fits
            key, value = make(number)
            cache.put(key, value, cache.epoch)
            del key, value
        return cache

    # Once untraced first: the interpreter keeps freed tuples (the entries shed) for reuse, and the
    # first fill's would count as held by the cache.
    filled()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        cache = filled()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert cache.bytes <= bound
    assert len(cache) > bound // 2048  # the estimates are not wildly high either
    assert held <= bound


@pytest.fixture(scope="module")
def small_cache_gateway(
    stack: Stack, database_url: URL, echo_gateway: EchoGateway
) -> Iterator[ServerThread]:
    """The echo gateway's twin with the smallest cache bound allowed."""
    settings = echo_gateway.settings
    assert settings.providers_file is not None
    gateway, _ = beside_the_stack(
        stack,
        database_url,
        settings.providers_file,
        free_port(),
        contio_api_url=echo_gateway.upstream_server.url,
        proxy_cache_max_bytes=SMALLEST_BOUND,
        database_pool_size=3,
    )
    try:
        yield gateway
    finally:
        gateway.stop()


async def test_a_gateway_with_more_users_than_its_caches_hold_serves_each_its_own_token(
    small_cache_gateway: ServerThread, db: Database, echo_gateway: EchoGateway
) -> None:
    confined = await make_client(db, ["GET /**"], own_users_only=True)
    shared = await make_client(db, ["GET /**"])
    users = [
        (confined.key, *await seed_user(db, echo_gateway, client_id=confined.id, space=confined.id))
        for _ in range(USERS // 2)
    ] + [
        (shared.key, *await seed_user(db, echo_gateway, client_id=shared.id))
        for _ in range(USERS // 2)
    ]
    async with httpx.AsyncClient(base_url=small_cache_gateway.url, timeout=30) as gw:
        # Twice round: by the second, the first users' entries were shed and are read again.
        for _ in range(2):
            for key, user_id, token in users:
                response = await gw.get(f"/proxy/users/{user_id}/echo/auth", headers=bearer(key))
                assert response.status_code == 200, response.text
                authorization = [v for k, v in response.json()["headers"] if k == "authorization"]
                assert authorization == [f"Bearer {token}"]
        # Neither client reaches the other's users, however often the entries come and go.
        for key, user_id, _ in (users[0], users[-1]):
            other = shared.key if key == confined.key else confined.key
            response = await gw.get(f"/proxy/users/{user_id}/echo/auth", headers=bearer(other))
            assert response.status_code == 404


def clocked_cache(clock: list[float]) -> LocalCache[str, str]:
    """Four entries of 25 bytes fit; each put after that sheds the oldest one."""
    cache: LocalCache[str, str] = LocalCache(
        100.0, max_bytes=100, weigh=lambda _key, value: len(value), clock=lambda: clock[0]
    )
    cache.resume()
    return cache


def fill_and_shed(cache: LocalCache[str, str], clock: list[float]) -> None:
    """Entries "a" to "g" put a second apart from 0 s: "a", "b" and "c" shed, one a second, so
    the cache turns over in 4 s and an entry left unread for 2 s is in its older half."""
    for name in "abcdefg":
        cache.put(name, name * 25, cache.epoch)
        clock[0] += 1.0
    assert [cache.get(name) for name in "abc"] == [None, None, None]


def test_an_entry_read_in_the_older_half_is_shed_after_the_unread_ones() -> None:
    clock = [0.0]
    cache = clocked_cache(clock)
    fill_and_shed(cache, clock)  # at 7 s: "d" put at 3 s, then "e", "f" (5 s) and "g" (6 s)
    clock[0] = 7.5
    assert cache.get("f") == "f" * 25  # unread for 2.5 s: moved to the newest end
    for name in "hij":
        cache.put(name, name * 25, cache.epoch)
    assert [cache.get(name) for name in "degij"] == [None, None, None, "i" * 25, "j" * 25]
    assert cache.lookup("f") == ("f" * 25, False)


def test_a_read_soon_after_a_put_moves_nothing() -> None:
    clock = [0.0]
    cache = clocked_cache(clock)
    fill_and_shed(cache, clock)
    clock[0] = 7.5
    assert cache.get("g") == "g" * 25  # put 1.5 s ago: it stays where it was put
    for name in "hijk":
        cache.put(name, name * 25, cache.epoch)
    assert [cache.get(name) for name in "fg"] == [None, None]


def test_a_full_cache_sheds_a_share_of_its_oldest_entries_at_once() -> None:
    # One pass over the oldest entries per SHED_SHARE of them, not one per put (``_shed``).
    cache: LocalCache[int, str] = LocalCache(10.0, max_bytes=256, weigh=lambda _key, _value: 1)
    cache.resume()
    for number in range(256):
        cache.put(number, "x", cache.epoch)
    cache.put(256, "x", cache.epoch)
    assert len(cache) == 256 - int(256 * SHED_SHARE) + 1
    assert [cache.get(number) for number in (0, 3, 4, 256)] == [None, None, "x", "x"]
