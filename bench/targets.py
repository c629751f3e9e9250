"""The four targets of the proxy benchmark, each on its own port, all pinned to the servers' core."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL

from bench import nginx
from bench.machine import CpuPlan
from bench.processes import Service, free_port, start
from gateway.kit.db import sync_url

TARGETS = ("direct", "nginx", "passthrough", "gateway", "gateway_cached", "gateway_2w")
# The same gateway with caches that never expire within the run: its hit path alone, apart from
# the entries the shipped TTL rebuilds with thousands of users (not a goal; for the diagnosis).
CACHED_TTL_SECONDS = "3600"
# The gateway as "gateway", but `serve --workers 2`: both processes on the servers' cores (not a
# goal; how throughput scales with processes where the servers have cores for them).
TWO_WORKERS = ("--workers=2",)
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[1]  # the checkout, so uvicorn finds bench.passthrough
# Inherited variables that would change what is measured: the gateway's own settings and
# OpenTelemetry's (tracing as shipped is off until an exporter is configured).
DROPPED_PREFIXES = ("GATEWAY_", "OTEL_")
# uvicorn as `gateway serve` runs it: loop and http "auto" pick uvloop and httptools when installed.
SERVER = {"server": "uvicorn", "loop": "uvloop", "http": "httptools", "workers": 1}


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(DROPPED_PREFIXES)}
    return {**env, **extra}


def gateway_env(database: URL, upstream: str, encryption_key: str, port: int) -> dict[str, str]:
    """The gateway as shipped, pointed at the bench upstream; logging, metrics and tracing left at
    their defaults (see ``observability``)."""
    return clean_env(
        GATEWAY_DATABASE_URL=sync_url(database),
        GATEWAY_ENCRYPTION_KEYS=encryption_key,
        GATEWAY_CONTIO_CLIENT_ID="sandbox-client",
        GATEWAY_CONTIO_CLIENT_SECRET="sandbox-secret",
        GATEWAY_CONTIO_API_URL=upstream,
        GATEWAY_CONTIO_AUTH_URL=upstream,
        GATEWAY_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )


def observability() -> dict[str, Any]:
    """What the gateway logs, counts and traces in this run: its shipped defaults."""
    from gateway.settings import Settings

    defaults = Settings()
    return {
        "log_format": defaults.log_format,
        "log_level": defaults.log_level,
        "access_log": "one JSON line per request (gateway.access), stdout drained through a pipe",
        "metrics": "Prometheus counter and latency histogram per request (always on)",
        "tracing": "off: no OTEL_EXPORTER_OTLP_ENDPOINT, as shipped (spans are no-ops)",
        "proxy_cache_ttl_seconds": defaults.proxy_cache_ttl_seconds,
        "refresher": "in the serving process (`gateway serve` default)",
    }


@dataclass
class Targets:
    services: dict[str, Service]
    upstream: Service

    def url(self, target: str) -> str:
        return self.services[target].url

    def stop(self) -> None:
        for service in [*self.services.values(), self.upstream]:
            service.stop()


def start_gateway(
    name: str,
    plan: CpuPlan,
    database: URL,
    upstream: str,
    encryption_key: str,
    options: tuple[str, ...] = (),
    **extra: str,
) -> Service:
    """``gateway serve`` on a port of its own, on the servers' core, with ``options`` and ``extra``
    settings."""
    port = free_port()
    return start(
        name,
        plan.pinned([str(BIN / "gateway"), "serve", f"--port={port}", *options], "servers"),
        url=f"http://127.0.0.1:{port}",
        ready_path="/healthz",
        env={**gateway_env(database, upstream, encryption_key, port), **extra},
    )


def start_all(
    tools: dict[str, str], plan: CpuPlan, work: Path, database: URL, encryption_key: str
) -> Targets:
    started: list[Service] = []
    try:
        upstream_port = free_port()
        upstream = nginx.start_upstream(
            tools["nginx"], "upstream", upstream_port, work, plan, "load"
        )
        started.append(upstream)
        upstream_url = f"http://127.0.0.1:{upstream_port}"
        # "direct" is the same upstream, a copy on the servers' core like every target under test.
        direct = nginx.start_upstream(tools["nginx"], "direct", free_port(), work, plan, "servers")
        started.append(direct)
        proxy = nginx.start_proxy(tools["nginx"], free_port(), upstream_port, work, plan)
        started.append(proxy)
        port = free_port()
        passthrough = start(
            "passthrough",
            plan.pinned(
                [
                    str(BIN / "uvicorn"),
                    "bench.passthrough:app",
                    "--host=127.0.0.1",
                    f"--port={port}",
                    "--loop=uvloop",
                    "--http=httptools",
                    "--workers=1",
                    "--backlog=2048",
                    "--no-access-log",
                    "--log-level=warning",
                ],
                "servers",
            ),
            url=f"http://127.0.0.1:{port}",
            env=clean_env(BENCH_UPSTREAM=upstream_url, PYTHONPATH=str(ROOT)),
        )
        started.append(passthrough)
        gateway = start_gateway("gateway", plan, database, upstream_url, encryption_key)
        started.append(gateway)
        cached = start_gateway(
            "gateway_cached",
            plan,
            database,
            upstream_url,
            encryption_key,
            GATEWAY_PROXY_CACHE_TTL_SECONDS=CACHED_TTL_SECONDS,
        )
        started.append(cached)
        two = start_gateway("gateway_2w", plan, database, upstream_url, encryption_key, TWO_WORKERS)
        started.append(two)
    except BaseException:
        for service in started:
            service.stop()
        raise
    return Targets(
        {
            "direct": direct,
            "nginx": proxy,
            "passthrough": passthrough,
            "gateway": gateway,
            "gateway_cached": cached,
            "gateway_2w": two,
        },
        upstream,
    )
