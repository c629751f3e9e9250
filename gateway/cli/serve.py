"""``gateway serve`` and ``gateway migrate``."""

from __future__ import annotations

import logging

import click
import uvicorn

from gateway.app import create_app
from gateway.cli.common import run_command, settings
from gateway.database import database_url
from gateway.kit.logs import configure
from gateway.kit.migrations import upgrade

log = logging.getLogger(__name__)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the gateway's HTTP service.

    Against GATEWAY_DATABASE_URL it never migrates (that is a release step: `gateway migrate`);
    without it, it starts and migrates an embedded PostgreSQL for one machine.
    """
    config = settings()
    configure(config.log_level)
    run_command(lambda: config.require("encryption_keys"))
    url = run_command(lambda: database_url(config, migrate_embedded=True))
    app = run_command(lambda: create_app(config, url))
    uvicorn.run(app, host=host, port=port, access_log=False, log_config=None, lifespan="on")


@click.command()
def migrate() -> None:
    """Upgrade the database schema to this version's (GATEWAY_DATABASE_URL, or the embedded one)."""
    config = settings()
    configure(config.log_level)
    url = run_command(lambda: database_url(config, migrate_embedded=False))
    run_command(lambda: upgrade(url))
    click.echo("database schema is up to date")
