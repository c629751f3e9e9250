"""Every form posts with the CSRF token of its session; without it nothing happens."""

from __future__ import annotations

import httpx
import pytest

from gateway.kit.db import Database
from gateway.models import ConnectionStatus
from tests.admin.conftest import connected, reload
from tests.console.conftest import Admin, csrf_of, new_operator, sign_in


@pytest.mark.parametrize("token", [None, "", "not-the-token"])
async def test_revoking_without_the_sessions_token_is_refused(
    console: httpx.AsyncClient,
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    token: str | None,
) -> None:
    connection = await connected(http, service_key, db)
    data = {} if token is None else {"csrf": token}

    response = await console.post(f"/console/connections/{connection.id}/revoke", data=data)

    assert response.status_code == 403
    assert 'data-code="csrf_rejected"' in response.text
    assert (await reload(db, connection.id)).status is ConnectionStatus.ACTIVE


async def test_another_operators_token_does_not_do(
    console: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)
    other = await new_operator(db)
    async with httpx.AsyncClient(base_url=str(console.base_url), timeout=10) as elsewhere:
        await sign_in(elsewhere, other.key)
        their_token = csrf_of((await elsewhere.get("/console/connections")).text)

    response = await console.post(
        f"/console/connections/{connection.id}/revoke", data={"csrf": their_token}
    )

    assert response.status_code == 403
    assert (await reload(db, connection.id)).status is ConnectionStatus.ACTIVE


async def test_refresh_without_the_token_is_refused(
    console: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)

    response = await console.post(f"/console/connections/{connection.id}/refresh")

    assert response.status_code == 403
    assert (await reload(db, connection.id)).last_refreshed_at == connection.last_refreshed_at


async def test_signing_out_without_the_token_is_refused(console: httpx.AsyncClient) -> None:
    response = await console.post("/console/sign-out", data={"csrf": "forged"})

    assert response.status_code == 403
    assert (await console.get("/console/connections")).status_code == 200


async def test_signing_in_needs_the_forms_token(
    browser: httpx.AsyncClient, operator: Admin
) -> None:
    await browser.get("/console/sign-in")

    response = await browser.post("/console/sign-in", data={"key": operator.key})

    assert response.status_code == 403
    assert "sign-in form had expired" in response.text
    assert (await browser.get("/console/connections")).status_code == 303


async def test_signing_in_starts_a_new_session_with_a_new_token(
    browser: httpx.AsyncClient, operator: Admin
) -> None:
    before = csrf_of((await browser.get("/console/sign-in")).text)
    await browser.post("/console/sign-in", data={"csrf": before, "key": operator.key})

    after = csrf_of((await browser.get("/console/connections")).text)

    assert after != before
