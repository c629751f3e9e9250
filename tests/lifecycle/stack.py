"""The whole product as processes: one PostgreSQL database, the Contio sandbox (rotation and reuse
detection on), several gateway replicas each running its refresher, and an event receiver.

The test process reads the database directly to see connection state, asks the sandbox for its
counters over HTTP (``/_sandbox/stats``) and flips its fault switches (``/_sandbox/faults``).
"""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.engine import URL

from gateway.kit.crypto import generate_key_entry
from gateway.kit.db import Database, sync_url
from gateway.models import Connection, ConnectionStatus, ProviderBreaker
from tests.fixtures.servers import free_port
from tests.fixtures.stack import new_client
from tests.lifecycle.processes import Process, hermetic_env
from tests.lifecycle.receiver import EventReceiver
from tests.lifecycle.seed import Seeder
from tests.lifecycle.traffic import ProxyTraffic
from tests.lifecycle.waiting import until_empty

CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-secret"


@dataclass(frozen=True)
class Profile:
    """How big and how fast: the short variant runs in ``make test``, the long one is the soak."""

    connections: int = 100
    token_ttl: int = 4
    replicas: int = 3
    # Longer than a lease plus a refresher cycle: a refresh whose response died with its process
    # is retried by a survivor within it, and gets the same new pair back.
    reuse_grace: float = 10.0
    lease_seconds: int = 3
    # The token endpoint's timeout stays below the lease, or a slow refresh could be repeated.
    http_timeout_seconds: float = 2.5
    refresher_interval: float = 0.2
    breaker_open_seconds: float = 0.25
    traffic_rate: float = 60.0
    traffic_workers: int = 6
    database_pool_size: int = 4


@dataclass(frozen=True)
class Lease:
    owner: str
    expires_at: datetime


