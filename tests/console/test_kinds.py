"""The console over each kind of connection, as a browser without JavaScript would use it, against a
gateway with a provider of each kind: create a stored-credential or a client-credentials
connection (the secret never written back into a page), see how each authenticates, verify it with
the provider, revoke it, and find each kind with the auth-mode filter. Every change is audited as
the signed-in operator."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httpx
import pytest

from gateway.kit.db import Database
from gateway.models import ConnectionStatus
from tests.connections.kinds_fixtures import (
    KEYED,
    REPORTS,
    audited,
    connect_user,
    fresh_key,
    gw,
    kinds_stack,
    revoke_key,
    row,
    sandbox,
)
from tests.console.conftest import Admin, csrf_of, new_operator, post_form, sign_in
from tests.fixtures.stack import Stack
from tests.hostile.owner_fixtures import Clients, b_user, clients, rows

__all__ = ["clients", "gw", "kinds_stack", "sandbox"]  # fixtures

NEW = "/console/connections/new"


@pytest.fixture
async def operator(db: Database) -> Admin:
    return await new_operator(db)


@pytest.fixture
async def console(kinds_stack: Stack, operator: Admin) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie jar signed in as ``operator`` on the gateway with every kind of provider."""
    async with httpx.AsyncClient(base_url=kinds_stack.gateway.url, timeout=10) as browser:
        signed_in = await sign_in(browser, operator.key)
        assert signed_in.status_code == 303, signed_in.text
        yield browser


def created_id(answer: httpx.Response) -> str:
    """The id of the connection a create form redirected to, its outcome ``created``."""
    assert answer.status_code == 303, answer.text
    location = urlsplit(answer.headers["location"])
    assert location.query == "done=created", location
    return location.path.rsplit("/", 1)[-1]


async def store_in_console(console: httpx.AsyncClient, user_id: str, secret: str) -> httpx.Response:
    return await post_form(
        console, NEW, f"{NEW}/credential", provider=KEYED, user_id=user_id, secret=secret
    )


async def one_of_each(
    console: httpx.AsyncClient, gw: httpx.AsyncClient, clients: Clients, db: Database, key: str
) -> tuple[str, str, str]:
    """A stored-credential connection holding ``key`` and a client-credentials one, both created in
    the console, and a user's grant connected by a service client; their ids."""
    stored = created_id(await store_in_console(console, b_user(), key))
    app = created_id(
        await post_form(
            console, NEW, f"{NEW}/client-credentials", provider=REPORTS, user_id="app:console"
        )
    )
    return stored, app, await connect_user(gw, db, clients.open_, b_user())


async def test_a_stored_credential_is_created_verified_and_never_shown(
    console: httpx.AsyncClient, sandbox: httpx.AsyncClient, operator: Admin, db: Database
) -> None:
    key = await fresh_key(sandbox)
    user_id = b_user()

    connection_id = created_id(await store_in_console(console, user_id, key))
    page = await console.get(f"/console/connections/{connection_id}?done=created")

    assert page.status_code == 200, page.text
    assert 'data-action="created"' in page.text
    assert "Authorization: Bearer &lt;the API key&gt;" in page.text
    assert "GET /me, expecting 200" in page.text
    assert "with nothing to refresh" in page.text
    assert 'id="verify"' in page.text and 'id="refresh"' not in page.text
    assert key not in page.text
    stored = await row(db, connection_id)
    assert (stored.user_id, stored.auth_mode, stored.owner_client_id) == (user_id, "api_key", None)
    [entry] = await audited(db, connection_id, "connection.credential_stored")
    assert entry.actor == operator.actor


async def test_a_refused_credential_is_told_with_the_reason_and_the_secret_is_not_kept(
    console: httpx.AsyncClient, db: Database
) -> None:
    user_id = b_user()
    wrong = f"sk_wrong_{uuid.uuid4().hex}"

    answer = await store_in_console(console, user_id, wrong)

    assert answer.status_code == 422, answer.text
    assert "Not stored (credential_rejected)" in answer.text
    assert "invalid_credentials" in answer.text  # the provider's reason
    assert f'value="{user_id}"' in answer.text  # the operator's fields kept
    assert wrong not in answer.text
    assert await rows(db, user_id) == []
    missing = await post_form(console, NEW, f"{NEW}/credential", provider=KEYED, user_id=user_id)
    assert missing.status_code == 400 and "Not stored (validation_error)" in missing.text


