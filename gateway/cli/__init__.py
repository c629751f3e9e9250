"""The ``gateway`` command."""

from __future__ import annotations

import click

from gateway.cli.apply import apply
from gateway.cli.audit import audit_group
from gateway.cli.clients import clients
from gateway.cli.connections import connections
from gateway.cli.connections_create import create
from gateway.cli.connections_revoke import revoke
from gateway.cli.connections_timeline import timeline
from gateway.cli.connections_update import update
from gateway.cli.connections_verify import verify
from gateway.cli.context import Options
from gateway.cli.contio import contio
from gateway.cli.delegated_keys import keys as delegated_keys
from gateway.cli.dev import dev
from gateway.cli.events import events
from gateway.cli.keys import keys
from gateway.cli.providers import providers
from gateway.cli.sandbox import sandbox
from gateway.cli.serve import migrate, serve, worker
from gateway.cli.subscriptions import subscriptions


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--dev",
    is_flag=True,
    help="Work on the development stack `gateway dev` (make run) runs from this directory: its "
    "embedded PostgreSQL, encryption key and sandbox (read from the data dir, .gateway/).",
)
@click.pass_context
def cli(context: click.Context, dev: bool) -> None:
    """The OAuth integration gateway: connect users, keep their tokens safe, proxy their calls."""
    context.obj = Options(dev=dev)


cli.add_command(serve)
cli.add_command(worker)
cli.add_command(migrate)
cli.add_command(dev)
cli.add_command(sandbox)
cli.add_command(clients)
cli.add_command(apply)
connections.add_command(create)
connections.add_command(revoke)
connections.add_command(update)
connections.add_command(verify)
connections.add_command(timeline)
connections.add_command(delegated_keys)
cli.add_command(connections)
cli.add_command(events)
cli.add_command(subscriptions)
cli.add_command(keys)
cli.add_command(providers)
cli.add_command(contio)
cli.add_command(audit_group, name="audit")


def main() -> None:
    cli(auto_envvar_prefix=None)
