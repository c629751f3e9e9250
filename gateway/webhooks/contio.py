"""Contio's webhooks: the ``X-Contio-Signature`` check and the envelope, pure functions without I/O.

Contio signs the raw body: ``sha256=`` + hex HMAC-SHA256 under the partner app's webhook secret.
Several secrets may be configured (newest first) so a rotation loses no event.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

PROVIDER = "contio"  # the provider, as connections name it
SIGNATURE_HEADER = "x-contio-signature"
SIGNATURE_PREFIX = "sha256="
MAX_EVENT_ID_LENGTH = 128  # seen_webhooks.event_id


class InvalidEnvelope(ValueError):
    """Raised when a verified body is not a Contio event envelope."""


@dataclass(frozen=True)
class Envelope:
    event_type: str
    event_id: str
    timestamp: datetime
    partner_app_id: str
    data: dict[str, Any]
    for_user: dict[str, Any] | None = None


def signature(secret: str, body: bytes) -> str:
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def is_signed(body: bytes, header: str | None, secrets: Sequence[str]) -> bool:
    """Whether ``header`` is a signature of ``body`` by any secret; every comparison is constant time."""
    if not header or not header.startswith(SIGNATURE_PREFIX):
        return False
    matched = False
    for secret in secrets:
        matched |= hmac.compare_digest(header.encode(), signature(secret, body).encode())
    return matched


def parse_envelope(body: bytes) -> Envelope:
    try:
        document = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidEnvelope("the body is not valid JSON") from exc
    if not isinstance(document, dict):
        raise InvalidEnvelope("the body is not a JSON object")
    missing = [
        name
        for name in ("event_type", "event_id", "timestamp", "partner_app_id", "data")
        if document.get(name) in (None, "")
    ]
    if missing:
        raise InvalidEnvelope(f"missing field(s): {', '.join(missing)}")
    event_id, event_type = document["event_id"], document["event_type"]
    # The id is stored (seen_webhooks), and PostgreSQL text cannot hold U+0000.
    if not isinstance(event_id, str) or len(event_id) > MAX_EVENT_ID_LENGTH or "\x00" in event_id:
        raise InvalidEnvelope(
            f"event_id must be a string of at most {MAX_EVENT_ID_LENGTH} chars, without NUL"
        )
    if not isinstance(event_type, str) or not isinstance(document["data"], dict):
        raise InvalidEnvelope("event_type must be a string and data an object")
    envelope = Envelope(
        event_type=event_type,
        event_id=event_id,
        timestamp=parse_timestamp(document["timestamp"]),
        partner_app_id=str(document["partner_app_id"]),
        data=document["data"],
        for_user=document["for_user"] if isinstance(document.get("for_user"), dict) else None,
    )
    # The type and the user's id are stored and looked up as text.
    if "\x00" in event_type or "\x00" in (user_subject(envelope) or ""):
        raise InvalidEnvelope("event_type and for_user.id must not hold NUL")
    return envelope


def parse_timestamp(value: object) -> datetime:
    """RFC 3339 (``Z`` or an offset) or unix seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError) as exc:  # NaN, infinities, far out of range
            raise InvalidEnvelope("timestamp is not a time unix seconds can name") from exc
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError as exc:
            raise InvalidEnvelope("timestamp is not an RFC 3339 date-time") from exc
        if parsed.tzinfo is None:
            raise InvalidEnvelope("timestamp has no time zone")
        return parsed
    raise InvalidEnvelope("timestamp must be an RFC 3339 string or unix seconds")


def revoked_connection_id(envelope: Envelope) -> str | None:
    """Contio's own id of the revoked connection (``data.connection_id``), when the event has one."""
    value = envelope.data.get("connection_id")
    return str(value) if isinstance(value, str | int) and str(value) else None


def user_subject(envelope: Envelope) -> str | None:
    """The Contio user id an event is for (of ``user.connection.revoked``: the user whose connection
    ended): ``for_user.id`` beside ``data`` (where Contio documents it), or inside ``data``."""
    for_user = envelope.for_user or envelope.data.get("for_user")
    if isinstance(for_user, dict) and isinstance(for_user.get("id"), str | int):
        return str(for_user["id"])
    return None


def holds_nul(value: object) -> bool:
    """Whether a JSON value has U+0000 in a string or a key (PostgreSQL's jsonb cannot store it)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(key) or holds_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(holds_nul(item) for item in value)
    return False
