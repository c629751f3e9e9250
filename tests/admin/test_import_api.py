"""``POST /v1/connections/import``: a user's tokens from another broker, checked before stored."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection
from tests.admin.conftest import audit_actions, event_types, reload, tokens_of
from tests.e2e.flows import proxy_get
from tests.fixtures.stack import Stack

BROKER_REDIRECT = "https://old-broker.example.com/callback"
SCOPES = ("openid", "profile", "email", "meetings:read")


@dataclass(frozen=True)
class BrokerGrant:
    """Tokens another broker obtained from the sandbox for one of its users."""

    access_token: str
    refresh_token: str
    subject: str


def broker_grant(stack: Stack, email: str) -> BrokerGrant:
    sandbox = stack.sandbox_store
    user = sandbox.sign_in(email)
    code = sandbox.issue_code(user, BROKER_REDIRECT, SCOPES, None, None)
    tokens = sandbox.redeem_code(code, sandbox.options.client_id, BROKER_REDIRECT, None)
    return BrokerGrant(tokens.access_token.token, tokens.refresh_token.token, str(user.id))


def body_for(user_id: str, grant: BrokerGrant, **extra: Any) -> dict[str, Any]:
    return {
        "user_id": user_id,
        "provider": "contio",
        "access_token": grant.access_token,
        "refresh_token": grant.refresh_token,
        "expires_in": 3600,
        "scopes": list(SCOPES),
        **extra,
    }


def new_user() -> str:
    return f"imported-{uuid.uuid4().hex[:8]}"


async def connection_of(db: Database, user_id: str) -> Connection:
    async with db.transaction() as session:
        found = await session.scalar(select(Connection).where(Connection.user_id == user_id))
    assert found is not None
    return found


async def test_valid_tokens_become_a_working_connection(
    admin: httpx.AsyncClient,
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    keys: KeyRing,
    stack: Stack,
) -> None:
    user_id = new_user()
    grant = broker_grant(stack, f"{user_id}@example.com")

    response = await admin.post("/v1/connections/import", json=body_for(user_id, grant))

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["user_id"], body["status"], body["scopes"]) == (user_id, "active", list(SCOPES))
    assert grant.access_token not in response.text and grant.refresh_token not in response.text
    connection = await connection_of(db, user_id)
    assert connection.subject == grant.subject
    assert tokens_of(keys, connection) == (grant.access_token, grant.refresh_token)
    assert connection.provider_connection_id is not None
    proxied = await proxy_get(http, service_key, user_id, "/meetings")
    assert proxied.status_code == 200
    imported = [
        a for action, a in await audit_actions(db, connection.id) if action.endswith("imported")
    ]
    assert len(imported) == 1 and imported[0].startswith("client:svc-")
    assert await event_types(db, connection.id) == ["connection.created"]


async def test_importing_again_updates_the_same_connection(
    admin: httpx.AsyncClient, db: Database, keys: KeyRing, stack: Stack
) -> None:
    user_id = new_user()
    email = f"{user_id}@example.com"
    first = await admin.post(
        "/v1/connections/import", json=body_for(user_id, broker_grant(stack, email))
    )
    newer = broker_grant(stack, email)

    second = await admin.post("/v1/connections/import", json=body_for(user_id, newer))

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["id"] == first.json()["id"]
    connection = await connection_of(db, user_id)
    assert tokens_of(keys, connection) == (newer.access_token, newer.refresh_token)
    assert await event_types(db, connection.id) == ["connection.created", "connection.recovered"]


async def test_another_providers_account_is_409_identity_mismatch_unless_replaced(
    admin: httpx.AsyncClient, db: Database, stack: Stack
) -> None:
    user_id = new_user()
    await admin.post(
        "/v1/connections/import",
        json=body_for(user_id, broker_grant(stack, f"{user_id}@example.com")),
    )
    before = await connection_of(db, user_id)
    other = broker_grant(stack, f"{user_id}-other@example.com")

    refused = await admin.post("/v1/connections/import", json=body_for(user_id, other))

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "identity_mismatch"
    unchanged = await reload(db, before.id)
    assert (unchanged.subject, unchanged.token_version) == (before.subject, before.token_version)

    replaced = await admin.post(
        "/v1/connections/import", json=body_for(user_id, other, replace=True)
    )

    assert replaced.status_code == 200 and replaced.json()["id"] == str(before.id)
    assert (await reload(db, before.id)).subject == other.subject


async def test_tokens_the_provider_does_not_know_are_422_invalid_tokens(
    admin: httpx.AsyncClient, db: Database
) -> None:
    user_id = new_user()
    made_up = BrokerGrant("cto_at_v1_" + uuid.uuid4().hex, "cto_rt_v1_" + uuid.uuid4().hex, "")

    response = await admin.post("/v1/connections/import", json=body_for(user_id, made_up))

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_tokens"
    assert made_up.access_token not in response.text
    assert made_up.refresh_token not in response.text
    async with db.transaction() as session:
        assert await session.scalar(select(Connection).where(Connection.user_id == user_id)) is None


async def test_a_dead_refresh_token_is_refused_even_with_a_live_access_token(
    admin: httpx.AsyncClient, stack: Stack
) -> None:
    user_id = new_user()
    grant = broker_grant(stack, f"{user_id}@example.com")
    dead = broker_grant(stack, f"{user_id}@example.com")
    stack.sandbox_store.revoke_token(dead.refresh_token, stack.sandbox_store.options.client_id)
    mixed = BrokerGrant(grant.access_token, dead.refresh_token, grant.subject)

    response = await admin.post("/v1/connections/import", json=body_for(user_id, mixed))

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_tokens"


async def test_tokens_of_two_different_users_are_refused(
    admin: httpx.AsyncClient, stack: Stack
) -> None:
    user_id = new_user()
    mine = broker_grant(stack, f"{user_id}@example.com")
    theirs = broker_grant(stack, f"{user_id}-2@example.com")
    mixed = BrokerGrant(mine.access_token, theirs.refresh_token, mine.subject)

    response = await admin.post("/v1/connections/import", json=body_for(user_id, mixed))

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_tokens"


async def test_an_expired_access_token_is_replaced_by_a_refresh(
    admin: httpx.AsyncClient, db: Database, keys: KeyRing, stack: Stack
) -> None:
    user_id = new_user()
    grant = broker_grant(stack, f"{user_id}@example.com")
    stack.sandbox_store.revoke_token(grant.access_token, stack.sandbox_store.options.client_id)

    response = await admin.post("/v1/connections/import", json=body_for(user_id, grant))

    assert response.status_code == 201, response.text
    access, refresh = tokens_of(keys, await connection_of(db, user_id))
    assert access != grant.access_token and refresh != grant.refresh_token
    assert stack.sandbox_store.find_live(access) is not None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"refresh_token": None}, "refresh_token"),
        ({"access_token": ""}, "access_token"),
        ({"expires_in": "3600"}, "expires_in"),
        ({"expires_in": 0}, "expires_in"),
        ({"expires_at": "2030-01-01T00:00:00Z"}, "body"),  # together with expires_in
        ({"expires_in": None, "expires_at": 1893456000}, "expires_at"),
        ({"expires_in": None, "expires_at": "2030-01-01T00:00:00"}, "expires_at"),
        ({"scopes": "openid profile"}, "scopes"),
        ({"replace": "yes"}, "replace"),
        ({"user_id": ""}, "user_id"),
        ({"token_type": "Bearer"}, "token_type"),
    ],
)
async def test_a_malformed_body_is_400_validation_error_naming_the_field(
    admin: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    secret = "cto_at_v1_" + uuid.uuid4().hex
    body = {
        **body_for(new_user(), BrokerGrant(secret, "cto_rt_v1_" + uuid.uuid4().hex, "")),
        **change,
    }
    body = {key: value for key, value in body.items() if value is not None}

    response = await admin.post("/v1/connections/import", json=body)

    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert field in [problem["field"] for problem in error["details"]["errors"]]
    assert secret not in response.text


async def test_not_json_is_400(admin: httpx.AsyncClient) -> None:
    response = await admin.post(
        "/v1/connections/import", content=b"user_id=a", headers={"Content-Type": "text/plain"}
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


async def test_an_unknown_provider_is_400(admin: httpx.AsyncClient, stack: Stack) -> None:
    user_id = new_user()
    grant = broker_grant(stack, f"{user_id}@example.com")

    response = await admin.post(
        "/v1/connections/import", json=body_for(user_id, grant, provider="nowhere")
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unknown_provider"
