"""Contio's events relayed to internal services as ``provider.contio.<event type>`` outbound events.

Called inside the transaction that remembers the event's id (so an event Contio delivers again is
forwarded once) and applies its own effect, after that effect:

- an event for a user whose account connections hold (matched on the provider's subject, revoked
  connections left out): one event per connection, ``{connection_id, user_id, provider,
  external_ids, labels, event: {id, type, timestamp, data}}``, ``data`` as Contio sent it;
- a partner-level event (no user named): one event ``{provider, event}``, about no connection;
- anything else (a user no connection holds, a type that cannot be named as an outbound type, or
  data an outbound event cannot carry): kept in ``unmatched_events`` and never forwarded.

The operator-wide endpoints (``GATEWAY_EVENT_ENDPOINTS``) receive forwarded events only when
``GATEWAY_EVENT_ENDPOINTS_FORWARDED`` is on, since the events carry users' data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.events.outbox import connection_identity, emit, forwarded_type
from gateway.kit.clock import rfc3339
from gateway.kit.crypto import KeyRing
from gateway.models import Connection
from gateway.settings import Settings
from gateway.webhooks import unmatched
from gateway.webhooks.contio import PROVIDER, Envelope, holds_nul, user_subject


class Outcome(StrEnum):
    """What became of a verified event (the ``outcome`` label of ``gateway_provider_webhooks``)."""

    FORWARDED = "forwarded"
    DUPLICATE = "duplicate"  # an event id already received: decided before forwarding
    UNMATCHED = "unmatched"


@dataclass(frozen=True)
class Forwarded:
    outcome: Outcome
    events: int  # outbound events written


def operator_endpoints(settings: Settings) -> tuple[str, ...]:
    """Where forwarded events go besides subscriptions: the operator-wide endpoints, if allowed."""
    return settings.event_endpoints if settings.event_endpoints_forwarded else ()


async def forward(
    session: AsyncSession,
    keys: KeyRing,
    endpoints: Sequence[str],
    envelope: Envelope,
    connections: Sequence[Connection],
    received_at: datetime,
) -> Forwarded:
    """Forward ``envelope`` to each of ``connections`` (those of its user), or as a partner-level
    event, or keep it as unmatched; flushed in the caller's transaction, not committed."""
    # Data an outbound event cannot carry (jsonb holds no U+0000) is only kept, sealed.
    event_type = None if holds_nul(envelope.data) else forwarded_type(PROVIDER, envelope.event_type)
    if event_type is not None and connections:
        for connection in connections:
            data = {**await connection_identity(session, connection), "event": event_json(envelope)}
            await emit(session, endpoints, event_type, data, forwarded=True)
        return Forwarded(Outcome.FORWARDED, len(connections))
    if event_type is not None and user_subject(envelope) is None:
        data = {"provider": PROVIDER, "event": event_json(envelope)}
        await emit(session, endpoints, event_type, data, forwarded=True)
        return Forwarded(Outcome.FORWARDED, 1)
    unmatched.keep(session, keys, PROVIDER, envelope, received_at)
    return Forwarded(Outcome.UNMATCHED, 0)


def event_json(envelope: Envelope) -> dict[str, Any]:
    return {
        "id": envelope.event_id,
        "type": envelope.event_type,
        "timestamp": rfc3339(envelope.timestamp),
        "data": envelope.data,
    }
