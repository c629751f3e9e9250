"""From measured points to ``latest.json``: medians per target and concurrency, the ratios the goals
are stated in, and the verdict on each goal. Pure functions, so a test can check them without load."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

TARGET_ORDER = ("direct", "nginx", "passthrough", "gateway", "gateway_cached", "gateway_2w")
THROUGHPUT_GOAL = 0.8  # gateway rps / passthrough rps, at every concurrency
ADDED_P50_GOAL_MS = 0.5  # gateway p50 - direct p50, at concurrency 1
MEMORY_GROWTH_GOAL = 0.05  # RSS growth across the soak that still counts as flat
REFRESHER_RATIO_GOAL = 0.5  # refreshes/s over the token endpoint's capacity alone
REFRESHER_STATEMENTS_GOAL = 2  # database statements per refreshed connection
SCALE_COST_GOAL = 1.25  # a figure among a million connections over the same among 10,000
SCALE_ZIPF_GOAL = 0.8  # the Zipf mix's throughput over a million users / over 5,000 users
SCALE_COLD_READS_GOAL = 1.0  # database transactions per request, in every window of a cold start
SCALE_COLD_BURST_GOAL = (
    3.0  # rows read per second in a cold start's window over the windows' median
)


@dataclass(frozen=True)
class Sample:
    """One wrk run: a target at a concurrency in one round."""

    target: str
    concurrency: int
    round: int
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    failed: int
    # The server's processor time per answered request (user and system, from /proc; wrk's
    # own time is not in it): what the throughput ratio estimates when the server's core is
    # saturated, and less at the mercy of the machine's pace from one point to the next.
    cpu_us: float | None = None


def summarise(samples: Iterable[Sample]) -> list[dict[str, Any]]:
    """One run per target and concurrency: the median of its rounds (each figure on its own)."""
    grouped: dict[tuple[str, int], list[Sample]] = {}
    for sample in samples:
        grouped.setdefault((sample.target, sample.concurrency), []).append(sample)
    order = {target: n for n, target in enumerate(TARGET_ORDER)}
    runs = []
    for (target, concurrency), group in sorted(
        grouped.items(), key=lambda item: (order.get(item[0][0], 99), item[0][1])
    ):
        runs.append(
            {
                "target": target,
                "concurrency": concurrency,
                "rps": round(statistics.median(s.rps for s in group), 1),
                "p50_ms": round(statistics.median(s.p50_ms for s in group), 3),
                "p99_ms": round(statistics.median(s.p99_ms for s in group), 3),
                "cpu_us": _median([s.cpu_us for s in group if s.cpu_us is not None]),
                "failed": sum(s.failed for s in group),
                "rounds": [
                    {k: v for k, v in asdict(s).items() if k not in ("target", "concurrency")}
                    for s in sorted(group, key=lambda s: s.round)
                ],
            }
        )
    return runs


def _median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


def _find(runs: Sequence[dict[str, Any]], target: str, concurrency: int) -> dict[str, Any] | None:
    return next(
        (r for r in runs if r["target"] == target and r["concurrency"] == concurrency), None
    )


def ratios(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per concurrency: gateway/passthrough and gateway/nginx throughput, latency added over direct."""
    found = []
    for concurrency in sorted({r["concurrency"] for r in runs}):
        gateway = _find(runs, "gateway", concurrency)
        if gateway is None:
            continue
        row: dict[str, Any] = {"concurrency": concurrency}
        for other in ("passthrough", "nginx"):
            base = _find(runs, other, concurrency)
            row[f"gateway_over_{other}"] = (
                round(gateway["rps"] / base["rps"], 3) if base and base["rps"] else None
            )
        cached = _find(runs, "gateway_cached", concurrency)
        base = _find(runs, "passthrough", concurrency)
        if cached is not None and base is not None and base["rps"]:
            row["gateway_cached_over_passthrough"] = round(cached["rps"] / base["rps"], 3)
        # `serve --workers 2` against one process (not a goal: the servers' cores decide it).
        two = _find(runs, "gateway_2w", concurrency)
        if two is not None and gateway["rps"]:
            row["gateway_2w_over_gateway"] = round(two["rps"] / gateway["rps"], 3)
        # The same comparison by processor time per call: the pass-through's over the gateway's.
        if base is not None and base.get("cpu_us") and gateway.get("cpu_us"):
            row["passthrough_cpu_over_gateway_cpu"] = round(base["cpu_us"] / gateway["cpu_us"], 3)
        direct = _find(runs, "direct", concurrency)
        for figure in ("p50_ms", "p99_ms"):
            row[f"added_{figure}"] = (
                round(gateway[figure] - direct[figure], 3) if direct is not None else None
            )
        found.append(row)
    return found


