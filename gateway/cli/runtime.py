"""What a command that calls providers needs: the database, key ring, HTTP client and the refresher
(whose providers spend the same token budget as every replica's).

Built the way ``gateway serve`` builds them, from the same settings, for one command's run.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import httpx
from sqlalchemy.engine import URL

from gateway.cli.common import run_command, settings
from gateway.connections.revocation import Revoker
from gateway.database import database_url
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.providers.registry import ProviderRegistry
from gateway.settings import Settings
from gateway.tokens.refresh import Refresher
from gateway.tokens.services import build_refresher, key_ring, provider_http

T = TypeVar("T")


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    db: Database
    keys: KeyRing
    http: httpx.AsyncClient
    refresher: Refresher

    @property
    def providers(self) -> ProviderRegistry:
        return self.refresher.providers

    def revoker(self) -> Revoker:
        return Revoker(self.db, self.keys, self.providers, self.settings, self.http)


def with_runtime(work: Callable[[Runtime], Awaitable[T]]) -> T:
    """Run ``work`` with a runtime; it opens its own (short) transactions."""
    config = settings()

    def prepare() -> tuple[KeyRing, URL]:
        return key_ring(config), database_url(config, migrate_embedded=True)

    keys, url = run_command(prepare)

    async def main() -> T:
        db = Database(url, pool_size=2)
        try:
            async with provider_http(config) as http:
                refresher = build_refresher(config, db, keys, http)
                try:
                    return await work(Runtime(config, db, keys, http, refresher))
                finally:
                    await refresher.release_all()
        finally:
            await db.dispose()

    return run_command(lambda: asyncio.run(main()))
