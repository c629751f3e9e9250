"""``serve --public-port``: the internet reaches the connect routes, the provisioning page and the
provider's webhooks there, and nothing else (tests/hostile/test_public.py probes every route)."""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest
from click.testing import CliRunner

from gateway.cli import cli
from gateway.kit.db import Database
from gateway.models import ConnectionStatus
from gateway.public_port import is_public
from gateway.webhooks.contio import signature
from tests.e2e.flows import connect_new_user, load_connection
from tests.fixtures.ports import WEBHOOK_SECRET, Ports


@pytest.mark.parametrize(
    ("method", "path", "public"),
    [
        ("GET", "/connect", True),
        ("HEAD", "/connect", True),
        ("POST", "/connect", False),
        ("GET", "/oauth/callback", True),
        ("GET", "/provision/abc", True),
        ("POST", "/provision/abc", True),
        ("DELETE", "/provision/abc", False),
        ("POST", "/webhooks/contio", True),
        ("GET", "/webhooks/contio", False),
        ("GET", "/healthz", True),
        ("GET", "/.well-known/jwks.json", True),
        ("POST", "/.well-known/jwks.json", False),
        ("GET", "/connections", False),
        ("GET", "/connect/x", False),
        ("GET", "/v1/connections", False),
        ("GET", "/proxy/users/u/meetings", False),
        ("GET", "/metrics", False),
        ("GET", "/openapi.json", False),
        ("GET", "/readyz", False),
        ("GET", "/console/sign-in", False),
    ],
)
def test_only_internet_facing_routes_are_public(method: str, path: str, public: bool) -> None:
    assert is_public(path, method) is public


async def test_the_public_port_serves_the_connect_routes(ports: Ports) -> None:
    async with httpx.AsyncClient(base_url=ports.public_url, timeout=10) as http:
        response = await http.get("/connect", params={"token": "nope"})
    assert response.status_code == 400
    assert "text/html" in response.headers["content-type"]


async def test_the_public_port_takes_the_providers_webhooks(
    ports: Ports, http: httpx.AsyncClient, service_key: str, db: Database
) -> None:
    connection = await load_connection(db, await connect_new_user(http, service_key))
    body = json.dumps(
        {
            "event_type": "user.connection.revoked",
            "event_id": uuid.uuid4().hex,
            "timestamp": int(time.time()),
            "partner_app_id": "public-listener",
            "data": {},
            "for_user": {"id": connection.subject},
        }
    ).encode()
    async with httpx.AsyncClient(base_url=ports.public_url, timeout=10) as public:
        forged = await public.post(
            "/webhooks/contio", content=body, headers={"X-Contio-Signature": signature("no", body)}
        )
        untouched = await load_connection(db, connection.user_id)
        taken = await public.post(
            "/webhooks/contio",
            content=body,
            headers={"X-Contio-Signature": signature(WEBHOOK_SECRET, body)},
        )
    assert forged.status_code == 401
    assert forged.json()["error"]["code"] == "invalid_signature"
    assert untouched.status == ConnectionStatus.ACTIVE
    assert taken.status_code == 200, taken.text
    assert taken.json() == {"status": "processed"}
    assert (await load_connection(db, connection.user_id)).status == ConnectionStatus.REVOKED


@pytest.mark.parametrize(
    "path",
    ["/metrics", "/openapi.json", "/v1/connect-sessions", "/readyz", "/proxy/users/u/meetings"],
)
async def test_the_public_port_hides_everything_else(ports: Ports, path: str) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        hidden = await http.get(f"{ports.public_url}{path}")
        internal = await http.get(f"{ports.url}{path}")
    assert hidden.status_code == 404
    assert hidden.json()["error"]["code"] == "not_found"
    assert internal.status_code != 404


def test_the_same_port_twice_is_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["serve", "--port", "8123", "--public-port", "8123"])
    assert result.exit_code == 2
    assert "--public-port must differ" in result.output