class LifecycleStack:
    def __init__(self, profile: Profile, database_url: URL, log_dir: Path) -> None:
        self.profile = profile
        self.database_url = database_url
        self.receiver = EventReceiver()
        self.encryption_keys = generate_key_entry("lifecycle")
        sandbox_port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        ports = [free_port() for _ in range(profile.replicas)]
        self.gateways = [
            Process(
                f"gateway-{index}",
                ["serve"],
                self._gateway_env(port),
                log_dir,
                ready_path="/readyz",
                port=port,
            )
            for index, port in enumerate(ports)
        ]
        self.sandbox = Process(
            "sandbox",
            self._sandbox_command(ports),
            hermetic_env({}),
            log_dir,
            ready_path="/oauth2/health",
            port=sandbox_port,
        )
        self.db = Database(database_url, pool_size=2)
        self.http = httpx.AsyncClient(timeout=30, trust_env=False)
        self.key = ""
        self.users: list[str] = []

    # Start and stop

    async def start(self) -> None:
        self.receiver.start()
        self.sandbox.start()
        await self.sandbox.wait_ready()
        for gateway in self.gateways:
            gateway.start()
        for gateway in self.gateways:
            await gateway.wait_ready()
        self.key = await new_client(self.db, ["connect", "proxy"], ["GET /**"])
        self.users = [f"user-{index:04d}" for index in range(self.profile.connections)]
        await self.reconnect(self.users)

    async def stop(self) -> None:
        processes = [*self.gateways, self.sandbox]
        for process in processes:
            process.terminate()
        for process in processes:
            process.stop()
        self.receiver.stop()
        await self.http.aclose()
        await self.db.dispose()

    def _sandbox_command(self, gateway_ports: list[int]) -> list[str]:
        redirects = [f"http://127.0.0.1:{port}/oauth/callback" for port in gateway_ports]
        return [
            "sandbox",
            "--auto-approve",
            "--access-token-ttl",
            str(self.profile.token_ttl),
            "--refresh-reuse-grace",
            str(self.profile.reuse_grace),
            *itertools.chain.from_iterable(("--redirect-uri", uri) for uri in redirects),
        ]

    def _gateway_env(self, port: int) -> dict[str, str]:
        p = self.profile
        return hermetic_env(
            {
                "GATEWAY_DATABASE_URL": sync_url(self.database_url),
                "GATEWAY_DATABASE_POOL_SIZE": str(p.database_pool_size),
                "GATEWAY_ENCRYPTION_KEYS": self.encryption_keys,
                "GATEWAY_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "GATEWAY_CONTIO_AUTH_URL": self.sandbox_url,
                "GATEWAY_CONTIO_API_URL": self.sandbox_url,
                "GATEWAY_CONTIO_CLIENT_ID": CLIENT_ID,
                "GATEWAY_CONTIO_CLIENT_SECRET": CLIENT_SECRET,
                "GATEWAY_REFRESHER_INTERVAL_SECONDS": str(p.refresher_interval),
                "GATEWAY_REFRESH_LEASE_SECONDS": str(p.lease_seconds),
                "GATEWAY_HTTP_READ_TIMEOUT_SECONDS": str(p.http_timeout_seconds),
                "GATEWAY_HTTP_CONNECT_TIMEOUT_SECONDS": str(p.http_timeout_seconds),
                "GATEWAY_BREAKER_OPEN_SECONDS": str(p.breaker_open_seconds),
                "GATEWAY_EVENT_ENDPOINTS": self.receiver.url,
                "GATEWAY_EVENT_SIGNING_SECRETS": self.receiver.secret,
                "GATEWAY_LOG_LEVEL": "INFO",
            }
        )

    # Replicas

    def live_urls(self) -> list[str]:
        """The replicas up and ready (a restarted one joins once it answers)."""
        return [gateway.url for gateway in self.gateways if gateway.ready]

    async def ensure_running(self) -> None:
        """Restart any replica a test killed."""
        stopped = [gateway for gateway in self.gateways if not gateway.alive]
        for gateway in stopped:
            gateway.start()
        for gateway in stopped:
            await gateway.wait_ready()

    # Users

    async def reconnect(self, user_ids: list[str]) -> None:
        """Connect these users, or re-authorize them (their connections keep their ids)."""
        await Seeder(self.gateways[0].env, self.db).connect(user_ids)

    def traffic(self) -> ProxyTraffic:
        return ProxyTraffic(
            self.live_urls,
            self.users,
            self.key,
            workers=self.profile.traffic_workers,
            rate=self.profile.traffic_rate,
        )

    # The sandbox

    async def stats(self) -> dict[str, int]:
        response = await self.http.get(f"{self.sandbox_url}/_sandbox/stats")
        response.raise_for_status()
        counters: dict[str, int] = response.json()
        return counters

    async def faults(self, **changes: Any) -> None:
        response = await self.http.post(f"{self.sandbox_url}/_sandbox/faults", json=changes)
        response.raise_for_status()

    async def clear_faults(self) -> None:
        response = await self.http.delete(f"{self.sandbox_url}/_sandbox/faults")
        response.raise_for_status()

    # The database, as the gateways left it

    async def connections(self) -> dict[str, Connection]:
        """Every connection by user id."""
        async with self.db.transaction() as session:
            rows = await session.scalars(select(Connection))
            return {row.user_id: row for row in rows}

    async def leases(self) -> dict[uuid.UUID, Lease]:
        """The refresh leases held right now (expired ones included), by connection id."""
        async with self.db.transaction() as session:
            rows = await session.execute(
                select(Connection.id, Connection.lease_owner, Connection.lease_expires_at).where(
                    Connection.lease_owner.is_not(None)
                )
            )
            return {row.id: Lease(row.lease_owner, row.lease_expires_at) for row in rows}

    async def breaker(self) -> ProviderBreaker | None:
        async with self.db.transaction() as session:
            return await session.get(ProviderBreaker, "contio", populate_existing=True)

    async def close_breaker(self) -> None:
        """Close a breaker a failed test left open (its fault is cleared by then)."""
        async with self.db.transaction() as session:
            await session.execute(
                update(ProviderBreaker).values(open_until=None, consecutive_failures=0)
            )


def delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before.get(name, 0) for name in after}


def nonzero(counters: dict[str, int]) -> dict[str, int]:
    return {name: value for name, value in counters.items() if value}


async def settle(stack: LifecycleStack, within: float = 30.0) -> None:
    """Back to a steady state between tests: every replica up, no fault, the breaker closed, every
    connection active and refreshing without failures."""
    await stack.ensure_running()
    await stack.clear_faults()
    lost = [
        user
        for user, row in (await stack.connections()).items()
        if row.status is ConnectionStatus.NEEDS_REAUTH
    ]
    await stack.reconnect(lost)
    await stack.close_breaker()

    async def unsettled() -> list[str]:
        return [
            user
            for user, row in (await stack.connections()).items()
            if row.status is not ConnectionStatus.ACTIVE or row.consecutive_failures
        ]

    await until_empty(unsettled, within=within, what="connections settled")
