"""The admin API over connections and the audit trail answers as the document says."""

from __future__ import annotations

import base64
import json
import uuid

import httpx
import pytest

from tests.admin.test_import_api import body_for, broker_grant
from tests.e2e.flows import connect_new_user
from tests.fixtures.stack import Stack
from tests.openapi.conformance import conforms, error_code

LIST = "/v1/connections"
ONE = "/v1/connections/{connection_id}"
REFRESH = "/v1/connections/{connection_id}/refresh"
IMPORT = "/v1/connections/import"
AUDIT = "/v1/audit-events"


async def connection_id(api: httpx.AsyncClient, user_id: str) -> str:
    listed = conforms(await api.get(LIST, params={"user_id": user_id}), LIST).json()
    found: str = listed["items"][0]["id"]
    return found


async def test_a_connection_is_listed_shown_refreshed_and_revoked(
    api: httpx.AsyncClient, http: httpx.AsyncClient, key: str
) -> None:
    path = f"/v1/connections/{await connection_id(api, await connect_new_user(http, key))}"
    assert conforms(await api.get(path), ONE).json()["status"] == "active"
    assert conforms(await api.post(f"{path}/refresh"), REFRESH).status_code == 200
    revoked = conforms(await api.delete(path), ONE).json()
    assert revoked["status"] == "revoked"
    assert conforms(await api.delete(path), ONE).status_code == 200
    refused = conforms(await api.post(f"{path}/refresh"), REFRESH)
    assert error_code(refused) == "connection_revoked"


async def test_a_page_has_a_cursor_to_the_next(
    api: httpx.AsyncClient, http: httpx.AsyncClient, key: str, connected_user: str
) -> None:
    await connect_new_user(http, key)  # so that there are two at least
    first = conforms(await api.get(LIST, params={"limit": 1}), LIST).json()
    assert first["next_cursor"] is not None
    second = await api.get(LIST, params={"limit": 1, "cursor": first["next_cursor"]})
    assert conforms(second, LIST).status_code == 200


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"userid": "x"}, "unknown_parameter"),
        ({"limit": "0"}, "invalid_limit"),
        ({"cursor": "nope"}, "invalid_cursor"),
        ({"status": "gone"}, "invalid_status"),
        ({"user_id": ""}, "invalid_user_id"),
        # Regression: a NUL reached PostgreSQL and the gateway answered 500.
        ({"user_id": "a\x00b"}, "invalid_user_id"),
        ({"provider": "\x00"}, "invalid_provider"),
    ],
)
async def test_a_bad_listing_parameter_is_400(
    api: httpx.AsyncClient, params: dict[str, str], code: str
) -> None:
    assert error_code(conforms(await api.get(LIST, params=params), LIST)) == code


@pytest.mark.parametrize("connection", [str(uuid.uuid4()), "not-a-uuid"])
async def test_an_unknown_connection_is_404(api: httpx.AsyncClient, connection: str) -> None:
    path = f"/v1/connections/{connection}"
    assert error_code(conforms(await api.get(path), ONE)) == "connection_not_found"
    assert error_code(conforms(await api.delete(path), ONE)) == "connection_not_found"
    refresh = conforms(await api.post(f"{path}/refresh"), REFRESH)
    assert error_code(refresh) == "connection_not_found"


async def test_without_a_key_it_is_401(gateway_http: httpx.AsyncClient) -> None:
    assert error_code(conforms(await gateway_http.get(LIST), LIST)) == "unauthorized"
    assert error_code(conforms(await gateway_http.get(AUDIT), AUDIT)) == "unauthorized"


async def test_without_the_admin_scope_it_is_403(
    gateway_http: httpx.AsyncClient, proxy_only_key: str
) -> None:
    headers = {"Authorization": f"Bearer {proxy_only_key}"}
    for path, documented in (
        (LIST, LIST),
        (f"/v1/connections/{uuid.uuid4()}", ONE),
        (AUDIT, AUDIT),
    ):
        response = await gateway_http.get(path, headers=headers)
        assert error_code(conforms(response, documented)) == "insufficient_scope"


async def test_imported_tokens_are_201_then_200(api: httpx.AsyncClient, stack: Stack) -> None:
    user_id = f"openapi-{uuid.uuid4().hex[:8]}"
    body = body_for(user_id, broker_grant(stack, f"{user_id}@example.com"))
    assert conforms(await api.post(IMPORT, json=body), IMPORT).status_code == 201
    assert conforms(await api.post(IMPORT, json=body), IMPORT).status_code == 200


async def test_tokens_the_provider_does_not_know_are_422(api: httpx.AsyncClient) -> None:
    body = {"user_id": "u", "access_token": "a", "refresh_token": "b"}
    assert error_code(conforms(await api.post(IMPORT, json=body), IMPORT)) == "invalid_tokens"


async def test_a_bad_import_body_is_400(api: httpx.AsyncClient) -> None:
    response = conforms(await api.post(IMPORT, json={"user_id": "u"}), IMPORT)
    assert error_code(response) == "validation_error"


async def test_the_audit_trail_pages_and_filters(
    api: httpx.AsyncClient, http: httpx.AsyncClient, key: str
) -> None:
    connection = await connection_id(api, await connect_new_user(http, key))
    await api.delete(f"/v1/connections/{connection}")
    trail = await api.get(AUDIT, params={"connection_id": connection, "limit": 1})
    page = conforms(trail, AUDIT).json()
    assert page["items"][0]["connection_id"] == connection
    assert page["next_cursor"] is not None
    following = await api.get(
        AUDIT, params={"connection_id": connection, "cursor": page["next_cursor"]}
    )
    assert conforms(following, AUDIT).status_code == 200


def cursor(listing: str, at: str) -> str:
    raw = json.dumps({"l": listing, "t": at, "i": str(uuid.uuid4())})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"connection_id": "nope"}, "invalid_connection_id"),
        ({"action": "x" * 65}, "invalid_action"),
        # Regression: a NUL reached PostgreSQL and the gateway answered 500.
        ({"action": "\x00"}, "invalid_action"),
        ({"limit": "201"}, "invalid_limit"),
        ({"since": "now"}, "invalid_since"),
        ({"until": "2026-12-07"}, "invalid_until"),
        ({"actor": "\x00"}, "invalid_actor"),
        ({"after": "2026-12-07T10:00:00Z"}, "unknown_parameter"),
        ({"cursor": cursor("connections", "2025-01-01T00:00:00+00:00")}, "invalid_cursor"),
        # Regression: a cursor naming a time outside years 1 to 9999 in UTC failed in asyncpg (500).
        ({"cursor": cursor("audit-events", "0001-01-01T00:00:00+14:00")}, "invalid_cursor"),
        ({"cursor": cursor("audit-events", "9999-12-31T23:59:59-14:00")}, "invalid_cursor"),
        # Regression: JSON nested too deeply for the parser raised RecursionError (500).
        ({"cursor": base64.urlsafe_b64encode(b"[" * 5000).decode()}, "invalid_cursor"),
    ],
)
async def test_a_bad_audit_parameter_is_400(
    api: httpx.AsyncClient, params: dict[str, str], code: str
) -> None:
    assert error_code(conforms(await api.get(AUDIT, params=params), AUDIT)) == code
