"""Alembic, driven from code: upgrade, and compare the database with the scripts.

A migration module that sets ``contract = True`` is a *contract* step: it removes what replicas of
an older version still rely on (a constraint they count on, a column they read). ``upgrade`` with
``contract=False`` (what ``gateway migrate`` does) applies every pending step up to, not including,
the first pending contract step; an operator applies the rest (``gateway migrate --contract``) once
no replica older than the steps before it is left. A database that was never migrated has no such
replicas and gets everything at once.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import pool, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
# The PostgreSQL advisory lock every migration run holds (migrations/env.py): concurrent runs
# migrate one after the other, so the second finds the schema at head.
MIGRATION_LOCK = 0x6761_7465_7761_79  # "gateway"


@dataclass(frozen=True)
class Step:
    revision: str
    contract: bool


class UnknownRevision(Exception):
    """Raised when the database's revision is not one of this version's scripts (a newer one)."""


def alembic_config(url: URL | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.attributes["url"] = url
    return config


def upgrade(url: URL, *, contract: bool = True) -> tuple[str, ...]:
    """Upgrade the database to the newest revision, or, without ``contract``, up to the first
    pending contract step; returns the revisions left pending (blocking; run it in a thread from
    async code)."""
    config = alembic_config(url)
    if contract:
        command.upgrade(config, "head")
        return ()
    current = asyncio.run(_current(url))
    steps = pending(current) if current is not None else ()
    first = next((index for index, step in enumerate(steps) if step.contract), None)
    if first is None:
        command.upgrade(config, "head")
        return ()
    if first > 0:
        command.upgrade(config, steps[first - 1].revision)
    return tuple(step.revision for step in steps[first:])


@functools.lru_cache(maxsize=8)
def pending(current: str | None) -> tuple[Step, ...]:
    """The steps from ``current`` (None: an empty database) to the head, oldest first;
    UnknownRevision when ``current`` is not in this version's (linear) history."""
    script = ScriptDirectory.from_config(alembic_config())
    steps: list[Step] = []
    revision = script.get_current_head()
    while revision is not None and revision != current:
        found = script.get_revision(revision)
        if found is None:
            break
        steps.append(Step(found.revision, getattr(found.module, "contract", False) is True))
        down = found.down_revision
        revision = down if isinstance(down, str) or down is None else None
    if revision != current:
        raise UnknownRevision(f"revision {current!r} is not one of this version's")
    return tuple(reversed(steps))


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """The database's revision, or None when it has never been migrated."""
    async with engine.connect() as conn:
        exists = await conn.scalar(text("SELECT to_regclass('alembic_version') IS NOT NULL"))
        if not exists:
            return None
        row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
    return None if row is None else str(row[0])


async def _current(url: URL) -> str | None:
    engine = create_async_engine(url, poolclass=pool.NullPool)
    try:
        return await current_revision(engine)
    finally:
        await engine.dispose()
