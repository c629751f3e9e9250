"""``gateway dev``: the whole product on one laptop, wired to the sandbox (what `make run` starts)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import uvicorn
from sqlalchemy import delete

from gateway import composition
from gateway.app import create_app
from gateway.cli.context import check_startable, head_limits, run_command, settings
from gateway.cli.dev_stack import DevStack, dev_secrets, dev_settings, save_secrets, save_stack
from gateway.cli.sandbox import require_sandbox
from gateway.clients.store import authenticate, create_client
from gateway.composition import database_url
from gateway.kit.db import Database
from gateway.kit.logs import configure
from gateway.kit.server import server_config
from gateway.models import ServiceClient

log = logging.getLogger(__name__)

DEV_CLIENT = "dev"
# The exit status after Ctrl-C before the servers run (the shell's 128 + SIGINT).
EXIT_INTERRUPTED = 130


async def ensure_dev_client(db: Database, secrets: dict[str, str], data_dir: Path) -> str:
    """A service key with every scope and every proxy path, kept in the data dir."""
    async with db.transaction() as session:
        key = secrets.get("service_key")
        if key and await authenticate(session, key) is not None:
            return key
        await session.execute(delete(ServiceClient).where(ServiceClient.name == DEV_CLIENT))
        _client, issued = await create_client(
            session, DEV_CLIENT, ["connect", "proxy", "admin"], ["* /**"]
        )
    secrets["service_key"] = issued.key
    save_secrets(data_dir, secrets)
    return issued.key


def cli_path() -> str:
    """How to call this installation's ``gateway`` command from here (``.venv/bin/gateway``)."""
    script = Path(sys.executable).parent / "gateway"
    if not script.exists():
        return "gateway"
    with contextlib.suppress(ValueError):
        return str(script.relative_to(Path.cwd()))
    return str(script)


def walkthrough(gateway: str, sandbox: str, key: str) -> str:
    cli = cli_path()
    return f"""
  Gateway  {gateway}   (Contio sandbox at {sandbox})
  Dev service key (every scope; stored in the data dir):
    {key}

  1. Open a connect session for your user:
     curl -s -X POST {gateway}/v1/connect-sessions \\
       -H 'Authorization: Bearer {key}' -H 'Content-Type: application/json' \\
       -d '{{"user_id": "alice"}}'
  2. Open the connect_url it returns in a browser, type any email and approve.
  3. Call the user's meetings through the proxy:
     curl -s {gateway}/proxy/users/alice/meetings -H 'Authorization: Bearer {key}'

  4. The operators' console: open {gateway}/console and sign in with the dev key
     (or an admin key of your own: {cli} --dev clients create alice --scope admin).

  The CLI against this stack (from this directory, in another terminal):
     {cli} --dev connections list
     {cli} --dev connections revoke CONNECTION_ID
     {cli} --dev clients create NAME --scope proxy

  Ctrl-C stops it all (the embedded PostgreSQL too).
"""


class DevServer(uvicorn.Server):
    """A server that leaves signals to ``gateway dev``, which stops every server on the first."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@click.command()
@click.option("--port", default=8000, show_default=True, type=int, help="Gateway port.")
@click.option("--sandbox-port", default=8001, show_default=True, type=int)
def dev(port: int, sandbox_port: int) -> None:
    """Run embedded PostgreSQL, the Contio sandbox and the gateway wired to it.

    Ctrl-C or SIGTERM stops the servers and the embedded PostgreSQL, and exits with status 0.
    """
    # Until the servers run, SIGTERM interrupts like Ctrl-C; the exit then stops the embedded
    # PostgreSQL (its handle is released at exit) instead of leaving it running.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        _run(port, sandbox_port)
    except KeyboardInterrupt:
        raise SystemExit(EXIT_INTERRUPTED) from None


def _run(port: int, sandbox_port: int) -> None:
    require_sandbox("gateway dev")
    from gateway_sandbox import SandboxOptions, create_sandbox_app

    base = settings()
    configure(base.log_level)
    stack = DevStack.on_ports(port, sandbox_port)
    secrets = run_command(lambda: dev_secrets(base.data_dir))
    config = dev_settings(base, secrets, stack)
    check_startable(config)
    save_stack(base.data_dir, stack)
    url = run_command(lambda: database_url(config, migrate_embedded=True))
    sandbox_app = create_sandbox_app(
        SandboxOptions(redirect_uris=(config.redirect_uri,), auto_approve=False)
    )
    app = run_command(lambda: create_app(config, url, run_refresher=True))

    async def main() -> None:
        async with composition.database(url, pool_size=1) as db:
            key = await ensure_dev_client(db, secrets, base.data_dir)
        servers = [
            DevServer(uvicorn.Config(sandbox_app, port=sandbox_port, log_config=None)),
            DevServer(server_config(app, head_limits(config), port=port)),
        ]

        def stop() -> None:
            for server in servers:
                server.force_exit = server.should_exit  # a second signal: do not wait
                server.should_exit = True

        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop)
        click.echo(walkthrough(stack.gateway_url, stack.sandbox_url, key))
        await asyncio.gather(*(server.serve() for server in servers))
        log.info("stopped; the embedded PostgreSQL stops as this process exits")

    asyncio.run(main())
