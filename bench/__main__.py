"""``python -m bench`` (``make bench``): install wrk and nginx if missing, make a database, run the
parts named in ``BENCH_PARTS`` (proxy, soak, refresher with its catch-up after an outage by
default; scale when named), write ``bench/results/latest.json`` and ``latest.png``, and print the
figures and the goals' verdicts."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from bench import catchup, database, machine, plot, proxy, refresher, results, scale, seed, targets
from bench.settings import BenchSettings, BenchSettingsError
from gateway.kit.crypto import generate_key_entry


def run_proxy(
    settings: BenchSettings,
    tools: dict[str, str],
    plan: machine.CpuPlan,
    url: URL,
    work: Path,
    document: dict[str, Any],
) -> None:
    encryption_key = generate_key_entry("bench1")
    print(f"seeding {settings.connections:,} connections ...", flush=True)
    key = asyncio.run(seed.proxy_users(url, encryption_key, settings.connections))
    env = {"BENCH_KEY": key, "BENCH_USERS": str(settings.connections)}
    # This process drains the servers' output: on the load generator's core, like wrk.
    with machine.pinned_to(plan.load):
        started = targets.start_all(tools, plan, work, url, encryption_key)
        try:
            gateway = started.services["gateway"]
            if "proxy" in settings.parts:
                print(
                    f"measuring: {settings.rounds} rounds x {len(settings.concurrency)} "
                    f"concurrencies x {len(targets.TARGETS)} targets, {settings.duration:g}s each",
                    flush=True,
                )
                samples = proxy.matrix(tools["wrk"], started, settings, plan, env)
                document["runs"] = results.summarise(samples)
                document["ratios"] = results.ratios(document["runs"])
            if "soak" in settings.parts:
                print(f"soak: {settings.soak_seconds:g}s against the gateway ...", flush=True)
                document["soak"] = proxy.soak(tools["wrk"], started, settings, plan, env)
            document["gateway_log"] = {
                "lines": gateway.drain.lines,
                "bytes": gateway.drain.bytes,
                "last": list(gateway.drain.tail)[-3:],
            }
        finally:
            started.stop()


def main() -> int:
    try:
        settings = BenchSettings.from_env()
    except BenchSettingsError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    tools = machine.ensure_tools()
    plan = machine.cpu_plan()
    server_url, server_description = database.server()
    document: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine.describe(plan, tools),
        "settings": {
            "duration_s": settings.duration,
            "warmup_s": settings.warmup,
            "rounds": settings.rounds,
            "concurrency": list(settings.concurrency),
            "connections": settings.connections,
            "soak_seconds": settings.soak_seconds,
            "refresh_connections": settings.refresh_connections,
            "scale_connections": settings.scale_connections,
            "scale_due": settings.scale_due,
            "scale_cache_bytes": settings.scale_cache_bytes,
            "scale_cache_ttl_s": settings.scale_cache_ttl,
            "catchup_connections": settings.catchup_connections,
            "catchup_outage_s": settings.catchup_outage,
            "parts": list(settings.parts),
            "load_generator": "wrk -t1, one Lua-prepared request per user, rotating; before "
            "each point the same target gets warmup_s of uncounted load at concurrency 32",
            "server": targets.SERVER,
            "database": server_description,
            "gateway": targets.observability(),
        },
        "load_average_start": machine.load_average(),
    }
    began = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="gw-bench-") as scratch,
        database.bench_database(server_url) as url,
    ):
        work = Path(scratch)
        if {"proxy", "soak"} & set(settings.parts):
            run_proxy(settings, tools, plan, url, work, document)
        if "refresher" in settings.parts:
            print(
                f"refresher: {settings.refresh_connections:,} connections due at once ...",
                flush=True,
            )
            document["refresher"] = refresher.run(tools, plan, settings, url, work)
            print(
                f"catch-up: {settings.catchup_connections:,} connections due during a "
                f"{settings.catchup_outage:g}s outage ...",
                flush=True,
            )
            document["refresher"]["catchup"] = catchup.run(plan, settings, url, work)
        if "scale" in settings.parts:
            print(
                f"scale: {scale.COMPARISON:,} and {settings.scale_connections:,} connections ...",
                flush=True,
            )
            document["scale"] = scale.run(tools, plan, settings, url, work)
    results.carry_over(document, results.load(settings.out_dir), settings.parts)
    document["load_average_end"] = machine.load_average()
    document["elapsed_s"] = round(time.monotonic() - began, 1)
    document["goals"] = results.goals(
        document.get("ratios", []),
        document.get("soak"),
        document.get("refresher"),
        document.get("scale"),
    )
    path = results.write(document, settings.out_dir)
    if document.get("runs"):
        plot.plot(document, settings.out_dir / "latest.png")
    print()
    print(results.render(document))
    print(f"\nwritten: {path}" + (" and latest.png" if document.get("runs") else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
