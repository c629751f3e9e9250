import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from gateway.proxy.forward import RetryPolicy, repeatable, retry_after_seconds

POLICY = RetryPolicy(max_attempts=4, base_seconds=0.1, max_seconds=2.0, total_seconds=60.0)


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE"])
def test_idempotent_methods_are_repeatable(method: str) -> None:
    assert repeatable(method, has_idempotency_key=False)


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_post_and_patch_are_repeatable_only_with_an_idempotency_key(method: str) -> None:
    assert not repeatable(method, has_idempotency_key=False)
    assert repeatable(method, has_idempotency_key=True)


def test_waits_grow_exponentially_with_jitter_up_to_the_cap() -> None:
    rng = random.Random(7)
    policy = RetryPolicy(max_attempts=10, base_seconds=0.1, max_seconds=1.0, total_seconds=60.0)
    for attempt, ceiling in [(1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)]:
        waits = {policy.wait(attempt, 60.0, rng=rng) for _ in range(50)}
        assert all(w is not None and ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 1, "jittered"


def test_no_wait_after_the_last_attempt() -> None:
    assert POLICY.wait(4, 60.0) is None


def test_no_wait_that_would_run_past_the_deadline() -> None:
    assert POLICY.wait(1, remaining=0.01) is None


def test_retry_after_is_honoured_when_short_and_refused_when_long() -> None:
    assert POLICY.wait(1, 60.0, retry_after=1.5) == pytest.approx(1.5)
    assert POLICY.wait(1, 60.0, retry_after=30) is None


def test_retry_after_reads_seconds_and_http_dates() -> None:
    now = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=30), usegmt=True).encode()
    assert retry_after_seconds(b"7") == 7.0
    assert retry_after_seconds(later, now=now.timestamp()) == pytest.approx(30.0)
    assert retry_after_seconds(b"soon") is None
    assert retry_after_seconds(None) is None