async def test_a_client_credentials_connection_is_created_and_shows_what_it_asks(
    console: httpx.AsyncClient, operator: Admin, db: Database
) -> None:
    user_id = f"app:{uuid.uuid4().hex[:10]}"
    fields = {"provider": REPORTS, "user_id": user_id, "scopes": "reports:read"}

    answer = await post_form(
        console, NEW, f"{NEW}/client-credentials", audience="https://api.reports.example", **fields
    )
    connection_id = created_id(answer)
    page = await console.get(f"/console/connections/{connection_id}")

    assert 'id="detail-requested-scopes" data-detail="requested-scopes">reports:read' in page.text
    assert "https://api.reports.example" in page.text
    assert (await row(db, connection_id)).auth_mode == "client_credentials"
    [entry] = await audited(db, connection_id, "connection.created")
    assert entry.actor == operator.actor
    refused = await post_form(
        console, NEW, f"{NEW}/client-credentials", **{**fields, "provider": "contio"}
    )
    assert refused.status_code == 400 and "Not created (grant_not_supported)" in refused.text
    assert f'value="{user_id}"' in refused.text


async def test_verify_tells_the_outcome_for_each_kind_as_the_operator(
    console: httpx.AsyncClient,
    gw: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    clients: Clients,
    operator: Admin,
    db: Database,
) -> None:
    key = await fresh_key(sandbox)
    stored, app, user_grant = await one_of_each(console, gw, clients, db, key)

    for connection_id, said in (
        (stored, "the provider&#39;s verification request accepted the stored credential"),
        (app, "a new client-credentials exchange succeeded"),
        (user_grant, "the user&#39;s grant was refreshed"),
    ):
        page = f"/console/connections/{connection_id}"
        answer = await post_form(console, page, f"{page}/verify")
        assert answer.status_code == 200, answer.text
        assert 'data-action="verified"' in answer.text and said in answer.text
        [entry] = await audited(db, connection_id, "connection.verified")
        assert (entry.actor, entry.details["outcome"]) == (operator.actor, "verified")

    await revoke_key(sandbox, key)
    page = f"/console/connections/{stored}"
    refused = await post_form(console, page, f"{page}/verify")
    assert 'data-action="verify_failed"' in refused.text
    assert "Not verified (credential_rejected)" in refused.text
    assert "invalid_credentials" in refused.text and key not in refused.text
    assert (await row(db, stored)).status is ConnectionStatus.ACTIVE


async def test_revoking_erases_the_credential_of_each_kind(
    console: httpx.AsyncClient,
    gw: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    clients: Clients,
    operator: Admin,
    db: Database,
) -> None:
    created = await one_of_each(console, gw, clients, db, await fresh_key(sandbox))

    for connection_id in created:
        confirm = f"/console/connections/{connection_id}/revoke"
        answer = await post_form(console, confirm, confirm)
        assert answer.status_code == 303, answer.text
        revoked = await row(db, connection_id)
        assert revoked.status is ConnectionStatus.REVOKED
        assert (revoked.credential, revoked.access_token, revoked.refresh_token) == (None,) * 3
        [entry] = await audited(db, connection_id, "connection.revoked")
        assert entry.actor == operator.actor
        page = await console.get(f"/console/connections/{connection_id}")
        assert 'id="verify"' not in page.text


async def test_the_list_filters_by_auth_mode(
    console: httpx.AsyncClient,
    gw: httpx.AsyncClient,
    sandbox: httpx.AsyncClient,
    clients: Clients,
    db: Database,
) -> None:
    user_id = b_user()
    ids = {
        "oauth_user": await connect_user(gw, db, clients.open_, user_id),
        "api_key": created_id(
            await post_form(
                console,
                NEW,
                f"{NEW}/credential",
                provider=KEYED,
                user_id=user_id,
                secret=await fresh_key(sandbox),
                additional="true",
            )
        ),
        "client_credentials": created_id(
            await post_form(
                console, NEW, f"{NEW}/client-credentials", provider=REPORTS, user_id=user_id
            )
        ),
    }
    for mode, connection_id in ids.items():
        listed = await console.get(
            "/console/connections", params={"user": user_id, "match": "exact", "auth_mode": mode}
        )
        assert listed.status_code == 200, listed.text
        assert listed.text.count("data-connection-id=") == 1, mode
        assert f'data-connection-id="{connection_id}"' in listed.text
        assert f'<option value="{mode}" selected>' in listed.text
    wrong = await console.get("/console/connections", params={"auth_mode": "password"})
    assert wrong.status_code == 400


async def test_the_create_and_verify_forms_need_the_sessions_csrf_token(
    console: httpx.AsyncClient, sandbox: httpx.AsyncClient, db: Database
) -> None:
    user_id = b_user()
    key = await fresh_key(sandbox)
    page = await console.get(NEW)
    assert csrf_of(page.text)
    forged = await console.post(
        f"{NEW}/credential", data={"provider": KEYED, "user_id": user_id, "secret": key}
    )
    assert forged.status_code == 403 and key not in forged.text
    assert await rows(db, user_id) == []
    stored = created_id(await store_in_console(console, user_id, key))
    unverified = await console.post(f"/console/connections/{stored}/verify", data={})
    assert unverified.status_code == 403
    assert await audited(db, stored, "connection.verified") == []
