"""Managing subscriptions for the admin API and the CLI: finding one for its owner (an operator,
``owner`` None, finds any), how the API shows it, its delivery log, replay and ping. Callers own the
transaction, but ``ping`` opens its own: it commits the event before sending it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.audit import store as audit
from gateway.events import dead_letters, outbox
from gateway.events.delivery import Deliverer
from gateway.events.subscriptions import egress_policy
from gateway.kit import query
from gateway.kit.clock import rfc3339
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.kit.pagination import Page, keyset_page
from gateway.models import EventDelivery, OutboxEvent, Subscription
from gateway.settings import Settings
from gateway.subscriptions.errors import (
    DeliveryNotAbandoned,
    DeliveryNotFound,
    SubscriptionDisabled,
    SubscriptionNotFound,
)

LISTING = "subscriptions"
DeliveryState = Literal["pending", "delivered", "abandoned"]
DELIVERY_STATES: tuple[DeliveryState, ...] = ("pending", "delivered", "abandoned")


def audited(session: AsyncSession, actor: str, action: str, subscription_id: uuid.UUID) -> None:
    """Record a change of a subscription (``subscription.<action>``) in the audit trail."""
    audit.record(
        session,
        actor=actor,
        action=f"subscription.{action}",
        connection_id=None,
        details={"subscription_id": str(subscription_id)},
    )


def selector_terms(subscription: Subscription) -> list[str]:
    """The selector as it was written: ``key=value`` terms, then bare keys."""
    return terms(subscription.label_values, subscription.label_keys)


def terms(values: Mapping[str, str], keys: Sequence[str]) -> list[str]:
    """A selector's labels to contain and keys to have, as ``key=value`` terms then bare keys."""
    return [f"{key}={value}" for key, value in sorted(values.items())] + list(keys)


def parse_id(text: str) -> uuid.UUID:
    parsed = query.id_in_path(text)
    if parsed is None:
        raise not_found(text[:64])
    return parsed


def not_found(subscription_id: object) -> SubscriptionNotFound:
    return SubscriptionNotFound(
        f"no subscription has the id {str(subscription_id)!r}",
        details={"subscription_id": str(subscription_id)},
    )


async def find(
    session: AsyncSession,
    subscription_id: uuid.UUID,
    owner: uuid.UUID | None,
    *,
    for_update: bool = False,
) -> Subscription:
    """The subscription, if ``owner`` owns it (None: any); 404 ``subscription_not_found`` else,
    also for another client's, so that a client cannot learn which ids exist."""
    subscription = await session.get(
        Subscription, subscription_id, with_for_update=for_update, populate_existing=True
    )
    if subscription is None or (owner is not None and subscription.client_id != owner):
        raise not_found(subscription_id)
    return subscription


async def page(
    session: AsyncSession, owner: uuid.UUID | None, *, cursor: str | None, limit: int
) -> Page[Subscription]:
    """``owner``'s subscriptions (None: every one), newest first."""
    statement = select(Subscription)
    if owner is not None:
        statement = statement.where(Subscription.client_id == owner)
    return await keyset_page(
        session,
        statement,
        listing=LISTING,
        at=Subscription.created_at,
        id_=Subscription.id,
        cursor=cursor,
        limit=limit,
    )


def as_json(subscription: Subscription, secrets: Sequence[datetime | None] = ()) -> dict[str, Any]:
    """A subscription as the API shows it; ``secrets`` are when its signing secrets expire (null:
    until the next rotation), never the secrets."""
    return {
        "id": str(subscription.id),
        "client_id": str(subscription.client_id),
        "url": subscription.url,
        "event_types": list(subscription.event_types),
        "label_selector": selector_terms(subscription),
        "enabled": subscription.enabled,
        "created_at": rfc3339(subscription.created_at),
        "updated_at": rfc3339(subscription.updated_at),
        "secrets": [{"expires_at": rfc3339(at) if at else None} for at in secrets],
    }


