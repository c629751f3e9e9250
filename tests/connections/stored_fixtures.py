"""A gateway whose providers file names stored-credential providers (an API key, sent as a bearer
token, in the query or in a header of the profile's ``auth_header``; a basic credential; a custom
header), all in front of the sandbox's API-key-protected API, and the
service clients of ``tests.hostile.owner_fixtures`` to act on them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import URL

from gateway.app import create_app
from gateway.kit.db import Database
from gateway.settings import Settings
from gateway_sandbox import SandboxOptions, create_sandbox_app
from tests.fixtures.servers import ServerThread, free_port
from tests.fixtures.stack import gateway_settings

API_KEY = "sk_live_" + "k3y" * 8
USERNAME = "ada"
PASSWORD = "pa55-" + "w0rd" * 6
HEADER_VALUE = "hv_" + "v4lue" * 6
# Every secret the tests hand the gateway: none may come back or be stored in the clear.
SECRETS = (API_KEY, PASSWORD, HEADER_VALUE)

PROVIDERS = """
[providers.keyed]
api_base_url = "{sandbox}/keyed/v1"
auth_mode = "api_key"
verification = {{ method = "GET", path = "/me", expect_status = 200 }}

[providers.keyed-basic]
api_base_url = "{sandbox}/keyed/v1"
auth_mode = "basic"
verification = {{ path = "/me" }}

[providers.keyed-header]
api_base_url = "{sandbox}/keyed/v1"
auth_mode = "header"
credential_header = "X-Api-Key"
verification = {{ path = "/me" }}

[providers.keyed-unchecked]
api_base_url = "{sandbox}/keyed/v1"
auth_mode = "api_key"

[providers.keyed-query]
api_base_url = "{sandbox}/keyed/v1"
auth_mode = "api_key"
auth_header = {{ query_param = "api_key" }}
verification = {{ path = "/me" }}

[providers.keyed-named]
api_base_url = "{sandbox}/keyed/v1"
auth_mode = "api_key"
auth_header = {{ header = "X-Api-Key", scheme = "" }}
verification = {{ path = "/me" }}
"""


@dataclass
class KeyedStack:
    gateway: ServerThread
    sandbox: ServerThread
    settings: Settings


@pytest.fixture(scope="module")
def keyed_stack(
    database_url: URL, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KeyedStack]:
    gateway_port = free_port()
    options = SandboxOptions(
        redirect_uris=(f"http://127.0.0.1:{gateway_port}/oauth/callback",),
        auto_approve=True,
        api_keys=(API_KEY, HEADER_VALUE),
        basic_credentials=((USERNAME, PASSWORD),),
    )
    sandbox = ServerThread(create_sandbox_app(options)).start()
    path: Path = tmp_path_factory.mktemp("providers") / "providers.toml"
    path.write_text(PROVIDERS.format(sandbox=sandbox.url))
    settings = gateway_settings(
        gateway_port, sandbox.url, providers_file=path, providers_allow_loopback_http=True
    )
    gateway = ServerThread(create_app(settings, database_url), port=gateway_port).start()
    try:
        yield KeyedStack(gateway, sandbox, settings)
    finally:
        gateway.stop()
        sandbox.stop()


@pytest.fixture
async def gw(keyed_stack: KeyedStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=keyed_stack.gateway.url, timeout=10) as client:
        yield client


def user() -> str:
    return f"b-{uuid.uuid4().hex[:10]}"


def api_key_body(user_id: str, **extra: Any) -> dict[str, Any]:
    return {"user_id": user_id, "provider": "keyed", "api_key": API_KEY, **extra}


async def stored_text(db: Database) -> str:
    """Every table a credential could reach, as text: connections, audit, events, timeline."""
    async with db.transaction() as session:
        parts: list[str] = []
        for table in ("connections", "audit_events", "outbox_events", "timeline_records"):
            rows = await session.execute(text(f"SELECT row_to_json(t)::text FROM {table} t"))
            parts.extend(row[0] for row in rows)
    return "\n".join(parts)
