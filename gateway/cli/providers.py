"""``gateway providers check``: the configured providers, checked as start-up checks them (Contio's
settings and the providers file); with ``--online``, each issuer's discovery document too.
``gateway providers reload``: every running gateway re-reads the providers file."""

from __future__ import annotations

import asyncio

import click

from gateway import composition
from gateway.cli.context import run_command, settings, with_session
from gateway.providers.config import ProviderConfig
from gateway.providers.discovery import DiscoveredProvider, ServerMetadata, discover
from gateway.providers.errors import ProviderError
from gateway.providers.providers_file import ProviderSource
from gateway.providers.registry import provider_sources
from gateway.providers.reloading import notify_replicas
from gateway.settings import Settings


@click.group()
def providers() -> None:
    """The OAuth providers: Contio's settings and the providers file (GATEWAY_PROVIDERS_FILE)."""


@providers.command()
@click.option(
    "--online",
    is_flag=True,
    help="Also fetch each issuer's discovery document and show the endpoints it names.",
)
def check(online: bool) -> None:
    """Check every provider's configuration; exit 1 naming the provider and the field at fault.

    Secrets and keys are read (so a missing variable or an unreadable key file is found), never
    printed.
    """
    config = settings()
    sources, unconfigured = run_command(lambda: provider_sources(config))
    for name, source in sources.items():
        click.echo(f"{name}: ok ({_described(source)})")
    for name, reason in unconfigured.items():
        click.echo(f"{name}: not configured ({reason})")
    if not online:
        return
    failed = asyncio.run(_discover_all(config, sources))
    if failed:
        raise click.ClickException(f"discovery failed for {', '.join(failed)}")


@providers.command()
def reload() -> None:
    """Check the providers file here, then have every running gateway reload it.

    Exits 1 with the reason (the provider and the field) when the file does not load; the running
    gateways then keep what they have. A gateway that cannot load its own copy keeps its previous
    providers and logs why.
    """
    config = settings()
    sources, _ = run_command(lambda: provider_sources(config))
    with_session(notify_replicas)
    click.echo(
        f"providers checked ({', '.join(sources) or 'none'}); every running gateway reloads them"
    )


def _described(source: ProviderSource) -> str:
    if isinstance(source, DiscoveredProvider):
        key = f", client key {source.client_key.kid}" if source.client_key is not None else ""
        return f"endpoints by discovery from {source.issuer}{key}"
    parts = [
        f"token endpoint {source.token_url}",
        f"client authentication {source.token_endpoint_auth_method}",
    ]
    if source.client_key is not None:
        parts.append(f"client key {source.client_key.kid} ({source.client_key.algorithm})")
    if source.scope_separator != " ":
        parts.append(f"scope separator {source.scope_separator!r}")
    if not source.refresh.rotates:
        parts.append("refresh tokens do not rotate")
    return ", ".join(parts)


async def _discover_all(config: Settings, sources: dict[str, ProviderSource]) -> list[str]:
    """Print what each issuer's metadata names; the providers whose discovery failed."""
    failed: list[str] = []
    async with composition.provider_http(config) as http:
        for name, source in sources.items():
            if isinstance(source, ProviderConfig):
                click.echo(f"{name}: endpoints are configured; nothing to discover")
                continue
            try:
                metadata = await discover(http, source.issuer, provider=name)
            except ProviderError as exc:
                click.echo(f"{name}: {exc.message}", err=True)
                failed.append(name)
                continue
            click.echo(f"{name}: discovered {_endpoints(metadata)}")
            try:
                source.build(metadata)  # the profile against what was found
            except ValueError as exc:
                click.echo(f"{name}: {exc}", err=True)
                failed.append(name)
    return failed


def _endpoints(metadata: ServerMetadata) -> str:
    named = {
        "authorization_endpoint": metadata.authorization_endpoint,
        "token_endpoint": metadata.token_endpoint,
        "revocation_endpoint": metadata.revocation_endpoint,
        "introspection_endpoint": metadata.introspection_endpoint,
        "userinfo_endpoint": metadata.userinfo_endpoint,
        "jwks_uri": metadata.jwks_uri,
    }
    return ", ".join(f"{key} {value}" for key, value in named.items() if value is not None)
