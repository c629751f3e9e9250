"""Subscriptions in the console: listed per client, created (the secret shown once, after the
redirect, never in a URL), disabled and enabled, the secret rotated, an abandoned delivery replayed;
as the signed-in operator, each in the audit trail; a private address refused with the reason."""

from __future__ import annotations

import re
import uuid

import httpx
from sqlalchemy import select, update

from gateway.events.outbox import ping
from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from gateway.models import AuditEvent, EventDelivery, Subscription
from tests.console.conftest import Admin, post_form
from tests.hostile.owner_fixtures import Clients, clients

__all__ = ["clients"]  # fixtures

SECRET = re.compile(r'<code class="secret" id="secret">([^<]+)</code>')
LIST = "/console/subscriptions"
PUBLIC_URL = "https://93.184.216.34/hooks/crm"


async def create(console: httpx.AsyncClient, client: str, **fields: str) -> httpx.Response:
    return await post_form(
        console,
        LIST,
        LIST,
        client=client,
        url=fields.get("url", PUBLIC_URL),
        event_types=fields.get("event_types", "connection.* provider.contio.*"),
        labels=fields.get("labels", "team=sales"),
    )


async def subscriptions_of(db: Database, client_id: uuid.UUID) -> list[Subscription]:
    async with db.transaction() as session:
        found = await session.scalars(
            select(Subscription)
            .where(Subscription.client_id == client_id)
            .execution_options(populate_existing=True)
        )
        return list(found)


async def test_a_subscription_is_created_and_its_secret_shown_once_after_the_redirect(
    console: httpx.AsyncClient, operator: Admin, db: Database, clients: Clients
) -> None:
    answer = await create(console, clients.confined.name)

    assert answer.status_code == 303, answer.text
    assert "whsec_" not in answer.headers["location"]
    [subscription] = await subscriptions_of(db, clients.confined.id)
    assert answer.headers["location"] == f"{LIST}/{subscription.id}"
    assert subscription.event_types == ["connection.*", "provider.contio.*"]
    assert subscription.label_values == {"team": "sales"}
    shown = await console.get(answer.headers["location"])
    found = SECRET.search(shown.text)
    assert found is not None and found.group(1).startswith("whsec_")
    again = await console.get(answer.headers["location"])
    assert SECRET.search(again.text) is None and "whsec_" not in again.text

    listed = await console.get(LIST, params={"client": clients.confined.name})
    assert str(subscription.id) in listed.text and PUBLIC_URL in listed.text
    others = await console.get(LIST, params={"client": clients.open_.name})
    assert str(subscription.id) not in others.text
    async with db.transaction() as session:
        actors = await session.scalars(
            select(AuditEvent.actor).where(AuditEvent.action == "subscription.created")
        )
        assert operator.actor in set(actors)


async def test_a_private_address_is_refused_with_the_reason(
    console: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    answer = await create(console, clients.open_.name, url="https://169.254.169.254/latest")

    assert answer.status_code == 422
    assert "subscription_url_not_allowed" in answer.text and "link-local" in answer.text
    assert await subscriptions_of(db, clients.open_.id) == []


async def test_disable_enable_and_rotate(
    console: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    created = await create(console, clients.patterned.name)
    page = created.headers["location"]
    first = SECRET.search((await console.get(page)).text)
    assert first is not None

    disabled = await post_form(console, page, f"{page}/enabled", enabled="false")
    assert disabled.status_code == 303
    assert 'id="state">disabled' in (await console.get(page)).text
    await post_form(console, page, f"{page}/enabled", enabled="true")
    assert 'id="state">enabled' in (await console.get(page)).text

    rotated = await post_form(console, page, f"{page}/rotate")
    assert rotated.status_code == 303 and "whsec_" not in rotated.headers["location"]
    second = SECRET.search((await console.get(page)).text)
    assert second is not None and second.group(1) != first.group(1)
    assert (await console.get(page)).text.count("expires ") == 2


async def test_an_abandoned_delivery_is_replayed(
    console: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    created = await create(console, clients.open_.name)
    page = created.headers["location"]
    [subscription] = await subscriptions_of(db, clients.open_.id)
    async with db.transaction() as session:
        delivery = await ping(session, subscription.id, subscription.url)
        await session.execute(
            update(EventDelivery)
            .where(EventDelivery.id == delivery.id)
            .values(abandoned_at=utcnow(), attempts=12, last_error="HTTP 500")
        )
    shown = await console.get(page)
    assert f'data-delivery="{delivery.id}" data-state="abandoned"' in shown.text

    replayed = await post_form(console, page, f"{page}/deliveries/{delivery.id}/replay")

    assert replayed.status_code == 303, replayed.text
    assert f'data-delivery="{delivery.id}" data-state="pending"' in (await console.get(page)).text
    again = await post_form(console, page, f"{page}/deliveries/{delivery.id}/replay")
    assert again.status_code == 409 and "delivery_not_abandoned" in again.text
