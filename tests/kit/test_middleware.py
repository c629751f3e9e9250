"""Requests are counted and logged in batches: together, shortly after the first of them, or at once
when many wait; a scrape never misses a request answered before it."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from gateway.kit import logs
from gateway.kit.middleware import MAX_PENDING, RecordBatch, RequestRecord
from gateway.metrics.requests import RequestStats
from tests.fixtures.access_log import Stdout, json_only

TEMPLATE = "/proxy/users/{user_id}/{path:path}"
SCOPE = {"type": "http", "method": "GET", "path": "/proxy/users/u1/meetings", "query_string": b""}


@pytest.fixture
def stdout() -> Stdout:
    """stdout, for the JSON handler ``json_only`` makes the access log's only one."""
    return Stdout()


def answered(ledger: RecordBatch, request_id: str, status: int = 200) -> RequestRecord:
    served = RequestRecord(request_id, SCOPE, TEMPLATE, ledger)
    served.status = status
    served.finish()
    return served


def counted(stats: RequestStats) -> dict[str, float]:
    """Requests counted by status, as a scrape reads them."""
    registry = CollectorRegistry()
    registry.register(stats)
    families = text_string_to_metric_families(generate_latest(registry).decode())
    return {
        sample.labels["status"]: sample.value
        for family in families
        for sample in family.samples
        if sample.name == "gateway_http_requests_total" and sample.labels["route"] == TEMPLATE
    }


async def test_calls_are_counted_and_logged_together_shortly_after_the_first(
    stdout: Stdout,
) -> None:
    with json_only(stdout):
        stats = RequestStats()
        ledger = RecordBatch(stats)
        calls = [answered(ledger, f"req-{n}") for n in range(3)]
        await asyncio.sleep(0)  # the loop's next turn: still waiting
        assert len(ledger) == 3
        assert stdout.getvalue() == ""
        async with asyncio.timeout(5):
            await stdout.flushed.wait()
        assert len(ledger) == 0
        assert stdout.writes == 1
        lines = stdout.lines()
        assert [line["request_id"] for line in lines] == ["req-0", "req-1", "req-2"]
        # Each line has the time its call was answered, not the time the batch was written.
        assert [line["time"] for line in lines] == [logs.timestamp(call.ended) for call in calls]
        assert counted(stats) == {"200": 3}


async def test_a_full_batch_is_done_at_once(stdout: Stdout) -> None:
    with json_only(stdout):
        stats = RequestStats()
        ledger = RecordBatch(stats)
        for n in range(MAX_PENDING):
            answered(ledger, f"req-{n}")
        assert len(ledger) == 0
        assert len(stdout.lines()) == MAX_PENDING
        assert stdout.writes == 1


async def test_a_scrape_counts_the_calls_still_waiting(stdout: Stdout) -> None:
    with json_only(stdout):
        stats = RequestStats()
        ledger = RecordBatch(stats)
        answered(ledger, "req-1", status=201)
        assert counted(stats) == {"201": 1}
        assert len(ledger) == 0
        assert stdout.lines()[0]["status"] == "201"


async def test_a_call_that_broke_before_answering_counts_as_500(stdout: Stdout) -> None:
    with json_only(stdout):
        stats = RequestStats()
        ledger = RecordBatch(stats)
        served = RequestRecord("req-1", SCOPE, TEMPLATE, ledger)
        served.finish()
        served.finish()  # once only
        ledger.flush()
        assert counted(stats) == {"500": 1}
        assert [line["status"] for line in stdout.lines()] == ["500"]
