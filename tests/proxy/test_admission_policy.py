"""Per-service policy: allow rules on the normalised path, user namespaces, rate limits; every
refusal audited; every change picked up by running gateways within a second."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select

from gateway.clients.limits import RateLimit
from gateway.kit.db import Database
from gateway.models import AuditEvent
from tests.proxy.conftest import (
    EchoGateway,
    bearer,
    change_client,
    eventually,
    make_client,
    seed_user,
)
from tests.proxy.raw import raw_get
from tests.proxy.upstream import EchoUpstream


async def refusals(db: Database, client_name: str) -> list[AuditEvent]:
    async with db.transaction() as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.actor == f"client:{client_name}")
            .order_by(AuditEvent.occurred_at)
        )
        return list(rows)


async def test_a_call_no_rule_allows_is_refused_and_audited(
    gw: httpx.AsyncClient, db: Database, user: tuple[str, str], upstream: EchoUpstream
) -> None:
    user_id, _ = user
    client = await make_client(db, ["GET /echo/**"])
    allowed = await gw.get(f"/proxy/users/{user_id}/echo/ok", headers=bearer(client.key))
    refused = await gw.delete(f"/proxy/users/{user_id}/echo/ok", headers=bearer(client.key))
    assert allowed.status_code == 200
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "proxy_forbidden"
    assert refused.headers["gateway-error"] == "1"
    [event] = await refusals(db, client.name)
    assert event.action == "proxy.forbidden"
    assert event.details["reason"] == "no_rule"
    assert (event.details["method"], event.details["path"]) == ("DELETE", "/echo/ok")
    assert event.details["user_id"] == user_id


async def test_rules_match_the_normalised_path(
    gw: httpx.AsyncClient, db: Database, user: tuple[str, str]
) -> None:
    user_id, _ = user
    client = await make_client(db, ["GET /echo/*"])
    response = await gw.get(f"/proxy/users/{user_id}/echo/a%20b/", headers=bearer(client.key))
    assert response.status_code == 200
    assert response.json()["path"].endswith("/echo/a%20b")


@pytest.mark.parametrize(
    "tail",
    [
        "/echo/../admin",
        "/echo/./x",
        "/echo/%2e%2e/admin",
        "/echo/.%2E/admin",
        "/echo/..;/admin",
        "/echo/%2fadmin",
        "/echo/%5Cadmin",
        "/echo\\admin",
        "//evil.example/x",
        "/http://evil.example/x",
        "/echo//x",
        "/echo/%00",
        "/echo/a%0d%0aHost:%20evil",
        "/echo/%zz",
        "/echo/%252e%252e",
        "/echo/%c0%ae%c0%ae",
        "/echo/%ef%bc%8e%ef%bc%8e",
        "/" + "a" * 3000,
        "/x" * 70,
    ],
)
async def test_each_odd_path_is_refused_as_invalid(
    echo_gateway: EchoGateway, db: Database, user: tuple[str, str], tail: str
) -> None:
    user_id, _ = user
    client = await make_client(db, ["* /**"])
    status, body = await raw_get(
        echo_gateway.gateway.url, f"/proxy/users/{user_id}{tail}", client.key
    )
    assert status == 400
    assert body["error"]["code"] == "invalid_path"


async def test_a_client_confined_to_its_own_users_cannot_act_for_anothers(
    gw: httpx.AsyncClient, db: Database, echo_gateway: EchoGateway
) -> None:
    billing = await make_client(db, ["* /**"], own_users_only=True)
    crm = await make_client(db, ["* /**"])
    own, _ = await seed_user(db, echo_gateway, client_id=billing.id, space=billing.id)
    theirs, _ = await seed_user(db, echo_gateway, client_id=crm.id)
    assert (
        await gw.get(f"/proxy/users/{own}/echo/x", headers=bearer(billing.key))
    ).status_code == 200
    assert (
        await gw.get(f"/proxy/users/{theirs}/echo/x", headers=bearer(crm.key))
    ).status_code == 200
    # Each finds only the connections of its own space: the other's are not there at all.
    for key, user_id in ((billing.key, theirs), (crm.key, own)):
        missing = await gw.get(f"/proxy/users/{user_id}/echo/x", headers=bearer(key))
        assert missing.status_code == 404
        assert missing.json()["error"]["code"] == "connection_not_found"
    assert not await refusals(db, billing.name)


async def test_one_user_id_in_two_spaces_is_two_accounts(
    gw: httpx.AsyncClient, db: Database, echo_gateway: EchoGateway
) -> None:
    billing = await make_client(db, ["* /**"], own_users_only=True)
    crm = await make_client(db, ["* /**"])
    user_id, shared_token = await seed_user(db, echo_gateway, client_id=crm.id)
    _, own_token = await seed_user(
        db, echo_gateway, client_id=billing.id, space=billing.id, user_id=user_id
    )
    assert shared_token != own_token
    for key, token in ((billing.key, own_token), (crm.key, shared_token), (billing.key, own_token)):
        response = await gw.get(f"/proxy/users/{user_id}/echo/auth", headers=bearer(key))
        assert response.status_code == 200
        authorization = [v for k, v in response.json()["headers"] if k == "authorization"]
        assert authorization == [f"Bearer {token}"]


async def test_a_client_confined_to_a_user_pattern(
    gw: httpx.AsyncClient, db: Database, echo_gateway: EchoGateway
) -> None:
    client = await make_client(db, ["* /**"], user_pattern=r"billing-[0-9a-f]+")
    inside, _ = await seed_user(db, echo_gateway, user_id="billing-0a1b2c3d4e")
    outside, _ = await seed_user(db, echo_gateway)
    assert (
        await gw.get(f"/proxy/users/{inside}/echo/x", headers=bearer(client.key))
    ).status_code == 200
    refused = await gw.get(f"/proxy/users/{outside}/echo/x", headers=bearer(client.key))
    assert refused.status_code == 403
    assert refused.json()["error"]["details"]["reason"] == "user_pattern"
    # The pattern must match the whole id.
    sneaky = await gw.get(f"/proxy/users/{outside}-billing-0a/echo/x", headers=bearer(client.key))
    assert sneaky.status_code == 403


async def test_a_rate_limited_client_gets_429_with_retry_after(
    gw: httpx.AsyncClient, db: Database, user: tuple[str, str]
) -> None:
    user_id, _ = user
    client = await make_client(db, ["* /**"], rate_limit=RateLimit.parse("1/min", burst=2))
    statuses = [
        (await gw.get(f"/proxy/users/{user_id}/echo/x", headers=bearer(client.key))).status_code
        for _ in range(2)
    ]
    limited = await gw.get(f"/proxy/users/{user_id}/echo/x", headers=bearer(client.key))
    assert statuses == [200, 200]
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "rate_limited"
    assert limited.headers["gateway-error"] == "1"
    assert 1 <= int(limited.headers["retry-after"]) <= 60


async def test_a_new_rule_reaches_a_running_gateway_within_a_second(
    gw: httpx.AsyncClient, db: Database, user: tuple[str, str]
) -> None:
    user_id, _ = user
    client = await make_client(db, ["GET /echo/a"])
    url = f"/proxy/users/{user_id}/echo/b"
    assert (await gw.get(url, headers=bearer(client.key))).status_code == 403  # now cached
    await change_client(db, client.name, add_allow=["GET /echo/b"])

    async def allowed() -> bool:
        return (await gw.get(url, headers=bearer(client.key))).status_code == 200

    await eventually(allowed, within=1.0, what="the new rule applies")


async def test_a_disabled_client_is_refused_within_a_second(
    gw: httpx.AsyncClient, db: Database, user: tuple[str, str]
) -> None:
    user_id, _ = user
    client = await make_client(db, ["* /**"])
    url = f"/proxy/users/{user_id}/echo/x"
    assert (await gw.get(url, headers=bearer(client.key))).status_code == 200  # now cached
    await change_client(db, client.name, disabled=True)

    async def refused() -> bool:
        return (await gw.get(url, headers=bearer(client.key))).status_code == 401

    await eventually(refused, within=1.0, what="the disabled key is refused")


async def test_a_key_without_the_proxy_scope_is_refused(
    gw: httpx.AsyncClient, db: Database, user: tuple[str, str]
) -> None:
    user_id, _ = user
    client = await make_client(db, ["* /**"], scopes=("connect",))
    response = await gw.get(f"/proxy/users/{user_id}/echo/x", headers=bearer(client.key))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "insufficient_scope"
