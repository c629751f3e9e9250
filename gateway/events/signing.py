"""Standard Webhooks signatures (https://www.standardwebhooks.com), pure functions without I/O.

A secret is ``whsec_`` + base64 of the key. The signed content is ``{webhook-id}.{webhook-timestamp}.
{body}``, signed with HMAC-SHA256 and sent base64 as ``v1,<signature>``; every configured secret signs,
space separated, so receivers keep verifying while a secret is rotated.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from gateway.kit.clock import rfc3339

SECRET_PREFIX = "whsec_"
VERSION = "v1"
DEFAULT_TOLERANCE_SECONDS = 300


class SignatureError(Exception):
    """Raised by ``verify`` when a delivery's headers do not prove it came from the gateway."""


class SigningKey:
    """One decoded secret; prints ``***``."""

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        self._key = key

    def sign(self, content: bytes) -> str:
        digest = hmac.new(self._key, content, hashlib.sha256).digest()
        return base64.b64encode(digest).decode("ascii")

    def __repr__(self) -> str:
        return "SigningKey(***)"


def parse_secret(secret: str) -> SigningKey:
    """Decode one ``whsec_<base64>`` secret; a malformed one is a ``ValueError`` saying why."""
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a signing secret must start with {SECRET_PREFIX!r}")
    encoded = secret[len(SECRET_PREFIX) :]
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"a signing secret must be {SECRET_PREFIX} followed by base64") from exc
    if len(key) < 24:
        raise ValueError("a signing secret must hold at least 24 bytes of key")
    return SigningKey(key)


def parse_secrets(secrets: Iterable[str]) -> tuple[SigningKey, ...]:
    return tuple(parse_secret(secret.strip()) for secret in secrets if secret.strip())


def signed_content(webhook_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{webhook_id}.{timestamp}.".encode() + body


def signature_header(
    keys: Sequence[SigningKey], webhook_id: str, timestamp: int, body: bytes
) -> str:
    content = signed_content(webhook_id, timestamp, body)
    return " ".join(f"{VERSION},{key.sign(content)}" for key in keys)


def headers(
    keys: Sequence[SigningKey], webhook_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    if not keys:
        raise ValueError("refusing to sign with no secrets")
    return {
        "content-type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(keys, webhook_id, timestamp, body),
    }


def payload(event_type: str, occurred_at: datetime, data: Mapping[str, object]) -> bytes:
    """The body: ``{type, timestamp, data}`` with an RFC 3339 UTC timestamp ending in ``Z``."""
    document = {"type": event_type, "timestamp": rfc3339(occurred_at), "data": dict(data)}
    return json.dumps(document, separators=(",", ":"), sort_keys=True).encode()


def verify(
    secrets: Iterable[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Check a delivery as a receiver would: any ``v1`` signature by any of ``secrets`` will do.

    ``headers`` must be case-insensitive or lower-case. Raises ``SignatureError``.
    """
    webhook_id = headers.get("webhook-id")
    timestamp_text = headers.get("webhook-timestamp")
    signatures = headers.get("webhook-signature")
    if not webhook_id or not timestamp_text or not signatures:
        raise SignatureError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        timestamp = int(timestamp_text)
    except ValueError as exc:
        raise SignatureError("webhook-timestamp is not an integer") from exc
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise SignatureError("webhook-timestamp is outside the tolerance")
    content = signed_content(webhook_id, timestamp, body)
    expected = [key.sign(content) for key in parse_secrets(secrets)]
    for candidate in signatures.split(" "):
        version, _, signature = candidate.partition(",")
        if version != VERSION:
            continue
        if any(hmac.compare_digest(signature, good) for good in expected):
            return
    raise SignatureError("no signature matches")
