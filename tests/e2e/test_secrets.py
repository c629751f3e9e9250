"""Tokens stay inside the gateway: sealed in the database, absent from logs and responses."""

from __future__ import annotations

import logging
import uuid

import httpx
import pytest
from sqlalchemy import select, text, update

from gateway.exceptions import CredentialsUnreadable
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection
from gateway.tokens.grant import access_token
from tests.e2e.flows import open_session, query, to_callback
from tests.fixtures.stack import Stack


async def connect_and_capture(
    http: httpx.AsyncClient, key: str, user_id: str
) -> tuple[httpx.Response, dict[str, str]]:
    session = await open_session(http, key, user_id=user_id)
    async with httpx.AsyncClient() as browser:
        callback = await to_callback(browser, session["connect_url"])
        response = await browser.get(callback)
    secrets = {"code": query(callback)["code"], "state": query(callback)["state"]}
    secrets["connect_token"] = query(session["connect_url"])["token"]
    return response, secrets


async def dump_every_table(db: Database) -> str:
    async with db.transaction() as session:
        tables = (
            await session.scalars(
                text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            )
        ).all()
        rows: list[str] = []
        for table in tables:
            result = await session.execute(text(f'SELECT t::text FROM "{table}" AS t'))
            rows.extend(str(row[0]) for row in result)
    return "\n".join(rows)


async def test_no_plaintext_token_anywhere_in_the_database(
    http: httpx.AsyncClient, service_key: str, db: Database, stack: Stack
) -> None:
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    response, flow_secrets = await connect_and_capture(http, service_key, user_id)
    assert response.status_code == 200
    proxied = await http.get(
        f"/proxy/users/{user_id}/meetings", headers={"Authorization": f"Bearer {service_key}"}
    )
    assert proxied.status_code == 200
    dump = await dump_every_table(db)
    issued = stack.sandbox_store.issued_tokens()
    assert issued, "the sandbox issued no tokens: the test would prove nothing"
    assert user_id in dump, "the dump does not include the connection: it would prove nothing"
    for token in [*issued, *flow_secrets.values(), service_key]:
        assert token not in dump
    assert "cto_at_v1_" not in dump and "cto_rt_v1_" not in dump


async def test_sealed_token_copied_into_another_row_fails_to_open(
    http: httpx.AsyncClient, service_key: str, db: Database, stack: Stack
) -> None:
    first, second = (f"user-{uuid.uuid4().hex[:8]}" for _ in range(2))
    for user_id in (first, second):
        await connect_and_capture(http, service_key, user_id)
    keys = KeyRing.parse(stack.settings.encryption_keys.get_secret_value())  # type: ignore[union-attr]
    async with db.transaction() as session:
        source = await session.scalar(select(Connection).where(Connection.user_id == first))
        assert source is not None
        await session.execute(
            update(Connection)
            .where(Connection.user_id == second)
            .values(access_token=source.access_token)
        )
    async with db.transaction() as session:
        target = await session.scalar(select(Connection).where(Connection.user_id == second))
        assert target is not None
        with pytest.raises(CredentialsUnreadable):
            access_token(keys, target)
        assert access_token(keys, source).startswith("cto_at_v1_")


async def test_logs_hold_no_token_code_state_or_connect_token(
    http: httpx.AsyncClient, service_key: str, stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    _response, flow_secrets = await connect_and_capture(http, service_key, user_id)
    await http.get(
        f"/proxy/users/{user_id}/meetings", headers={"Authorization": f"Bearer {service_key}"}
    )
    # Only what the gateway's own server thread logged: the test's clients log their own traffic.
    gateway_thread = f"server-{stack.gateway.port}"
    logged = "\n".join(
        record.getMessage() for record in caplog.records if record.threadName == gateway_thread
    )
    assert "/oauth/callback?code=***&state=***" in logged, "the callback was not logged"
    for secret in [*stack.sandbox_store.issued_tokens(), *flow_secrets.values(), service_key]:
        assert secret not in logged


async def test_responses_never_carry_tokens(
    http: httpx.AsyncClient, service_key: str, stack: Stack
) -> None:
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    response, _ = await connect_and_capture(http, service_key, user_id)
    proxied = await http.get(
        f"/proxy/users/{user_id}/profile", headers={"Authorization": f"Bearer {service_key}"}
    )
    for token in stack.sandbox_store.issued_tokens():
        assert token not in response.text and token not in proxied.text
        assert token not in str(response.headers) and token not in str(proxied.headers)


async def test_a_verifier_copied_from_another_connect_session_is_a_409_not_a_500(
    http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    victim = await open_session(http, service_key, user_id=f"user-{uuid.uuid4().hex[:8]}")
    donor = await open_session(http, service_key, user_id=f"user-{uuid.uuid4().hex[:8]}")
    async with httpx.AsyncClient() as browser, httpx.AsyncClient() as other:
        callback = await to_callback(browser, victim["connect_url"])
        await to_callback(other, donor["connect_url"])
        async with db.transaction() as session:
            copied = await session.execute(
                text(
                    "UPDATE connect_sessions AS victim SET code_verifier = donor.code_verifier "
                    "FROM connect_sessions AS donor WHERE victim.id = :victim AND donor.id = :donor"
                ),
                {"victim": uuid.UUID(victim["id"]), "donor": uuid.UUID(donor["id"])},
            )
            assert copied.rowcount == 1  # type: ignore[attr-defined]
        answered = await browser.get(callback, headers={"Accept": "application/json"})
    assert answered.status_code == 409, answered.text
    assert answered.json()["error"]["code"] == "credentials_unreadable"
