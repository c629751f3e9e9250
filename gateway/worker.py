"""The background jobs (the refresher loop and event delivery), run by ``gateway worker`` or inside
``gateway serve``."""

from __future__ import annotations

import asyncio
import signal

import httpx
from sqlalchemy.engine import URL

from gateway import retention
from gateway.connections.upstream_revocation import UpstreamRevoker
from gateway.events.delivery import Deliverer
from gateway.kit.db import Database
from gateway.settings import Settings, split_commas
from gateway.tokens import loop
from gateway.tokens.refresh import Refresher
from gateway.tokens.services import build_refresher, key_ring, provider_http


async def background_jobs(
    settings: Settings,
    db: Database,
    http: httpx.AsyncClient,
    refresher: Refresher,
    stop: asyncio.Event,
) -> None:
    """The refresher loop, upstream revocation retries and, when signing secrets are set, the event
    deliverer, until ``stop``."""
    jobs = [
        loop.run(
            db,
            refresher,
            interval=settings.refresher_interval_seconds,
            batch_size=settings.refresher_batch_size,
            stop=stop,
            endpoints=settings.event_endpoints,
        ),
        retention.run(db, settings, stop),
    ]
    revoker = UpstreamRevoker(db, refresher.keys, refresher.providers, settings, http)
    jobs.append(revoker.run(stop, settings.refresher_interval_seconds))
    if settings.event_signing_secrets is not None:
        secrets = split_commas(settings.event_signing_secrets.get_secret_value())
        jobs.append(Deliverer(db, http, secrets).run(stop, settings.refresher_interval_seconds))
    await asyncio.gather(*jobs)


async def run_worker(
    settings: Settings, database_url: URL, stop: asyncio.Event | None = None
) -> None:
    """Run until SIGTERM/SIGINT (or ``stop``); every replica may run one: leases keep them apart."""
    keys = key_ring(settings)
    stop = stop or asyncio.Event()
    running = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        running.add_signal_handler(signum, stop.set)
    db = Database(database_url, pool_size=settings.database_pool_size)
    async with provider_http(settings) as http:
        refresher = build_refresher(settings, db, keys, http)
        try:
            await background_jobs(settings, db, http, refresher, stop)
        finally:
            await refresher.release_all()
            await db.dispose()
