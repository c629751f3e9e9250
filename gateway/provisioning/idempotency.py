"""``Idempotency-Key`` for a service client's requests: a retry gets the first answer, not a second
execution.

The first request with a key *claims* it (a row with a lease), runs, and *completes* it with its
answer, in the same transaction as the change it made when it can. A repeat with the same body
replays that answer; while the first still runs the repeat is refused with 409 and Retry-After; a
different body under the same key is 422. A first request that failed transiently *releases* the
key, so the retry runs for real. Keys are kept 24 hours, as Contio keeps its own;
a lease that ran out (its process died) may be taken over.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from gateway.kit.clock import utcnow
from gateway.kit.crypto import Binding, KeyRing
from gateway.kit.db import Database
from gateway.models import IdempotencyKey
from gateway.provisioning.errors import (
    IdempotencyInFlight,
    IdempotencyKeyReused,
    InvalidIdempotencyKey,
)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
RETENTION = timedelta(hours=24)
# Contio's rule for its own keys: at most 255 printable ASCII characters.
_KEY = re.compile(r"[\x20-\x7e]{1,255}")
IN_FLIGHT_RETRY_AFTER = 2.0


@dataclass(frozen=True)
class Claim:
    """This request owns the key: it runs, then completes or releases it."""

    id: uuid.UUID


@dataclass(frozen=True)
class Replay:
    """The answer the first request with this key got."""

    status_code: int
    body: bytes

    def __repr__(self) -> str:
        return f"Replay(status_code={self.status_code}, body=***)"


def key_of(request: Request) -> str | None:
    """The request's Idempotency-Key, or None; InvalidIdempotencyKey when it is malformed."""
    value = request.headers.get(HEADER)
    if value is None:
        return None
    if not _KEY.fullmatch(value) or not value.strip():
        raise InvalidIdempotencyKey(
            f"{HEADER} must be 1 to 255 printable ASCII characters",
            details={"header": HEADER},
        )
    return value


def fingerprint(payload: Mapping[str, object]) -> str:
    """A hash of the request as parsed, so that key order and spacing do not count as a change."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _binding(row_id: uuid.UUID) -> Binding:
    return Binding(IdempotencyKey.__tablename__, "response_body", str(row_id))


async def claim(
    db: Database,
    keys: KeyRing,
    *,
    client_id: uuid.UUID,
    operation: str,
    key: str,
    request_hash: str,
    lease: timedelta,
) -> Claim | Replay:
    """Own the key for this request, or learn the answer of the first one that owned it."""
    now = utcnow()
    async with db.transaction() as session:
        inserted = await session.scalar(
            insert(IdempotencyKey)
            .values(
                id=uuid.uuid4(),
                service_client_id=client_id,
                operation=operation,
                key=key,
                request_hash=request_hash,
                created_at=now,
                expires_at=now + RETENTION,
                lease_expires_at=now + lease,
            )
            .on_conflict_do_nothing()
            .returning(IdempotencyKey.id)
        )
        if inserted is not None:
            return Claim(inserted)
        row = await session.scalar(
            select(IdempotencyKey)
            .where(
                IdempotencyKey.service_client_id == client_id,
                IdempotencyKey.operation == operation,
                IdempotencyKey.key == key,
            )
            .with_for_update()
        )
        assert row is not None  # the insert conflicted with it, and only release deletes
        if row.expires_at <= now:  # kept long enough: the key starts afresh
            row.request_hash = request_hash
            row.created_at = now
            row.expires_at = now + RETENTION
            row.response_status = None
            row.response_body = None
        elif row.request_hash != request_hash:
            raise IdempotencyKeyReused()
        elif row.response_status is not None and row.response_body is not None:
            body = keys.open(row.response_body, _binding(row.id))
            return Replay(row.response_status, body.encode())
        elif row.lease_expires_at is not None and row.lease_expires_at > now:
            remaining = (row.lease_expires_at - now).total_seconds()
            raise IdempotencyInFlight(min(remaining, IN_FLIGHT_RETRY_AFTER))
        row.lease_expires_at = now + lease  # a new owner, or one whose process died
        return Claim(row.id)


async def complete(
    session: AsyncSession, keys: KeyRing, claimed: Claim, status_code: int, body: bytes
) -> None:
    """Keep the answer for replay, in the caller's transaction."""
    await session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == claimed.id)
        .values(
            response_status=status_code,
            response_body=keys.seal(body.decode(), _binding(claimed.id)),
            lease_expires_at=None,
        )
    )


async def release(db: Database, claimed: Claim) -> None:
    """Forget an unanswered claim, so that a retry with the key runs for real."""
    async with db.transaction() as session:
        await session.execute(
            delete(IdempotencyKey).where(
                IdempotencyKey.id == claimed.id, IdempotencyKey.response_status.is_(None)
            )
        )
