"""``GET /v1/connections`` and ``GET /v1/connections/{id}``: filters, pages, the shape, every 4xx."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx
import pytest

from gateway.kit.clock import utcnow
from gateway.kit.crypto import KeyRing
from gateway.kit.db import Database
from gateway.models import Connection, ConnectionStatus
from tests.admin.conftest import connected, tokens_of
from tests.fixtures.stack import new_client

RFC3339_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
# {"l": "connections", "t": "2026-01-01T00:00:00+00:00", "i": 5}
CURSOR_WITH_NUMERIC_ID = (
    "eyJsIjogImNvbm5lY3Rpb25zIiwgInQiOiAiMjAyNi0wMS0wMVQwMDowMDowMCswMDowMCIsICJpIjogNX0"
)
# {"l": "connections", "t": "2026-01-01T00:00:00", "i": "5f0c7d4e-..."}
CURSOR_WITHOUT_TIME_ZONE = (
    "eyJsIjogImNvbm5lY3Rpb25zIiwgInQiOiAiMjAyNi0wMS0wMVQwMDowMDowMCIsICJpIjogIjVmMGM3ZDRlLTExMTEt"
    "NDIyMi04MzMzLTk0NDQ0NTU1NTY2NiJ9"
)
FIELDS = {
    "id",
    "user_id",
    "provider",
    "owner",
    "confined",
    "is_default",
    "auth_mode",
    "requested",
    "status",
    "enabled",
    "metadata",
    "external_ids",
    "labels",
    "settings",
    "scopes",
    "access_token_expires_at",
    "refresh_token_expires_at",
    "last_refreshed_at",
    "last_refresh_error",
    "consecutive_failures",
    "created_at",
    "updated_at",
}


async def seed(db: Database, provider: str, statuses: list[ConnectionStatus]) -> list[str]:
    """Rows of an imaginary provider (listing does not need it configured), oldest first; the last
    two share one created_at, so ties must be broken by id. Returns their ids, newest first."""
    base = utcnow() - timedelta(hours=1)
    rows = []
    for index, status in enumerate(statuses):
        created = base + timedelta(minutes=min(index, len(statuses) - 2))
        rows.append(
            Connection(
                id=uuid.uuid4(),
                user_id=f"seed-{uuid.uuid4().hex[:8]}",
                provider=provider,
                subject=f"sub-{index}",
                status=status,
                access_token=None,
                token_version=1,
                connected_at=created,
                created_at=created,
                updated_at=created,
            )
        )
    async with db.transaction() as session:
        session.add_all(rows)
    ordered = sorted(rows, key=lambda row: (row.created_at, row.id), reverse=True)
    return [str(row.id) for row in ordered]


async def all_pages(admin: httpx.AsyncClient, **params: str) -> list[list[str]]:
    pages: list[list[str]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        response = await admin.get("/v1/connections", params=query)
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([item["id"] for item in body["items"]])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


@pytest.fixture
def provider() -> str:
    return f"seeded-{uuid.uuid4().hex[:8]}"


async def test_pages_walk_every_match_once_newest_first(
    admin: httpx.AsyncClient, db: Database, provider: str
) -> None:
    statuses = [ConnectionStatus.ACTIVE] * 5
    expected = await seed(db, provider, statuses)

    pages = await all_pages(admin, provider=provider, limit="2")

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [item for page in pages for item in page] == expected


async def test_filters_combine_across_pages(
    admin: httpx.AsyncClient, db: Database, provider: str
) -> None:
    revoked, active = ConnectionStatus.REVOKED, ConnectionStatus.ACTIVE
    ids = await seed(db, provider, [revoked, active, revoked, revoked, active])
    async with db.transaction() as session:
        statuses = {
            str(c.id): c.status
            for c in [await session.get(Connection, uuid.UUID(i)) for i in ids]
            if c is not None
        }

    pages = await all_pages(admin, provider=provider, status="revoked", limit="2")

    listed = [item for page in pages for item in page]
    assert listed == [i for i in ids if statuses[i] is revoked]
    assert len(listed) == 3 and [len(page) for page in pages] == [2, 1]


async def test_user_filter_finds_the_users_connection(
    admin: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)

    response = await admin.get("/v1/connections", params={"user_id": connection.user_id})

    assert [item["id"] for item in response.json()["items"]] == [str(connection.id)]


async def test_the_default_page_is_50(
    admin: httpx.AsyncClient, db: Database, provider: str
) -> None:
    await seed(db, provider, [ConnectionStatus.ACTIVE] * 52)

    body = (await admin.get("/v1/connections", params={"provider": provider})).json()

    assert len(body["items"]) == 50 and body["next_cursor"] is not None


async def test_a_connection_shows_its_state_and_times_but_never_a_token(
    admin: httpx.AsyncClient,
    http: httpx.AsyncClient,
    service_key: str,
    db: Database,
    keys: KeyRing,
) -> None:
    connection = await connected(http, service_key, db)
    access, refresh = tokens_of(keys, connection)

    response = await admin.get(f"/v1/connections/{connection.id}")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == FIELDS
    assert (body["user_id"], body["provider"], body["status"]) == (
        connection.user_id,
        "contio",
        "active",
    )
    assert "meetings:read" in body["scopes"]
    assert (body["auth_mode"], body["requested"]) == ("oauth_user", None)
    # The client that connected the user owns it, in the shared space (it is not confined).
    assert body["owner"].startswith("svc-") and body["confined"] is False
    for field in ("access_token_expires_at", "created_at", "updated_at"):
        assert RFC3339_Z.match(body[field]), body[field]
    assert body["last_refresh_error"] is None and body["consecutive_failures"] == 0
    assert access not in response.text and refresh not in response.text
    assert connection.access_token is not None and connection.access_token not in response.text


async def test_a_refresh_error_is_shown_as_code_message_and_time(
    admin: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)
    async with db.transaction() as session:
        row = await session.get(Connection, connection.id)
        assert row is not None
        row.last_refresh_error = {
            "code": "provider_unavailable",
            "message": "contio token refresh failed with HTTP 503",
            "at": "2026-11-22T10:00:00.5+00:00",
        }
        row.consecutive_failures = 2

    body = (await admin.get(f"/v1/connections/{connection.id}")).json()

    assert body["last_refresh_error"] == {
        "code": "provider_unavailable",
        "message": "contio token refresh failed with HTTP 503",
        "at": "2026-11-22T10:00:00.500Z",
    }
    assert body["consecutive_failures"] == 2


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": "0"}, "invalid_limit"),
        ({"limit": "201"}, "invalid_limit"),
        ({"limit": "ten"}, "invalid_limit"),
        ({"limit": "-1"}, "invalid_limit"),
        ({"status": "deleted"}, "invalid_status"),
        ({"provider": "x" * 65}, "invalid_provider"),
        ({"user_id": "u" * 256}, "invalid_user_id"),
        ({"cursor": "not a cursor"}, "invalid_cursor"),
        ({"limit": "\u00b2"}, "invalid_limit"),  # a digit to str.isdigit, not to int()
        ({"cursor": "eyJsIjogImNvbm5lY3Rpb25zIn0"}, "invalid_cursor"),  # {"l": "connections"}
        ({"cursor": CURSOR_WITH_NUMERIC_ID}, "invalid_cursor"),
        ({"cursor": CURSOR_WITHOUT_TIME_ZONE}, "invalid_cursor"),
        ({"cursor": "WzFd"}, "invalid_cursor"),  # [1]
        ({"cursor": "__4"}, "invalid_cursor"),  # not UTF-8
        ({"userid": "alice"}, "unknown_parameter"),
    ],
)
async def test_bad_list_parameters_are_400_with_a_stable_code(
    admin: httpx.AsyncClient, params: dict[str, str], code: str
) -> None:
    response = await admin.get("/v1/connections", params=params)

    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


async def test_a_cursor_of_another_listing_is_invalid(
    admin: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    for _ in range(2):
        await connected(http, service_key, db)  # each connect is audited
    audit_page = (await admin.get("/v1/audit-events", params={"limit": "1"})).json()
    assert audit_page["next_cursor"] is not None

    response = await admin.get("/v1/connections", params={"cursor": audit_page["next_cursor"]})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize("connection_id", [str(uuid.uuid4()), "nope", "1234"])
async def test_an_unknown_or_malformed_id_is_404(
    admin: httpx.AsyncClient, connection_id: str
) -> None:
    response = await admin.get(f"/v1/connections/{connection_id}")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "connection_not_found"


async def test_the_admin_api_needs_a_key(admin: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", "/v1/connections"),
        ("GET", f"/v1/connections/{uuid.uuid4()}"),
        ("DELETE", f"/v1/connections/{uuid.uuid4()}"),
        ("POST", f"/v1/connections/{uuid.uuid4()}/refresh"),
        ("POST", "/v1/connections/import"),
        ("GET", "/v1/audit-events"),
    ):
        response = await admin.request(method, path, headers={"Authorization": ""})
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "unauthorized"


async def test_the_admin_api_needs_the_admin_scope(admin: httpx.AsyncClient, db: Database) -> None:
    connect_key = await new_client(db, ["connect", "proxy"])
    # Listing and showing take a connect-scope key too (for what it may see), not a proxy-only one.
    proxy_key = await new_client(db, ["proxy"])
    for key, method, path in (
        (proxy_key, "GET", "/v1/connections"),
        (proxy_key, "GET", f"/v1/connections/{uuid.uuid4()}"),
        (connect_key, "POST", f"/v1/connections/{uuid.uuid4()}/refresh"),
        (connect_key, "POST", "/v1/connections/import"),
        (connect_key, "GET", "/v1/audit-events"),
    ):
        response = await admin.request(method, path, headers={"Authorization": f"Bearer {key}"})
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "insufficient_scope"
