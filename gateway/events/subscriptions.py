"""Subscriptions and their signing secrets, as stored. Callers own the transaction.

A subscription's secrets are Standard Webhooks secrets (``whsec_`` + base64 of 32 random bytes),
sealed with the key ring and bound to their row. Every secret not yet expired signs each delivery,
so a rotation overlaps: the new secret signs at once, and the ones it replaces keep signing until
``expires_at`` (the overlap), which lets a receiver move to the new one without losing an event.
"""

from __future__ import annotations

import base64
import hmac
import logging
import secrets
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.events import signing
from gateway.kit.clock import utcnow
from gateway.kit.crypto import Binding, DecryptionError, KeyRing
from gateway.kit.egress import EgressPolicy, parse_networks
from gateway.models import Subscription, SubscriptionSecret
from gateway.settings import Settings

log = logging.getLogger(__name__)

SECRET_BYTES = 32


@dataclass(frozen=True)
class SubscriptionSpec:
    """What a subscription is made of, checked by its caller (``routing.pattern_problem``, the URL
    by the egress policy, the selector by the connections' label rules)."""

    url: str
    event_types: Sequence[str]
    label_values: Mapping[str, str]
    label_keys: Sequence[str]
    enabled: bool = True


def egress_policy(settings: Settings) -> EgressPolicy:
    """Where subscriptions may point, as the operator's settings allow (kit.egress)."""
    return EgressPolicy(
        allow_loopback=settings.subscriptions_allow_loopback_http,
        allowed_networks=parse_networks(settings.subscriptions_allowed_networks),
    )


def new_secret() -> str:
    return signing.SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _binding(secret_id: uuid.UUID) -> Binding:
    return Binding(SubscriptionSecret.__tablename__, "secret", str(secret_id))


async def create(
    session: AsyncSession,
    keys: KeyRing,
    client_id: uuid.UUID,
    spec: SubscriptionSpec,
    *,
    secret: str | None = None,
) -> tuple[Subscription, str]:
    """A new subscription of the client, and its first secret (``secret``, or a new one; returned
    once, stored sealed)."""
    subscription = Subscription(
        id=uuid.uuid4(),
        client_id=client_id,
        url=spec.url,
        event_types=list(spec.event_types),
        label_values=dict(spec.label_values),
        label_keys=list(spec.label_keys),
        enabled=spec.enabled,
    )
    session.add(subscription)
    await session.flush()
    secret = await add_secret(session, keys, subscription.id, secret)
    await session.refresh(subscription)
    return subscription, secret


async def add_secret(
    session: AsyncSession, keys: KeyRing, subscription_id: uuid.UUID, secret: str | None = None
) -> str:
    """Store ``secret`` (a new one when None; a given one must parse) as the subscription's."""
    secret_id = uuid.uuid4()
    if secret is None:
        secret = new_secret()
    signing.parse_secret(secret)
    session.add(
        SubscriptionSecret(
            id=secret_id,
            subscription_id=subscription_id,
            secret=keys.seal(secret, _binding(secret_id)),
        )
    )
    await session.flush()
    return secret


async def rotate(
    session: AsyncSession,
    keys: KeyRing,
    subscription_id: uuid.UUID,
    *,
    overlap: timedelta,
    secret: str | None = None,
) -> str:
    """A new secret (``secret``, or a new one), signing from now on; the current ones expire after
    ``overlap`` (those already expiring sooner keep their time, and expired ones are removed).
    Returns the new secret."""
    now = utcnow()
    retire_at = now + overlap
    await session.execute(
        delete(SubscriptionSecret).where(
            SubscriptionSecret.subscription_id == subscription_id,
            SubscriptionSecret.expires_at <= now,
        )
    )
    await session.execute(
        update(SubscriptionSecret)
        .where(
            SubscriptionSecret.subscription_id == subscription_id,
            or_(
                SubscriptionSecret.expires_at.is_(None),
                SubscriptionSecret.expires_at > retire_at,
            ),
        )
        .values(expires_at=retire_at)
    )
    return await add_secret(session, keys, subscription_id, secret)


async def holds_secret(
    session: AsyncSession, keys: KeyRing, subscription_id: uuid.UUID, secret: str
) -> bool:
    """Whether ``secret`` is the subscription's newest secret, unexpired (one that does not open
    with the key ring is not)."""
    rows = await session.scalars(
        select(SubscriptionSecret)
        .where(SubscriptionSecret.subscription_id == subscription_id, _unexpired(utcnow()))
        .order_by(SubscriptionSecret.created_at.desc())
        .limit(1)
    )
    newest = rows.first()
    if newest is None:
        return False
    try:
        held = keys.open(newest.secret, _binding(newest.id))
    except DecryptionError:
        return False
    return hmac.compare_digest(held.encode(), secret.encode())


async def secret_expiries(
    session: AsyncSession, subscription_id: uuid.UUID
) -> list[datetime | None]:
    """When each secret still signing stops (None: until a rotation), newest first."""
    rows = await session.scalars(
        select(SubscriptionSecret.expires_at)
        .where(SubscriptionSecret.subscription_id == subscription_id, _unexpired(utcnow()))
        .order_by(SubscriptionSecret.created_at.desc())
    )
    return list(rows)


async def signing_keys(
    session: AsyncSession, keys: KeyRing, subscription_ids: Iterable[uuid.UUID], now: datetime
) -> dict[uuid.UUID, tuple[signing.SigningKey, ...]]:
    """The keys that sign for each subscription now, newest first; a secret the key ring does not
    open is left out (and logged by row id), so a subscription may end up with none."""
    rows = await session.scalars(
        select(SubscriptionSecret)
        .where(SubscriptionSecret.subscription_id.in_(list(subscription_ids)), _unexpired(now))
        .order_by(SubscriptionSecret.created_at.desc())
    )
    found: dict[uuid.UUID, list[signing.SigningKey]] = {}
    for row in rows:
        try:
            key = signing.parse_secret(keys.open(row.secret, _binding(row.id)))
        except (DecryptionError, ValueError):
            log.error("subscription secret %s does not open with the key ring", row.id)
            continue
        found.setdefault(row.subscription_id, []).append(key)
    return {subscription_id: tuple(found_keys) for subscription_id, found_keys in found.items()}


def _unexpired(now: datetime) -> ColumnElement[bool]:
    return or_(SubscriptionSecret.expires_at.is_(None), SubscriptionSecret.expires_at > now)


async def subscribed_patterns(session: AsyncSession) -> list[str]:
    """The event-type patterns of every enabled subscription, each once (read in the caller's
    transaction): what the services want to hear of, for Contio's include-filter."""
    found = await session.scalars(
        select(func.unnest(Subscription.event_types))
        .where(Subscription.enabled.is_(True))
        .distinct()
    )
    return sorted(found)
