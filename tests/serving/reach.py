"""Reaching each serving process of ``gateway serve --workers`` on purpose.

The kernel gives each new connection to one of the processes; ``/readyz`` says which one
answered. A client held to one kept-alive connection therefore keeps talking to the process that
took it, as long as it is never idle for uvicorn's keep-alive time (5 s): the tests keep calling.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

WITHIN = 20.0


def process_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    process: dict[str, Any] = response.json()["process"]
    return process


async def slot_of(client: httpx.AsyncClient) -> int:
    """The slot of the process at the other end of ``client``'s one connection."""
    number: int = process_of(await client.get("/readyz"))["slot"]
    return number


def one_connection(url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=url,
        timeout=10,
        trust_env=False,
        limits=httpx.Limits(max_connections=1, max_keepalive_connections=1, keepalive_expiry=60),
    )


@asynccontextmanager
async def each_process(url: str, count: int) -> AsyncIterator[dict[int, httpx.AsyncClient]]:
    """A client per slot (1..``count``), each on a connection that process took; new connections
    are opened until every process has taken one (failing after ``WITHIN`` seconds)."""
    found: dict[int, httpx.AsyncClient] = {}
    deadline = time.monotonic() + WITHIN
    try:
        while len(found) < count:
            assert time.monotonic() < deadline, f"only processes {sorted(found)} answered"
            client = one_connection(url)
            slot = await slot_of(client)
            if slot in found:
                await client.aclose()
            else:
                found[slot] = client
        yield found
    finally:
        for client in found.values():
            await client.aclose()
