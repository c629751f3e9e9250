"""``gateway serve --workers 2 --public-port`` beside the stack, as a real process: the stack's
database, sandbox and key ring, so the connections the stack opens are served here too; the
refresher stays off (``--no-worker``) so that it leaves the other tests' connections alone."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.engine import URL

from tests.fixtures.ports import Ports, serving
from tests.fixtures.stack import Stack

PROCESSES = 2


@pytest.fixture(scope="session")
async def served(stack: Stack, database_url: URL) -> AsyncIterator[Ports]:
    async with serving(
        stack, database_url, "gateway-serving", "--workers", str(PROCESSES)
    ) as ports:
        yield ports
