"""What one benchmark run does, read from ``BENCH_*`` environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PARTS = ("proxy", "soak", "refresher", "scale")
# The scale part seeds a million connections and takes minutes more: asked for by name.
DEFAULT_PARTS = ("proxy", "soak", "refresher")
RESULTS = Path(__file__).parent / "results"
# The scale part's gateway sized for a million users as docs/proxy.md's sizing says (about 1.2 kB a
# user called at least once per TTL; an hour's TTL, since at the shipped five minutes a user called
# less often is read at every call whatever the bound): not the shipped defaults (64 MiB, 300 s).
SCALE_CACHE_BYTES = 256 * 2**20
SCALE_CACHE_TTL = 3600.0


class BenchSettingsError(ValueError):
    """Raised when a ``BENCH_*`` variable is malformed; the message names it."""


@dataclass(frozen=True)
class BenchSettings:
    duration: float  # seconds of load per measured point
    warmup: float  # seconds of uncounted load on the same target right before each point
    rounds: int  # interleaved rounds; each point is the median of these
    concurrency: tuple[int, ...]
    connections: int  # connections seeded for the proxy benchmark
    soak_seconds: float
    soak_concurrency: int
    refresh_connections: int  # connections due at once in the refresher benchmark
    scale_connections: int  # connections seeded in the scale part (and 10,000 to compare)
    scale_due: int  # of them made due and refreshed, at each size
    scale_cache_bytes: int  # GATEWAY_PROXY_CACHE_MAX_BYTES of the scale part's gateway
    scale_cache_ttl: float  # its GATEWAY_PROXY_CACHE_TTL_SECONDS
    catchup_connections: int  # connections that come due during the refresher's outage
    catchup_outage: float  # seconds the token endpoint is down in the catch-up scenario
    parts: tuple[str, ...]
    out_dir: Path

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> BenchSettings:
        env = os.environ if environ is None else environ
        parts = tuple(p.strip() for p in env.get("BENCH_PARTS", ",".join(DEFAULT_PARTS)).split(","))
        unknown = [part for part in parts if part not in PARTS]
        if unknown or not parts:
            raise BenchSettingsError(f"BENCH_PARTS must name some of {', '.join(PARTS)}")
        return cls(
            duration=_number(env, "BENCH_DURATION", 10.0, minimum=1),
            warmup=_number(env, "BENCH_WARMUP", 5.0, minimum=1),
            rounds=int(_number(env, "BENCH_ROUNDS", 3, minimum=1)),
            concurrency=tuple(
                int(_positive(part, "BENCH_CONCURRENCY"))
                for part in env.get("BENCH_CONCURRENCY", "1,8,32,128").split(",")
            ),
            connections=int(_number(env, "BENCH_CONNECTIONS", 5000, minimum=1)),
            soak_seconds=_number(env, "BENCH_SOAK_SECONDS", 300.0, minimum=10),
            soak_concurrency=int(_number(env, "BENCH_SOAK_CONCURRENCY", 32, minimum=1)),
            refresh_connections=int(
                _number(env, "BENCH_REFRESH_CONNECTIONS", 100_000, minimum=100)
            ),
            scale_connections=int(
                _number(env, "BENCH_SCALE_CONNECTIONS", 1_000_000, minimum=10_000)
            ),
            scale_due=int(_number(env, "BENCH_SCALE_DUE", 2000, minimum=100)),
            scale_cache_bytes=int(
                _number(env, "BENCH_SCALE_CACHE_BYTES", SCALE_CACHE_BYTES, minimum=64 * 1024)
            ),
            scale_cache_ttl=_number(env, "BENCH_SCALE_CACHE_TTL", SCALE_CACHE_TTL, minimum=1),
            catchup_connections=int(_number(env, "BENCH_CATCHUP_CONNECTIONS", 2000, minimum=100)),
            catchup_outage=_number(env, "BENCH_CATCHUP_OUTAGE", 30.0, minimum=5),
            parts=parts,
            out_dir=Path(env.get("BENCH_OUT", str(RESULTS))),
        )


def _number(env: Mapping[str, str], name: str, default: float, *, minimum: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    value = _positive(raw, name)
    if value < minimum:
        raise BenchSettingsError(f"{name} must be at least {minimum:g}, not {raw!r}")
    return value


def _positive(raw: str, name: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise BenchSettingsError(f"{name} must be a number, not {raw!r}") from None
    if value <= 0:
        raise BenchSettingsError(f"{name} must be positive, not {raw!r}")
    return value
