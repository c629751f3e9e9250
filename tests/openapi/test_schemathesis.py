"""schemathesis against the running gateway: generated requests to every operation of the document,
each answer checked for a 5xx the gateway made and for conformance (status documented, content
type, required headers, body schema, error code listed).

The proxy's catch-all cannot be generated usefully, so it is narrowed to GET on two paths of the
sandbox's user API, for a connected user or one without a connection; an answer the provider made
(no Gateway-Error) is the provider's and only checked for being no 5xx of the gateway's. The webhook
needs a signature no generator can make, so only its 401 is expected. The browser flow (/connect,
/oauth/callback, /provision) is exercised and checked as documented: pages, redirects, errors.
Examples per operation are bounded so that the run stays within seconds (20, or
GATEWAY_SCHEMATHESIS_EXAMPLES for a longer hunt).
"""

from __future__ import annotations

import copy
import os
from typing import Any

import schemathesis
from schemathesis import Case
from schemathesis.checks import CheckContext, CheckFunction
from schemathesis.core.transport import Response
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from gateway.openapi import build
from tests.fixtures.servers import ServerThread
from tests.openapi.conftest import CONNECTED_USER, PROXY_PATHS

MAX_EXAMPLES = int(os.environ.get("GATEWAY_SCHEMATHESIS_EXAMPLES", "20"))
PROXY = "/proxy/users/{user_id}/{path}"
WEBHOOK = "/webhooks/contio"


def fuzzable(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the proxy's catch-all replaced by GET on ``PROXY_PATHS``."""
    document = copy.deepcopy(document)
    operation = document["paths"].pop(PROXY)["get"]
    operation["parameters"] = [
        {**parameter, "schema": {"enum": [CONNECTED_USER, "nobody"]}}
        if parameter["name"] == "user_id"
        else parameter
        for parameter in operation["parameters"]
        if parameter["name"] != "path"
    ]
    for path in PROXY_PATHS:
        document["paths"][f"/proxy/users/{{user_id}}{path}"] = {"get": operation}
    return document


DOCUMENT = fuzzable(build())
CONFIG = schemathesis.Config.from_dict(
    {
        "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
        # Stateful links would need the document to describe them; the flows are tested by hand.
        "phases": {"stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_dict(DOCUMENT, config=CONFIG)


# Cases are generated before any fixture has run (the coverage phase's at collection), so they carry
# this stand-in, which the test swaps for the real key just before the call. Cases that probe a
# missing or wrong key are left as schemathesis made them.
STAND_IN = "Bearer stand-in-for-the-service-key"


@schema.auth(refresh_interval=None, retry_on=[])
class ServiceKey:
    def get(self, case: Case[Any], context: schemathesis.AuthContext) -> str:
        return STAND_IN

    def set(self, case: Case[Any], data: str, context: schemathesis.AuthContext) -> None:
        case.headers["Authorization"] = data


def is_proxy(case: Case[Any]) -> bool:
    path: str = case.operation.path
    return path.startswith("/proxy/")


def made_by_gateway(response: Response, case: Case[Any]) -> bool:
    return not is_proxy(case) or bool(response.headers.get("gateway-error") == ["1"])


@schemathesis.check
def no_server_error_made_by_the_gateway(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """A 5xx is a bug of the gateway's unless the proxy passed on the provider's."""
    if response.status_code >= 500 and made_by_gateway(response, case):
        raise AssertionError(f"the gateway answered {response.status_code}: {response.text[:500]}")
    return None


@schemathesis.check
def error_code_is_listed(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """A gateway error's code is one of those its response lists in x-error-codes."""
    if response.headers.get("gateway-error") != ["1"]:
        return None
    operation = DOCUMENT["paths"][case.operation.path].get(case.method.lower())
    if operation is None:  # a probe with a method the path does not take
        return None
    documented = operation["responses"].get(str(response.status_code), {})
    listed = documented.get("x-error-codes")
    if listed is None or "json" not in (response.headers.get("content-type") or [""])[0]:
        return None
    code = response.json()["error"]["code"]
    if code not in listed:
        raise AssertionError(f"{response.status_code} {code!r} is not one of {listed}")
    return None


CONFORMANCE: list[CheckFunction] = [
    no_server_error_made_by_the_gateway,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    error_code_is_listed,
]


@schema.parametrize()
def test_the_gateway_keeps_to_its_document(
    case: Case[Any], gateway: ServerThread, key: str, connected_user: str
) -> None:
    if case.headers.get("Authorization") == STAND_IN:
        case.headers["Authorization"] = f"Bearer {key}"
    response = case.call(base_url=gateway.url, timeout=10)
    if case.operation.path == WEBHOOK:
        assert response.status_code in (401, 405), response.text
    checks: list[CheckFunction] = [no_server_error_made_by_the_gateway]
    if made_by_gateway(response, case):
        checks = CONFORMANCE
    case.validate_response(response, checks=checks)
