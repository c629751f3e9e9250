"""The OpenAPI 3.1 document of the gateway's HTTP interface, written by hand, one module per area.

Each area module holds the ``PATHS`` and ``SCHEMAS`` of its endpoints; ``build`` puts them together,
tagging every operation with its area and marking with ``x-public: true`` those that also answer
on the public listener (``serve --public-port``), and ``document`` serves the result at
``/openapi.json``. The console (``/console``) is left out on purpose: it is HTML for people, not an
API (tests/openapi/test_console.py fuzzes it without a document).
"""

from __future__ import annotations

from functools import lru_cache
from types import ModuleType
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.openapi import (
    audit,
    clients,
    components,
    connect,
    connections,
    delegated_keys,
    health,
    keys,
    provisioning,
    proxy,
    stored_credentials,
    subscriptions,
    timeline,
    webhooks,
)
from gateway.openapi.components import FORBIDDEN
from gateway.operators.roles import LEAST_ROLE
from gateway.operators.route_permissions import ADMIN_API
from gateway.public_port import is_public

# (tag, module, what the tag says), in the order a reader meets them.
AREAS: tuple[tuple[str, ModuleType, str], ...] = (
    ("health", health, "Probes, metrics and this document; no key needed."),
    ("connect", connect, "Connecting a user's account through their browser."),
    ("provisioning", provisioning, "Creating and connecting a user by an emailed code."),
    ("proxy", proxy, "Calling the provider's API as a user."),
    ("webhooks", webhooks, "Providers telling the gateway about their users."),
    ("connections", connections, "The admin API over connections."),
    (
        "stored-credentials",
        stored_credentials,
        "Connections that hold an API key or another stored credential instead of a grant.",
    ),
    ("timeline", timeline, "What happened to a connection, newest first."),
    (
        "delegated-keys",
        delegated_keys,
        "Keys that may only proxy for one connection, issued by its owner or an operator.",
    ),
    (
        "subscriptions",
        subscriptions,
        "Service clients' endpoints for outbound events, their secrets and delivery logs.",
    ),
    ("audit", audit, "The audit trail."),
    (
        "clients",
        clients,
        "Service clients managed by operators, and revoking connections by selector.",
    ),
    ("keys", keys, "The encryption keys of secrets at rest, and re-sealing under the active one."),
)


def _tagged(path: str, path_item: dict[str, Any], tag: str) -> dict[str, Any]:
    return {
        method: {
            **_with_role(path, method.upper(), operation),
            "tags": [tag],
            **({"x-public": True} if is_public(path, method.upper()) else {}),
        }
        for method, operation in path_item.items()
    }


def _with_role(path: str, method: str, operation: dict[str, Any]) -> dict[str, Any]:
    """An admin-API operation as the role declaration has it: the least role and permission
    (``x-role``, ``x-permission``), and ``role_required`` among its 403's codes."""
    rule = ADMIN_API.get((method, path))
    if rule is None:
        return operation
    least = LEAST_ROLE[rule.permission]
    forbidden = dict(operation["responses"].get("403") or FORBIDDEN)
    codes = [*forbidden["x-error-codes"], "role_required"]
    forbidden["x-error-codes"] = codes
    forbidden["description"] = (
        f"The key's role is below {least.label} (role_required), or it has no role and lacks "
        "the scope, or is a delegated key. Codes: " + ", ".join(f"`{c}`" for c in codes) + "."
    )
    return {
        **operation,
        "x-role": least.label,
        "x-permission": rule.permission.value,
        "responses": {**operation["responses"], "403": forbidden},
    }


@lru_cache(maxsize=1)
def build() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = dict(components.SCHEMAS)
    for tag, module, _ in AREAS:
        for path, item in module.PATHS.items():
            assert path not in paths, f"{path} is described twice"
            paths[path] = _tagged(path, item, tag)
        for name, schema in module.SCHEMAS.items():
            assert name not in schemas, f"schema {name} is defined twice"
            schemas[name] = schema
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Gateway",
            "version": "0.1.0",
            "description": "Connect users' OAuth accounts and call their APIs without holding "
            "tokens. Every error the gateway makes is the Error shape with Gateway-Error: 1; "
            "any route also answers 404 not_found for an unknown path and 405 "
            "method_not_allowed (with Allow) for a method it does not take. With serve "
            "--public-port, only the operations marked x-public answer on the public port; "
            "everything else answers 404 not_found there.",
        },
        "servers": [{"url": "/"}],
        "security": [{"serviceKey": []}],
        "tags": [{"name": tag, "description": text} for tag, _, text in AREAS],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "serviceKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A service client's key (gw_…), with the scope each "
                    "operation names; a delegated key only on the proxy, for its connection.",
                }
            },
        },
    }


async def document(request: Request) -> Response:
    return JSONResponse(build())
