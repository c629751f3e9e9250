"""The request counter and latency histogram, counted as plain integers, scrape as Prometheus's."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics.requests import RequestStats


def scraped(stats: RequestStats) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(stats)
    text = generate_latest(registry).decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_requests_are_counted_by_route_method_and_status() -> None:
    stats = RequestStats()
    for status in (200, 200, 404):
        stats.observe("/proxy/users/{user_id}/{path:path}", "GET", status, 0.002)
    stats.observe("/healthz", "GET", 200, 0.0001)
    samples = scraped(stats)
    route = ("route", "/proxy/users/{user_id}/{path:path}")
    assert (
        samples[("gateway_http_requests_total", (("method", "GET"), route, ("status", "200")))] == 2
    )
    assert (
        samples[("gateway_http_requests_total", (("method", "GET"), route, ("status", "404")))] == 1
    )


def test_durations_fall_in_cumulative_buckets_bounds_included() -> None:
    stats = RequestStats()
    for seconds in (0.0005, 0.001, 0.003, 0.7, 99.0):
        stats.observe("/r", "POST", 200, seconds)
    samples = scraped(stats)

    def bucket(le: str) -> float:
        return samples[
            (
                "gateway_http_request_duration_seconds_bucket",
                (("le", le), ("method", "POST"), ("route", "/r")),
            )
        ]

    assert bucket("0.001") == 2  # 0.0005 and 0.001 (a bound holds values equal to it)
    assert bucket("0.005") == 3
    assert bucket("0.5") == 3
    assert bucket("1.0") == 4
    assert bucket("30.0") == 4
    assert bucket("+Inf") == 5
    key = (("method", "POST"), ("route", "/r"))
    assert samples[("gateway_http_request_duration_seconds_count", key)] == 5
    assert abs(samples[("gateway_http_request_duration_seconds_sum", key)] - 99.7045) < 1e-9
