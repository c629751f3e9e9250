"""``gateway sandbox``: the local Contio emulator."""

from __future__ import annotations

import click
import uvicorn

from gateway.kit.logs import configure
from gateway.sandbox import SandboxOptions, create_sandbox_app


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8001, show_default=True, type=int)
@click.option("--client-id", default="sandbox-client", show_default=True)
@click.option(
    "--client-secret",
    "client_secrets",
    multiple=True,
    help="Accepted client secret (repeatable; default sandbox-secret).",
)
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="Registered redirect URI, matched exactly (repeatable).",
)
@click.option("--auto-approve", is_flag=True, help="Skip the consent page (for scripts).")
@click.option("--code-ttl", default=300, show_default=True, type=click.IntRange(min=1))
@click.option("--access-token-ttl", default=86400, show_default=True, type=click.IntRange(min=1))
def sandbox(
    host: str,
    port: int,
    client_id: str,
    client_secrets: tuple[str, ...],
    redirect_uris: tuple[str, ...],
    auto_approve: bool,
    code_ttl: int,
    access_token_ttl: int,
) -> None:
    """Run an in-memory emulator of the Contio Partner API (no account needed)."""
    configure()
    defaults = SandboxOptions()
    options = SandboxOptions(
        client_id=client_id,
        client_secrets=client_secrets or defaults.client_secrets,
        redirect_uris=redirect_uris or defaults.redirect_uris,
        auto_approve=auto_approve,
        code_ttl=code_ttl,
        access_token_ttl=access_token_ttl,
    )
    uvicorn.run(create_sandbox_app(options), host=host, port=port, log_config=None)
