"""Contio's SDK base paths: ``/sdk/contio/users/{user_id}`` and ``/sdk/contio/connections/{id}``,
below which the SDK appends ``/v1/partner/user/...``, are the proxy's own two routes with the
same policy: the allow rules see the path below ``/v1/partner/user``, the namespace and the spaces
hold, and only Contio's connections are reached.

The echo gateway's provider API (Contio's, at ``/v1/partner/user``) says what each call carried.
"""

from __future__ import annotations

import uuid

import httpx

from gateway.kit.db import Database
from tests.proxy.conftest import DEAD, EchoGateway, bearer, make_client, seed_user
from tests.proxy.test_by_connection import connection_id_of
from tests.proxy.upstream import BASE


def seen(response: httpx.Response) -> dict[str, object]:
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def test_the_sdk_path_by_user_is_the_proxy_path_with_the_users_token(
    db: Database, echo_gateway: EchoGateway, gw: httpx.AsyncClient
) -> None:
    client = await make_client(db, ["GET /meetings/**"])
    user_id, token = await seed_user(db, echo_gateway)
    sdk = seen(
        await gw.get(
            f"/sdk/contio/users/{user_id}{BASE}/meetings/m1?limit=5", headers=bearer(client.key)
        )
    )
    assert sdk["path"] == f"{BASE}/meetings/m1"
    assert sdk["query"] == "limit=5"
    assert dict(sdk["headers"])["authorization"] == f"Bearer {token}"  # type: ignore[call-overload]
    direct = seen(
        await gw.get(f"/proxy/users/{user_id}/meetings/m1?limit=5", headers=bearer(client.key))
    )
    assert direct["path"] == sdk["path"]


async def test_the_allow_rules_see_the_path_below_the_sdks_prefix(
    db: Database, echo_gateway: EchoGateway, gw: httpx.AsyncClient
) -> None:
    user_id, _ = await seed_user(db, echo_gateway)
    meetings_only = await make_client(db, ["GET /meetings/**"])
    prefixed = await make_client(db, ["GET /v1/**"])
    url = f"/sdk/contio/users/{user_id}{BASE}/profile"
    refused = await gw.get(url, headers=bearer(meetings_only.key))
    assert refused.status_code == 403 and code(refused) == "proxy_forbidden"
    assert refused.json()["error"]["details"]["path"] == "/profile"
    refused = await gw.get(url, headers=bearer(prefixed.key))
    assert refused.status_code == 403 and code(refused) == "proxy_forbidden"


async def test_a_path_that_does_not_continue_with_the_sdks_prefix_is_refused(
    db: Database, echo_gateway: EchoGateway, gw: httpx.AsyncClient
) -> None:
    client = await make_client(db, ["* /**"])
    user_id, _ = await seed_user(db, echo_gateway)
    for below in ("/meetings", "/v1/partner/users/x", "/v1/partner/%75ser/x", f"{BASE}/../../x"):
        response = await gw.get(f"/sdk/contio/users/{user_id}{below}", headers=bearer(client.key))
        assert response.status_code == 400, (below, response.text)
        assert code(response) == "invalid_path"


async def test_the_namespace_and_spaces_hold_on_the_sdk_paths(
    db: Database, echo_gateway: EchoGateway, gw: httpx.AsyncClient
) -> None:
    confined = await make_client(db, ["GET /**"], own_users_only=True)
    patterned = await make_client(db, ["GET /**"], user_pattern="b-[0-9a-f]+")
    own_user, own_token = await seed_user(
        db, echo_gateway, client_id=confined.id, space=confined.id
    )
    shared_user, _ = await seed_user(db, echo_gateway, user_id=f"b-{uuid.uuid4().hex[:8]}")
    # The confined client reaches its own user, by user and by connection id.
    own_id = await connection_id_of(db, own_user)
    for path in (f"/sdk/contio/users/{own_user}", f"/sdk/contio/connections/{own_id}"):
        body = seen(await gw.get(f"{path}{BASE}/echo/x", headers=bearer(confined.key)))
        assert dict(body["headers"])["authorization"] == f"Bearer {own_token}"  # type: ignore[call-overload]
    # Not the shared space's; the patterned client not the confined one's, nor outside its pattern.
    shared_id = await connection_id_of(db, shared_user)
    for client, path, status in (
        (confined, f"/sdk/contio/users/{shared_user}", 404),
        (confined, f"/sdk/contio/connections/{shared_id}", 404),
        (patterned, f"/sdk/contio/connections/{own_id}", 404),
        (patterned, f"/sdk/contio/users/{own_user}", 403),
    ):
        response = await gw.get(f"{path}{BASE}/echo/x", headers=bearer(client.key))
        assert response.status_code == status, (path, response.text)
    assert (
        await gw.get(f"/sdk/contio/users/{shared_user}{BASE}/echo/x", headers=bearer(patterned.key))
    ).status_code == 200


async def test_the_sdk_path_by_connection_reaches_contios_connections_only(
    db: Database, echo_gateway: EchoGateway, gw: httpx.AsyncClient
) -> None:
    client = await make_client(db, ["GET /**"])
    other_user, _ = await seed_user(db, echo_gateway, provider=DEAD)
    other_id = await connection_id_of(db, other_user)
    response = await gw.get(
        f"/sdk/contio/connections/{other_id}{BASE}/echo/x", headers=bearer(client.key)
    )
    assert response.status_code == 404 and code(response) == "connection_not_found"
    # The same connection by the proxy's own path is found (its provider's API is down).
    assert (
        await gw.get(f"/proxy/connections/{other_id}/echo/x", headers=bearer(client.key))
    ).status_code != 404
