"""Delegated keys in the console: issued on behalf of a client (by default the connection's owner)
and shown once on the page the issue redirects to, listed, and revoked, as the signed-in operator;
on connections of two service clients, one confined to its own space."""

from __future__ import annotations

import re
import uuid

import httpx
from sqlalchemy import select

from gateway.clients.service_keys import hash_key
from gateway.console import shown_once
from gateway.kit.db import Database
from gateway.models import Connection, DelegatedKey
from tests.connections.managed import actions, audit_of, connected
from tests.console.conftest import Admin, csrf_of, new_operator, page_of, post_form, sign_in
from tests.hostile.owner_fixtures import Clients, clients

__all__ = ["clients"]  # fixtures

SECRET = re.compile(r'<code class="secret" id="secret">([^<]+)</code>')


async def keys_of(db: Database, connection: Connection) -> list[DelegatedKey]:
    async with db.transaction() as session:
        found = await session.scalars(
            select(DelegatedKey)
            .where(DelegatedKey.connection_id == connection.id)
            .order_by(DelegatedKey.created_at)
        )
        return list(found)


async def issue(
    console: httpx.AsyncClient, connection: Connection, **fields: str
) -> httpx.Response:
    page = page_of(connection)
    return await post_form(console, page, f"{page}/keys", **fields)


async def test_a_key_is_issued_for_the_owner_and_shown_once_after_the_redirect(
    console: httpx.AsyncClient,
    operator: Admin,
    http: httpx.AsyncClient,
    db: Database,
    clients: Clients,
) -> None:
    owner = clients.confined
    connection = await connected(http, db, owner)

    answer = await issue(console, connection, ttl_seconds="600", allow="GET /meetings/**")

    assert answer.status_code == 303, answer.text
    assert "gw_" not in answer.headers["location"]  # never in a URL
    [key] = await keys_of(db, connection)
    assert answer.headers["location"] == f"{page_of(connection)}/keys/{key.id}"
    shown = await console.get(answer.headers["location"])
    found = SECRET.search(shown.text)
    assert found is not None, shown.text
    assert hash_key(found.group(1)) == key.key_hash
    assert key.allow_rules == ["GET /meetings/**"] and key.issued_by_client_id == owner.id
    again = await console.get(answer.headers["location"])
    assert again.status_code == 200 and 'id="not-shown"' in again.text
    assert found.group(1) not in again.text
    listed = (await console.get(page_of(connection))).text
    assert f'data-key-id="{key.id}" data-state="live"' in listed
    assert found.group(1) not in listed
    [issued] = [e for e in await audit_of(db, connection) if e.action.endswith("key_issued")]
    assert issued.actor == operator.actor and issued.details["client"] == owner.name


async def test_the_shown_once_cookie_opens_in_no_other_session(
    console: httpx.AsyncClient, http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connected(http, db, clients.open_)
    answer = await issue(console, connection)
    sealed = answer.cookies.get(shown_once.COOKIE)
    assert sealed and "gw_" not in sealed
    other = await new_operator(db)
    async with httpx.AsyncClient(base_url=str(console.base_url), timeout=10) as elsewhere:
        await sign_in(elsewhere, other.key)
        path = answer.headers["location"]
        elsewhere.cookies.set(shown_once.COOKIE, sealed, path=path)

        stolen = await elsewhere.get(path)

    assert stolen.status_code == 200
    assert 'id="not-shown"' in stolen.text and SECRET.search(stolen.text) is None
    assert SECRET.search((await console.get(path)).text) is not None  # its own session sees it


REFUSED = [
    ({"ttl_seconds": "0"}, 400, "validation_error"),
    ({"ttl_seconds": "3601"}, 400, "validation_error"),
    ({"ttl_seconds": "soon"}, 400, "validation_error"),
    ({"allow": "POST /**"}, 400, "allow_not_subset"),
    ({"allow": "not a rule"}, 400, "invalid_rule"),
]


async def test_a_refused_issue_is_told_in_the_page_and_stores_nothing(
    console: httpx.AsyncClient, http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connected(http, db, clients.patterned)

    for fields, status, code in REFUSED:
        answer = await issue(console, connection, **fields)

        assert answer.status_code == status, (fields, answer.text[:300])
        assert f"No key issued ({code})" in answer.text, fields
        assert 'data-action="key_not_issued"' in answer.text
    assert await keys_of(db, connection) == []


async def test_a_key_carries_only_a_client_that_could_proxy_for_the_connection(
    console: httpx.AsyncClient, http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    shared = await connected(http, db, clients.open_)

    confined = await issue(console, shared, client=clients.confined.name)
    operator = await issue(console, shared, client=clients.operator.name)
    nobody = await issue(console, shared, client=f"nobody-{uuid.uuid4().hex[:6]}")
    patterned = await issue(console, shared, client=clients.patterned.name)

    assert confined.status_code == 403 and "delegation_forbidden" in confined.text
    assert operator.status_code == 403 and "delegation_forbidden" in operator.text
    assert nobody.status_code == 404 and "No key issued (client_not_found)" in nobody.text
    assert patterned.status_code == 303  # unconfined, and its pattern admits the b- user
    [key] = await keys_of(db, shared)
    assert key.issued_by_client_id == clients.patterned.id


async def test_revoking_a_key_is_audited_as_the_operator(
    console: httpx.AsyncClient,
    operator: Admin,
    http: httpx.AsyncClient,
    db: Database,
    clients: Clients,
) -> None:
    connection = await connected(http, db, clients.confined)
    await issue(console, connection)
    [key] = await keys_of(db, connection)
    page = page_of(connection)

    answer = await post_form(console, page, f"{page}/keys/{key.id}/revoke")

    assert answer.status_code == 303
    shown = await console.get(answer.headers["location"])
    assert 'data-action="key_revoked"' in shown.text
    assert f'data-key-id="{key.id}" data-state="revoked"' in shown.text
    [revoked] = await keys_of(db, connection)
    assert revoked.revoked_at is not None
    [entry] = [e for e in await audit_of(db, connection) if e.action.endswith("key_revoked")]
    assert entry.actor == operator.actor
    missing = await post_form(console, page, f"{page}/keys/{uuid.uuid4()}/revoke")
    assert missing.status_code == 404 and "delegated_key_not_found" in missing.text


async def test_issuing_and_revoking_need_the_sessions_csrf_token(
    console: httpx.AsyncClient, http: httpx.AsyncClient, db: Database, clients: Clients
) -> None:
    connection = await connected(http, db, clients.confined)
    await issue(console, connection)
    [key] = await keys_of(db, connection)
    before = await actions(db, connection)
    page = page_of(connection)

    forged_issue = await console.post(f"{page}/keys", data={"csrf": "forged"})
    forged_revoke = await console.post(f"{page}/keys/{key.id}/revoke", data={})

    assert forged_issue.status_code == forged_revoke.status_code == 403
    assert [k.revoked_at for k in await keys_of(db, connection)] == [None]
    assert await actions(db, connection) == before
    assert csrf_of((await console.get(page)).text)
