"""Timeline entries: their kinds, and how each source's row becomes one (pure, no I/O)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from gateway.kit.clock import rfc3339
from gateway.models import AuditEvent, EventDelivery, OutboxEvent, RecordKind, TimelineRecord

# The audit trail's actions about a connection, and the kind each is listed under.
AUDIT_KINDS = {
    "connection.created": "created",
    "connection.reconnected": "reconnected",
    "connection.imported": "imported",
    "connection.needs_reauth": "needs_reauth",
    "connection.credentials_unreadable": "credentials_unreadable",
    "connection.credentials_readable": "credentials_readable",
    "connection.refresh_requested": "refresh_requested",
    "connection.paused": "paused",
    "connection.resumed": "resumed",
    "connection.updated": "updated",
    "connection.default_changed": "default_changed",
    "connection.transferred": "transferred",
    "connection.revoked": "revoked",
    "connection.revoked_by_provider": "revoked",
    "connection.provider_revocation_not_applied": "provider_revocation_not_applied",
    "connection.upstream_revoked": "upstream_revoked",
    "connection.upstream_revocation_abandoned": "upstream_revocation_abandoned",
    "proxy.forbidden": "proxy_refused",
    "connection.delegated_key_issued": "delegated_key_issued",
    "connection.delegated_key_revoked": "delegated_key_revoked",
    "connection.delegated_key_used": "delegated_key_used",
    "connection.credential_stored": "credential_stored",
    "connection.verified": "verified",
}
# An audit entry of an action not listed above; its ``details.action`` names the action.
OTHER = "other"
RECORD_KINDS = tuple(kind.value for kind in RecordKind)
OUTBOUND_EVENT = "outbound_event"
KINDS = (*dict.fromkeys(AUDIT_KINDS.values()), OTHER, *RECORD_KINDS, OUTBOUND_EVENT)


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to a connection. ``id`` is its source row's: the audit entry's, the
    timeline record's, or the outbound event's (its ``webhook-id``)."""

    id: uuid.UUID
    at: datetime
    kind: str
    actor: str | None
    details: dict[str, Any]

    @property
    def position(self) -> tuple[datetime, uuid.UUID]:
        """Where it stands in the timeline (newest first: descending)."""
        return self.at, self.id


def entry_json(entry: TimelineEntry) -> dict[str, Any]:
    return {
        "id": str(entry.id),
        "at": rfc3339(entry.at),
        "kind": entry.kind,
        "actor": entry.actor,
        "details": entry.details,
    }


def from_audit(event: AuditEvent) -> TimelineEntry:
    kind = AUDIT_KINDS.get(event.action, OTHER)
    details = dict(event.details)
    if kind == OTHER:
        details["action"] = event.action
    return TimelineEntry(event.id, event.occurred_at, kind, event.actor, details)


def from_record(record: TimelineRecord) -> TimelineEntry:
    return TimelineEntry(record.id, record.occurred_at, record.kind, record.actor, record.details)


def from_event(event: OutboxEvent, deliveries: Sequence[EventDelivery]) -> TimelineEntry:
    """An outbound event by its type and reason (not its data), with its delivery to each endpoint."""
    details = {
        "type": event.type,
        "status": event.data.get("status"),
        "reason": event.data.get("reason"),
        "deliveries": [delivery_json(delivery) for delivery in deliveries],
    }
    return TimelineEntry(event.id, event.occurred_at, OUTBOUND_EVENT, None, details)


def delivery_state(delivery: EventDelivery) -> str:
    if delivery.delivered_at is not None:
        return "delivered"
    if delivery.abandoned_at is not None:
        return "dead"
    return "retrying" if delivery.attempts else "pending"


def delivery_json(delivery: EventDelivery) -> dict[str, Any]:
    state = delivery_state(delivery)
    return {
        "endpoint": shown_endpoint(delivery.endpoint),
        "state": state,
        "attempts": delivery.attempts,
        "last_error": delivery.last_error,
        "delivered_at": rfc3339(delivery.delivered_at),
        "abandoned_at": rfc3339(delivery.abandoned_at),
        "next_attempt_at": (
            rfc3339(delivery.next_attempt_at) if state in ("pending", "retrying") else None
        ),
    }


def shown_endpoint(url: str) -> str:
    """The endpoint without credentials or query string, which may carry a secret."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:  # not a number: not worth showing
        port = ""
    return f"{parts.scheme}://{host}{port}{parts.path}"