def delivery_state(delivery: EventDelivery) -> DeliveryState:
    if delivery.delivered_at is not None:
        return "delivered"
    if delivery.abandoned_at is not None:
        return "abandoned"
    return "pending"


async def deliveries(
    session: AsyncSession, subscription_id: uuid.UUID, state: DeliveryState | None, limit: int
) -> list[dict[str, Any]]:
    """The subscription's delivery log, newest event first."""
    statement = (
        select(EventDelivery, OutboxEvent)
        .join(OutboxEvent, OutboxEvent.id == EventDelivery.event_id)
        .where(EventDelivery.subscription_id == subscription_id)
        .order_by(OutboxEvent.occurred_at.desc(), EventDelivery.id.desc())
        .limit(limit)
    )
    if state == "delivered":
        statement = statement.where(EventDelivery.delivered_at.is_not(None))
    elif state == "abandoned":
        statement = statement.where(EventDelivery.abandoned_at.is_not(None))
    elif state == "pending":
        statement = statement.where(
            EventDelivery.delivered_at.is_(None), EventDelivery.abandoned_at.is_(None)
        )
    rows = await session.execute(statement)
    return [delivery_json(delivery, event) for delivery, event in rows]


def delivery_json(delivery: EventDelivery, event: OutboxEvent) -> dict[str, Any]:
    def when(at: datetime | None) -> str | None:
        return rfc3339(at) if at is not None else None

    return {
        "id": str(delivery.id),
        "event_id": str(event.id),
        "event_type": event.type,
        "occurred_at": rfc3339(event.occurred_at),
        "state": delivery_state(delivery),
        "attempts": delivery.attempts,
        "next_attempt_at": when(delivery.next_attempt_at)
        if delivery_state(delivery) == "pending"
        else None,
        "delivered_at": when(delivery.delivered_at),
        "abandoned_at": when(delivery.abandoned_at),
        "last_error": delivery.last_error,
    }


async def replay(session: AsyncSession, subscription_id: uuid.UUID, delivery_id: uuid.UUID) -> None:
    """Put one of the subscription's abandoned deliveries back in line (``dead_letters.replay``)."""
    delivery = await session.get(EventDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.subscription_id != subscription_id:
        raise DeliveryNotFound(
            f"the subscription has no delivery {str(delivery_id)!r}",
            details={"delivery_id": str(delivery_id)},
        )
    if delivery.abandoned_at is None:
        raise DeliveryNotAbandoned(
            f"only an abandoned delivery is replayed; this one is {delivery_state(delivery)}",
            details={"delivery_id": str(delivery_id), "state": delivery_state(delivery)},
        )
    await dead_letters.replay(session, [delivery_id])


async def ping(
    db: Database,
    deliverer: Deliverer,
    subscription_id: uuid.UUID,
    owner: uuid.UUID | None,
) -> dict[str, Any]:
    """Write a ``gateway.ping`` for the (enabled) subscription, commit it, and send it at once
    with ``deliverer``; how it went."""
    async with db.transaction() as session:
        item = await find(session, subscription_id, owner)
        if not item.enabled:
            raise SubscriptionDisabled(
                "the subscription is disabled; enable it first",
                details={"subscription_id": str(subscription_id)},
            )
        delivery = await outbox.ping(session, item.id, item.url)
    outcomes = await deliverer.deliver([delivery.id])
    error = outcomes[0].error if outcomes else "not sent: another worker took it"
    return {
        "delivery_id": str(delivery.id),
        "event_id": str(delivery.event_id),
        "delivered": error is None,
        "error": error,
    }


def deliverer(
    db: Database, http: httpx.AsyncClient, keys: KeyRing, settings: Settings
) -> Deliverer:
    """A deliverer for subscriptions only (a ping's), as the background jobs build theirs."""
    return Deliverer(db, http, (), keys=keys, egress_policy=egress_policy(settings))
