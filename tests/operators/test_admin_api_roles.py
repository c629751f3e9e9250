"""Every admin-API route against every role and two service clients without one, over HTTP, driven
by the one declaration (``operators.route_permissions.ADMIN_API``): a key whose role holds the
route's permission gets past the check (an unknown id answers 404, an empty body 400 or 422), a
lower role gets 403 ``role_required`` naming the least role and the permission, and a service
client gets its own powers where the route has them and 403 ``insufficient_scope`` elsewhere."""

from __future__ import annotations

import uuid

import httpx
import pytest

from gateway.kit.db import Database
from gateway.operators.roles import LEAST_ROLE, Role, permits, role_of_scopes
from gateway.operators.route_permissions import ADMIN_API, Rule
from tests.hostile.owner_fixtures import Clients, clients, error_code, make_client
from tests.openapi.routes import operations

__all__ = ["clients"]  # fixtures

ADMIN_PREFIXES = (
    "/v1/connections",
    "/v1/subscriptions",
    "/v1/audit-events",
    "/v1/events",
    "/v1/clients",
    "/v1/keys",
)
# Each role's scope, and the scope of keys made before roles existed.
ROLE_SCOPES = [role.label for role in Role] + ["admin"]


def concrete(path: str) -> str:
    """The route with unknown ids (and an unknown client's name) in its parameters."""
    return (
        path.replace("{name}", f"nobody-{uuid.uuid4().hex[:8]}")
        .replace("{entry_id}", "a" + "0" * 25)
        .replace("{key_id}", str(uuid.uuid4()))
        .replace("{delivery_id}", str(uuid.uuid4()))
        .replace("{connection_id}", str(uuid.uuid4()))
        .replace("{subscription_id}", str(uuid.uuid4()))
    )


async def call(http: httpx.AsyncClient, method: str, path: str, key: str) -> httpx.Response:
    body: dict[str, object] | None = {} if method in ("POST", "PATCH") else None
    return await http.request(
        method, concrete(path), json=body, headers={"Authorization": f"Bearer {key}"}
    )


def test_every_admin_route_is_declared() -> None:
    served = {
        (method, path)
        for method, path in operations()
        if path.startswith(ADMIN_PREFIXES) and method != "HEAD"
    }
    assert served == set(ADMIN_API)


@pytest.mark.parametrize("scope", ROLE_SCOPES)
async def test_each_role_passes_exactly_the_routes_its_permissions_allow(
    http: httpx.AsyncClient, db: Database, scope: str
) -> None:
    operator = await make_client(db, [scope])
    role = role_of_scopes([scope])
    for (method, path), rule in ADMIN_API.items():
        response = await call(http, method, path, operator.key)
        if permits(role, rule.permission):
            assert response.status_code != 403, (scope, method, path, response.text)
        else:
            assert response.status_code == 403, (scope, method, path, response.text)
            assert response.json()["error"] == {
                "code": "role_required",
                "message": response.json()["error"]["message"],
                "details": {
                    "required": LEAST_ROLE[rule.permission].label,
                    "permission": rule.permission.value,
                },
            }


def refused_client_scope(rule: Rule, scopes: set[str]) -> bool:
    return rule.client_scope is None or rule.client_scope not in scopes


async def test_service_clients_keep_their_own_powers_and_no_more(
    http: httpx.AsyncClient, clients: Clients
) -> None:
    for client in (clients.confined, clients.open_):
        for (method, path), rule in ADMIN_API.items():
            response = await call(http, method, path, client.key)
            if refused_client_scope(rule, {"connect", "proxy"}):
                assert response.status_code == 403, (client.name, method, path, response.text)
                assert error_code(response) == "insufficient_scope"
            else:
                assert response.status_code != 403, (client.name, method, path, response.text)


async def test_a_proxy_only_client_is_refused_everywhere(
    http: httpx.AsyncClient, db: Database
) -> None:
    proxy_only = await make_client(db, ["proxy"])
    for method, path in ADMIN_API:
        response = await call(http, method, path, proxy_only.key)
        assert (response.status_code, error_code(response)) == (403, "insufficient_scope")


async def test_head_is_decided_as_get(http: httpx.AsyncClient, db: Database) -> None:
    viewer = await make_client(db, ["viewer"])
    assert (await http.head("/v1/connections", headers=viewer.auth)).status_code == 200
    assert (await http.head("/v1/clients", headers=viewer.auth)).status_code == 403
