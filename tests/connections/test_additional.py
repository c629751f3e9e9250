"""Several connections per user and provider: additional connections beside the default one, one
provider account connected once, and moving the default.

Over real HTTP: the gateway and the Contio sandbox on loopback; A is confined, B is unconfined with
a user pattern, C is unconfined for anyone (``tests.hostile.owner_fixtures``).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from gateway.cli import cli
from gateway.connections import defaults, ownership, queries
from gateway.connections.errors import NotConnectionOwner
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import AuditEvent, Connection
from gateway.tokens import grant
from tests.admin.test_import_api import body_for, broker_grant
from tests.fixtures.stack import Stack
from tests.hostile.owner_fixtures import (
    Client,
    Clients,
    account,
    b_user,
    clients,
    connect_as,
    error_code,
    rows,
    sandbox,
    subject_of,
)
from tests.hostile.test_owner import cli_env
from tests.provisioning.flows import latest_code, start, verify
from tests.proxy.conftest import eventually

__all__ = ["cli_env", "clients", "sandbox"]  # fixtures


async def connected(
    http: httpx.AsyncClient, client: Client, user_id: str, email: str, **body: object
) -> None:
    response = await connect_as(http, client, user_id, email, **body)
    assert response.status_code == 200, response.text


async def email_through(http: httpx.AsyncClient, client: Client, path: str) -> str:
    """Whose provider account answers a proxied call: the sandbox's profile says."""
    response = await http.get(f"{path}/profile", headers=client.auth)
    assert response.status_code == 200, response.text
    email: str = response.json()["email"]
    return email


@dataclass(frozen=True)
class TwoAccounts:
    user_id: str
    personal: str  # the default connection's account
    work: str  # the additional connection's
    first: Connection
    second: Connection


async def two_accounts(
    http: httpx.AsyncClient, db: Database, default_by: Client, additional_by: Client
) -> TwoAccounts:
    """A user connected twice: a default connection by ``default_by``, an additional one by
    ``additional_by``."""
    user_id, personal, work = b_user(), account(), account()
    await connected(http, default_by, user_id, personal)
    await connected(http, additional_by, user_id, work, additional=True)
    first, second = await rows(db, user_id)
    return TwoAccounts(user_id, personal, work, first, second)


def keys_of(stack: Stack) -> KeyRing:
    assert stack.settings.encryption_keys is not None
    return KeyRing.parse(stack.settings.encryption_keys.get_secret_value())


async def test_two_accounts_of_one_user_are_proxied_separately_each_with_its_own_token(
    http: httpx.AsyncClient, stack: Stack, db: Database, clients: Clients
) -> None:
    two = await two_accounts(http, db, clients.open_, clients.open_)
    user_id, personal, work, first, second = (
        two.user_id,
        two.personal,
        two.work,
        two.first,
        two.second,
    )
    assert (first.is_default, second.is_default) == (True, False)
    assert (first.subject, second.subject) == (subject_of(stack, personal), subject_of(stack, work))
    assert second.owner_client_id == clients.open_.id
    keys = keys_of(stack)
    assert grant.access_token(keys, first) != grant.access_token(keys, second)

    assert await email_through(http, clients.open_, f"/proxy/users/{user_id}") == personal
    assert await email_through(http, clients.open_, f"/proxy/connections/{first.id}") == personal
    assert await email_through(http, clients.open_, f"/proxy/connections/{second.id}") == work

    shown = await http.get(f"/v1/connections/{second.id}", headers=clients.operator.auth)
    assert shown.status_code == 200 and shown.json()["is_default"] is False


async def test_the_same_account_twice_is_refused_unless_the_flow_allows_it(
    http: httpx.AsyncClient, stack: Stack, db: Database, clients: Clients
) -> None:
    user_id, email = b_user(), account()
    await connected(http, clients.open_, user_id, email)
    [default] = await rows(db, user_id)

    refused = await connect_as(http, clients.open_, user_id, email, additional=True)

    assert refused.status_code == 409
    assert error_code(refused) == "duplicate_account"
    assert refused.json()["error"]["details"]["connection_id"] == str(default.id)
    assert [row.id for row in await rows(db, user_id)] == [default.id]

    # A re-connect of the default to the account it holds is no duplicate.
    await connected(http, clients.open_, user_id, email)
    await connected(
        http, clients.open_, user_id, email, additional=True, allow_duplicate_account=True
    )
    first, second = await rows(db, user_id)
    assert first.id == default.id and first.token_version == default.token_version + 1
    assert first.subject == second.subject and not second.is_default


