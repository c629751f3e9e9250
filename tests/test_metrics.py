"""``GET /metrics``: refresh outcomes, the cluster's connections, backlog, soonest expiry and budget."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, update
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.events.outbox import emit
from gateway.kit.db import Database
from gateway.models import Connection, OutboxEvent
from tests.e2e.flows import connect_new_user, load_connection, proxy_get
from tests.fixtures.servers import serving
from tests.fixtures.stack import Stack


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(text: str, name: str, **labels: str) -> float | None:
    return samples(text).get((name, tuple(sorted(labels.items()))))


async def test_metrics_count_connections_and_time_to_the_soonest_expiry(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    user_id = await connect_new_user(http, service_key)
    connection = await load_connection(db, user_id)
    soon = datetime.now(UTC) + timedelta(seconds=42)
    # Another test may hold a sooner expiry; this one is bound to be at or before 42 s.
    async with db.transaction() as session:
        await session.execute(
            update(Connection).where(Connection.id == connection.id).values(expires_at=soon)
        )

    response = await http.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    active = value(response.text, "gateway_connections", provider="contio", status="active")
    assert active is not None and active >= 1
    soonest = value(response.text, "gateway_soonest_token_expiry_seconds", provider="contio")
    assert soonest is not None and soonest <= 42
    assert value(response.text, "gateway_provider_breaker_open", provider="contio") == 0
    assert value(response.text, "gateway_refresh_backlog", provider="contio") is not None
    assert user_id not in response.text


async def test_an_on_demand_refresh_is_counted_by_outcome(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    before = (
        value(
            (await http.get("/metrics")).text,
            "gateway_refreshes_total",
            provider="contio",
            outcome="success",
        )
        or 0
    )
    user_id = await connect_new_user(http, service_key)
    connection = await load_connection(db, user_id)
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.id == connection.id)
            .values(expires_at=datetime.now(UTC) + timedelta(seconds=5))
        )

    assert (await proxy_get(http, service_key, user_id, "/meetings")).status_code == 200

    text = (await http.get("/metrics")).text
    assert (
        value(text, "gateway_refreshes_total", provider="contio", outcome="success") == before + 1
    )
    assert not re.search(r"access_token|refresh_token|Bearer", text)


async def test_the_budget_in_use_and_its_limit_are_exported(
    stack: Stack, database_url: URL
) -> None:
    settings = stack.settings.model_copy(update={"contio_token_rate": "100/300s"})
    with serving(create_app(settings, database_url)) as server:
        async with httpx.AsyncClient(base_url=server.url) as client:
            text = (await client.get("/metrics")).text
    assert value(text, "gateway_token_budget_limit", provider="contio") == 100
    used = value(text, "gateway_token_budget_used", provider="contio")
    assert used is not None and 0 <= used <= 100


async def test_outbox_lag_is_the_age_of_the_oldest_waiting_delivery(
    http: httpx.AsyncClient, db: Database
) -> None:
    async with db.transaction() as session:
        event = await emit(session, ["http://127.0.0.1:9/events"], "connection.created", {})
        await session.flush()
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == event.id)
            .values(occurred_at=datetime.now(UTC) - timedelta(minutes=10))
        )
    try:
        text = (await http.get("/metrics")).text
    finally:
        async with db.transaction() as session:
            await session.execute(delete(OutboxEvent).where(OutboxEvent.id == event.id))
    lag = value(text, "gateway_outbox_lag_seconds")
    assert lag is not None and lag >= 600
    assert value(text, "gateway_event_dead_letters") is not None
