"""Finding connections for the console's search: by user id, exactly or by its beginning, with the
admin API's own query (newest first, the same cursors)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.connections import queries
from gateway.kit.pagination import Page
from gateway.models import Connection, ConnectionStatus

Match = Literal["prefix", "exact"]
MATCHES: tuple[Match, ...] = ("prefix", "exact")


@dataclass(frozen=True)
class Search:
    user: str | None = None
    match: Match = "prefix"
    provider: str | None = None
    status: ConnectionStatus | None = None


async def page(
    session: AsyncSession, search: Search, *, cursor: str | None, limit: int
) -> Page[Connection]:
    exact = search.match == "exact"
    where = queries.ConnectionFilter(
        user_id=search.user if exact else None,
        user_id_prefix=None if exact else search.user,
        provider=search.provider,
        status=search.status,
    )
    return await queries.page(session, where, cursor=cursor, limit=limit)
