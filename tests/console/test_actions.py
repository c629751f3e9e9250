"""Revoking a connection (after a confirmation step) and refreshing it now, as the signed-in
operator, through the admin API's own services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import ConnectionStatus
from tests.admin.conftest import (
    audit_actions,
    connected,
    event_types,
    offline_settings,
    reload,
    tokens_of,
)
from tests.console.conftest import Admin, csrf_of, post_form, sign_in
from tests.fixtures.servers import ServerThread
from tests.fixtures.stack import Stack


@pytest.fixture(scope="session")
def ring(stack: Stack) -> KeyRing:
    assert stack.settings.encryption_keys is not None
    return KeyRing.parse(stack.settings.encryption_keys.get_secret_value())


async def test_the_revoke_link_asks_first_and_revokes_nothing(
    console: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)

    response = await console.get(f"/console/connections/{connection.id}/revoke")

    assert response.status_code == 200
    assert 'id="confirm-revoke"' in response.text and connection.user_id in response.text
    assert (await reload(db, connection.id)).status is ConnectionStatus.ACTIVE


async def test_confirming_revokes_here_and_at_the_provider_as_the_operator(
    console: httpx.AsyncClient,
    operator: Admin,
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    ring: KeyRing,
    stack: Stack,
) -> None:
    connection = await connected(http, service_key, db)
    access, refresh = tokens_of(ring, connection)
    page = f"/console/connections/{connection.id}/revoke"

    answer = await post_form(console, page, page)

    assert answer.status_code == 303  # POST-redirect-GET: a reload does not revoke again
    location = answer.headers["location"]
    assert location.startswith(f"/console/connections/{connection.id}?")
    response = await console.get(location)
    assert response.status_code == 200
    assert 'id="outcome" data-action="revoked" data-upstream="done"' in response.text
    assert 'data-status="revoked"' in response.text
    assert 'id="revoke"' not in response.text
    assert (await reload(db, connection.id)).status is ConnectionStatus.REVOKED
    assert ("connection.revoked", operator.actor) in await audit_actions(db, connection.id)
    assert "connection.revoked" in await event_types(db, connection.id)
    sandbox = stack.sandbox_store
    assert sandbox.find_live(access) is None and sandbox.find_live(refresh) is None


@pytest.fixture(scope="module")
def offline_gateway(stack: Stack, database_url: URL) -> Iterator[ServerThread]:
    server = ServerThread(create_app(offline_settings(stack), database_url)).start()
    yield server
    server.stop()


@pytest.fixture
async def offline_console(
    offline_gateway: ServerThread, operator: Admin
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=offline_gateway.url, timeout=10) as client:
        assert (await sign_in(client, operator.key)).status_code == 303
        yield client


async def test_an_unreachable_provider_shows_the_revocation_pending(
    offline_console: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)
    page = f"/console/connections/{connection.id}/revoke"

    answer = await post_form(offline_console, page, page)

    assert answer.status_code == 303
    response = await offline_console.get(answer.headers["location"])
    assert response.status_code == 200
    assert 'data-upstream="pending"' in response.text
    assert "could not be reached" in response.text
    assert 'id="pending-revocation"' in response.text
    assert (await reload(db, connection.id)).status is ConnectionStatus.REVOKED


async def test_refresh_now_refreshes_and_is_audited_as_the_operator(
    console: httpx.AsyncClient,
    operator: Admin,
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    ring: KeyRing,
) -> None:
    connection = await connected(http, service_key, db)
    page = f"/console/connections/{connection.id}"

    response = await post_form(console, page, f"{page}/refresh")

    assert 'id="outcome" data-action="refreshed"' in response.text
    after = await reload(db, connection.id)
    assert after.last_refreshed_at is not None
    assert tokens_of(ring, after) != tokens_of(ring, connection)
    assert ("connection.refresh_requested", operator.actor) in await audit_actions(
        db, connection.id
    )
    assert 'data-kind="refresh_requested"' in response.text  # the timeline shows it
    assert "outcome=refreshed" in response.text


async def test_refreshing_a_revoked_connection_is_an_outcome_not_an_error(
    console: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)
    page = f"/console/connections/{connection.id}/revoke"
    await post_form(console, page, page)
    token = csrf_of((await console.get(f"/console/connections/{connection.id}")).text)

    response = await console.post(
        f"/console/connections/{connection.id}/refresh", data={"csrf": token}
    )

    assert response.status_code == 200
    assert 'data-action="refresh_failed"' in response.text
    assert "connection_revoked" in response.text


async def test_reloading_the_revoked_page_revokes_nothing_again(
    console: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)
    page = f"/console/connections/{connection.id}/revoke"
    location = (await post_form(console, page, page)).headers["location"]

    for _ in range(2):
        assert (await console.get(location)).status_code == 200

    revocations = [
        action
        for action, _actor in await audit_actions(db, connection.id)
        if action == "connection.revoked"
    ]
    assert revocations == ["connection.revoked"]


async def test_a_malformed_outcome_on_the_page_is_a_400(
    console: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)

    response = await console.get(
        f"/console/connections/{connection.id}?revoked=done&reason=%3Cscript%3E"
    )

    assert response.status_code == 400


async def test_revoking_an_unknown_connection_is_a_404_page(console: httpx.AsyncClient) -> None:
    token = csrf_of((await console.get("/console/connections")).text)
    missing = "00000000-0000-4000-8000-000000000000"

    response = await console.post(f"/console/connections/{missing}/revoke", data={"csrf": token})

    assert response.status_code == 404
    assert 'data-code="connection_not_found"' in response.text