def memory(samples: Sequence[tuple[float, float]]) -> dict[str, Any]:
    """The gateway's RSS across the soak, from ``(seconds, MiB)`` samples."""
    start, end = samples[0][1], samples[-1][1]
    return {
        "rss_start_mib": round(start, 1),
        "rss_end_mib": round(end, 1),
        "rss_max_mib": round(max(mib for _, mib in samples), 1),
        "growth": round((end - start) / start, 4),
        "samples": [[round(t, 1), round(mib, 1)] for t, mib in samples],
    }


def goals(
    rows: Sequence[dict[str, Any]],
    soak: dict[str, Any] | None,
    refresher: dict[str, Any] | None = None,
    scale: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Each goal with the figure it is judged on and whether it is met."""
    verdict: dict[str, Any] = {}
    if scale is not None:
        verdict.update(scale_goals(scale))
    throughput = [(r["concurrency"], r["gateway_over_passthrough"]) for r in rows]
    if throughput and all(ratio is not None for _, ratio in throughput):
        verdict["throughput"] = {
            "goal": f"gateway rps >= {THROUGHPUT_GOAL} x passthrough at every concurrency",
            "ratios": dict(throughput),
            "met": all(ratio >= THROUGHPUT_GOAL for _, ratio in throughput),
        }
    first = next((r for r in rows if r["concurrency"] == 1), None)
    if first is not None and first["added_p50_ms"] is not None:
        verdict["latency"] = {
            "goal": f"added p50 over direct < {ADDED_P50_GOAL_MS} ms at concurrency 1",
            "added_p50_ms": first["added_p50_ms"],
            "met": first["added_p50_ms"] < ADDED_P50_GOAL_MS,
        }
    if soak is not None:
        verdict["memory"] = {
            "goal": f"RSS growth across the soak <= {MEMORY_GROWTH_GOAL:.0%}",
            "growth": soak["memory"]["growth"],
            "met": soak["memory"]["growth"] <= MEMORY_GROWTH_GOAL,
        }
    if refresher is not None and refresher.get("ratio_to_endpoint") is not None:
        verdict["refresher_throughput"] = {
            "goal": f"refreshes/s >= {REFRESHER_RATIO_GOAL} x the token endpoint's capacity",
            "ratio_to_endpoint": refresher["ratio_to_endpoint"],
            "met": refresher["ratio_to_endpoint"] >= REFRESHER_RATIO_GOAL,
        }
    if refresher is not None and refresher.get("statements_per_refresh") is not None:
        verdict["refresher_statements"] = {
            "goal": f"<= {REFRESHER_STATEMENTS_GOAL} database statements per refreshed connection",
            "statements_per_refresh": refresher["statements_per_refresh"],
            "met": refresher["statements_per_refresh"] <= REFRESHER_STATEMENTS_GOAL,
        }
    catchup = (refresher or {}).get("catchup")
    if catchup is not None:
        verdict["refresher_catchup"] = {
            "goal": "after an outage, the backlog refreshed with no token expired before its "
            "turn (the budget allowing)",
            "expired_before_turn": catchup["expired_before_turn"],
            "met": catchup["expired_before_turn"] == 0 and catchup["not_refreshed"] == 0,
        }
    return verdict


def scale_goals(scale: dict[str, Any]) -> dict[str, Any]:
    """The scale part's goals, judged at its largest size against the 10,000 comparison."""
    verdict: dict[str, Any] = {}
    large = scale["sizes"][-1]
    compared = scale.get("large_over_small")
    if compared is not None:
        small = scale["sizes"][0]
        for name, figure, what in (
            ("scale_due_query", "due_query_ms", "the due query's time"),
            ("scale_cycle", "cycle_ms", "a refresh cycle's time"),
        ):
            verdict[name] = {
                "goal": f"{what} at {large['connections']:,} <= {SCALE_COST_GOAL} x at "
                f"{small['connections']:,} connections",
                "ratio": compared[figure],
                "met": compared[figure] is not None and compared[figure] <= SCALE_COST_GOAL,
            }
        rate = compared["refreshes_per_s"]
        verdict["scale_refresher"] = {
            "goal": f"refreshes/s at {large['connections']:,} >= {2 - SCALE_COST_GOAL:g} x at "
            f"{small['connections']:,} connections",
            "ratio": rate,
            "met": rate is not None and rate >= 2 - SCALE_COST_GOAL,
        }
        peak = compared.get("cold_peak_rows_per_transaction")
        verdict["scale_cold_rows"] = {
            "goal": f"a cold gateway's peak rows read per database transaction at "
            f"{large['connections']:,} <= {SCALE_COST_GOAL} x at {small['connections']:,} "
            "connections (no read that grows with them)",
            "ratio": peak,
            "rows_per_s_ratio": compared.get("cold_peak_rows_per_s"),
            "met": peak is not None and peak <= SCALE_COST_GOAL,
        }
        bound_mib = large["proxy"]["cache_max_bytes"] / 2**20
        growth = large["proxy"]["rss_mib"] - small["proxy"]["rss_mib"]
        verdict["scale_memory"] = {
            "goal": f"the gateway's RSS at {large['connections']:,} users <= its RSS at "
            f"{small['connections']:,} + the cache bound ({bound_mib:g} MiB)",
            "growth_mib": round(growth, 1),
            "met": growth <= bound_mib,
        }
    proxied = large["proxy"]
    verdict["scale_zipf"] = {
        "goal": f"the proxy over a Zipf mix of {large['connections']:,} users >= "
        f"{SCALE_ZIPF_GOAL} x over {proxied['uniform_users']:,} users",
        "ratio": proxied["zipf_over_uniform"],
        "by_cpu": proxied.get("uniform_cpu_over_zipf_cpu"),
        "met": (proxied["zipf_over_uniform"] or 0) >= SCALE_ZIPF_GOAL,
    }
    reads = [w["db_transactions_per_request"] for w in proxied["cold_windows"]]
    worst = max((r for r in reads if r is not None), default=None)
    verdict["scale_cold_start"] = {
        "goal": f"a cold gateway under the Zipf mix: <= {SCALE_COLD_READS_GOAL:g} database "
        "transaction per request in every window (no burst beyond its misses)",
        "worst": worst,
        "warm_after_s": proxied["warm_after_s"],
        "met": worst is not None and worst <= SCALE_COLD_READS_GOAL,
    }
    return verdict


def render_scale(scale: dict[str, Any]) -> list[str]:
    lines = ["", f"scale ({scale['due']:,} due at each size):"]
    for size in scale["sizes"]:
        db, refreshed, proxied = size["database"], size["refresher"], size["proxy"]
        lines.append(
            f"  {size['connections']:>9,}: {db['bytes_per_connection']:,.0f} B a connection, "
            f"due query {refreshed['due_query_ms']:.2f} ms, cycle {refreshed['cycle_ms_median']:.0f}"
            f" ms, {refreshed['refreshes_per_s']} refreshes/s; zipf {proxied['zipf_rps']:,.0f} "
            f"req/s ({proxied['zipf_over_uniform']} x {proxied['uniform_users']:,} users, "
            f"{proxied.get('uniform_cpu_over_zipf_cpu', '-')} by CPU), "
            f"warm after {proxied['warm_after_s']} s, RSS {proxied['rss_mib']} MiB"
        )
    return lines


def render(document: dict[str, Any]) -> str:
    """The figures for a person at a terminal."""
    lines = []
    runs = document.get("runs", [])
    if runs:
        lines.append(
            f"{'target':<15}{'conc':>6}{'req/s':>11}{'p50 ms':>10}{'p99 ms':>10}{'CPU us':>9}"
        )
        for run in runs:
            cpu = run.get("cpu_us")
            lines.append(
                f"{run['target']:<15}{run['concurrency']:>6}{run['rps']:>11,.0f}"
                f"{run['p50_ms']:>10.3f}{run['p99_ms']:>10.3f}"
                + (f"{cpu:>9.1f}" if cpu is not None else f"{'-':>9}")
                + (f"  ({run['failed']} failed)" if run["failed"] else "")
            )
    rows = document.get("ratios", [])
    if rows:
        lines.append("")
        lines.append(
            f"{'conc':>6}{'gw/passthrough':>16}{'by CPU':>8}{'gw/nginx':>10}{'+p50 ms':>10}"
            f"{'+p99 ms':>10}{'2w/1w':>8}"
        )
        for row in rows:
            lines.append(
                f"{row['concurrency']:>6}{_ratio(row['gateway_over_passthrough']):>16}"
                f"{_ratio(row.get('passthrough_cpu_over_gateway_cpu')):>8}"
                f"{_ratio(row['gateway_over_nginx']):>10}"
                f"{_ms(row['added_p50_ms']):>10}{_ms(row['added_p99_ms']):>10}"
                f"{_ratio(row.get('gateway_2w_over_gateway')):>8}"
            )
    soak = document.get("soak")
    if soak:
        mem = soak["memory"]
        lines.append("")
        lines.append(
            f"soak {soak['seconds']:.0f}s at concurrency {soak['concurrency']}: "
            f"{soak['rps']:,.0f} req/s; gateway RSS {mem['rss_start_mib']} -> "
            f"{mem['rss_end_mib']} MiB (max {mem['rss_max_mib']}, {mem['growth']:+.1%})"
        )
    refresher = document.get("refresher")
    if refresher:
        lines.append("")
        lines.append(
            f"refresher: {refresher['refreshed']:,} of {refresher['connections']:,} due at once "
            f"in {refresher['seconds']:.1f}s = {refresher['refreshes_per_s']:,.0f} refreshes/s; "
            f"sandbox token endpoint alone: {refresher['token_endpoint_rps']:,.0f} req/s"
        )
        if refresher.get("statements_per_refresh") is not None:
            lines.append(
                f"  {refresher['ratio_to_endpoint']:.2f} x the endpoint's capacity; "
                f"{refresher['statements_per_refresh']:.2f} database statements and "
                f"{refresher['transactions_per_refresh']:.2f} transactions per refreshed connection"
            )
        for case in refresher.get("due_set", []):
            lines.append(
                f"  {case['due']:,} due among {case['total']:,}: drained in "
                f"{case['drain_s']:.2f}s, {case['cycle_ms_median']:.1f} ms a cycle of "
                f"{case['batch']}, due query {case['due_query_ms']:.3f} ms"
            )
        catchup = refresher.get("catchup")
        if catchup:
            lines.append(
                f"  catch-up after a {catchup['outage_s']:.0f}s outage: {catchup['refreshed']:,} "
                f"of {catchup['backlog']:,} refreshed {catchup['catchup_s']:.1f}s after the "
                f"endpoint came back (the first after {catchup['first_refresh_after_s']:.1f}s), "
                f"{catchup['expired_before_turn']} expired before their turn, at most "
                f"{catchup['overtaken_max']} overtaken; budget {catchup['budget']}"
            )
    if document.get("scale"):
        lines += render_scale(document["scale"])
    verdict = document.get("goals", {})
    if verdict:
        lines.append("")
        for name, goal in verdict.items():
            lines.append(f"{'MET   ' if goal['met'] else 'MISSED'} {name}: {goal['goal']}")
    return "\n".join(lines)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}"


# What each part of a run writes; a run of some parts keeps the others from the previous results.
PART_KEYS = {
    "proxy": ("runs", "ratios", "gateway_log"),
    "soak": ("soak",),
    "refresher": ("refresher",),
    "scale": ("scale",),
}


def carry_over(document: dict[str, Any], previous: dict[str, Any], parts: Sequence[str]) -> None:
    """Keep the figures of the parts not run this time, saying when they were measured."""
    kept = {}
    for part, keys in PART_KEYS.items():
        if part in parts or keys[0] not in previous:
            continue
        for key in keys:
            if key in previous and key not in document:
                document[key] = previous[key]
        kept[part] = previous.get("measured_at", {}).get(part, previous.get("started_at"))
    measured = {part: document["started_at"] for part in parts}
    document["measured_at"] = {**kept, **measured}


def load(out_dir: Path) -> dict[str, Any]:
    path = out_dir / "latest.json"
    try:
        found: dict[str, Any] = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return found


def write(document: dict[str, Any], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "latest.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path
