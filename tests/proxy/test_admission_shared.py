"""On a route by user, one admission serves every user of a client at a method and path: the
user segment is left out of the admission's key, and each call's user is checked on its own (its
form, the client's namespace, the client's space) before anything is looked up."""

from __future__ import annotations

import httpx
from sqlalchemy import select

from gateway.clients.limits import RateLimit
from gateway.kit.db import Database
from gateway.models import AuditEvent
from gateway.proxy.paths import split_user
from tests.proxy.conftest import EchoGateway, bearer, make_client, seed_user
from tests.proxy.raw import raw_get


def test_the_users_routes_share_a_key_whatever_the_user() -> None:
    assert split_user("/proxy/users/alice/meetings/1") == ("/proxy/users//meetings/1", "alice")
    assert split_user("/proxy/users/b%20ob/meetings/1") == ("/proxy/users//meetings/1", "b%20ob")
    sdk = "/sdk/contio/users/alice/v1/partner/user/meetings"
    assert split_user(sdk) == ("/sdk/contio/users//v1/partner/user/meetings", "alice")
    # By id, and a route by user with nothing below the user, are kept whole.
    by_id = "/proxy/connections/0b7f4c2e-2d1f-4d52-9a43-0c8e2f1d9b11/meetings"
    assert split_user(by_id) == (by_id, "")
    assert split_user("/proxy/users/alice") == ("/proxy/users/", "alice")


async def test_each_users_call_is_checked_after_another_user_was_admitted(
    echo_gateway: EchoGateway, db: Database
) -> None:
    # Five calls at the same method and path: the first admits it; the refusals come from the
    # per-call checks of the cached admission, each spending the rate limit once (a burst of 5).
    client = await make_client(
        db,
        ["GET /echo/**"],
        user_pattern=r"billing-[0-9a-f]+",
        rate_limit=RateLimit.parse("1/min", burst=5),
    )
    inside, token = await seed_user(db, echo_gateway, user_id="billing-0a1b2c")
    outside, _ = await seed_user(db, echo_gateway)
    url = echo_gateway.gateway.url
    async with httpx.AsyncClient(base_url=url, headers=bearer(client.key)) as gw:
        first = await gw.get(f"/proxy/users/{inside}/echo/auth")
        assert first.status_code == 200
        refused = await gw.get(f"/proxy/users/{outside}/echo/auth")
        assert refused.status_code == 403
        assert refused.json()["error"]["details"]["reason"] == "user_pattern"
    status, body = await raw_get(url, "/proxy/users/billing-0a%00/echo/auth", client.key)
    assert (status, body["error"]["code"]) == (400, "invalid_path")
    async with httpx.AsyncClient(base_url=url, headers=bearer(client.key)) as gw:
        again = await gw.get(f"/proxy/users/{inside}/echo/auth")
        assert again.status_code == 200
        authorization = [v for k, v in again.json()["headers"] if k == "authorization"]
        assert authorization == [f"Bearer {token}"]
        # Fifth: the burst's last request. Sixth: none left, so no call was counted twice.
        assert (await gw.get(f"/proxy/users/{inside}/echo/auth")).status_code == 200
        assert (await gw.get(f"/proxy/users/{inside}/echo/auth")).status_code == 429
    async with db.transaction() as session:
        events = list(
            await session.scalars(
                select(AuditEvent).where(AuditEvent.actor == f"client:{client.name}")
            )
        )
    assert [(e.action, e.details["user_id"]) for e in events] == [("proxy.forbidden", outside)]


async def test_two_clients_at_the_same_path_each_reach_their_own_space(
    echo_gateway: EchoGateway, db: Database
) -> None:
    # The confined client's admission and the shared client's are two (the key's digest differs);
    # each call's user is looked up in its caller's space, however many users came before.
    billing = await make_client(db, ["GET /**"], own_users_only=True)
    crm = await make_client(db, ["GET /**"])
    own = [await seed_user(db, echo_gateway, client_id=billing.id, space=billing.id)]
    theirs = [await seed_user(db, echo_gateway, client_id=crm.id) for _ in range(3)]
    async with httpx.AsyncClient(base_url=echo_gateway.gateway.url) as gw:
        for key, users in ((billing.key, own), (crm.key, theirs)):
            for user_id, token in users:
                response = await gw.get(f"/proxy/users/{user_id}/echo/auth", headers=bearer(key))
                assert response.status_code == 200
                authorization = [v for k, v in response.json()["headers"] if k == "authorization"]
                assert authorization == [f"Bearer {token}"]
        for user_id, _ in theirs:
            response = await gw.get(
                f"/proxy/users/{user_id}/echo/auth", headers=bearer(billing.key)
            )
            assert response.status_code == 404
        response = await gw.get(f"/proxy/users/{own[0][0]}/echo/auth", headers=bearer(crm.key))
        assert response.status_code == 404