async def test_a_replaced_identity_may_not_take_an_account_another_connection_holds(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    two = await two_accounts(http, db, clients.open_, clients.open_)

    refused = await connect_as(http, clients.open_, two.user_id, two.work, replace_identity=True)

    assert refused.status_code == 409 and error_code(refused) == "duplicate_account"
    mismatch = await connect_as(http, clients.open_, two.user_id, account())
    assert mismatch.status_code == 409 and error_code(mismatch) == "identity_mismatch"


async def test_an_additional_connection_needs_no_ownership_of_the_default_but_a_reconnect_does(
    http: httpx.AsyncClient, stack: Stack, db: Database, clients: Clients
) -> None:
    user_id = b_user()
    await connected(http, clients.patterned, user_id, account())

    await connected(http, clients.open_, user_id, account(), additional=True)
    reconnect = await http.post(
        "/v1/connect-sessions", json={"user_id": user_id}, headers=clients.open_.auth
    )
    # A's own space holds none for the user: its additional connection is its default there.
    await connected(http, clients.confined, user_id, account(), additional=True)

    assert reconnect.status_code == 409
    assert error_code(reconnect) == "connection_owned_by_other_client"
    owned = [
        (r.owner_client_id, r.confined_to_client_id, r.is_default) for r in await rows(db, user_id)
    ]
    assert owned == [
        (clients.patterned.id, None, True),
        (clients.open_.id, None, False),
        (clients.confined.id, clients.confined.id, True),
    ]
    # The pattern still holds for additional connections.
    outside = await http.post(
        "/v1/connect-sessions",
        json={"user_id": "x-outside", "additional": True},
        headers=clients.patterned.auth,
    )
    assert outside.status_code == 403 and error_code(outside) == "user_not_allowed"


async def test_provisioning_creates_an_additional_connection_and_refuses_a_duplicate_at_verify(
    http: httpx.AsyncClient,
    stack: Stack,
    db: Database,
    clients: Clients,
    sandbox: httpx.AsyncClient,
) -> None:
    user_id, personal, work = b_user(), account(), account()
    await connected(http, clients.open_, user_id, personal)

    begun = await start(http, clients.open_.key, user_id=user_id, email=work, additional=True)
    assert begun.status_code == 201, begun.text
    done = await verify(
        http, clients.open_.key, begun.json()["id"], await latest_code(sandbox, work)
    )
    assert done.status_code == 200, done.text

    again = await start(http, clients.open_.key, user_id=user_id, email=work, additional=True)
    assert again.status_code == 201, again.text
    refused = await verify(
        http, clients.open_.key, again.json()["id"], await latest_code(sandbox, work)
    )
    assert refused.status_code == 409 and error_code(refused) == "duplicate_account"

    first, second = await rows(db, user_id)
    assert str(second.id) == done.json()["connection_id"]
    assert (first.is_default, second.is_default) == (True, False)
    assert second.subject == subject_of(stack, work)


async def test_an_import_creates_an_additional_connection_and_refuses_a_duplicate(
    http: httpx.AsyncClient, stack: Stack, db: Database, clients: Clients
) -> None:
    user_id, personal, work = b_user(), account(), account()
    await connected(http, clients.open_, user_id, personal)

    imported = await http.post(
        "/v1/connections/import",
        json=body_for(user_id, broker_grant(stack, work), additional=True),
        headers=clients.operator.auth,
    )
    duplicate = await http.post(
        "/v1/connections/import",
        json=body_for(user_id, broker_grant(stack, personal), additional=True),
        headers=clients.operator.auth,
    )

    assert imported.status_code == 201, imported.text
    assert imported.json()["is_default"] is False and imported.json()["owner"] == "operator"
    assert duplicate.status_code == 409 and error_code(duplicate) == "duplicate_account"
    first, second = await rows(db, user_id)
    assert str(second.id) == imported.json()["id"] and first.subject == subject_of(stack, personal)


async def test_only_the_owner_of_both_or_an_operator_moves_the_default(
    http: httpx.AsyncClient, stack: Stack, db: Database, clients: Clients
) -> None:
    two = await two_accounts(http, db, clients.patterned, clients.open_)
    user_id, first, second = two.user_id, two.first, two.second

    async def move(actor: ownership.Actor, connection_id: uuid.UUID) -> Connection:
        async with db.transaction() as session:
            connection = await queries.get(session, connection_id, for_update=True)
            return await defaults.make_default(session, actor, connection, audit_actor="test")

    for client in (clients.open_, clients.patterned):  # each owns one of the two
        with pytest.raises(NotConnectionOwner):
            await move(await actor_of(db, client), second.id)
    assert [row.is_default for row in await rows(db, user_id)] == [True, False]

    moved = await move(ownership.AS_OPERATOR, second.id)

    assert moved.is_default and moved.revision == second.revision + 1
    after_first, after_second = await rows(db, user_id)
    assert (after_first.is_default, after_second.is_default) == (False, True)
    assert after_first.revision == first.revision + 1
    async with db.transaction() as session:
        [event] = await session.scalars(
            select(AuditEvent).where(
                AuditEvent.connection_id == second.id,
                AuditEvent.action == "connection.default_changed",
            )
        )
    assert event.details == {"from": str(first.id), "to": str(second.id)}

    async def new_default_used() -> bool:
        return await email_through(http, clients.open_, f"/proxy/users/{user_id}") == two.work

    await eventually(new_default_used, within=2.0, what="the proxy uses the new default")


async def test_a_client_owning_both_moves_the_default(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    two = await two_accounts(http, db, clients.open_, clients.open_)

    async with db.transaction() as session:
        connection = await queries.get(session, two.second.id, for_update=True)
        actor = await actor_of(db, clients.open_)
        moved = await defaults.make_default(session, actor, connection, audit_actor="client:c")

    assert moved.is_default
    assert [row.is_default for row in await rows(db, two.user_id)] == [False, True]


@pytest.mark.usefixtures("cli_env")
async def test_the_cli_moves_the_default(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    two = await two_accounts(http, db, clients.open_, clients.open_)

    result = await asyncio.to_thread(
        CliRunner().invoke, cli, ["connections", "default", str(two.second.id), "--json"]
    )

    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["is_default"] is True
    assert [row.is_default for row in await rows(db, two.user_id)] == [False, True]


async def actor_of(db: Database, client: Client) -> ownership.Actor:
    async with db.transaction() as session:
        return await ownership.acting_client(session, client.id)


async def test_a_patch_with_is_default_moves_the_default_for_the_owner_of_both_only(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    mixed = await two_accounts(http, db, clients.patterned, clients.open_)
    own = await two_accounts(http, db, clients.open_, clients.open_)

    async def patch(client: Client, connection: Connection, body: object) -> httpx.Response:
        return await http.patch(
            f"/v1/connections/{connection.id}",
            json=body,
            headers={"Authorization": f"Bearer {client.key}"},
        )

    refused = await patch(clients.open_, mixed.second, {"is_default": True})
    unset = await patch(clients.open_, own.first, {"is_default": False})
    moved = await patch(clients.open_, own.second, {"is_default": True})

    assert refused.status_code == 403 and error_code(refused) == "not_connection_owner"
    assert [row.is_default for row in await rows(db, mixed.user_id)] == [True, False]
    assert unset.status_code == 400
    assert moved.status_code == 200 and moved.json()["is_default"] is True
    # One change, one step of its ETag, whichever way the default moved.
    assert moved.headers["ETag"] == f'"{own.second.revision + 1}"'
    assert [row.is_default for row in await rows(db, own.user_id)] == [False, True]
    async with db.transaction() as session:
        actions = set(
            await session.scalars(
                select(AuditEvent.action).where(AuditEvent.connection_id == own.second.id)
            )
        )
    assert {"connection.default_changed", "connection.updated"} <= actions


async def test_an_additional_connection_transferred_into_an_empty_space_becomes_its_default(
    http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    two = await two_accounts(http, db, clients.open_, clients.open_)

    async with db.transaction() as session:
        moved = await ownership.transfer(
            session, two.second.id, clients.confined.name, actor="test"
        )

    assert moved.is_default and moved.confined_to_client_id is not None
    (first,) = [row for row in await rows(db, two.user_id) if row.id == two.first.id]
    assert first.is_default  # the shared space keeps its own default
