"""A connection's timeline over HTTP: what happened to it, newest first, from every source, paged
without gaps or repeats, readable by operators and by the clients that may see the connection, and
never holding a token."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy.engine import URL

from gateway import composition, retention
from gateway.audit import store as audit
from gateway.cli import cli
from gateway.events.delivery import Deliverer
from gateway.events.outbox import connection_data
from gateway.kit.clock import utcnow
from gateway.kit.db import Database, sync_url
from gateway.models import AuditEvent, Connection, OutboxEvent, TimelineRecord
from gateway.tokens import grant
from tests.connections.timeline_fixtures import (
    Clients,
    TimelineStack,
    clients,
    gw,
    signed_webhook,
    tdb,
    timeline_database_url,
    timeline_stack,
)
from tests.e2e.flows import load_connection
from tests.events.conftest import SECRETS
from tests.hostile.owner_fixtures import account, connect_as, error_code

__all__ = ["clients", "gw", "tdb", "timeline_database_url", "timeline_stack"]  # fixtures

MARKER = "private-meeting-title"


async def connected(gw: httpx.AsyncClient, tdb: Database, clients: Clients) -> Connection:
    user_id = f"user-{uuid.uuid4().hex[:10]}"
    response = await connect_as(gw, clients.owner, user_id, account())
    assert response.status_code == 200, response.text
    return await load_connection(tdb, user_id)


async def reload(tdb: Database, connection_id: uuid.UUID) -> Connection:
    async with tdb.transaction() as session:
        found = await session.get(Connection, connection_id, populate_existing=True)
    assert found is not None
    return found


def secrets_of(stack: TimelineStack, connection: Connection) -> set[str]:
    """Its tokens, opened and sealed: none may appear in any answer."""
    keys = composition.key_ring(stack.settings)
    opened = {grant.access_token(keys, connection), grant.refresh_token(keys, connection)}
    sealed = {connection.access_token, connection.refresh_token}
    return {value for value in opened | sealed if value}


async def timeline(
    gw: httpx.AsyncClient, client: Any, connection_id: uuid.UUID, **params: Any
) -> dict[str, Any]:
    response = await gw.get(
        f"/v1/connections/{connection_id}/events", params=params, headers=client.auth
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def deliver(tdb: Database, *, later: timedelta = timedelta(0)) -> None:
    async with httpx.AsyncClient() as http:
        deliverer = Deliverer(tdb, http, SECRETS, max_attempts=2, clock=lambda: utcnow() + later)
        await deliverer.deliver_due()


def states(entry: dict[str, Any]) -> dict[str, str]:
    return {d["endpoint"].rsplit("/", 1)[1]: d["state"] for d in entry["details"]["deliveries"]}


async def test_the_timeline_tells_a_connections_life_newest_first_and_never_a_token(
    gw: httpx.AsyncClient, tdb: Database, clients: Clients, timeline_stack: TimelineStack
) -> None:
    connection = await connected(gw, tdb, clients)
    path = f"/v1/connections/{connection.id}"
    secrets = secrets_of(timeline_stack, connection)
    operator = clients.operator.auth

    [created_event, created] = (await timeline(gw, clients.operator, connection.id))["items"]
    assert (created["kind"], created["actor"]) == ("created", f"client:{clients.owner.name}")
    assert created_event["kind"] == "outbound_event"
    assert created_event["details"]["type"] == "connection.created"
    assert states(created_event) == {"ok": "pending", "fail": "pending"}
    await deliver(tdb)
    shown = await gw.get(f"{path}/events/{created_event['id']}", headers=operator)
    assert states(shown.json()) == {"ok": "delivered", "fail": "retrying"}
    await deliver(tdb, later=timedelta(hours=2))
    shown = await gw.get(f"{path}/events/{created_event['id']}", headers=operator)
    assert states(shown.json()) == {"ok": "delivered", "fail": "dead"}

    assert (await gw.post(f"{path}/refresh", headers=operator)).status_code == 200
    secrets |= secrets_of(timeline_stack, await reload(tdb, connection.id))
    async with httpx.AsyncClient(base_url=timeline_stack.sandbox_url) as sandbox:
        await sandbox.post("/_sandbox/faults", json={"token_endpoint_down": True})
        try:
            failed = await gw.post(f"{path}/refresh", headers=operator)
        finally:
            await sandbox.delete("/_sandbox/faults")
    assert failed.status_code == 503
    async with tdb.transaction() as session:  # each entry's time is its transaction's start
        audit.record(
            session, actor="client:b", action="connection.paused", connection_id=connection.id
        )
    async with tdb.transaction() as session:
        audit.record(
            session,
            actor="client:b",
            action="connection.updated",
            connection_id=connection.id,
            details={"changed": ["labels"]},
        )
    body, signature = signed_webhook(connection.subject, "meeting.created", {"title": MARKER})
    received = await gw.post(
        "/webhooks/contio", content=body, headers={"x-contio-signature": signature}
    )
    assert received.status_code == 200, received.text
    async with tdb.transaction() as session:
        audit.record(
            session,
            actor=f"client:{clients.owner.name}",
            action="proxy.forbidden",
            connection_id=connection.id,
            details={"method": "GET", "path": "/admin", "reason": "no_rule"},
        )
    assert (await gw.delete(path, headers=operator)).status_code == 200

    listed = await timeline(gw, clients.operator, connection.id)
    kinds = [(item["kind"], item["details"].get("type")) for item in listed["items"]]
    assert kinds == [
        ("upstream_revoked", None),
        ("outbound_event", "connection.revoked"),
        ("revoked", None),
        ("proxy_refused", None),
        ("outbound_event", "provider.contio.meeting.created"),  # forwarded: its type, not its data
        ("webhook_received", "meeting.created"),
        ("updated", None),
        ("paused", None),
        ("outbound_event", "connection.refresh_failed"),
        ("refresh_failed", None),
        ("refreshed", None),
        ("outbound_event", "connection.created"),
        ("created", None),
    ]
    by_kind = {item["kind"]: item for item in reversed(listed["items"])}
    assert by_kind["revoked"]["actor"] == f"client:{clients.operator.name}"
    assert by_kind["refreshed"]["details"] == {"spender": "operator"}
    assert by_kind["refresh_failed"]["details"]["code"] == "provider_unavailable"
    assert by_kind["webhook_received"]["actor"] == "provider:contio"
    assert set(by_kind["webhook_received"]["details"]) == {"type", "event_id", "sent_at"}
    assert by_kind["updated"]["details"] == {"changed": ["labels"]}
    assert [item["at"] for item in listed["items"]] == sorted(
        (item["at"] for item in listed["items"]), reverse=True
    )
    answers = [json.dumps(listed)]
    for item in listed["items"]:
        one = await gw.get(f"{path}/events/{item['id']}", headers=operator)
        assert one.status_code == 200 and one.json() == item
        answers.append(one.text)
    for answer in answers:
        assert MARKER not in answer
        assert not [secret for secret in secrets if secret in answer]


async def test_pages_across_sources_at_equal_times_have_no_gap_and_no_repeat(
    gw: httpx.AsyncClient, tdb: Database, clients: Clients
) -> None:
    connection = await connected(gw, tdb, clients)
    now = utcnow()
    moments = [now - timedelta(minutes=minutes) for minutes in (3, 2, 2, 1)]  # six at one time
    async with tdb.transaction() as session:
        for at in moments:
            session.add(
                AuditEvent(
                    occurred_at=at,
                    actor="cli:t",
                    action="connection.updated",
                    connection_id=connection.id,
                    details={},
                )
            )
            session.add(
                TimelineRecord(
                    connection_id=connection.id,
                    occurred_at=at,
                    kind="refreshed",
                    actor="gateway:refresher",
                    details={"spender": "refresher"},
                )
            )
            session.add(
                OutboxEvent(
                    occurred_at=at,
                    type="connection.recovered",
                    data=await connection_data(session, connection, "refresh_succeeded"),
                )
            )
    whole = (await timeline(gw, clients.owner, connection.id, limit=200))["items"]
    assert len(whole) == 3 * len(moments) + 2  # and created, with its event
    # The inserted ones (the connection's own two are newer); equal times are ordered by id.
    positions = [(item["at"], uuid.UUID(item["id"])) for item in whole[2:]]
    assert positions == sorted(positions, reverse=True)

    for limit in (1, 2, 5):
        paged: list[dict[str, Any]] = []
        cursor = None
        while True:
            params = {"limit": limit} | ({"cursor": cursor} if cursor else {})
            page = await timeline(gw, clients.owner, connection.id, **params)
            assert len(page["items"]) <= limit
            paged += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert [item["id"] for item in paged] == [item["id"] for item in whole]


async def test_kinds_and_times_filter_the_timeline(
    gw: httpx.AsyncClient, tdb: Database, clients: Clients
) -> None:
    connection = await connected(gw, tdb, clients)
    assert (
        await gw.post(f"/v1/connections/{connection.id}/refresh", headers=clients.operator.auth)
    ).status_code == 200
    everything = (await timeline(gw, clients.operator, connection.id))["items"]

    chosen = await timeline(gw, clients.operator, connection.id, kind=["refreshed", "created"])
    since = await timeline(gw, clients.operator, connection.id, since=everything[1]["at"])
    until = await timeline(gw, clients.operator, connection.id, until=everything[-1]["at"])
    bad = await gw.get(
        f"/v1/connections/{connection.id}/events",
        params={"kind": "refreshed", "since": "yesterday"},
        headers=clients.operator.auth,
    )
    unknown = await gw.get(
        f"/v1/connections/{connection.id}/events",
        params={"kind": "tokens"},
        headers=clients.operator.auth,
    )

    assert [item["kind"] for item in chosen["items"]] == ["refreshed", "created"]
    assert {item["id"] for item in since["items"]} >= {item["id"] for item in everything[:2]}
    assert everything[-1]["id"] not in {item["id"] for item in until["items"]}
    assert bad.status_code == 400 and error_code(bad) == "invalid_since"
    assert unknown.status_code == 400 and error_code(unknown) == "invalid_kind"


async def test_a_client_that_may_not_see_the_connection_is_answered_as_if_it_did_not_exist(
    gw: httpx.AsyncClient, tdb: Database, clients: Clients
) -> None:
    connection = await connected(gw, tdb, clients)
    [_, created] = (await timeline(gw, clients.owner, connection.id))["items"]
    other = await connected(gw, tdb, clients)
    base = f"/v1/connections/{connection.id}/events"

    confined = await gw.get(base, headers=clients.confined.auth)
    confined_one = await gw.get(f"{base}/{created['id']}", headers=clients.confined.auth)
    proxy_only = await gw.get(base, headers=clients.proxy_only.auth)
    unknown = await gw.get(f"{base}/{uuid.uuid4()}", headers=clients.owner.auth)
    malformed = await gw.get(f"{base}/not-an-id", headers=clients.owner.auth)
    elsewhere = await gw.get(
        f"/v1/connections/{other.id}/events/{created['id']}", headers=clients.owner.auth
    )
    own = await gw.get(f"{base}/{created['id']}", headers=clients.owner.auth)

    assert (confined.status_code, error_code(confined)) == (404, "connection_not_found")
    assert (confined_one.status_code, error_code(confined_one)) == (404, "connection_not_found")
    assert (proxy_only.status_code, error_code(proxy_only)) == (403, "insufficient_scope")
    for missing in (unknown, malformed, elsewhere):
        assert (missing.status_code, error_code(missing)) == (404, "timeline_entry_not_found")
    assert own.status_code == 200 and own.json() == created


async def test_retention_prunes_old_timeline_records_and_keeps_the_rest(
    gw: httpx.AsyncClient, tdb: Database, clients: Clients, timeline_stack: TimelineStack
) -> None:
    connection = await connected(gw, tdb, clients)
    days = timeline_stack.settings.timeline_retention_days
    async with tdb.transaction() as session:
        for age in (timedelta(days=days + 1), timedelta(days=days - 1)):
            session.add(
                TimelineRecord(
                    connection_id=connection.id,
                    occurred_at=utcnow() - age,
                    kind="refreshed",
                    actor="gateway:refresher",
                    details={"spender": "refresher"},
                )
            )

    pruned = await retention.prune(tdb, timeline_stack.settings)

    assert pruned is not None and pruned.timeline_records >= 1
    left = await timeline(gw, clients.operator, connection.id, kind="refreshed")
    assert len(left["items"]) == 1


async def test_the_cli_prints_the_timeline(
    gw: httpx.AsyncClient,
    tdb: Database,
    clients: Clients,
    timeline_stack: TimelineStack,
    timeline_database_url: URL,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connection = await connected(gw, tdb, clients)
    keys = timeline_stack.settings.encryption_keys
    assert keys is not None
    monkeypatch.setenv("GATEWAY_DATABASE_URL", sync_url(timeline_database_url))
    monkeypatch.setenv("GATEWAY_ENCRYPTION_KEYS", keys.get_secret_value())
    run = CliRunner().invoke

    as_json = await asyncio.to_thread(
        run, cli, ["connections", "timeline", str(connection.id), "--json"]
    )
    table = await asyncio.to_thread(
        run, cli, ["connections", "timeline", str(connection.id), "--limit", "1"]
    )
    missing = await asyncio.to_thread(run, cli, ["connections", "timeline", str(uuid.uuid4())])

    assert as_json.exit_code == 0, as_json.output
    assert [item["kind"] for item in json.loads(as_json.output)["items"]] == [
        "outbound_event",
        "created",
    ]
    assert table.exit_code == 0, table.output
    assert "outbound_event" in table.output and "--cursor" in table.output
    assert missing.exit_code == 1 and "connection_not_found" in missing.output
