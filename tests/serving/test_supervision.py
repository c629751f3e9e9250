"""``gateway serve --workers 2`` as a whole: a serving process that dies is replaced, and SIGTERM
lets every process finish the calls it has in flight before all of them exit."""

from __future__ import annotations

import asyncio
import os
import signal
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import URL
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.kit.crypto import generate_key_entry
from tests.fixtures.database import fresh_database
from tests.fixtures.ports import serve_env
from tests.fixtures.servers import free_port, serving
from tests.fixtures.stack import Stack
from tests.lifecycle.processes import Process
from tests.serving.conftest import PROCESSES
from tests.serving.reach import WITHIN, each_process, one_connection, process_of
from tests.test_graceful_shutdown import seed


@contextmanager
def supervisor(env: dict[str, str], *, background: bool = False) -> Iterator[Process]:
    """``serve --workers 2``; the refresher and other background jobs run only if ``background``."""
    with tempfile.TemporaryDirectory(prefix="gateway-supervision-") as log_dir:
        process = Process(
            "gateway-supervision",
            ["serve", "--workers", str(PROCESSES), *([] if background else ["--no-worker"])],
            env,
            Path(log_dir),
            port=free_port(),
            ready_path="/readyz",
        )
        process.start()
        try:
            yield process
        finally:
            process.stop()


async def test_a_killed_process_is_replaced_in_its_slot(stack: Stack, database_url: URL) -> None:
    with supervisor(serve_env(stack, database_url, "http://127.0.0.1:9")) as gateway:
        await gateway.wait_ready()
        async with each_process(gateway.url, PROCESSES) as processes:
            pids = {
                slot: process_of(await each.get("/readyz"))["pid"]
                for slot, each in processes.items()
            }
        os.kill(pids[2], signal.SIGKILL)

        deadline = time.monotonic() + WITHIN
        seen: dict[int, int] = {}
        while seen.get(2) in (None, pids[2]) or 1 not in seen:
            assert time.monotonic() < deadline, f"process 2 not replaced: {seen}"
            try:
                async with one_connection(gateway.url) as anyone:
                    process = process_of(await anyone.get("/readyz"))
                seen[process["slot"]] = process["pid"]
            except httpx.TransportError:
                await asyncio.sleep(0.05)
        assert seen[1] == pids[1] and seen[2] != pids[2]
        assert gateway.alive


def refreshers_started(process: Process) -> int:
    return process.log_path.read_text().count("refresher started")


@pytest.fixture
def own_database(server_url: URL) -> Iterator[URL]:
    """A database of its own: a refresher there touches none of the other tests' connections."""
    with fresh_database(server_url, "gw_serving") as url:
        yield url


async def test_one_process_runs_the_background_jobs_and_its_replacement_takes_them_over(
    stack: Stack, own_database: URL
) -> None:
    env = serve_env(stack, own_database, "http://127.0.0.1:9")
    env["GATEWAY_LOG_LEVEL"] = "INFO"
    with supervisor(env, background=True) as gateway:
        await gateway.wait_ready()
        async with each_process(gateway.url, PROCESSES) as processes:
            pids = {s: process_of(await c.get("/readyz"))["pid"] for s, c in processes.items()}
        assert refreshers_started(gateway) == 1
        os.kill(pids[1], signal.SIGKILL)
        deadline = time.monotonic() + WITHIN
        while refreshers_started(gateway) < 2:
            assert time.monotonic() < deadline, "process 1's replacement runs no refresher"
            await asyncio.sleep(0.05)
        async with each_process(gateway.url, PROCESSES) as processes:
            now = {s: process_of(await c.get("/readyz"))["pid"] for s, c in processes.items()}
        assert now[2] == pids[2] and now[1] != pids[1]
        assert refreshers_started(gateway) == 2


class HeldUpstream:
    """Answers ``GET /v1/partner/user/meetings`` once released; counts the calls that arrived."""

    def __init__(self) -> None:
        self.arrived = 0
        self.release = threading.Event()

    def app(self) -> Starlette:
        async def meetings(request: Request) -> JSONResponse:
            self.arrived += 1
            await asyncio.to_thread(self.release.wait, 30)
            return JSONResponse({"items": [], "total": 0})

        return Starlette(routes=[Route("/v1/partner/user/meetings", meetings)])


async def test_sigterm_finishes_the_calls_in_flight_on_every_process(
    stack: Stack, database_url: URL
) -> None:
    key_entry = generate_key_entry("workers")
    user_id = f"workers-{uuid.uuid4().hex[:8]}"
    service_key = await seed(database_url, stack, key_entry, user_id)
    upstream = HeldUpstream()
    with serving(upstream.app()) as held:
        env = serve_env(stack, database_url, "http://127.0.0.1:9")
        env.update({"GATEWAY_ENCRYPTION_KEYS": key_entry, "GATEWAY_CONTIO_API_URL": held.url})
        with supervisor(env) as gateway:
            await gateway.wait_ready()
            async with each_process(gateway.url, PROCESSES) as processes:
                calls = [
                    asyncio.create_task(
                        each.get(
                            f"/proxy/users/{user_id}/meetings",
                            headers={"Authorization": f"Bearer {service_key}"},
                            timeout=30,
                        )
                    )
                    for each in processes.values()
                ]
                deadline = time.monotonic() + WITHIN
                while upstream.arrived < PROCESSES:
                    assert time.monotonic() < deadline, "the calls never reached the upstream"
                    await asyncio.sleep(0.05)

                gateway.send_signal(signal.SIGTERM)
                # New connections are refused while the calls in flight are finished.
                deadline = time.monotonic() + WITHIN
                while True:
                    try:
                        async with httpx.AsyncClient(trust_env=False, timeout=1) as fresh:
                            await fresh.get(f"{gateway.url}/healthz")
                    except httpx.TransportError:
                        break
                    assert time.monotonic() < deadline, "kept accepting after SIGTERM"
                    await asyncio.sleep(0.05)
                assert gateway.alive
                upstream.release.set()
                answers = await asyncio.gather(*calls)
            assert [answer.status_code for answer in answers] == [200] * PROCESSES
            deadline = time.monotonic() + WITHIN
            while gateway.alive:
                assert time.monotonic() < deadline, "the supervisor did not exit"
                await asyncio.sleep(0.05)
            assert gateway.returncode == 0
