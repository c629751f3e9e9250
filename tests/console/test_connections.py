"""Finding connections (search by user id, filters, pages) and what a connection's page shows."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from gateway.kit.clock import utcnow
from gateway.kit.db import Database
from gateway.kit.pagination import DEFAULT_LIMIT
from gateway.models import Connection, ConnectionStatus
from tests.admin.conftest import connected
from tests.console.conftest import new_operator

ROW = re.compile(r'<tr data-connection-id="([^"]+)" data-user-id="([^"]+)">')


def listed(html: str) -> list[str]:
    """The user ids of the listed connections, in order."""
    return [user for _id, user in ROW.findall(html)]


async def seed(
    db: Database,
    prefix: str,
    count: int,
    *,
    status: ConnectionStatus = ConnectionStatus.REVOKED,
    provider: str = "contio",
) -> list[str]:
    """``count`` token-less connections of users ``<prefix>-<n>``, the newest last; their user ids."""
    start = utcnow() - timedelta(hours=1)
    users = [f"{prefix}-{index:03d}" for index in range(count)]
    async with db.transaction() as session:
        session.add_all(
            Connection(
                id=uuid.uuid4(),
                user_id=user,
                provider=provider,
                subject=f"sub-{user}",
                status=status,
                access_token=None,
                token_version=1,
                connected_at=start,
                created_at=start + timedelta(seconds=index),
                updated_at=start,
            )
            for index, user in enumerate(users)
        )
    return users


async def test_a_prefix_finds_every_user_it_begins(
    console: httpx.AsyncClient, db: Database
) -> None:
    prefix = f"acme{uuid.uuid4().hex[:6]}"
    users = await seed(db, prefix, 3)

    response = await console.get("/console/connections", params={"user": prefix})

    assert response.status_code == 200
    assert listed(response.text) == users[::-1]


async def test_an_exact_search_finds_only_that_user(
    console: httpx.AsyncClient, db: Database
) -> None:
    users = await seed(db, f"exact{uuid.uuid4().hex[:6]}", 2)

    found = await console.get("/console/connections", params={"user": users[0], "match": "exact"})
    partial = await console.get(
        "/console/connections", params={"user": users[0][:-1], "match": "exact"}
    )

    assert listed(found.text) == [users[0]]
    assert listed(partial.text) == []
    assert 'id="no-results"' in partial.text


async def test_wildcards_in_a_prefix_are_literal(console: httpx.AsyncClient, db: Database) -> None:
    prefix = f"wild{uuid.uuid4().hex[:6]}"
    await seed(db, prefix, 2)

    response = await console.get("/console/connections", params={"user": f"{prefix[:-2]}%"})

    assert listed(response.text) == []


async def test_status_and_provider_filter_the_list(
    console: httpx.AsyncClient, db: Database
) -> None:
    prefix = f"mix{uuid.uuid4().hex[:6]}"
    revoked = await seed(db, f"{prefix}-r", 1)
    needs = await seed(db, f"{prefix}-n", 1, status=ConnectionStatus.NEEDS_REAUTH)
    other = await seed(db, f"{prefix}-o", 1, provider="acme")

    by_status = await console.get(
        "/console/connections", params={"user": prefix, "status": "needs_reauth"}
    )
    by_provider = await console.get(
        "/console/connections", params={"user": prefix, "provider": "acme"}
    )
    both_empty = await console.get(
        "/console/connections", params={"user": prefix, "status": "", "provider": ""}
    )

    assert listed(by_status.text) == needs
    assert listed(by_provider.text) == other
    assert sorted(listed(both_empty.text)) == sorted(revoked + needs + other)


async def test_the_list_pages_through_every_match(console: httpx.AsyncClient, db: Database) -> None:
    users = await seed(db, f"many{uuid.uuid4().hex[:6]}", DEFAULT_LIMIT + 1)

    first = await console.get("/console/connections", params={"user": users[0][:-4]})
    next_link = re.search(r'href="([^"]+)" id="next-page"', first.text)
    assert next_link is not None
    second = await console.get(next_link.group(1).replace("&amp;", "&"))

    assert listed(first.text) == users[::-1][:DEFAULT_LIMIT]
    assert listed(second.text) == [users[0]]
    assert 'id="next-page"' not in second.text
    assert 'id="first-page"' in second.text


@pytest.mark.parametrize(
    "params",
    [{"status": "sleeping"}, {"match": "fuzzy"}, {"cursor": "nonsense"}, {"userid": "x"}],
)
async def test_a_malformed_search_is_a_400_page(
    console: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await console.get("/console/connections", params=params)

    assert response.status_code == 400
    assert response.headers["content-type"].startswith("text/html")
    assert 'id="error"' in response.text


async def test_the_connection_page_shows_its_state_and_history(
    console: httpx.AsyncClient, http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await connected(http, service_key, db)

    response = await console.get(f"/console/connections/{connection.id}")

    assert response.status_code == 200
    page = response.text
    assert 'data-status="active"' in page
    assert connection.user_id in page and connection.subject in page
    assert connection.expires_at is not None
    assert connection.expires_at.strftime("%Y-%m-%dT%H:%M:%S") in page
    for section in ("timeline", "edit"):
        assert f'id="{section}"' in page
    assert 'data-kind="created"' in page  # the audit trail's entry
    assert 'data-kind="outbound_event"' in page and "type=connection.created" in page
    assert 'id="revoke"' in page and 'id="refresh"' in page and 'id="pause"' in page


async def test_the_connection_page_shows_the_auth_mode_and_settings_once_each(
    console: httpx.AsyncClient, db: Database
) -> None:
    [user] = await seed(db, f"settings{uuid.uuid4().hex[:6]}", 1, status=ConnectionStatus.ACTIVE)
    async with db.transaction() as session:
        found = (await session.scalars(select(Connection).where(Connection.user_id == user))).one()
        found.provider_settings = {"instance_url": "https://na1.example.com", "region": "<eu>"}

    page = (await console.get(f"/console/connections/{found.id}")).text

    assert page.count('id="auth-mode"') == 1 and '<dd id="auth-mode">oauth_user</dd>' in page
    assert (
        'data-detail="settings">instance_url=https://na1.example.com, region=&lt;eu&gt;</dd>'
        in page
    )


async def test_the_connection_page_shows_a_failing_refresh(
    console: httpx.AsyncClient, db: Database
) -> None:
    [user] = await seed(db, f"failing{uuid.uuid4().hex[:6]}", 1, status=ConnectionStatus.ACTIVE)
    async with db.transaction() as session:
        found = (await session.scalars(select(Connection).where(Connection.user_id == user))).one()
        found.consecutive_failures = 3
        found.last_refresh_error = {
            "code": "provider_unavailable",
            "message": "the token endpoint timed out",
            "at": utcnow().isoformat(),
        }

    page = (await console.get(f"/console/connections/{found.id}")).text

    assert '<dd id="failures">3</dd>' in page
    assert "provider_unavailable" in page and "the token endpoint timed out" in page


@pytest.mark.parametrize("connection_id", [str(uuid.uuid4()), "not-a-uuid"])
async def test_an_unknown_connection_is_a_404_page(
    console: httpx.AsyncClient, connection_id: str
) -> None:
    response = await console.get(f"/console/connections/{connection_id}")

    assert response.status_code == 404
    assert 'data-code="connection_not_found"' in response.text


async def test_the_clients_page_lists_clients_with_key_prefixes_only(
    console: httpx.AsyncClient, db: Database
) -> None:
    other = await new_operator(db, ("connect", "proxy"))

    page = (await console.get("/console/clients")).text

    assert f'data-client="{other.name}"' in page
    assert other.key[:11] in page
    assert other.key not in page and other.key[:16] not in page
