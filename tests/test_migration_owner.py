"""The ownership migration: existing rows get their creator as owner (or ``operator``), a confined
creator's rows move into its space, and the downgrade puts the old unique key back."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import asyncpg
import pytest
from alembic import command
from sqlalchemy.engine import URL

from gateway.kit.db import sync_url
from gateway.kit.migrations import alembic_config
from tests.fixtures.database import fresh_database

REVISION = "20261206_owner"
BEFORE = "0006"


async def sql(url: URL, statement: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(sync_url(url))
    try:
        return list(await conn.fetch(statement, *args))
    finally:
        await conn.close()


def add_client(url: URL, name: str, *, confined: bool) -> uuid.UUID:
    client_id = uuid.uuid4()
    asyncio.run(
        sql(
            url,
            "INSERT INTO service_clients (id, name, key_prefix, key_hash, scopes, allow_rules, "
            "own_users_only) VALUES ($1, $2, 'p', 'h', '{connect}', '{}', $3)",
            client_id,
            name,
            confined,
        )
    )
    return client_id


def add_connection(url: URL, user_id: str, created_by: uuid.UUID | None) -> uuid.UUID:
    connection_id = uuid.uuid4()
    asyncio.run(
        sql(
            url,
            "INSERT INTO connections (id, user_id, provider, subject, status, token_version, "
            "created_by_client_id, connected_at) "
            "VALUES ($1, $2, 'contio', 's', 'active', 1, $3, now())",
            connection_id,
            user_id,
            created_by,
        )
    )
    return connection_id


def ownership(url: URL) -> dict[uuid.UUID, tuple[uuid.UUID | None, uuid.UUID | None]]:
    found = asyncio.run(
        sql(url, "SELECT id, owner_client_id, confined_to_client_id FROM connections")
    )
    return {row["id"]: (row["owner_client_id"], row["confined_to_client_id"]) for row in found}


def test_existing_connections_get_owners_and_spaces_and_the_downgrade_works(
    server_url: URL,
) -> None:
    with fresh_database(server_url, "gw_owner_migration", migrate=False) as url:
        config = alembic_config(url)
        command.upgrade(config, BEFORE)
        confined = add_client(url, "billing", confined=True)
        shared = add_client(url, "crm", confined=False)
        by_confined = add_connection(url, "u1", confined)
        by_shared = add_connection(url, "u2", shared)
        by_operator = add_connection(url, "u3", None)

        command.upgrade(config, REVISION)

        assert ownership(url) == {
            by_confined: (confined, confined),
            by_shared: (shared, None),
            by_operator: (None, None),
        }
        # One user id, two spaces: allowed now; twice in one space (the shared one too): not.
        add_connection(url, "u1", shared)
        with pytest.raises(asyncpg.UniqueViolationError):
            add_connection(url, "u2", None)
        with pytest.raises(asyncpg.UniqueViolationError):
            asyncio.run(
                sql(
                    url,
                    "UPDATE connections SET confined_to_client_id = $1 WHERE user_id = 'u1' "
                    "AND confined_to_client_id IS NULL",
                    confined,
                )
            )

        # u1 is in two spaces: the downgrade refuses, saying why, and changes nothing.
        with pytest.raises(Exception, match="more than one space"):
            command.downgrade(config, BEFORE)
        asyncio.run(sql(url, "DELETE FROM connections WHERE id = $1", by_confined))
        command.downgrade(config, BEFORE)
        with pytest.raises(asyncpg.UniqueViolationError):
            add_connection(url, "u1", None)
