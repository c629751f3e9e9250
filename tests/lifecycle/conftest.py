"""One stack for the short variants (``make test``): a database of its own, the sandbox, three
gateway replicas and 100 connected users with 4-second access tokens."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.engine import URL

from tests.fixtures.database import fresh_database
from tests.lifecycle.stack import LifecycleStack, Profile, settle

SHORT = Profile()


@pytest.fixture(scope="module")
def lifecycle_database(server_url: URL) -> Iterator[URL]:
    with fresh_database(server_url, "gw_lifecycle") as url:
        yield url


@pytest.fixture(scope="module")
async def short_stack(
    lifecycle_database: URL, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[LifecycleStack]:
    stack = LifecycleStack(SHORT, lifecycle_database, tmp_path_factory.mktemp("lifecycle"))
    try:
        await stack.start()
        yield stack
    finally:
        await stack.stop()


@pytest.fixture
async def stack(short_stack: LifecycleStack) -> LifecycleStack:
    await settle(short_stack)
    return short_stack
