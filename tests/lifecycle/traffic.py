"""Proxy traffic from an internal service, spread over every live gateway replica, with a tally
of what came back."""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx

from gateway.exceptions import GATEWAY_ERROR_HEADER

PATH = "/meetings"
SAMPLES = 20


@dataclass(frozen=True)
class Failure:
    gateway: str
    user_id: str
    status: int
    gateway_made: bool
    body: str


@dataclass
class Tally:
    statuses: Counter[int] = field(default_factory=Counter)
    # Answers the gateway made itself (``Gateway-Error: 1``) with a 5xx status, by error code.
    gateway_5xx_codes: Counter[str] = field(default_factory=Counter)
    transport_errors: Counter[str] = field(default_factory=Counter)
    failures: list[Failure] = field(default_factory=list)

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def gateway_5xx(self) -> int:
        return sum(self.gateway_5xx_codes.values())

    def record(self, gateway: str, user_id: str, response: httpx.Response) -> None:
        self.statuses[response.status_code] += 1
        if response.status_code == 200:
            return
        gateway_made = response.headers.get(GATEWAY_ERROR_HEADER) == "1"
        if gateway_made and response.status_code >= 500:
            self.gateway_5xx_codes[_error_code(response)] += 1
        if len(self.failures) < SAMPLES:
            self.failures.append(
                Failure(gateway, user_id, response.status_code, gateway_made, response.text[:300])
            )

    def summary(self) -> str:
        return (
            f"{self.requests} proxied calls, statuses {dict(self.statuses)}, "
            f"gateway-made 5xx {dict(self.gateway_5xx_codes)}, "
            f"transport errors {dict(self.transport_errors)}, "
            f"first failures {self.failures[:5]}"
        )


def _error_code(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["code"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {response.status_code}"


async def proxy_get(
    client: httpx.AsyncClient, gateway: str, key: str, user_id: str
) -> httpx.Response:
    return await client.get(
        f"{gateway}/proxy/users/{user_id}{PATH}", headers={"Authorization": f"Bearer {key}"}
    )


class ProxyTraffic:
    """``workers`` loops, together at most ``rate`` calls a second, each to a random live gateway
    for a random user."""

    def __init__(
        self,
        gateways: Callable[[], Sequence[str]],
        users: Sequence[str],
        key: str,
        *,
        workers: int = 6,
        rate: float = 60.0,
    ) -> None:
        self._gateways = gateways
        self._users = users
        self._key = key
        self._workers = workers
        self._period = workers / rate

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Tally]:
        tally = Tally()
        stop = asyncio.Event()
        limits = httpx.Limits(max_connections=self._workers * 2)
        async with httpx.AsyncClient(timeout=30, limits=limits, trust_env=False) as client:
            tasks = [
                asyncio.create_task(self._worker(client, tally, stop)) for _ in range(self._workers)
            ]
            try:
                yield tally
            finally:
                stop.set()
                await asyncio.gather(*tasks)

    async def _worker(self, client: httpx.AsyncClient, tally: Tally, stop: asyncio.Event) -> None:
        rng = random.Random()
        next_at = time.monotonic() + rng.random() * self._period
        while not stop.is_set():
            pause = next_at - time.monotonic()
            if pause > 0:
                try:
                    await asyncio.wait_for(stop.wait(), pause)
                    return
                except TimeoutError:
                    pass
            next_at = max(next_at + self._period, time.monotonic())
            gateways = self._gateways()
            if not gateways:
                continue
            gateway, user_id = rng.choice(gateways), rng.choice(self._users)
            try:
                response = await proxy_get(client, gateway, self._key, user_id)
            except httpx.TransportError as exc:
                tally.transport_errors[f"{gateway} {type(exc).__name__}"] += 1
                continue
            tally.record(gateway, user_id, response)


async def sweep(
    gateways: Sequence[str], users: Sequence[str], key: str, *, concurrency: int = 10
) -> dict[str, httpx.Response]:
    """One proxied call per user, spread over ``gateways``; the answer for each user."""
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:

        async def one(index: int, user_id: str) -> tuple[str, httpx.Response]:
            async with gate:
                gateway = gateways[index % len(gateways)]
                return user_id, await proxy_get(client, gateway, key, user_id)

        answers = await asyncio.gather(*(one(i, user) for i, user in enumerate(users)))
    return dict(answers)
