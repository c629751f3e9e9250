"""Contio's events for a user no connection holds: kept for inspection (API, CLI), never
forwarded, purged after their retention."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta

import httpx
import pytest
from click.testing import CliRunner

from gateway import retention
from gateway.cli import cli
from gateway.kit.clock import rfc3339, utcnow
from gateway.models import Connection
from gateway.webhooks.contio import parse_timestamp
from tests.fixtures.stack import cli_environment
from tests.webhooks.forwarding_fixtures import (
    Clients,
    Forwarding,
    envelope,
    kept,
    outbox_rows,
    post_signed,
)


async def test_an_event_for_a_user_no_connection_holds_is_kept_and_not_forwarded(
    forwarding_http: httpx.AsyncClient,
    forwarding: Forwarding,
    clients: Clients,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stranger = str(uuid.uuid4())
    data = {"meeting_id": str(uuid.uuid4()), "title": "Salary talk with Ann"}
    event = envelope("calendar_event.updated", stranger, data)
    assert (await post_signed(forwarding_http, event)).json() == {"status": "ignored"}
    assert await outbox_rows(forwarding, event["event_id"]) == []

    listed = await forwarding_http.get(
        "/v1/events/unmatched",
        params={"type": "calendar_event.updated", "limit": "200"},
        headers=clients.operator.auth,
    )
    assert listed.status_code == 200, listed.text
    [kept] = [item for item in listed.json()["items"] if item["event_id"] == event["event_id"]]
    assert kept == {
        "id": kept["id"],
        "provider": "contio",
        "event_id": event["event_id"],
        "event_type": "calendar_event.updated",
        "subject": stranger,
        "sent_at": rfc3339(parse_timestamp(event["timestamp"])),
        "received_at": kept["received_at"],
    }
    assert "Salary" not in listed.text and "@example.com" not in listed.text
    for client in (clients.crm, clients.billing):  # service clients, confined or not: not theirs
        refused = await forwarding_http.get("/v1/events/unmatched", headers=client.auth)
        assert refused.status_code == 403
        assert refused.json()["error"]["code"] == "insufficient_scope"
    assert (await forwarding_http.get("/v1/events/unmatched")).status_code == 401

    for name, value in cli_environment(forwarding.settings, forwarding.database_url).items():
        monkeypatch.setenv(name, value)
    runner = CliRunner()
    args = ["events", "unmatched", "--type", "calendar_event.updated", "--json"]
    shown = await asyncio.to_thread(runner.invoke, cli, args)
    assert shown.exit_code == 0, shown.output
    assert [row["event_id"] for row in json.loads(shown.output)] == [
        item["event_id"] for item in listed.json()["items"]
    ]
    assert "Salary" not in shown.output
    opened = await asyncio.to_thread(runner.invoke, cli, [*args, "--show-data"])
    assert opened.exit_code == 0, opened.output
    assert json.loads(opened.output)[0]["data"] == data
    listed_for_people = await asyncio.to_thread(runner.invoke, cli, args[:-1])
    assert event["event_id"] in listed_for_people.output
    assert "Salary" not in listed_for_people.output
    nothing = await asyncio.to_thread(runner.invoke, cli, ["events", "unmatched", "--type", "x.y"])
    assert nothing.output.strip() == "no unmatched events"


async def test_the_unmatched_list_is_newest_first_and_paged(
    forwarding_http: httpx.AsyncClient,
    clients: Clients,
) -> None:
    events = [envelope("workflow.task.resolved", str(uuid.uuid4()), {}) for _ in range(3)]
    for event in events:
        await post_signed(forwarding_http, event)
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"type": "workflow.task.resolved", "limit": "2"}
        if cursor is not None:
            params["cursor"] = cursor
        page = (
            await forwarding_http.get(
                "/v1/events/unmatched", params=params, headers=clients.operator.auth
            )
        ).json()
        seen += [item["event_id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [event["event_id"] for event in reversed(events)]
    bad = await forwarding_http.get("/v1/events/unmatched?kind=x", headers=clients.operator.auth)
    assert bad.json()["error"]["code"] == "unknown_parameter"


async def test_unmatched_events_are_purged_after_their_retention(
    forwarding_http: httpx.AsyncClient,
    forwarding: Forwarding,
) -> None:
    event = envelope("session.expired", str(uuid.uuid4()), {})
    await post_signed(forwarding_http, event)
    days = forwarding.settings.unmatched_event_retention_days
    soon = await retention.prune(forwarding.db, forwarding.settings, utcnow())
    assert soon is not None
    assert await kept(forwarding, event["event_id"])
    later = utcnow() + timedelta(days=days, minutes=1)
    pruned = await retention.prune(forwarding.db, forwarding.settings, later)
    assert pruned is not None and pruned.unmatched_events >= 1
    assert not await kept(forwarding, event["event_id"])


async def test_data_an_outbound_event_cannot_carry_is_kept_not_forwarded(
    forwarding_http: httpx.AsyncClient, forwarding: Forwarding, labelled: Connection
) -> None:
    event = envelope("meeting.updated", labelled.subject, {"title": "a\x00b", "\x00": [1]})
    assert (await post_signed(forwarding_http, event)).json() == {"status": "ignored"}
    assert await kept(forwarding, event["event_id"])
    assert await outbox_rows(forwarding, event["event_id"]) == []
