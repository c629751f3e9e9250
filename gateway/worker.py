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
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.settings import Settings, split_commas
from gateway.tokens import loop
from gateway.tokens.refresh import Refresher
from gateway.tokens.services import build_refresher


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
        ),
        retention.run(db, settings, stop),
    ]
    revoker = UpstreamRevoker.for_worker(settings, db, http, refresher.providers)
    jobs.append(revoker.run(stop, settings.refresher_interval_seconds))
    if settings.event_signing_secrets is not None:
        secrets = split_commas(settings.event_signing_secrets.get_secret_value())
        jobs.append(Deliverer(db, http, secrets).run(stop, settings.refresher_interval_seconds))
    await asyncio.gather(*jobs)


async def run_worker(
    settings: Settings, database_url: URL, stop: asyncio.Event | None = None
) -> None:
    """Run until SIGTERM/SIGINT (or ``stop``); every replica may run one: leases keep them apart."""
    settings.require("encryption_keys")
    assert settings.encryption_keys is not None
    keys = KeyRing.parse(
        settings.encryption_keys.get_secret_value(), settings.encryption_active_key
    )
    stop = stop or asyncio.Event()
    running = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        running.add_signal_handler(signum, stop.set)
    db = Database(database_url, pool_size=settings.database_pool_size)
    timeout = httpx.Timeout(
        settings.http_read_timeout_seconds, connect=settings.http_connect_timeout_seconds
    )
    async with httpx.AsyncClient(timeout=timeout, trust_env=False) as http:
        refresher = build_refresher(settings, db, keys, http)
        try:
            await background_jobs(settings, db, http, refresher, stop)
        finally:
            await refresher.release_all()
            await db.dispose()
