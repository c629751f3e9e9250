"""``GET /metrics``, the Prometheus scrape: this process's counters (``gateway.metrics``; under
``serve --workers``, summed over the machine's serving processes: ``gateway.metrics.siblings``) and
the cluster's gauges, read from PostgreSQL at most once per ``GATEWAY_METRICS_CLUSTER_SECONDS``
(``gateway.metrics.cluster``). The scrape answers even while the database does not: the counters,
and the last figures read with their age.

A read is one pass over ``connections`` (its counts by provider and status, and the active ones'
backlog and soonest expiry, in the same scan: exact counts read every row whichever way, and an
index-only scan gains nothing on a table whose rows are rewritten by every refresh), and index
lookups for the event deliveries waiting or abandoned (both undelivered, so the partial index of
undelivered deliveries finds them without reading the delivered history).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from gateway.kit.clock import utcnow
from gateway.metrics.cluster import ClusterFigures
from gateway.models import (
    Connection,
    ConnectionStatus,
    EventDelivery,
    OutboxEvent,
    ProviderBreaker,
)
from gateway.resources import Resources, resources


async def metrics(request: Request) -> Response:
    res = resources(request)
    res.metrics.show_cluster(await res.cluster.latest(lambda: read_cluster(res)))
    body = (
        generate_latest(res.metrics.registry)
        if res.siblings is None
        else await res.siblings.exposition(res.metrics.registry)
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST)


async def read_cluster(res: Resources) -> ClusterFigures:
    """The cluster's figures now, every configured provider's included (at zero)."""
    now = utcnow()
    names = res.providers.names

    async def work(session: AsyncSession) -> ClusterFigures:
        return await _read(session, now, names)

    figures = await res.db.read(work)
    budget = res.refresher.budget
    if budget is None:
        return figures
    spent: dict[str, tuple[int, int]] = {}
    for provider in names:
        usage = await budget.usage(provider)
        if usage is not None:
            spent[provider] = (usage.used, usage.rate.requests)
    return replace(figures, budget=spent)


async def _read(session: AsyncSession, now: datetime, names: Sequence[str]) -> ClusterFigures:
    connections = dict.fromkeys(((p, s.value) for p in names for s in ConnectionStatus), 0)
    backlog = dict.fromkeys(names, 0)
    soonest: dict[str, float] = {}
    counts = await session.execute(
        select(
            Connection.provider,
            Connection.status,
            func.count(),
            func.count().filter(Connection.next_refresh_at <= now),
            func.min(Connection.expires_at),
        ).group_by(Connection.provider, Connection.status)
    )
    for provider, status, count, due, expires_at in counts:
        connections[(provider, status.value)] = count
        if status is ConnectionStatus.ACTIVE:
            backlog[provider] = due
            if expires_at is not None:
                soonest[provider] = (expires_at - now).total_seconds()
    breakers = await session.execute(select(ProviderBreaker.provider, ProviderBreaker.open_until))
    breaker_open = dict.fromkeys(names, False)
    for provider, open_until in breakers:
        breaker_open[provider] = open_until is not None and open_until > now
    # A delivery abandoned was never delivered: both sets are in the undelivered index.
    undelivered = EventDelivery.delivered_at.is_(None)
    # Looked up per waiting delivery, not joined: a join would read every event kept.
    occurred_at = (
        select(OutboxEvent.occurred_at)
        .where(OutboxEvent.id == EventDelivery.event_id)
        .scalar_subquery()
    )
    oldest_waiting = await session.scalar(
        select(func.min(occurred_at)).where(undelivered, EventDelivery.abandoned_at.is_(None))
    )
    dead_letters = await session.scalar(
        select(func.count()).where(undelivered, EventDelivery.abandoned_at.is_not(None))
    )
    lag = (now - oldest_waiting).total_seconds() if oldest_waiting is not None else 0.0
    return ClusterFigures(
        connections=connections,
        refresh_backlog=backlog,
        soonest_expiry=soonest,
        breaker_open=breaker_open,
        outbox_lag=max(0.0, lag),
        dead_letters=dead_letters or 0,
        budget={},
    )
