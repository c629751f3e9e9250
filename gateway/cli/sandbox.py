"""``gateway sandbox``: the local Contio emulator."""

from __future__ import annotations

import click
import uvicorn

from gateway.kit.logs import configure
from gateway.sandbox import SandboxOptions, create_sandbox_app
from gateway.sandbox.faults import Faults

_SECONDS = click.FloatRange(min=0)


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
@click.option(
    "--refresh-token-ttl", default=30 * 86400, show_default=True, type=click.IntRange(min=1)
)
@click.option(
    "--refresh-reuse-grace",
    default=0.0,
    show_default=True,
    type=_SECONDS,
    metavar="SECONDS",
    help="How long a rotated-away refresh token replays its successor pair (0: never).",
)
@click.option("--admin-api-key", default="sandbox-admin-key", show_default=True)
@click.option("--webhook-url", default=None, help="Where user.connection.revoked events go.")
@click.option("--webhook-secret", default="sandbox-webhook-secret", show_default=True)
@click.option("--latency-ms", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--error-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1))
@click.option("--fault-seed", default=0, show_default=True, type=int, help="Seeds --error-rate.")
@click.option("--rate-limited", is_flag=True, help="The token endpoint answers 429.")
@click.option("--retry-after", default=1, show_default=True, type=click.IntRange(min=0))
@click.option("--token-endpoint-down", is_flag=True, help="The token endpoint answers 503.")
@click.option("--invalid-client", is_flag=True, help="The token endpoint answers 401.")
def sandbox(
    host: str,
    port: int,
    client_id: str,
    client_secrets: tuple[str, ...],
    redirect_uris: tuple[str, ...],
    auto_approve: bool,
    code_ttl: int,
    access_token_ttl: int,
    refresh_token_ttl: int,
    refresh_reuse_grace: float,
    admin_api_key: str,
    webhook_url: str | None,
    webhook_secret: str,
    latency_ms: int,
    error_rate: float,
    fault_seed: int,
    rate_limited: bool,
    retry_after: int,
    token_endpoint_down: bool,
    invalid_client: bool,
) -> None:
    """Run an in-memory emulator of the Contio Partner API (no account needed).

    Faults can also be switched at runtime through /_sandbox/faults.
    """
    configure()
    defaults = SandboxOptions()
    options = SandboxOptions(
        client_id=client_id,
        client_secrets=client_secrets or defaults.client_secrets,
        redirect_uris=redirect_uris or defaults.redirect_uris,
        auto_approve=auto_approve,
        code_ttl=code_ttl,
        access_token_ttl=access_token_ttl,
        refresh_token_ttl=refresh_token_ttl,
        refresh_reuse_grace=refresh_reuse_grace,
        admin_api_key=admin_api_key,
        webhook_url=webhook_url,
        webhook_secret=webhook_secret,
        faults=Faults(
            latency_ms=latency_ms,
            error_rate=error_rate,
            rate_limited=rate_limited,
            retry_after=retry_after,
            token_endpoint_down=token_endpoint_down,
            invalid_client=invalid_client,
            seed=fault_seed,
        ),
    )
    uvicorn.run(create_sandbox_app(options), host=host, port=port, log_config=None)
