"""The ``gateway`` command."""

from __future__ import annotations

import click

from gateway.cli.clients import clients
from gateway.cli.common import run_command
from gateway.cli.dev import dev
from gateway.cli.events import events
from gateway.cli.sandbox import sandbox
from gateway.cli.serve import migrate, serve, worker
from gateway.kit.crypto import generate_key_entry


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """The OAuth integration gateway: connect users, keep their tokens safe, proxy their calls."""


@cli.group()
def keys() -> None:
    """Encryption keys for tokens at rest."""


@keys.command("generate")
@click.option("--id", "key_id", default="k1", show_default=True, help="Key id ([A-Za-z0-9_-]+).")
def keys_generate(key_id: str) -> None:
    """Print a new KEY_ID:BASE64 entry for GATEWAY_ENCRYPTION_KEYS."""
    click.echo(run_command(lambda: generate_key_entry(key_id)))


cli.add_command(serve)
cli.add_command(worker)
cli.add_command(migrate)
cli.add_command(dev)
cli.add_command(sandbox)
cli.add_command(clients)
cli.add_command(events)


def main() -> None:
    cli(auto_envvar_prefix=None)
