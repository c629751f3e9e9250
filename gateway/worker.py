"""The background jobs (the refresher loop, upstream revocation retries, retention, event
delivery, and the audit trail's sealing and stream), run by ``gateway worker`` or inside
``gateway serve``; and, in both, the providers reloaded on request
(``gateway.providers.reloading``), heard of through the process's change feed."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from sqlalchemy.engine import URL

from gateway import composition, retention
from gateway.audit import stream as audit_stream
from gateway.audit.sinks import configured_sink
from gateway.composition import Core
from gateway.connections.upstream_revocation import UpstreamRevoker
from gateway.events import subscriptions
from gateway.events.delivery import Deliverer
from gateway.providers.reloading import CHANNEL as RELOAD_CHANNEL
from gateway.settings import Settings, split_commas
from gateway.tokens import loop


async def background_jobs(core: Core, stop: asyncio.Event) -> None:
    """The refresher loop, upstream revocation retries, retention and the event deliverer (for
    operator-wide endpoints when their signing secrets are set, and for subscriptions), until
    ``stop``."""
    settings, db = core.settings, core.db
    jobs = [
        loop.run(
            db,
            core.refresher,
            interval=settings.refresher_interval_seconds,
            batch_size=settings.refresher_batch_size,
            stop=stop,
            endpoints=settings.event_endpoints,
        ),
        retention.run(db, settings, stop),
        audit_stream.run(
            db,
            configured_sink(settings.audit_sink, "gateway-worker"),
            stop,
            stream_interval=settings.audit_stream_interval_seconds,
            seal_interval=settings.audit_seal_interval_seconds,
        ),
    ]
    revoker = UpstreamRevoker(db, core.keys, core.providers, settings, core.http)
    jobs.append(revoker.run(stop, settings.refresher_interval_seconds))
    secrets = (
        split_commas(settings.event_signing_secrets.get_secret_value())
        if settings.event_signing_secrets is not None
        else ()
    )
    deliverer = Deliverer(
        db, core.http, secrets, keys=core.keys, egress_policy=subscriptions.egress_policy(settings)
    )
    jobs.append(deliverer.run(stop, settings.refresher_interval_seconds))
    await asyncio.gather(*jobs)


async def run_worker(
    settings: Settings, database_url: URL, stop: asyncio.Event | None = None
) -> None:
    """Run until SIGTERM/SIGINT (or ``stop``); every replica may run one: leases keep them apart."""
    keys = composition.key_ring(settings)
    stop = stop or asyncio.Event()
    running = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        running.add_signal_handler(signum, stop.set)
    async with composition.core(
        settings, database_url, keys, pool_size=settings.database_pool_size
    ) as core:
        stop_hangup = reload_providers_on_request(core)
        try:
            await asyncio.gather(background_jobs(core, stop), core.feed.run(stop))
        finally:
            stop_hangup()


def reload_providers_on_request(core: Core) -> Callable[[], None]:
    """Reload the process's providers on each request: a notification on the change feed
    (``gateway providers reload``) or SIGHUP; and each time the feed listens again, since a request
    made while it did not went unheard. Registers with the feed, so comes before it runs; returns
    the function that stops taking SIGHUP."""
    reload = core.providers_reload()
    core.feed.register(
        {RELOAD_CHANNEL: lambda _: reload.reload("notification")},
        lost=lambda: None,
        catch_up=lambda: reload.reload("catching up with the change feed"),
    )
    return _on_hangup(lambda: reload.reload("SIGHUP"))


def _on_hangup(reload: Callable[[], None]) -> Callable[[], None]:
    """Run ``reload`` on SIGHUP until the returned function is called. Only a process's main thread
    takes signals: elsewhere (an app served from a thread) nothing is installed."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, reload)
    except (RuntimeError, NotImplementedError):
        return lambda: None

    def remove() -> None:
        loop.remove_signal_handler(signal.SIGHUP)

    return remove
