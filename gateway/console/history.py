"""What a connection's page shows besides the connection itself: its pending upstream revocation
and one page of its timeline (``connections.timeline``). Callers own the transaction."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.connections import queries
from gateway.connections.timeline import sources
from gateway.connections.timeline.entries import TimelineEntry
from gateway.kit.pagination import Page
from gateway.models import Connection, PendingRevocation
from gateway.tokens.pending_revocations import pending_for

TIMELINE_PAGE = 25


@dataclass(frozen=True)
class History:
    connection: Connection
    pending: PendingRevocation | None
    timeline: Page[TimelineEntry]


async def load(session: AsyncSession, connection_id: uuid.UUID, *, older: str | None) -> History:
    """ConnectionNotFound unless the connection exists; ``older``: the timeline's cursor."""
    connection = await queries.get(session, connection_id)
    return History(
        connection=connection,
        pending=await pending_for(session, connection_id),
        timeline=await sources.page(
            session, connection_id, sources.TimelineFilter(), cursor=older, limit=TIMELINE_PAGE
        ),
    )
