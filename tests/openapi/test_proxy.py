"""The proxy answers as the document says: the provider's answers pass through, the gateway's own
refusals are the Error shape with Gateway-Error: 1."""

from __future__ import annotations

import uuid

import httpx
from sqlalchemy import update

from gateway.kit.db import Database
from gateway.models import Connection
from tests.e2e.flows import connect_new_user
from tests.openapi.conformance import conforms, error_code
from tests.proxy.conftest import eventually

PROXY = "/proxy/users/{user_id}/{path}"
PROFILE = "profile"


async def test_the_providers_answer_passes_through(
    api: httpx.AsyncClient, connected_user: str
) -> None:
    response = conforms(await api.get(f"/proxy/users/{connected_user}/{PROFILE}"), PROXY)
    assert response.status_code == 200
    assert "gateway-error" not in response.headers


async def test_a_user_without_a_connection_is_404(api: httpx.AsyncClient) -> None:
    response = conforms(await api.get(f"/proxy/users/nobody/{PROFILE}"), PROXY)
    assert error_code(response) == "connection_not_found"


async def test_a_path_no_rule_allows_is_403(api: httpx.AsyncClient, connected_user: str) -> None:
    response = await api.get(f"/proxy/users/{connected_user}/action-items")
    assert error_code(conforms(response, PROXY)) == "proxy_forbidden"


async def test_a_dot_segment_is_400_invalid_path(
    api: httpx.AsyncClient, connected_user: str
) -> None:
    response = await api.get(f"/proxy/users/{connected_user}/v1/%2e%2e/admin")
    assert error_code(conforms(response, PROXY)) == "invalid_path"


async def test_an_unknown_provider_is_400(api: httpx.AsyncClient, connected_user: str) -> None:
    response = await api.get(
        f"/proxy/users/{connected_user}/{PROFILE}", headers={"Gateway-Provider": "nope"}
    )
    assert error_code(conforms(response, PROXY)) == "unknown_provider"


async def test_without_a_key_it_is_401(gateway_http: httpx.AsyncClient) -> None:
    response = await gateway_http.get(f"/proxy/users/nobody/{PROFILE}")
    assert error_code(conforms(response, PROXY)) == "unauthorized"


async def test_without_the_scope_it_is_403(
    gateway_http: httpx.AsyncClient, connect_only_key: str
) -> None:
    headers = {"Authorization": f"Bearer {connect_only_key}"}
    response = await gateway_http.get(f"/proxy/users/nobody/{PROFILE}", headers=headers)
    assert error_code(conforms(response, PROXY)) == "insufficient_scope"


async def test_a_revoked_connection_is_410(
    api: httpx.AsyncClient, http: httpx.AsyncClient, key: str
) -> None:
    user_id = await connect_new_user(http, key)
    listed = (await api.get("/v1/connections", params={"user_id": user_id})).json()
    await api.delete(f"/v1/connections/{listed['items'][0]['id']}")
    response = conforms(await api.get(f"/proxy/users/{user_id}/{PROFILE}"), PROXY)
    assert error_code(response) == "connection_revoked"


BY_ID = "/proxy/connections/{connection_id}/{path}"


async def test_a_connection_by_id_answers_as_documented(
    api: httpx.AsyncClient, http: httpx.AsyncClient, key: str, db: Database
) -> None:
    user_id = await connect_new_user(http, key)
    listed = (await api.get("/v1/connections", params={"user_id": user_id})).json()
    connection_id = listed["items"][0]["id"]

    passed = conforms(await api.get(f"/proxy/connections/{connection_id}/{PROFILE}"), BY_ID)
    unknown = conforms(await api.get(f"/proxy/connections/{uuid.uuid4()}/{PROFILE}"), BY_ID)
    async with db.transaction() as session:
        await session.execute(
            update(Connection).where(Connection.id == connection_id).values(enabled=False)
        )

    async def paused() -> bool:
        response = await api.get(f"/proxy/connections/{connection_id}/{PROFILE}")
        return response.status_code == 409

    await eventually(paused, within=1.0, what="the paused connection is refused")
    refused = conforms(await api.get(f"/proxy/connections/{connection_id}/{PROFILE}"), BY_ID)

    assert passed.status_code == 200 and "gateway-error" not in passed.headers
    assert error_code(unknown) == "connection_not_found"
    assert error_code(refused) == "connection_disabled"
