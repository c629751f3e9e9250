"""``gateway serve --workers 2 --public-port`` beside the stack, as a real process: the stack's
database, sandbox and key ring, so the connections the stack opens are served here too; the
refresher stays off (``--no-worker``) so that it leaves the other tests' connections alone."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import URL

from tests.fixtures.ports import Ports, serve_env
from tests.fixtures.servers import free_port
from tests.fixtures.stack import Stack
from tests.lifecycle.processes import Process

PROCESSES = 2


@pytest.fixture(scope="session")
async def served(stack: Stack, database_url: URL) -> AsyncIterator[Ports]:
    public_port = free_port()
    public_url = f"http://127.0.0.1:{public_port}"
    with tempfile.TemporaryDirectory(prefix="gateway-serving-") as log_dir:
        process = Process(
            "gateway-serving",
            [
                "serve",
                "--no-worker",
                "--workers",
                str(PROCESSES),
                "--public-port",
                str(public_port),
            ],
            serve_env(stack, database_url, public_url),
            Path(log_dir),
            port=free_port(),
            ready_path="/readyz",
        )
        process.start()
        try:
            await process.wait_ready()
            yield Ports(process=process, url=process.url, public_url=public_url)
        finally:
            process.stop()
