"""``gateway dev``: the whole product on one laptop, wired to the sandbox (what `make run` starts)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import click
import uvicorn
from pydantic import SecretStr
from sqlalchemy import delete

from gateway.app import create_app
from gateway.cli.context import head_limits, run_command, settings
from gateway.cli.sandbox import require_sandbox
from gateway.clients.store import authenticate, create_client
from gateway.composition import database_url
from gateway.kit.crypto import generate_key_entry
from gateway.kit.db import Database
from gateway.kit.logs import configure
from gateway.kit.server import server_config
from gateway.models import ServiceClient

log = logging.getLogger(__name__)

DEV_CLIENT = "dev"
SECRETS_FILE = "dev-secrets.json"


def dev_secrets(data_dir: Path) -> dict[str, str]:
    """The dev encryption key (made once, kept in the data dir, never for production)."""
    path = data_dir / SECRETS_FILE
    if path.exists():
        stored: dict[str, str] = json.loads(path.read_text())
        return stored
    data_dir.mkdir(parents=True, exist_ok=True)
    secrets = {"encryption_keys": generate_key_entry("dev1")}
    save_secrets(path, secrets)
    log.warning("generated a DEVELOPMENT encryption key in %s (never use it in production)", path)
    return secrets


def save_secrets(path: Path, secrets: dict[str, str]) -> None:
    path.write_text(json.dumps(secrets, indent=2))
    os.chmod(path, 0o600)


async def ensure_dev_client(db: Database, secrets: dict[str, str], path: Path) -> str:
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
    save_secrets(path, secrets)
    return issued.key


def walkthrough(gateway: str, sandbox: str, key: str) -> str:
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
"""


@click.command()
@click.option("--port", default=8000, show_default=True, type=int, help="Gateway port.")
@click.option("--sandbox-port", default=8001, show_default=True, type=int)
def dev(port: int, sandbox_port: int) -> None:
    """Run embedded PostgreSQL, the Contio sandbox and the gateway wired to it."""
    require_sandbox("gateway dev")
    from gateway_sandbox import SandboxOptions, create_sandbox_app

    base = settings()
    configure(base.log_level)
    secrets = dev_secrets(base.data_dir)
    gateway_url = f"http://127.0.0.1:{port}"
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    config = base.model_copy(
        update={
            "encryption_keys": SecretStr(secrets["encryption_keys"]),
            "public_url": gateway_url,
            "contio_auth_url": sandbox_url,
            "contio_api_url": sandbox_url,
            "contio_client_id": "sandbox-client",
            "contio_client_secret": SecretStr("sandbox-secret"),
        }
    )
    url = run_command(lambda: database_url(config, migrate_embedded=True))
    sandbox_app = create_sandbox_app(
        SandboxOptions(redirect_uris=(config.redirect_uri,), auto_approve=False)
    )
    app = run_command(lambda: create_app(config, url, run_refresher=True))

    async def main() -> None:
        db = Database(url, pool_size=1)
        try:
            key = await ensure_dev_client(db, secrets, base.data_dir / SECRETS_FILE)
        finally:
            await db.dispose()
        servers = [
            uvicorn.Server(uvicorn.Config(sandbox_app, port=sandbox_port, log_config=None)),
            uvicorn.Server(server_config(app, head_limits(config), port=port)),
        ]
        click.echo(walkthrough(gateway_url, sandbox_url, key))
        await asyncio.gather(*(server.serve() for server in servers))

    asyncio.run(main())
