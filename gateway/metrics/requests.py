"""Requests served: the request counter and latency histogram, counted without locks.

Every request passes here, a batch at a time (``gateway.kit.middleware.RecordBatch``), so they are
plain integers updated on the event loop's one thread, rather than prometheus_client's lock-guarded
values, and become the usual families only when scraped: ``gateway_http_requests_total`` by route template, method and status,
and ``gateway_http_request_duration_seconds`` by route template and method.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
# The buckets' ``le`` labels as Prometheus clients write them ("1.0", "+Inf").
BOUNDS = (*(repr(float(bound)) for bound in BUCKETS), "+Inf")


class Timings:
    """One histogram series: a count per bucket (the last one: beyond every bound) and a sum."""

    __slots__ = ("counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)
        self.total = 0.0


class RequestStats(Collector):
    def __init__(self) -> None:
        self._served: dict[tuple[str, str, int], int] = {}
        self._timings: dict[tuple[str, str], Timings] = {}
        self._catch_up: list[Callable[[], None]] = []

    def before_collect(self, catch_up: Callable[[], None]) -> None:
        """Run ``catch_up`` before every scrape: it observes the requests it holds back."""
        self._catch_up.append(catch_up)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.observe_all(((route, method, status, seconds),))

    def observe_all(self, requests: Iterable[tuple[str, str, int, float]]) -> None:
        """``observe`` for each (route, method, status, seconds) of a batch, in one call."""
        served = self._served
        timings_of = self._timings
        for route, method, status, seconds in requests:
            key = (route, method, status)
            served[key] = served.get(key, 0) + 1
            timings = timings_of.get((route, method))
            if timings is None:
                timings = timings_of[(route, method)] = Timings()
            timings.counts[bisect_left(BUCKETS, seconds)] += 1  # a bucket holds values <= its bound
            timings.total += seconds

    def collect(self) -> Iterator[Metric]:
        for catch_up in self._catch_up:
            catch_up()
        served = CounterMetricFamily(
            "gateway_http_requests",
            "Requests served, by route template, method and status (the proxy's included).",
            labels=["route", "method", "status"],
        )
        for (route, method, status), count in list(self._served.items()):
            served.add_metric([route, method, str(status)], count)
        duration = HistogramMetricFamily(
            "gateway_http_request_duration_seconds",
            "Time to the end of the response, by route template and method.",
            labels=["route", "method"],
        )
        for (route, method), timings in list(self._timings.items()):
            cumulative, below = [], 0
            for bound, count in zip(BOUNDS, timings.counts, strict=True):
                below += count
                cumulative.append((bound, below))
            duration.add_metric([route, method], cumulative, timings.total)
        yield served
        yield duration
