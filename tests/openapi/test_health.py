"""Probes, metrics and the document itself answer as the document says; and with the database cut
off, every route's 503 is the one documented."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from gateway.app import create_app
from gateway.kit.db import async_url
from gateway.openapi import build
from tests.fixtures.servers import ServerThread, free_port, serving
from tests.fixtures.stack import Stack
from tests.openapi.conformance import conforms, error_code


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json"])
async def test_answers_as_documented(api: httpx.AsyncClient, path: str) -> None:
    response = conforms(await api.get(path), path)
    assert response.status_code == 200


async def test_the_served_document_is_the_built_one(api: httpx.AsyncClient) -> None:
    assert (await api.get("/openapi.json")).json() == build()


@pytest.fixture(scope="module")
def cut_off(stack: Stack) -> Iterator[ServerThread]:
    """A gateway whose database is at a port nobody listens on."""
    nowhere = async_url(f"postgresql://postgres@127.0.0.1:{free_port()}/gone")
    with serving(create_app(stack.settings, nowhere)) as server:
        yield server


PROVISIONING = str(uuid.uuid4())


@pytest.mark.parametrize(
    ("method", "url", "path"),
    [
        ("GET", "/readyz", "/readyz"),
        ("POST", "/v1/connect-sessions", "/v1/connect-sessions"),
        ("GET", "/connect?token=x", "/connect"),
        ("GET", f"/v1/provisioning/{PROVISIONING}", "/v1/provisioning/{provisioning_id}"),
        ("GET", f"/provision/{PROVISIONING}?token=x", "/provision/{provisioning_id}"),
        ("GET", "/proxy/users/alice/profile", "/proxy/users/{user_id}/{path}"),
        ("GET", "/v1/connections", "/v1/connections"),
        ("GET", "/v1/audit-events", "/v1/audit-events"),
    ],
)
def test_without_its_database_a_route_answers_its_documented_503(
    cut_off: ServerThread, method: str, url: str, path: str
) -> None:
    response = httpx.request(
        method,
        f"{cut_off.url}{url}",
        headers={"Authorization": "Bearer gw_" + "x" * 43, "Accept": "application/json"},
        json={"user_id": "u"} if method == "POST" else None,
        timeout=30,
    )
    assert error_code(conforms(response, path)) == "database_unavailable"
