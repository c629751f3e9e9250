"""The outbox: events written in the same transaction as the change they report.

Domains call ``emit`` inside their own transaction and never commit here; the ``Deliverer`` sends the
rows later, so an event exists if and only if its change was committed.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kit.clock import utcnow
from gateway.models import Connection, ConnectionExternalId, EventDelivery, OutboxEvent

EVENT_TYPES = (
    "connection.created",
    "connection.refresh_failed",
    "connection.needs_reauth",
    "connection.recovered",
    "connection.credentials_unreadable",
    "connection.revoked",
    "provider.client_error",
)
# A provider's own event relayed as ``provider.<provider>.<its type>``: lower-case dotted words,
# at most the 64 characters ``outbox_events.type`` holds.
FORWARDED_TYPE = re.compile(r"provider\.[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_]*)+")
MAX_TYPE_LENGTH = 64


def forwarded_type(provider: str, provider_event_type: str) -> str | None:
    """The outbound type of a provider's event; None when the provider's type cannot be named
    (not dotted lower-case words, or too long)."""
    name = f"provider.{provider}.{provider_event_type}"
    return name if is_forwarded_type(name) else None


def is_forwarded_type(event_type: str) -> bool:
    return len(event_type) <= MAX_TYPE_LENGTH and FORWARDED_TYPE.fullmatch(event_type) is not None


async def emit(
    session: AsyncSession,
    endpoints: Sequence[str],
    event_type: str,
    data: Mapping[str, object],
    *,
    forwarded: bool = False,
) -> OutboxEvent:
    """Add one event and one delivery per endpoint to the caller's transaction (flushed, not committed).

    With no endpoints the event is still written: it is the record of what happened. An event about
    a connection names it as ``data["connection_id"]``, its id as a string (the outbox indexes it).
    ``forwarded``: a provider's own event relayed under ``forwarded_type`` instead of one of
    ``EVENT_TYPES``; one without a connection (a partner-level event) goes to ``endpoints`` only.
    """
    if forwarded:
        if not is_forwarded_type(event_type):
            raise ValueError(f"{event_type!r} is not a forwarded type (provider.<name>.<type>)")
    elif event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}; expected one of {EVENT_TYPES}")
    now = utcnow()
    event = OutboxEvent(id=uuid.uuid4(), type=event_type, occurred_at=now, data=dict(data))
    session.add(event)
    # No relationship links the two tables, so the unit of work does not order them: event first.
    await session.flush()
    session.add_all(
        EventDelivery(event_id=event.id, endpoint=endpoint, attempts=0, next_attempt_at=now)
        for endpoint in endpoints
    )
    await session.flush()
    return event


async def connection_data(
    session: AsyncSession, connection: Connection, reason: str | None
) -> dict[str, object]:
    """The public face of a connection in an event, its owner's external ids and labels with it
    (read in the caller's transaction); never a token."""
    return {
        **await connection_identity(session, connection),
        "status": connection.status.value,
        "reason": reason,
    }


async def connection_identity(session: AsyncSession, connection: Connection) -> dict[str, object]:
    """Which connection an event is about: its id, user, provider, external ids and labels."""
    external_ids = await session.scalars(
        select(ConnectionExternalId.external_id).where(
            ConnectionExternalId.connection_id == connection.id
        )
    )
    return {
        "connection_id": str(connection.id),
        "user_id": connection.user_id,
        "provider": connection.provider,
        "external_ids": sorted(external_ids),
        "labels": connection.labels,
    }
