"""Offset pagination everywhere (reference §4 Conventions, §5): ``{items, total, limit, offset}``
(``deliveries`` for webhook deliveries), default limit 25 on the user API and 50 on the admin API,
at most 100, and the SDK's ``getAll*`` loop (limit 100, offset += 100 until offset >= total)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import httpx
import pytest

from tests.gateway_sandbox.contract import documented as doc
from tests.gateway_sandbox.contract.conftest import World

RANGE = {"start_date": "2000-01-01T00:00:00Z", "end_date": "2100-01-01T00:00:00Z"}
# (path, extra query, default limit, the key of the list)
LISTS: list[tuple[str, dict[str, str], int, str]] = [
    ("/v1/partner/user/meetings", {}, doc.USER_DEFAULT_LIMIT, "items"),
    ("/v1/partner/user/action-items", {}, doc.USER_DEFAULT_LIMIT, "items"),
    ("/v1/partner/user/calendar/events", RANGE, doc.USER_DEFAULT_LIMIT, "items"),
    ("/v1/partner/user/meetings/{meeting}/participants", {}, doc.USER_DEFAULT_LIMIT, "items"),
    ("/v1/partner/user/meetings/{meeting}/agenda-items", {}, doc.USER_DEFAULT_LIMIT, "items"),
    ("/v1/partner/admin/connections", {}, doc.ADMIN_DEFAULT_LIMIT, "items"),
    ("/v1/partner/admin/workspaces", {}, doc.ADMIN_DEFAULT_LIMIT, "items"),
    ("/v1/partner/admin/webhook-deliveries", {}, doc.ADMIN_DEFAULT_LIMIT, "deliveries"),
]
IDS = [row[0] for row in LISTS]


@pytest.fixture
def listed(request: pytest.FixtureRequest) -> World:
    """The world; with webhooks when the list is of webhook deliveries."""
    path: str = request.node.callspec.params["path"]
    fixture = "hooked_world" if "webhook-deliveries" in path else "world"
    world: World = request.getfixturevalue(fixture)
    return world


def get(world: World, path: str, **params: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {world.token}", "X-API-Key": "sandbox-admin-key"}
    return world.sandbox.http.get(world.path(path), params=params, headers=headers)


@pytest.mark.parametrize(("path", "extra", "default", "key"), LISTS, ids=IDS)
def test_the_default_page(
    listed: World, path: str, extra: dict[str, str], default: int, key: str
) -> None:
    body = get(listed, path, **extra).json()

    assert set(body) == (doc.PAGE if key == "items" else doc.DELIVERY_PAGE)
    assert (body["limit"], body["offset"]) == (default, 0)
    assert len(body[key]) == min(default, body["total"])


@pytest.mark.parametrize(("path", "extra", "default", "key"), LISTS, ids=IDS)
def test_limits_from_1_to_100_are_accepted_and_others_refused(
    listed: World, path: str, extra: dict[str, str], default: int, key: str
) -> None:
    assert get(listed, path, limit="1", **extra).json()["limit"] == 1
    assert get(listed, path, limit=str(doc.MAX_LIMIT), **extra).json()["limit"] == doc.MAX_LIMIT
    for bad in ("0", "101", "-1", "x"):
        response = get(listed, path, limit=bad, **extra)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_query_parameters"


@pytest.mark.parametrize(("path", "extra", "default", "key"), LISTS, ids=IDS)
def test_the_sdk_get_all_loop_sees_every_item_once(
    listed: World, path: str, extra: dict[str, str], default: int, key: str
) -> None:
    world = listed
    seen: list[Any] = []
    offset, total = 0, 1
    while offset < total:
        page = get(world, path, limit="100", offset=str(offset), **extra).json()
        seen += page[key]
        total = page["total"]
        offset += 100
    one_by_one = [
        get(world, path, limit="1", offset=str(i), **extra).json()[key][0]
        for i in range(min(total, 3))
    ]

    assert len(seen) == total
    assert seen[: len(one_by_one)] == one_by_one
    assert get(world, path, offset=str(total + 5), **extra).json()[key] == []


def test_a_large_workspace_pages_past_one_hundred(world: World) -> None:
    ann = world.sandbox.store.user_by_email("ann@example.com")
    assert ann is not None
    content = world.sandbox.store.content(ann.workspace_id)
    template = content.action_items()[0]
    for _ in range(120):
        content.put_action_item(replace(template, id=uuid.uuid4()))

    first = get(world, "/v1/partner/user/action-items", limit="100").json()
    second = get(world, "/v1/partner/user/action-items", limit="100", offset="100").json()

    assert first["total"] == second["total"] > 120
    assert len(first["items"]) == 100
    assert len(second["items"]) == first["total"] - 100
    assert not {i["id"] for i in first["items"]} & {i["id"] for i in second["items"]}
