"""The benchmark's bookkeeping, without load: medians, ratios, verdicts, wrk's output, the JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import results, wrk
from bench.results import Sample
from bench.settings import BenchSettings


def sample(target: str, concurrency: int, round_number: int, rps: float, p50: float) -> Sample:
    return Sample(target, concurrency, round_number, rps, p50, p50 * 4, 1000, 0)


def test_each_run_is_the_median_of_its_rounds() -> None:
    runs = results.summarise(
        [sample("gateway", 1, n, rps, p50) for n, (rps, p50) in enumerate([(9, 3), (1, 1), (5, 2)])]
    )

    assert [(r["target"], r["rps"], r["p50_ms"], r["p99_ms"]) for r in runs] == [
        ("gateway", 5, 2, 8)
    ]
    assert [r["round"] for r in runs[0]["rounds"]] == [0, 1, 2]


def test_ratios_and_goals_compare_the_gateway_with_its_ceilings() -> None:
    runs = results.summarise(
        [
            sample("direct", 1, 1, 10_000, 0.1),
            sample("nginx", 1, 1, 8_000, 0.2),
            sample("passthrough", 1, 1, 3_000, 0.3),
            sample("gateway", 1, 1, 2_700, 0.45),
            sample("passthrough", 32, 1, 6_000, 5.0),
            sample("gateway", 32, 1, 3_000, 10.0),
        ]
    )
    rows = results.ratios(runs)
    soak = {"memory": results.memory([(0, 100.0), (150, 101.0), (300, 102.0)])}

    verdict = results.goals(rows, soak)

    assert rows[0]["gateway_over_passthrough"] == 0.9
    assert rows[0]["gateway_over_nginx"] == 0.338
    assert rows[0]["added_p50_ms"] == 0.35
    assert rows[1]["added_p50_ms"] is None  # no direct run at 32
    assert verdict["throughput"]["met"] is False  # 0.5 at concurrency 32
    assert verdict["latency"]["met"] is True
    assert verdict["memory"] == {
        "goal": "RSS growth across the soak <= 5%",
        "growth": 0.02,
        "met": True,
    }
    assert "gateway" in results.render({"runs": runs, "ratios": rows, "goals": verdict})


def test_wrk_output_is_read_from_the_scripts_result_line() -> None:
    output = (
        "Running 1s test\n"
        'BENCH_RESULT {"requests": 1000, "duration_us": 2000000, "bytes": 1, "errors": '
        '{"connect": 0, "read": 0, "write": 0, "status": 10, "timeout": 0}, "p50_us": 250, '
        '"p90_us": 400, "p99_us": 1500, "mean_us": 300.0, "max_us": 9000}\n'
    )

    measured = wrk.parse(output)

    assert measured.rps == 495
    assert (measured.p50_ms, measured.p99_ms, measured.failed) == (0.25, 1.5, 10)


def test_a_partial_run_keeps_the_other_parts_from_the_last_results(tmp_path: Path) -> None:
    earlier: dict[str, Any] = {
        "started_at": "then",
        "runs": [1],
        "ratios": [2],
        "refresher": {"n": 1},
    }
    results.write(earlier, tmp_path)
    document: dict[str, Any] = {"started_at": "now", "refresher": {"n": 2}}

    results.carry_over(document, results.load(tmp_path), ["refresher"])

    assert document["runs"] == [1] and document["refresher"] == {"n": 2}
    assert document["measured_at"] == {"proxy": "then", "refresher": "now"}


def test_settings_come_from_bench_variables() -> None:
    settings = BenchSettings.from_env({"BENCH_DURATION": "2", "BENCH_PARTS": "proxy"})

    assert (settings.duration, settings.rounds, settings.parts) == (2.0, 3, ("proxy",))
    assert settings.concurrency == (1, 8, 32, 128)


def test_the_servers_cpu_per_call_is_summarised_and_compared() -> None:
    runs = results.summarise(
        [
            Sample("passthrough", 8, 1, 7_000, 1.0, 2.0, 70_000, 0, cpu_us=130.0),
            Sample("passthrough", 8, 2, 7_200, 1.0, 2.0, 72_000, 0, cpu_us=140.0),
            Sample("passthrough", 8, 3, 7_100, 1.0, 2.0, 71_000, 0, cpu_us=136.0),
            Sample("gateway", 8, 1, 6_000, 1.2, 2.4, 60_000, 0, cpu_us=160.0),
            Sample("gateway", 8, 2, 6_100, 1.2, 2.4, 61_000, 0, cpu_us=170.0),
            Sample("gateway", 8, 3, 6_050, 1.2, 2.4, 60_500, 0),  # not measured: left out
            Sample("direct", 8, 1, 90_000, 0.1, 0.2, 900_000, 0),
        ]
    )

    by_target = {run["target"]: run for run in runs}
    assert by_target["passthrough"]["cpu_us"] == 136.0
    assert by_target["gateway"]["cpu_us"] == 165.0
    assert by_target["direct"]["cpu_us"] is None
    (row,) = results.ratios(runs)
    assert row["passthrough_cpu_over_gateway_cpu"] == round(136 / 165, 3)
    assert "0.82" in results.render({"runs": runs, "ratios": [row]})
