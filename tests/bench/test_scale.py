"""The scale part's pure pieces, without load: rows built for COPY, the Zipf table, the figures per
window, the comparisons and the verdicts, the settings."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench import bulk, results, scale, scale_proxy, zipf
from bench.settings import BenchSettings
from gateway.exceptions import CredentialsUnreadable
from gateway.kit.crypto import KeyRing, generate_key_entry
from gateway.models import Connection
from gateway.tokens import grant

NOW = datetime(2026, 12, 6, 12, tzinfo=UTC)


def test_each_rows_tokens_are_sealed_for_that_row_alone() -> None:
    keys = KeyRing.parse(generate_key_entry("k1"))
    built = bulk.rows(
        keys, [("a1", "r1"), ("a2", "r2")], first=7, subject="s", now=NOW, client_id=None
    )
    columns = {name: n for n, name in enumerate(bulk.COLUMNS)}

    opened = []
    for row in built:
        connection = Connection(id=row[columns["id"]], access_token=row[columns["access_token"]])
        connection.refresh_token = row[columns["refresh_token"]]
        opened.append((row[columns["user_id"]], grant.access_token(keys, connection)))
        assert grant.refresh_token(keys, connection) == "r" + opened[-1][1][1:]
    assert opened == [("bench-user-7", "a1"), ("bench-user-8", "a2")]
    moved = Connection(id=built[1][0], access_token=built[0][columns["access_token"]])
    with pytest.raises(CredentialsUnreadable):
        grant.access_token(keys, moved)


def test_rows_are_active_and_not_due_while_the_benchmark_runs() -> None:
    keys = KeyRing.parse(generate_key_entry("k1"))
    client = uuid.uuid4()
    built = bulk.rows(
        keys, [("a", "r")] * 3, first=bulk.SPREAD - 1, subject="s", now=NOW, client_id=client
    )
    row = dict(zip(bulk.COLUMNS, built[0], strict=True))
    assert (row["status"], row["token_version"], row["created_by_client_id"]) == (
        "active",
        1,
        client,
    )
    for values in built:
        found = dict(zip(bulk.COLUMNS, values, strict=True))
        assert found["next_refresh_at"] >= NOW + (found["expires_at"] - NOW) / 2
        assert found["expires_at"] - found["next_refresh_at"] == timedelta(seconds=bulk.MARGIN)
    assert len({dict(zip(bulk.COLUMNS, v, strict=True))["id"] for v in built}) == 3


def test_chunks_cover_every_user_once() -> None:
    assert list(bulk.chunks(5, size=2)) == [(1, 2), (3, 2), (5, 1)]
    assert sum(size for _, size in bulk.chunks(1_000_000)) == 1_000_000


def test_the_zipf_table_rises_to_one_and_the_first_users_call_most() -> None:
    table = zipf.cdf(1000)
    assert table == sorted(table) and table[-1] == pytest.approx(1.0)
    assert (zipf.pick(table, 0.0), zipf.pick(table, 0.999_999_999)) == (1, 1000)
    assert zipf.pick(table, table[0]) == 2  # a draw equal to a user's share is the next user's
    counts = Counter(zipf.draws(table, 200_000))
    assert counts[1] > counts[2] > counts[10] > counts[100]
    assert counts[1] / counts[2] == pytest.approx(2**zipf.EXPONENT, rel=0.05)
    assert zipf.share_of_top(table, 1000) == pytest.approx(1.0)


def test_database_reads_are_rated_per_window_from_cumulative_samples() -> None:
    samples = [(0.0, 100, 1000), (1.0, 150, 1500), (2.0, 250, 1600), (3.0, 260, 1700)]
    assert scale_proxy.per_window(samples, [0.0, 2.0], [2.0, 3.0]) == [
        {"db_transactions_per_s": 75.0, "db_rows_per_s": 300.0},
        {"db_transactions_per_s": 10.0, "db_rows_per_s": 100.0},
    ]


def test_warm_is_the_first_window_near_the_warm_throughput() -> None:
    windows = [{"ended_s": 3.0, "rps": 100.0}, {"ended_s": 6.0, "rps": 950.0}]
    assert scale_proxy.warm_after(windows, 1000.0) == 6.0
    assert scale_proxy.warm_after(windows, 2000.0) is None
    assert scale.sizes(1_000_000) == [10_000, 1_000_000]
    assert scale.sizes(10_000) == [10_000]


def size(connections: int, **figures: float) -> dict[str, Any]:
    due_query, cycle, rate, rps, rss, worst = (
        figures.get(name, 1.0) for name in ("due", "cycle", "rate", "rps", "rss", "worst")
    )
    return {
        "connections": connections,
        "database": {"bytes_per_connection": 1000.0},
        "refresher": {"due_query_ms": due_query, "cycle_ms_median": cycle, "refreshes_per_s": rate},
        "proxy": {
            "cache_max_bytes": 64 * 2**20,
            "zipf_rps": rps,
            "uniform_users": 5000,
            "zipf_over_uniform": figures.get("zipf", 0.9),
            "rss_mib": rss,
            "warm_after_s": 6.0,
            "cold_windows": [
                {
                    "db_transactions_per_request": worst,
                    "db_rows_per_s": rows * figures.get("reads", 1.0),
                    "db_transactions_per_s": 100.0 * figures.get("reads", 1.0),
                }
                for rows in (figures.get("burst", 1000.0), 1000.0, 1200.0)
            ],
        },
    }


def test_the_scale_goals_compare_the_large_size_with_the_small_one() -> None:
    small = size(10_000, due=2.0, cycle=100.0, rate=200.0, rss=150.0, worst=0.5)
    large = size(
        1_000_000, due=2.4, cycle=130.0, rate=160.0, rss=220.0, worst=0.3, zipf=0.7, burst=5000.0
    )
    document: dict[str, Any] = {"connections": 1_000_000, "due": 2000, "sizes": [small, large]}
    document["large_over_small"] = scale.compare(small, large)

    verdict = results.scale_goals(document)

    assert document["large_over_small"]["due_query_ms"] == 1.2
    assert {name: goal["met"] for name, goal in verdict.items()} == {
        "scale_due_query": True,
        "scale_cycle": False,  # 1.3 x
        "scale_refresher": True,  # 0.8 x
        "scale_memory": False,  # 70 MiB more than at 10,000, over the 64 MiB bound
        "scale_zipf": False,
        "scale_cold_rows": False,  # a peak of 50 rows a read against 12 at 10,000
        "scale_cold_start": True,
    }
    assert "1,000,000" in results.render({"scale": document, "goals": verdict})


def test_more_reads_of_the_same_size_are_no_read_that_grows_with_the_connections() -> None:
    # A million users miss the caches more often than 10,000 (the Zipf goal's business): four
    # times the reads, each reading what it read at 10,000.
    small = size(10_000, burst=1200.0)
    large = size(1_000_000, burst=1200.0, reads=4.0)
    document: dict[str, Any] = {"connections": 1_000_000, "due": 2000, "sizes": [small, large]}
    document["large_over_small"] = scale.compare(small, large)

    verdict = results.scale_goals(document)

    assert document["large_over_small"]["cold_peak_rows_per_s"] == 4.0
    assert verdict["scale_cold_rows"]["met"]


def test_a_run_of_other_parts_keeps_the_last_scale_figures(tmp_path: Path) -> None:
    results.write({"started_at": "then", "scale": {"connections": 9}}, tmp_path)
    document: dict[str, Any] = {"started_at": "now"}

    results.carry_over(document, results.load(tmp_path), ["refresher"])

    assert document["scale"] == {"connections": 9}
    assert document["measured_at"] == {"scale": "then", "refresher": "now"}


def test_the_scale_part_runs_when_named_with_a_million_connections_by_default() -> None:
    assert "scale" not in BenchSettings.from_env({}).parts
    settings = BenchSettings.from_env({"BENCH_PARTS": "scale"})
    assert (settings.parts, settings.scale_connections) == (("scale",), 1_000_000)
    # Sized for a million users, not the shipped defaults.
    assert (settings.scale_cache_bytes, settings.scale_cache_ttl) == (256 * 2**20, 3600.0)
    assert BenchSettings.from_env({"BENCH_SCALE_CONNECTIONS": "100000"}).scale_connections == (
        100_000
    )


def test_the_due_query_is_the_median_of_the_rounds_and_the_drain_the_fastest() -> None:
    def case(drain: float, query: float) -> dict[str, Any]:
        return {"drain_s": drain, "cycle_ms_median": drain * 100, "due_query_ms": query}

    found = scale.fastest([case(2.0, 0.4), case(1.5, 2.0), case(1.8, 0.5)])
    assert (found["drain_s"], found["due_query_ms"]) == (1.5, 0.5)
    assert [r["due_query_ms"] for r in found["repeats"]] == [0.4, 2.0, 0.5]
