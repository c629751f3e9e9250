"""Finding connections for the console's search: by user id, exactly or by its beginning, and by the
admin API's filters (provider, status, auth mode, external id, label selectors, paused), with the
admin API's own query (newest first, the same cursors)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.connections import queries
from gateway.connections.labels import Selector
from gateway.kit.pagination import Page
from gateway.models import AuthMode, Connection, ConnectionStatus

Match = Literal["prefix", "exact"]
MATCHES: tuple[Match, ...] = ("prefix", "exact")


@dataclass(frozen=True)
class Search:
    user: str | None = None
    match: Match = "prefix"
    provider: str | None = None
    status: ConnectionStatus | None = None
    auth_mode: AuthMode | None = None
    external_id: str | None = None
    # Every selector must match (``team=sales``: that value; ``team``: any).
    labels: tuple[Selector, ...] = ()
    # False: only paused connections; True: only the others.
    enabled: bool | None = None

    @property
    def label_text(self) -> str:
        """The selectors as the search form's field holds them: ``team=sales, tier``."""
        return ", ".join(s.key if s.value is None else f"{s.key}={s.value}" for s in self.labels)


async def page(
    session: AsyncSession, search: Search, *, cursor: str | None, limit: int
) -> Page[Connection]:
    exact = search.match == "exact"
    where = queries.ConnectionFilter(
        user_id=search.user if exact else None,
        user_id_prefix=None if exact else search.user,
        provider=search.provider,
        status=search.status,
        auth_mode=search.auth_mode,
        external_id=search.external_id,
        labels=search.labels,
        enabled=search.enabled,
    )
    return await queries.page(session, where, cursor=cursor, limit=limit)
