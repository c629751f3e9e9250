"""``GET /v1/connections`` for operators and ``connect`` clients, with the filters on external ids,
labels and pause; and the CLI's list with the same filters."""

from __future__ import annotations

import asyncio
import json
import uuid

import httpx
import pytest
from click.testing import CliRunner

from gateway.cli import cli
from gateway.kit.db import Database
from gateway.models import Connection
from tests.admin.test_cli import env
from tests.connections.managed import connected, patch
from tests.hostile.owner_fixtures import Client, Clients, clients, error_code, make_client

__all__ = ["clients", "env"]  # fixtures


async def listed(http: httpx.AsyncClient, client: Client, **params: str | list[str]) -> set[str]:
    answer = await http.get("/v1/connections", params=params, headers=client.auth)
    assert answer.status_code == 200, answer.text
    return {item["id"] for item in answer.json()["items"]}


def ids(*connections: Connection) -> set[str]:
    return {str(c.id) for c in connections}


async def test_a_connect_client_lists_only_what_it_may_see(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    tag = uuid.uuid4().hex[:8]
    by_b = await connected(http, db, clients.patterned)
    by_c = await connected(http, db, clients.open_, f"x-{tag}")
    by_a = await connected(http, db, clients.confined)
    for connection, client in ((by_b, clients.patterned), (by_c, clients.open_)):
        await patch(http, client, connection, {"labels": {"batch": tag}})
    await patch(http, clients.confined, by_a, {"labels": {"batch": tag}})
    selector = f"batch={tag}"

    assert await listed(http, clients.operator, label=selector) == ids(by_a, by_b, by_c)
    # A is confined: its own space only. C is unconfined: the shared space. B: the shared space,
    # for the user ids its pattern admits (b-…), so not C's x- user.
    assert await listed(http, clients.confined, label=selector) == ids(by_a)
    assert await listed(http, clients.open_, label=selector) == ids(by_b, by_c)
    assert await listed(http, clients.patterned, label=selector) == ids(by_b)


async def test_a_pattern_postgresql_reads_otherwise_still_lists_exactly_what_it_admits(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    tag = uuid.uuid4().hex[:8]
    admitted = await connected(http, db, clients.open_)
    outside = await connected(http, db, clients.open_, f"x-{tag}")
    for connection in (admitted, outside):
        await patch(http, clients.open_, connection, {"labels": {"batch": tag}})
    # A named group and \b: Python's syntax, not PostgreSQL's.
    named = await make_client(db, ["connect"], user_pattern=r"(?P<kind>b)\b-[0-9a-f]+")

    assert await listed(http, named, label=f"batch={tag}") == ids(admitted)


async def test_filters_on_labels_external_ids_and_pause_must_all_match(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    owner = clients.open_
    tag = uuid.uuid4().hex[:8]
    sales = await connected(http, db, owner)
    support = await connected(http, db, owner)
    unlabelled = await connected(http, db, owner)
    await patch(
        http,
        owner,
        sales,
        {"labels": {"team": f"sales-{tag}", "region": "eu"}, "external_ids": [f"crm-{tag}"]},
    )
    await patch(http, owner, support, {"labels": {"team": f"support-{tag}"}, "enabled": False})
    await patch(http, owner, unlabelled, {"labels": {"other": tag}})

    assert await listed(http, owner, label=f"team=sales-{tag}") == ids(sales)
    assert await listed(http, owner, label=[f"team=sales-{tag}", "region=eu"]) == ids(sales)
    assert await listed(http, owner, label=[f"team=sales-{tag}", "region=us"]) == set()
    assert await listed(http, owner, external_id=f"crm-{tag}") == ids(sales)
    assert await listed(http, owner, external_id=f"crm-{tag}", label="region=us") == set()
    with_team = await listed(http, owner, label="team", user_id=support.user_id)
    assert with_team == ids(support)
    assert await listed(http, owner, label="team", user_id=unlabelled.user_id) == set()
    assert await listed(http, owner, enabled="false", user_id=support.user_id) == ids(support)
    assert await listed(http, owner, enabled="true", user_id=support.user_id) == set()
    shown = await http.get(
        "/v1/connections", params={"external_id": f"crm-{tag}"}, headers=owner.auth
    )
    [item] = shown.json()["items"]
    assert item["external_ids"] == [f"crm-{tag}"] and item["labels"]["region"] == "eu"


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"label": "-bad"}, "invalid_label"),
        ({"label": "team=has space"}, "invalid_label"),
        ({"label": [f"k{i}" for i in range(11)]}, "invalid_label"),
        ({"enabled": "yes"}, "invalid_enabled"),
        ({"external_id": ""}, "invalid_external_id"),
    ],
)
async def test_a_bad_filter_is_400(
    http: httpx.AsyncClient, clients: Clients, params: dict[str, str | list[str]], code: str
) -> None:
    answer = await http.get("/v1/connections", params=params, headers=clients.open_.auth)

    assert answer.status_code == 400
    assert error_code(answer) == code


@pytest.mark.usefixtures("env")
async def test_the_cli_lists_with_the_same_filters(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    owner = clients.open_
    tag = uuid.uuid4().hex[:8]
    wanted = await connected(http, db, owner)
    await connected(http, db, owner)
    await patch(http, owner, wanted, {"labels": {"team": tag}, "external_ids": [f"crm-{tag}"]})

    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["connections", "list", "--label", f"team={tag}", "--external-id", f"crm-{tag}", "--json"],
    )
    refused = await asyncio.to_thread(
        CliRunner().invoke, cli, ["connections", "list", "--label", "bad key"]
    )

    assert result.exit_code == 0, result.output
    [item] = json.loads(result.output)["items"]
    assert (item["id"], item["external_ids"]) == (str(wanted.id), [f"crm-{tag}"])
    assert refused.exit_code == 2
