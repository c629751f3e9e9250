"""``PATCH /v1/connections/{id}``: a JSON Merge Patch of what a connection's owner may set, over
real HTTP, by the owner, by other clients (one confined) and by an operator."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from gateway.kit.db import Database
from tests.connections.managed import actions, audit_of, connected, patch, path, reloaded
from tests.hostile.owner_fixtures import Clients, clients, error_code

__all__ = ["clients"]  # fixtures


async def test_the_owner_pauses_and_resumes_a_connection_and_each_change_grows_the_etag(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    owner = clients.patterned
    connection = await connected(http, db, owner)
    shown = await http.get(path(connection), headers=owner.auth)
    assert shown.status_code == 200, shown.text
    assert shown.headers["ETag"] == '"1"' and shown.json()["enabled"] is True

    paused = await patch(http, owner, connection, {"enabled": False})

    assert paused.status_code == 200, paused.text
    assert paused.headers["ETag"] == '"2"' and paused.json()["enabled"] is False
    assert (await reloaded(db, connection)).enabled is False
    resumed = await patch(http, owner, connection, {"enabled": True})
    assert resumed.headers["ETag"] == '"3"' and resumed.json()["enabled"] is True
    done = await audit_of(db, connection)
    updates = [e for e in done if e.action == "connection.updated"]
    assert [e.details["changes"]["enabled"] for e in updates] == [
        {"from": True, "to": False},
        {"from": False, "to": True},
    ]
    assert sorted(
        a for a in await actions(db, connection) if a.endswith(("paused", "resumed"))
    ) == [
        "connection.paused",
        "connection.resumed",
    ]
    assert all(e.actor == f"client:{owner.name}" for e in updates)


async def test_a_patch_that_changes_nothing_writes_nothing(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    owner = clients.open_
    connection = await connected(http, db, owner)
    before = await actions(db, connection)

    nothing: list[dict[str, object]] = [
        {},
        {"enabled": True},
        {"labels": {"absent": None}},
        {"external_ids": []},
    ]
    for body in nothing:
        answer = await patch(http, owner, connection, body)
        assert answer.status_code == 200, answer.text
        assert answer.headers["ETag"] == '"1"'

    assert await actions(db, connection) == before
    assert (await reloaded(db, connection)).revision == 1


async def test_metadata_is_merged_and_a_null_removes_a_key(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    owner = clients.open_
    connection = await connected(http, db, owner)
    await patch(http, owner, connection, {"metadata": {"plan": "pro", "crm": {"id": 7}}})

    answer = await patch(http, owner, connection, {"metadata": {"plan": None, "crm": {"seat": 2}}})

    assert answer.status_code == 200, answer.text
    assert answer.json()["metadata"] == {"crm": {"id": 7, "seat": 2}}
    changes = [
        e.details["changes"]["metadata"]
        for e in await audit_of(db, connection)
        if e.action == "connection.updated"
    ]
    assert changes == [{"keys": ["crm", "plan"]}, {"keys": ["crm", "plan"]}]
    audited = json.dumps([e.details for e in await audit_of(db, connection)])
    assert "pro" not in audited and "seat" not in audited
    cleared = await patch(http, owner, connection, {"metadata": None})
    assert cleared.json()["metadata"] == {}


async def test_metadata_is_capped_at_16_kib(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    owner = clients.open_
    connection = await connected(http, db, owner)

    too_big = await patch(http, owner, connection, {"metadata": {"blob": "x" * 17000}})
    assert too_big.status_code == 400
    assert error_code(too_big) == "validation_error"
    half = "y" * 9000
    assert (await patch(http, owner, connection, {"metadata": {"a": half}})).status_code == 200
    together = await patch(http, owner, connection, {"metadata": {"b": half}})
    assert together.status_code == 400
    assert error_code(together) == "metadata_too_large"
    assert together.json()["error"]["details"]["limit_bytes"] == 16384
    assert (await reloaded(db, connection)).metadata_ == {"a": half}


async def test_labels_are_merged_validated_and_at_most_32(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    owner = clients.open_
    connection = await connected(http, db, owner)
    labels = {"team": "sales", "example.com/tier": "gold", "empty": ""}
    assert (await patch(http, owner, connection, {"labels": labels})).status_code == 200

    answer = await patch(http, owner, connection, {"labels": {"tier": "x", "team": None}})

    assert answer.json()["labels"] == {"example.com/tier": "gold", "empty": "", "tier": "x"}
    updated = [e for e in await audit_of(db, connection) if e.action == "connection.updated"]
    assert updated[-1].details["changes"]["labels"] == {
        "from": {"team": "sales", "example.com/tier": "gold", "empty": ""},
        "to": {"example.com/tier": "gold", "empty": "", "tier": "x"},
    }
    for bad in (
        {"-team": "x"},
        {"Example.com/team": "x"},
        {"a" * 64: "x"},
        {"team": "has space"},
        {"team": "v" * 64},
        {"team": 5},
    ):
        refused = await patch(http, owner, connection, {"labels": bad})
        assert refused.status_code == 400, bad
        assert error_code(refused) == "validation_error"
    many = {f"k{i}": "v" for i in range(30)}
    refused = await patch(http, owner, connection, {"labels": many})
    assert refused.status_code == 400
    assert error_code(refused) == "too_many_labels"
    assert len((await reloaded(db, connection)).labels) == 3


async def test_external_ids_replace_the_set_and_are_unique_per_owner_and_provider(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    owner, other = clients.open_, clients.patterned
    first = await connected(http, db, owner)
    second = await connected(http, db, owner)
    theirs = await connected(http, db, other)
    tag = first.user_id

    set_ = await patch(http, owner, first, {"external_ids": [f"crm-{tag}", f"erp-{tag}"]})
    assert set_.json()["external_ids"] == [f"crm-{tag}", f"erp-{tag}"]
    taken = await patch(http, owner, second, {"external_ids": [f"erp-{tag}"]})

    assert taken.status_code == 409
    assert error_code(taken) == "external_id_taken"
    assert taken.json()["error"]["details"] == {
        "external_id": f"erp-{tag}",
        "connection_id": str(first.id),
    }
    # Another owner's connection may carry the same id.
    assert (await patch(http, other, theirs, {"external_ids": [f"erp-{tag}"]})).status_code == 200
    replaced = await patch(http, owner, first, {"external_ids": [f"crm-{tag}"]})
    assert replaced.json()["external_ids"] == [f"crm-{tag}"]
    # Freed by the replacement, the id is the second connection's to take.
    assert (await patch(http, owner, second, {"external_ids": [f"erp-{tag}"]})).status_code == 200
    for bad in (["a b"], [""], ["x" * 256], [f"{i}" for i in range(6)], ["dup", "dup"]):
        refused = await patch(http, owner, first, {"external_ids": bad})
        assert refused.status_code == 400, bad
        assert error_code(refused) == "validation_error"


async def test_only_the_owner_or_an_operator_changes_and_the_invisible_is_not_found(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    shared = await connected(http, db, clients.patterned)
    confined = await connected(http, db, clients.confined)

    # C sees B's shared connection but does not own it; A (confined) does not see it at all.
    assert (await http.get(path(shared), headers=clients.open_.auth)).status_code == 200
    refused = await patch(http, clients.open_, shared, {"enabled": False})
    assert refused.status_code == 403
    assert error_code(refused) == "not_connection_owner"
    for client in (clients.confined,):
        hidden = await patch(http, client, shared, {"enabled": False})
        assert hidden.status_code == 404
        assert error_code(hidden) == "connection_not_found"
    for client in (clients.patterned, clients.open_):
        assert (await http.get(path(confined), headers=client.auth)).status_code == 404
        hidden = await patch(http, client, confined, {"labels": {"x": "y"}})
        assert hidden.status_code == 404
    assert (await reloaded(db, shared)).revision == 1
    assert (await reloaded(db, confined)).revision == 1

    by_operator = await patch(http, clients.operator, confined, {"labels": {"x": "y"}})
    assert by_operator.status_code == 200, by_operator.text
    assert (await reloaded(db, confined)).labels == {"x": "y"}


async def test_of_two_patches_with_the_same_etag_exactly_one_applies(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    owner = clients.open_
    connection = await connected(http, db, owner)
    etag = (await http.get(path(connection), headers=owner.auth)).headers["ETag"]

    answers = await asyncio.gather(
        patch(http, owner, connection, {"labels": {"who": "first"}}, if_match=etag),
        patch(http, owner, connection, {"labels": {"who": "second"}}, if_match=etag),
    )

    assert sorted(a.status_code for a in answers) == [200, 412]
    [won] = [a for a in answers if a.status_code == 200]
    [lost] = [a for a in answers if a.status_code == 412]
    assert error_code(lost) == "precondition_failed"
    assert lost.json()["error"]["details"]["etag"] == won.headers["ETag"] == '"2"'
    assert (await reloaded(db, connection)).labels == won.json()["labels"]


async def test_if_match_is_compared_strongly_and_star_matches(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    owner = clients.open_
    connection = await connected(http, db, owner)
    body = {"enabled": False}

    for stale in ('"7"', 'W/"1"', "1", ""):
        refused = await patch(http, owner, connection, body, if_match=stale)
        assert refused.status_code == 412, stale
    listed = await patch(http, owner, connection, body, if_match='"9", "1"')
    assert listed.status_code == 200 and listed.headers["ETag"] == '"2"'
    star = await patch(http, owner, connection, {"enabled": True}, if_match="*")
    assert star.status_code == 200 and star.headers["ETag"] == '"3"'


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/merge-patch+json", 200),
        ("application/json; charset=utf-8", 200),
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
    ],
)
async def test_merge_patch_and_json_are_taken_and_nothing_else(
    http: httpx.AsyncClient, db: Database, clients: Clients, content_type: str, status: int
) -> None:
    connection = await connected(http, db, clients.open_)

    answer = await patch(
        http, clients.open_, connection, {"labels": {"a": "b"}}, content_type=content_type
    )

    assert answer.status_code == status, answer.text
    if status == 415:
        assert error_code(answer) == "unsupported_media_type"


async def test_unknown_fields_nulls_and_oversized_bodies_are_refused(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    owner = clients.open_
    connection = await connected(http, db, owner)

    bad: list[object] = [
        {"nickname": "x"},
        {"enabled": None},
        {"enabled": "false"},
        [],
        {"metadata": []},
    ]
    for body in bad:
        refused = await patch(http, owner, connection, body)
        assert refused.status_code == 400, body
        assert error_code(refused) == "validation_error"
    huge = await patch(http, owner, connection, {"metadata": {"x": "y" * 70_000}})
    assert huge.status_code == 413
    assert (await reloaded(db, connection)).revision == 1


async def test_is_default_is_accepted_only_as_it_is(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    owner = clients.open_
    connection = await connected(http, db, owner)

    same = await patch(http, owner, connection, {"is_default": True})
    other = await patch(http, owner, connection, {"is_default": False})

    assert same.status_code == 200 and same.headers["ETag"] == '"1"'
    assert other.status_code == 400
    assert other.json()["error"]["details"]["field"] == "is_default"
