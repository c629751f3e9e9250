import uuid

import pytest

from gateway.clients.limits import RateLimit
from gateway.proxy.callers import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_admitted_then_the_rest_waits_for_refill() -> None:
    clock = Clock()
    limiter = RateLimiter(clock)
    client = uuid.uuid4()
    limit = RateLimit.parse("2/s", burst=3)
    assert [limiter.take(client, limit) for _ in range(3)] == [None, None, None]
    assert limiter.take(client, limit) == pytest.approx(0.5)
    clock.now += 0.5
    assert limiter.take(client, limit) is None


def test_clients_have_buckets_of_their_own() -> None:
    limiter = RateLimiter(Clock())
    limit = RateLimit.parse("1/min", burst=1)
    first, second = uuid.uuid4(), uuid.uuid4()
    assert limiter.take(first, limit) is None
    assert limiter.take(first, limit) == pytest.approx(60.0)
    assert limiter.take(second, limit) is None


def test_each_of_several_processes_holds_its_share_of_the_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(clock, processes=2)
    client = uuid.uuid4()
    limit = RateLimit.parse("2/s", burst=4)
    assert [limiter.take(client, limit) for _ in range(2)] == [None, None]
    assert limiter.take(client, limit) == pytest.approx(1.0)  # refilled at 1/s here
    clock.now += 1.0
    assert limiter.take(client, limit) is None


def test_a_share_holds_at_least_one_request() -> None:
    limiter = RateLimiter(Clock(), processes=4)
    limit = RateLimit.parse("1/min", burst=1)
    assert limiter.take(uuid.uuid4(), limit) is None
