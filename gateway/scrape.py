"""``GET /metrics``, the Prometheus scrape: this process's counters (``gateway.metrics``; under
``serve --workers``, summed over the machine's serving processes: ``gateway.metrics.siblings``) and
the cluster's gauges, read from PostgreSQL."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select
from starlette.requests import Request
from starlette.responses import Response

from gateway.kit.clock import utcnow
from gateway.models import (
    Connection,
    ConnectionStatus,
    EventDelivery,
    OutboxEvent,
    ProviderBreaker,
)
from gateway.resources import resources


async def metrics(request: Request) -> Response:

    res = resources(request)
    metrics = res.metrics
    now = utcnow()
    async with res.db.transaction() as session:
        by_status = (
            await session.execute(
                select(Connection.provider, Connection.status, func.count()).group_by(
                    Connection.provider, Connection.status
                )
            )
        ).all()
        active = Connection.status == ConnectionStatus.ACTIVE
        backlog = (
            await session.execute(
                select(Connection.provider, func.count())
                .where(active, Connection.next_refresh_at <= now)
                .group_by(Connection.provider)
            )
        ).all()
        soonest = (
            await session.execute(
                select(Connection.provider, func.min(Connection.expires_at))
                .where(active)
                .group_by(Connection.provider)
            )
        ).all()
        breakers = (
            await session.execute(select(ProviderBreaker.provider, ProviderBreaker.open_until))
        ).all()
        waiting = EventDelivery.delivered_at.is_(None) & EventDelivery.abandoned_at.is_(None)
        oldest_waiting = await session.scalar(
            select(func.min(OutboxEvent.occurred_at))
            .join(EventDelivery, EventDelivery.event_id == OutboxEvent.id)
            .where(waiting)
        )
        dead_letters = await session.scalar(
            select(func.count()).where(EventDelivery.abandoned_at.is_not(None))
        )

    for gauge in (metrics.connections, metrics.refresh_backlog, metrics.soonest_expiry):
        gauge.clear()
    for provider in res.providers.names:
        for status in ConnectionStatus:
            metrics.connections.labels(provider, status.value).set(0)
        metrics.refresh_backlog.labels(provider).set(0)
        metrics.breaker_open.labels(provider).set(0)
    for provider, status, count in by_status:
        metrics.connections.labels(provider, status.value).set(count)
    for provider, count in backlog:
        metrics.refresh_backlog.labels(provider).set(count)
    for provider, expires_at in soonest:
        if expires_at is not None:
            metrics.soonest_expiry.labels(provider).set((expires_at - now).total_seconds())
    for provider, open_until in breakers:
        metrics.breaker_open.labels(provider).set(int(open_until is not None and open_until > now))
    lag = (now - oldest_waiting).total_seconds() if oldest_waiting is not None else 0.0
    metrics.outbox_lag.set(max(0.0, lag))
    metrics.dead_letters.set(dead_letters or 0)
    budget = res.refresher.budget
    if budget is not None:
        for provider in res.providers.names:
            usage = await budget.usage(provider)
            if usage is not None:
                metrics.budget_used.labels(provider).set(usage.used)
                metrics.budget_limit.labels(provider).set(usage.rate.requests)
    body = (
        generate_latest(metrics.registry)
        if res.siblings is None
        else await res.siblings.exposition(metrics.registry)
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST)
