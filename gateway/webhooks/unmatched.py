"""Provider webhook events that matched no connection: kept for inspection, never forwarded.

Only the event's identity is readable (id, type, the provider's user id, when it was sent and
received); its data is sealed with the key ring, bound to the row, and the user's email is not kept.
Callers own the transaction; retention deletes rows past ``unmatched_event_retention_days``.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kit.clock import rfc3339
from gateway.kit.crypto import Binding, KeyRing
from gateway.kit.pagination import Page, keyset_page
from gateway.models import UnmatchedEvent
from gateway.webhooks.contio import Envelope, user_subject

LISTING = "unmatched-events"
MAX_TYPE_LENGTH = 64  # unmatched_events.event_type
MAX_SUBJECT_LENGTH = 255  # unmatched_events.subject


def keep(
    session: AsyncSession, keys: KeyRing, provider: str, envelope: Envelope, received_at: datetime
) -> UnmatchedEvent:
    row_id = uuid.uuid4()
    subject = user_subject(envelope)
    kept = UnmatchedEvent(
        id=row_id,
        provider=provider,
        event_id=envelope.event_id,
        event_type=envelope.event_type[:MAX_TYPE_LENGTH],
        subject=subject[:MAX_SUBJECT_LENGTH] if subject is not None else None,
        sent_at=envelope.timestamp,
        received_at=received_at,
        data=keys.seal(json.dumps(envelope.data), binding(row_id)),
    )
    session.add(kept)
    return kept


def binding(row_id: uuid.UUID) -> Binding:
    return Binding("unmatched_events", "data", str(row_id))


async def page(
    session: AsyncSession, *, event_type: str | None, cursor: str | None, limit: int
) -> Page[UnmatchedEvent]:
    """Newest received first; keyset-paginated on (received_at, id)."""
    statement = select(UnmatchedEvent)
    if event_type is not None:
        statement = statement.where(UnmatchedEvent.event_type == event_type)
    return await keyset_page(
        session,
        statement,
        listing=LISTING,
        at=UnmatchedEvent.received_at,
        id_=UnmatchedEvent.id,
        cursor=cursor,
        limit=limit,
    )


def event_json(event: UnmatchedEvent) -> dict[str, Any]:
    """The event's identity; never its data."""
    return {
        "id": str(event.id),
        "provider": event.provider,
        "event_id": event.event_id,
        "event_type": event.event_type,
        "subject": event.subject,
        "sent_at": rfc3339(event.sent_at),
        "received_at": rfc3339(event.received_at),
    }


def opened_data(keys: KeyRing, event: UnmatchedEvent) -> Any:
    """The event's data as the provider sent it (raises ``DecryptionError`` if it does not open)."""
    return json.loads(keys.open(event.data, binding(event.id)))
