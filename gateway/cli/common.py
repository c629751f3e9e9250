"""What every command shares: settings loading and turning known failures into clean exits."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.database import database_url
from gateway.exceptions import GatewayError
from gateway.kit.crypto import KeyRingError
from gateway.kit.db import Database, DatabaseUrlError
from gateway.kit.server import HeadLimits
from gateway.settings import Settings, SettingsError, load_settings

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
        raise click.ClickException(f"invalid settings: {exc}") from exc
    except GatewayError as exc:
        raise click.ClickException(f"{exc.code}: {exc.message}") from exc
    except OperationalError as exc:
        raise click.ClickException(f"cannot reach the database: {exc.orig}") from exc


def settings() -> Settings:
    return run_command(load_settings)


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
    url = run_command(lambda: database_url(settings(), migrate_embedded=migrate_embedded))

    async def main() -> T:
        db = Database(url, pool_size=1)
        try:
            async with db.transaction() as session:
                return await work(session)
        finally:
            await db.dispose()

    return run_command(lambda: asyncio.run(main()))


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))
