"""The provider's OAuth budget, attacked from the outside: one service client spending all it can
(connects, forced refreshes) does not starve the others, the refresher or operators; and a provider
that answers 401 to everything costs one refresh per connection per cool-down, on every replica.

Two gateway replicas share one database of their own (the budget is PostgreSQL's) in front of the
Contio sandbox, with a budget of 10 token requests per 5 minutes: each client may spend 2 of them,
3 are kept for the refresher and 2 for operators.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.engine import URL
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.clients.store import ClientChanges, create_client, update_client
from gateway.connections.store import access_token
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection
from gateway.providers.spender import REFRESHER
from gateway.settings import Settings
from gateway.tokens.services import build_refresher
from gateway_sandbox import SandboxOptions, create_sandbox_app
from tests.e2e.flows import connect
from tests.fixtures.database import fresh_database
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import gateway_settings

COOLDOWN_SECONDS = 600  # longer than any run of this module: one refresh is all there can be


@dataclass
class Budgeted:
    replicas: tuple[ServerThread, ServerThread]
    sandbox_app: Starlette
    settings: Settings
    db: Database

    @property
    def sandbox(self):  # type: ignore[no-untyped-def]
        return self.sandbox_app.state.sandbox


@pytest.fixture(scope="module")
def budget_database(server_url: URL) -> Iterator[URL]:
    with fresh_database(server_url, "gw_budget") as url:
        yield url


@pytest.fixture(scope="module")
def budgeted_stack(
    budget_database: URL,
) -> Iterator[tuple[list[ServerThread], Starlette, Settings]]:
    ports = (free_port(), free_port())
    redirects = tuple(f"http://127.0.0.1:{port}/oauth/callback" for port in ports)
    sandbox_app = create_sandbox_app(SandboxOptions(redirect_uris=redirects, auto_approve=True))
    sandbox = ServerThread(sandbox_app).start()
    servers = [sandbox]
    try:
        settings = []
        for port in ports:
            settings.append(
                gateway_settings(
                    port,
                    sandbox.url,
                    contio_token_rate="10/300s",
                    token_rate_client_share=0.2,
                    token_rate_refresher_reserve=0.3,
                    token_rate_operator_reserve=0.2,
                    proxy_401_refresh_cooldown_seconds=COOLDOWN_SECONDS,
                )
            )
        # Both replicas seal tokens with the same key.
        shared = settings[0].encryption_keys
        settings[1] = settings[1].model_copy(update={"encryption_keys": shared})
        for port, each in zip(ports, settings, strict=True):
            servers.append(ServerThread(create_app(each, budget_database), port=port).start())
        yield servers[1:], sandbox_app, settings[0]
    finally:
        for server in reversed(servers):
            server.stop()


@pytest.fixture
async def stack(
    budgeted_stack: tuple[list[ServerThread], Starlette, Settings], budget_database: URL
) -> AsyncIterator[Budgeted]:
    servers, sandbox_app, settings = budgeted_stack
    db = Database(budget_database, pool_size=2)
    try:
        yield Budgeted((servers[0], servers[1]), sandbox_app, settings, db)
    finally:
        sandbox_app.state.sandbox.faults.reset()
        await db.dispose()


async def new_client(db: Database, scopes: list[str], *, confined: bool = False) -> str:
    name = f"svc-{uuid.uuid4().hex[:10]}"
    async with db.transaction() as session:
        _client, issued = await create_client(session, name, scopes, ["GET /**"])
        if confined:
            await update_client(session, name, ClientChanges(own_users_only=True))
    return issued.key


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def connection_of(db: Database, connection_id: str) -> Connection:
    async with db.transaction() as session:
        found = await session.scalar(
            select(Connection).where(Connection.id == uuid.UUID(connection_id))
        )
    assert found is not None
    return found


async def connected(gateway: ServerThread, key: str, db: Database) -> Connection:
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
        answer = await connect(http, key, user_id, login_hint=f"{user_id}@example.com")
    assert answer.status_code == 200, answer.text
    async with db.transaction() as session:
        found = await session.scalar(select(Connection).where(Connection.user_id == user_id))
    assert found is not None
    return found


async def test_a_client_that_spent_its_share_is_refused_while_the_others_keep_theirs(
    stack: Budgeted,
) -> None:
    greedy = await new_client(stack.db, ["connect", "proxy"])
    confined = await new_client(stack.db, ["connect", "proxy"], confined=True)
    operator = await new_client(stack.db, ["admin"])
    first, second = stack.replicas

    # The greedy client connects users on both replicas until its share is spent.
    mine = [await connected(first, greedy, stack.db), await connected(second, greedy, stack.db)]
    async with httpx.AsyncClient(base_url=first.url, timeout=10) as http:
        refused = await http.post(
            "/v1/connect-sessions",
            json={"user_id": f"user-{uuid.uuid4().hex[:8]}"},
            headers=auth(greedy),
        )
    assert refused.status_code == 429, refused.text
    assert int(refused.headers["Retry-After"]) >= 1
    error = refused.json()["error"]
    assert error["code"] == "token_budget_share_exhausted"
    share = error["details"]["share"]
    assert share["spender"].startswith("client:")
    assert (share["limit"], share["used"], share["window_seconds"]) == (2, 2, 300)
    assert share["resets_at"]

    # Its forced refreshes are refused too, on the other replica, without reaching the provider:
    # the provider revoked the token the proxy holds, so the 401 asks for a refresh.
    keys = KeyRing.parse(stack.settings.encryption_keys.get_secret_value())  # type: ignore[union-attr]
    stack.sandbox.revoke_token(access_token(keys, mine[0]), "sandbox-client")
    calls = stack.sandbox.stats()["refresh_calls"]
    async with httpx.AsyncClient(base_url=second.url, timeout=10) as http:
        proxied = await http.get(f"/proxy/users/{mine[0].user_id}/profile", headers=auth(greedy))
    assert proxied.status_code == 429, proxied.text
    assert proxied.json()["error"]["code"] == "token_budget_share_exhausted"
    assert proxied.json()["error"]["details"]["share"]["spender"] == share["spender"]
    assert stack.sandbox.stats()["refresh_calls"] == calls

    # The confined client's connect still goes through, on either replica.
    theirs = await connected(second, confined, stack.db)
    assert theirs.status.value == "active"

    # An operator still refreshes (the greedy client's connection, even).
    async with httpx.AsyncClient(base_url=first.url, timeout=10) as http:
        refreshed = await http.post(f"/v1/connections/{mine[0].id}/refresh", headers=auth(operator))
    assert refreshed.status_code == 200, refreshed.text
    assert (await connection_of(stack.db, str(mine[0].id))).token_version == (
        mine[0].token_version + 1
    )

    # And so does the refresher.
    async with httpx.AsyncClient(timeout=10) as provider_http:
        refresher = build_refresher(stack.settings, stack.db, keys, provider_http, environ={})
        fresh = await refresher.refresh(theirs.id, spender=REFRESHER)
    assert fresh.refreshed
    assert fresh.connection.token_version == theirs.token_version + 1


async def test_an_upstream_that_always_answers_401_costs_one_refresh_per_cooldown(
    stack: Budgeted,
) -> None:
    key = await new_client(stack.db, ["connect", "proxy"], confined=True)
    connection = await connected(stack.replicas[0], key, stack.db)
    stack.sandbox.faults.update({"reject_access_tokens": True})
    before = stack.sandbox.stats()["refresh_calls"]

    answers = []
    for call in range(8):
        replica = stack.replicas[call % 2]
        async with httpx.AsyncClient(base_url=replica.url, timeout=10) as http:
            answers.append(
                await http.get(f"/proxy/users/{connection.user_id}/profile", headers=auth(key))
            )

    # Every call gets the provider's own 401, and the provider saw one refresh in all.
    assert [answer.status_code for answer in answers] == [401] * 8
    assert all("gateway-error" not in answer.headers for answer in answers)
    assert stack.sandbox.stats()["refresh_calls"] - before == 1
    after = await connection_of(stack.db, str(connection.id))
    assert after.token_version == connection.token_version + 1
    assert after.status.value == "active"
