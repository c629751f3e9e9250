"""What every command shares: settings loading (``gateway --dev``: the running dev stack's), the
checks before anything starts, turning known failures into clean exits, and the database or the
whole core (``gateway.composition``) for one command's run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.engine import URL
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway import composition
from gateway.cli.dev_stack import running_stack_settings
from gateway.composition import Core
from gateway.exceptions import GatewayError
from gateway.kit.clock import rfc3339
from gateway.kit.crypto import KeyRing, KeyRingError
from gateway.kit.db import DatabaseUrlError
from gateway.kit.server import HeadLimits
from gateway.kit.validation import problems, summary
from gateway.providers.registry import require_providers
from gateway.settings import ENV_PREFIX, Settings, SettingsError, load_settings

T = TypeVar("T")

EXIT_USAGE = 2
EXIT_FAILED = 1

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def run_command(action: Callable[[], T]) -> T:
    """Run ``action``; configuration and request errors exit non-zero with a one-line message."""
    try:
        return action()
    except (SettingsError, KeyRingError, DatabaseUrlError) as exc:
        raise click.ClickException(str(exc)) from exc
    except ValidationError as exc:
        found = [
            {**item, "field": _variable(item["field"]) if item["field"] else "settings"}
            for item in problems(exc, whole="")
        ]
        raise click.ClickException(f"invalid settings: {summary(found)}") from exc
    except GatewayError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    except OperationalError as exc:
        raise click.ClickException(f"cannot reach the database: {exc.orig}") from exc


@dataclass(frozen=True)
class Options:
    """The ``gateway`` command's own options, for every subcommand (click's context object)."""

    dev: bool = False


def _variable(field: str) -> str:
    """The environment variable of a settings field (``token_rate_reserve``)."""
    return f"{ENV_PREFIX}{field.split('.')[0].upper()}"


def settings() -> Settings:
    """The settings from the environment; with ``gateway --dev``, those of the dev stack running
    from the data dir (its encryption key, its sandbox as Contio)."""
    config = run_command(load_settings)
    context = click.get_current_context(silent=True)
    options = context.find_object(Options) if context is not None else None
    if options is not None and options.dev:
        return run_command(lambda: running_stack_settings(config))
    return config


def check_startable(config: Settings) -> None:
    """Refuse, before anything starts, a command that would run without a usable key ring or with
    no provider: exit 1 with one line saying what to fix."""

    def check() -> None:
        composition.key_ring(config)
        require_providers(config)

    run_command(check)


def head_limits(config: Settings) -> HeadLimits:
    """The limits on a request's head that the gateway's HTTP server keeps."""
    return HeadLimits(
        max_bytes=config.max_header_bytes,
        max_count=config.max_header_count,
        timeout=config.header_timeout_seconds,
    )


def with_session(
    work: Callable[[AsyncSession], Awaitable[T]], *, migrate_embedded: bool = True
) -> T:
    """Run ``work`` in one transaction against the gateway's database (the HTTP service may be down)."""

    # Resolved before the event loop starts: the embedded server's migrations run their own loop.
    url = run_command(
        lambda: composition.database_url(settings(), migrate_embedded=migrate_embedded)
    )

    async def main() -> T:
        async with composition.database(url, pool_size=1) as db, db.transaction() as session:
            return await work(session)

    return run_command(lambda: asyncio.run(main()))


def with_core(work: Callable[[Core], Awaitable[T]]) -> T:
    """Run ``work`` with the core ``gateway serve`` builds (its refresher spends the same token
    budget as every replica's); ``work`` opens its own short transactions."""
    config = settings()

    def prepare() -> tuple[KeyRing, URL]:
        return composition.key_ring(config), composition.database_url(config, migrate_embedded=True)

    keys, url = run_command(prepare)

    async def main() -> T:
        async with composition.core(config, url, keys, pool_size=2) as core:
            return await work(core)

    return run_command(lambda: asyncio.run(main()))


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=_json_default))


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return rfc3339(value)
    return str(value)
