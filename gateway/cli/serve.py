"""``gateway serve`` and ``gateway migrate``."""

from __future__ import annotations

import asyncio
import gc
import logging
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path

import click
import uvicorn
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.cli.context import check_startable, head_limits, run_command, settings
from gateway.composition import database_url
from gateway.kit.collector import tune_collector
from gateway.kit.logs import configure
from gateway.kit.migrations import upgrade
from gateway.kit.prefork import Slot, Supervisor
from gateway.kit.server import AnnouncingServer, server_config
from gateway.kit.tracing import configure_tracing
from gateway.metrics.siblings import Siblings
from gateway.settings import Settings
from gateway.worker import run_worker

log = logging.getLogger(__name__)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--public-port",
    type=int,
    default=None,
    help="Serve the routes the internet must reach (connect, callback, provisioning page, "
    "provider webhooks, /healthz) on this port too; only they answer there.",
)
@click.option(
    "--public-host",
    default=None,
    help="Interface for --public-port (default: --host).",
)
@click.option(
    "--no-worker",
    is_flag=True,
    help="Do not run the refresher here (run `gateway worker` instead).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Serving processes on the same listeners, each with its own caches and database pool "
    "[default: GATEWAY_SERVE_WORKERS, 1]; the first of them runs the refresher (docs/operations.md).",
)
def serve(
    host: str,
    port: int,
    public_port: int | None,
    public_host: str | None,
    no_worker: bool,
    workers: int | None,
) -> None:
    """Run the gateway's HTTP service.

    Against GATEWAY_DATABASE_URL it never migrates (that is a release step: `gateway migrate`);
    without it, it starts and migrates an embedded PostgreSQL for one machine.
    """
    if public_port is not None and public_port == port:
        raise click.UsageError("--public-port must differ from --port")
    config = settings()
    configure(config.log_level, config.log_format)
    check_startable(config)
    count = workers if workers is not None else config.serve_workers
    listeners = [(host, port)]
    if public_port is not None:
        listeners.append((public_host or host, public_port))
    if count > 1:
        url = run_command(lambda: database_url(config, migrate_embedded=True))
        sockets = [_listen(address) for address in listeners]
        status = _serve_processes(config, url, sockets, count, public_port, not no_worker)
        raise SystemExit(status)
    configure_tracing("gateway")
    url = run_command(lambda: database_url(config, migrate_embedded=True))
    app = run_command(
        lambda: create_app(config, url, run_refresher=not no_worker, public_port=public_port)
    )
    server = uvicorn.Server(server_config(app, head_limits(config), lifespan="on"))
    sockets = [_listen(address) for address in listeners]
    tune_collector()
    server.run(sockets=sockets)


def _serve_processes(
    config: Settings,
    url: URL,
    sockets: list[socket.socket],
    count: int,
    public_port: int | None,
    background: bool,
) -> int:
    """``count`` processes serving ``sockets``, kept running by this one (``kit.prefork``); the
    first runs the background jobs when ``background``. Returns the supervisor's exit status."""
    directory = Path(tempfile.mkdtemp(prefix="gateway-serve-"))

    def child(slot: Slot, ready: Callable[[], None]) -> int:
        configure_tracing("gateway")
        app = create_app(
            config,
            url,
            run_refresher=background and slot.number == 1,
            public_port=public_port,
            siblings=Siblings(directory, slot),
        )
        server = AnnouncingServer(server_config(app, head_limits(config), lifespan="on"), ready)
        tune_collector()
        server.run(sockets=sockets)
        return 0 if server.started else 1

    try:
        gc.freeze()  # before the fork: what the children inherit stays shared with this process
        return Supervisor(count, sockets, child).run()
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _listen(address: tuple[str, int]) -> socket.socket:
    try:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        return socket.create_server(address, family=family, backlog=2048)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {address[0]}:{address[1]}: {exc}") from exc


@click.command()
@click.option(
    "--contract",
    is_flag=True,
    help="Apply the contract steps too: only once no replica of the previous version runs.",
)
def migrate(contract: bool) -> None:
    """Upgrade the database schema to this version's (GATEWAY_DATABASE_URL, or the embedded one).

    Stops before a contract step, which removes what replicas of the previous version rely on,
    until asked with --contract; the embedded database (one machine) gets every step.
    """
    config = settings()
    configure(config.log_level, config.log_format)
    url = run_command(lambda: database_url(config, migrate_embedded=False))
    everything = contract or config.database_url is None
    left = run_command(lambda: upgrade(url, contract=everything))
    if not left:
        click.echo("database schema is up to date")
        return
    click.echo(
        f"database schema is up to date but for its contract steps ({', '.join(left)}); once no "
        "replica of the previous version runs, finish with `gateway migrate --contract`"
    )


@click.command()
def worker() -> None:
    """Run the background jobs (the refresher) without the HTTP service."""
    config = settings()
    configure(config.log_level, config.log_format)
    configure_tracing("gateway-worker")
    check_startable(config)
    url = run_command(lambda: database_url(config, migrate_embedded=True))
    tune_collector()
    run_command(lambda: asyncio.run(run_worker(config, url)))
