import pytest

from gateway.clients.limits import RateLimit, RateLimitError


@pytest.mark.parametrize(
    ("spec", "per_second", "burst"),
    [
        ("50/s", 50.0, 50),
        ("3000/min", 50.0, 50),
        ("90/m", 1.5, 2),
        ("7200/h", 2.0, 2),
        ("1/min", 1 / 60, 1),
    ],
)
def test_rates_are_read_per_second_with_a_seconds_worth_of_burst(
    spec: str, per_second: float, burst: int
) -> None:
    limit = RateLimit.parse(spec)
    assert limit.per_second == pytest.approx(per_second)
    assert limit.burst == burst


def test_an_explicit_burst_wins() -> None:
    assert RateLimit.parse("10/s", burst=100).burst == 100


@pytest.mark.parametrize("spec", ["50", "50/day", "-1/s", "0/s", "fast", "1/s/s", "2000000/s"])
def test_malformed_rates_are_refused(spec: str) -> None:
    with pytest.raises(RateLimitError):
        RateLimit.parse(spec)
