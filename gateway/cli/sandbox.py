"""``gateway sandbox``: the local Contio emulator.

The emulator is the ``gateway_sandbox`` package, a development tool. Every ``gateway`` command loads
this module, so it imports the package only inside the commands that serve it (here and ``gateway
dev``): ``gateway serve`` and ``gateway worker`` never load it, and an installation without it (the
production image) answers those two commands with ``DevelopmentCommand``.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Literal

import click
import uvicorn

from gateway.cli.context import EXIT_USAGE
from gateway.kit.logs import configure

SANDBOX_PACKAGE = "gateway_sandbox"


class DevelopmentCommand(click.ClickException):
    """A development command run where the sandbox is not installed; exits 2, as a usage error."""

    exit_code = EXIT_USAGE

    def __init__(self, command: str) -> None:
        super().__init__(
            f"`{command}` is a development command: it needs the Contio sandbox (the "
            f"{SANDBOX_PACKAGE} package), which this installation does not have; the production "
            "image leaves it out. Run it from a checkout of the repository (`make run` starts the "
            "development stack)."
        )


def require_sandbox(command: str) -> None:
    """Stop ``command`` with ``DevelopmentCommand`` unless the sandbox package can be imported."""
    if importlib.util.find_spec(SANDBOX_PACKAGE) is None:
        raise DevelopmentCommand(command)


_SECONDS = click.FloatRange(min=0)
_POSITIVE_SECONDS = click.FloatRange(min=0, min_open=True)
_COUNT = click.IntRange(min=1)


def _delays(value: str) -> tuple[float, ...]:
    try:
        delays = tuple(float(part) for part in value.split(",") if part.strip())
    except ValueError as exc:
        raise click.BadParameter("a comma-separated list of seconds, e.g. 0.5,1,2") from exc
    if any(delay < 0 for delay in delays):
        raise click.BadParameter("delays must not be negative")
    return delays


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
@click.option("--webhook-url", default=None, help="Where signed events go (none: no webhooks).")
@click.option("--webhook-secret", default="sandbox-webhook-secret", show_default=True)
@click.option(
    "--webhook-retry-delays",
    default="0.5,1,2",
    show_default=True,
    metavar="SECONDS,...",
    help="Pauses before each retry of a failed webhook delivery.",
)
@click.option(
    "--seed",
    "seed_file",
    default=None,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON or TOML file of workspaces, users and meetings (replaces the default seed).",
)
@click.option(
    "--otp-ttl", default=180.0, show_default=True, type=_POSITIVE_SECONDS, metavar="SECONDS"
)
@click.option(
    "--session-ttl", default=1800.0, show_default=True, type=_POSITIVE_SECONDS, metavar="SECONDS"
)
@click.option("--otp-attempts", default=5, show_default=True, type=_COUNT)
@click.option(
    "--enforce-rate-limits", is_flag=True, help="Apply Contio's per-IP limits per 5 minutes."
)
@click.option("--rate-limit-user", default=1000, show_default=True, type=_COUNT)
@click.option("--rate-limit-admin", default=500, show_default=True, type=_COUNT)
@click.option("--rate-limit-auth", default=100, show_default=True, type=_COUNT)
@click.option(
    "--lose-response",
    type=click.Choice(["drop", "502"]),
    default=None,
    help="Execute mutating API calls, then drop the connection or answer 502.",
)
@click.option(
    "--lose-next", default=0, show_default=True, type=click.IntRange(min=0), help="0: every call."
)
@click.option("--lose-prefix", default="/v1/partner/", show_default=True)
@click.option("--latency-ms", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--error-rate", default=0.0, show_default=True, type=click.FloatRange(0, 1))
@click.option("--fault-seed", default=0, show_default=True, type=int, help="Seeds --error-rate.")
@click.option("--rate-limited", is_flag=True, help="The token endpoint answers 429.")
@click.option("--retry-after", default=1, show_default=True, type=click.IntRange(min=0))
@click.option("--token-endpoint-down", is_flag=True, help="The token endpoint answers 503.")
@click.option("--invalid-client", is_flag=True, help="The token endpoint answers 401.")
@click.option(
    "--scope-separator",
    default=" ",
    show_default=True,
    help="Between scopes in requests and token responses (Slack-like: ',').",
)
@click.option(
    "--no-refresh-rotation",
    is_flag=True,
    help="Refresh tokens do not rotate: a refresh answers with an access token only.",
)
@click.option(
    "--client-authentication",
    type=click.Choice(["secret", "private_key_jwt", "none"]),
    default="secret",
    show_default=True,
    help="How the client authenticates at the token endpoint (none: a public client, PKCE).",
)
@click.option(
    "--client-jwks-url",
    default=None,
    help="The client's JWK Set, for private_key_jwt (e.g. the gateway's /.well-known/jwks.json).",
)
@click.option(
    "--instance-url",
    default=None,
    help="Salesforce-like: token responses name this instance_url ({origin}: the sandbox's), "
    "and the user API is served under /instances/NAME too.",
)
@click.option(
    "--remember-sign-ins",
    is_flag=True,
    help="Keep a session after a sign-in on the consent page, as a company's identity provider does.",
)
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
    webhook_retry_delays: str,
    seed_file: Path | None,
    otp_ttl: float,
    session_ttl: float,
    otp_attempts: int,
    enforce_rate_limits: bool,
    rate_limit_user: int,
    rate_limit_admin: int,
    rate_limit_auth: int,
    lose_response: str | None,
    lose_next: int,
    lose_prefix: str,
    latency_ms: int,
    error_rate: float,
    fault_seed: int,
    rate_limited: bool,
    retry_after: int,
    token_endpoint_down: bool,
    invalid_client: bool,
    scope_separator: str,
    no_refresh_rotation: bool,
    client_authentication: Literal["secret", "private_key_jwt", "none"],
    client_jwks_url: str | None,
    instance_url: str | None,
    remember_sign_ins: bool,
) -> None:
    """Run an in-memory emulator of the Contio Partner API (no account needed).

    Faults can also be switched at runtime through /_sandbox/faults.
    """
    require_sandbox("gateway sandbox")
    from gateway_sandbox import SandboxOptions, create_sandbox_app
    from gateway_sandbox import seed as seeds
    from gateway_sandbox.faults import Faults
    from gateway_sandbox.waf import RateLimits

    configure()
    try:
        seed = seeds.load(seed_file) if seed_file else seeds.DEFAULT
    except seeds.SeedError as exc:
        raise click.BadParameter(str(exc), param_hint="--seed") from exc
    defaults = SandboxOptions()
    try:
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
            webhook_retry_delays=_delays(webhook_retry_delays),
            seed=seed,
            otp_ttl=otp_ttl,
            session_ttl=session_ttl,
            otp_max_attempts=otp_attempts,
            rate_limits=RateLimits(rate_limit_user, rate_limit_admin, rate_limit_auth),
            faults=Faults(
                latency_ms=latency_ms,
                error_rate=error_rate,
                rate_limited=rate_limited,
                retry_after=retry_after,
                token_endpoint_down=token_endpoint_down,
                invalid_client=invalid_client,
                seed=fault_seed,
                enforce_rate_limits=enforce_rate_limits,
                lose_response=lose_response or "",
                lose_next=lose_next,
                lose_prefix=lose_prefix,
            ),
            scope_separator=scope_separator,
            rotate_refresh_tokens=not no_refresh_rotation,
            client_authentication=client_authentication,
            client_jwks_url=client_jwks_url,
            instance_url=instance_url,
            remember_sign_ins=remember_sign_ins,
        )
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    uvicorn.run(create_sandbox_app(options), host=host, port=port, log_config=None)
