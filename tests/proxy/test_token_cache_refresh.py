"""The proxy's part in the token lifecycle: refresh a token about to expire before using it, and on
a 401 refresh once and retry once (when the body can be sent again)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import update

from gateway.kit.db import Database
from gateway.models import Connection
from gateway.tokens import grant
from tests.e2e.flows import connect_new_user, load_connection
from tests.proxy.conftest import EchoGateway, bearer
from tests.proxy.upstream import EchoUpstream


async def current_token(db: Database, echo: EchoGateway, user_id: str) -> tuple[str, int]:
    connection = await load_connection(db, user_id)
    return grant.access_token(echo.keys, connection), connection.token_version


async def test_a_401_refreshes_the_token_and_retries_once(
    http: httpx.AsyncClient,
    service_key: str,
    gw: httpx.AsyncClient,
    key: str,
    db: Database,
    echo_gateway: EchoGateway,
    upstream: EchoUpstream,
) -> None:
    user_id = await connect_new_user(http, service_key)
    token, version = await current_token(db, echo_gateway, user_id)
    upstream.rejected_tokens.add(token)  # the provider revoked it early
    path = f"/guarded/{uuid.uuid4().hex[:8]}"
    response = await gw.post(f"/proxy/users/{user_id}{path}", content=b"{}", headers=bearer(key))
    assert response.status_code == 200
    fresh, fresh_version = await current_token(db, echo_gateway, user_id)
    assert fresh_version == version + 1
    sent = [seen.header("authorization") for seen in upstream.seen(path)]
    assert sent == [f"Bearer {token}", f"Bearer {fresh}"]


async def test_a_second_401_is_passed_back_after_one_refresh(
    http: httpx.AsyncClient,
    service_key: str,
    gw: httpx.AsyncClient,
    key: str,
    db: Database,
    echo_gateway: EchoGateway,
    upstream: EchoUpstream,
) -> None:
    user_id = await connect_new_user(http, service_key)
    _, version = await current_token(db, echo_gateway, user_id)
    path = f"/flaky/{uuid.uuid4().hex[:8]}"
    upstream.plan(path, [401, 401, 401])
    response = await gw.get(f"/proxy/users/{user_id}{path}", headers=bearer(key))
    assert response.status_code == 401
    assert "gateway-error" not in response.headers, "the provider's own 401"
    assert len(upstream.seen(path)) == 2
    assert (await current_token(db, echo_gateway, user_id))[1] == version + 1


async def test_a_streamed_body_gets_the_refresh_but_its_401_back(
    http: httpx.AsyncClient,
    service_key: str,
    gw: httpx.AsyncClient,
    key: str,
    db: Database,
    echo_gateway: EchoGateway,
    upstream: EchoUpstream,
) -> None:
    user_id = await connect_new_user(http, service_key)
    token, version = await current_token(db, echo_gateway, user_id)
    upstream.rejected_tokens.add(token)
    path = f"/guarded/{uuid.uuid4().hex[:8]}"
    big = b"z" * (2 * 1024 * 1024)  # beyond the 1 MiB kept for replay: it cannot be sent again
    first = await gw.put(f"/proxy/users/{user_id}{path}", content=big, headers=bearer(key))
    assert first.status_code == 401
    assert (await current_token(db, echo_gateway, user_id))[1] == version + 1
    again = await gw.put(f"/proxy/users/{user_id}{path}", content=big, headers=bearer(key))
    assert again.status_code == 200
    assert again.json()["body_length"] == len(big)


async def test_a_token_about_to_expire_is_refreshed_before_the_call(
    http: httpx.AsyncClient,
    service_key: str,
    gw: httpx.AsyncClient,
    key: str,
    db: Database,
    echo_gateway: EchoGateway,
    upstream: EchoUpstream,
) -> None:
    user_id = await connect_new_user(http, service_key)
    token, version = await current_token(db, echo_gateway, user_id)
    async with db.transaction() as session:
        await session.execute(
            update(Connection)
            .where(Connection.user_id == user_id)
            .values(expires_at=datetime.now(UTC) + timedelta(seconds=10))
        )
    path = f"/echo/{uuid.uuid4().hex[:8]}"
    response = await gw.get(f"/proxy/users/{user_id}{path}", headers=bearer(key))
    assert response.status_code == 200
    fresh, fresh_version = await current_token(db, echo_gateway, user_id)
    assert fresh_version == version + 1 and fresh != token
    assert [seen.header("authorization") for seen in upstream.seen(path)] == [f"Bearer {fresh}"]
