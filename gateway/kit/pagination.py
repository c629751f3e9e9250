"""Keyset pagination, newest first, over a (timestamp, id) pair, with opaque cursors.

A cursor names the last row of a page and the listing it belongs to; it is base64url JSON, opaque to
callers, and anything that does not decode to a cursor of the same listing is ``invalid_cursor``.
Rows inserted while a caller pages never shift later pages (no OFFSET).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Generic, TypeVar

from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from gateway.kit.errors import BadRequest

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

T = TypeVar("T")
# What decoding a cursor that is not ours raises. binascii.Error is a ValueError; OverflowError: a
# time beyond years 1 to 9999 in UTC; RecursionError: JSON nested deeper than the parser goes.
UNDECODABLE = (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError)


@dataclass(frozen=True)
class Cursor:
    listing: str
    at: datetime
    id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps({"l": self.listing, "t": self.at.isoformat(), "i": str(self.id)})
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, listing: str, text: str) -> Cursor:
        """The cursor ``text`` of ``listing``; BadRequest ``invalid_cursor`` otherwise."""
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            data = json.loads(raw)
            cursor = cls(data["l"], datetime.fromisoformat(data["t"]), uuid.UUID(data["i"]))
            if cursor.at.tzinfo is not None:
                cursor.at.astimezone(UTC)
        except UNDECODABLE as exc:
            raise invalid_cursor() from exc
        if cursor.listing != listing or cursor.at.tzinfo is None:
            raise invalid_cursor()
        return cursor


def invalid_cursor() -> BadRequest:
    return BadRequest("cursor is not a next_cursor this listing returned", code="invalid_cursor")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


def parse_limit(text: str | None) -> int:
    """``limit``: 1 to MAX_LIMIT, DEFAULT_LIMIT when absent; BadRequest ``invalid_limit`` else."""
    if text is None:
        return DEFAULT_LIMIT
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= MAX_LIMIT:
        raise BadRequest(
            f"limit must be a whole number from 1 to {MAX_LIMIT}",
            code="invalid_limit",
            details={"max": MAX_LIMIT},
        )
    return int(text)


async def keyset_page(
    session: AsyncSession,
    statement: Select[T],
    *,
    listing: str,
    at: InstrumentedAttribute[datetime],
    id_: InstrumentedAttribute[uuid.UUID],
    cursor: str | None,
    limit: int,
) -> Page[T]:
    """One page of ``statement``'s rows, newest ``at`` first (ties broken by id)."""
    rows = await keyset_rows(
        session, statement, at=at, id_=id_, after=decode(listing, cursor), limit=limit
    )
    return merged_page(
        [rows],
        listing=listing,
        limit=limit,
        key=lambda row: (getattr(row, at.key), getattr(row, id_.key)),
    )


def decode(listing: str, cursor: str | None) -> Cursor | None:
    return None if cursor is None else Cursor.decode(listing, cursor)


async def keyset_rows(
    session: AsyncSession,
    statement: Select[T],
    *,
    at: InstrumentedAttribute[datetime],
    id_: InstrumentedAttribute[uuid.UUID],
    after: Cursor | None,
    limit: int,
) -> list[T]:
    """Up to ``limit + 1`` rows of ``statement`` past ``after``, newest first: one source of a page."""
    if after is not None:
        statement = statement.where(tuple_(at, id_) < tuple_(after.at, after.id))
    ordered = statement.order_by(at.desc(), id_.desc()).limit(limit + 1)
    return list((await session.scalars(ordered)).all())


def merged_page(
    sources: Iterable[Sequence[T]],
    *,
    listing: str,
    limit: int,
    key: Callable[[T], tuple[datetime, uuid.UUID]],
) -> Page[T]:
    """One page from several sources, each read by ``keyset_rows`` past the same cursor: the newest
    ``limit`` of them all, by ``key`` (a time and an id unique across the sources)."""
    rows = sorted((row for source in sources for row in source), key=key, reverse=True)
    if len(rows) <= limit:
        return Page(rows, None)
    at, id_ = key(rows[limit - 1])
    return Page(rows[:limit], Cursor(listing, at, id_).encode())
