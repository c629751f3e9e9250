"""schemathesis against a running ``gateway serve --public-port`` process: generated requests to
every operation of the document, each sent to both ports. On the internal port, and on the
public one for the operations marked ``x-public``, each answer is checked for a 5xx the gateway
made, for the error shape (a JSON error is the Error schema; HTML only where the operation is a
page) and for conformance (status documented, content type, required headers, body schema, error
code listed); every other operation must be the public listener's 404 there.

The proxy's catch-alls cannot be generated usefully, so they are narrowed to GET on two paths of the
sandbox's user API, for a connected user or one without a connection, and for a connection id that
names none; an answer the provider made
(no Gateway-Error) is the provider's and only checked for being no 5xx of the gateway's. The webhook
needs a signature no generator can make, so only its 401 is expected. The browser flow (/connect,
/oauth/callback, /provision) is exercised and checked as documented: pages, redirects, errors.
Examples per operation are bounded so that the run stays within seconds (20, or
GATEWAY_SCHEMATHESIS_EXAMPLES); the ``slow`` variant hunts with 200 (``make test-all``).
"""

from __future__ import annotations

import copy
import os
import uuid
from typing import Any

import jsonschema_rs
import pytest
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
from gateway.public_port import is_public
from tests.fixtures.ports import Ports
from tests.openapi.conftest import CONNECTED_USER, PROXY_PATHS

MAX_EXAMPLES = int(os.environ.get("GATEWAY_SCHEMATHESIS_EXAMPLES", "20"))
THOROUGH_EXAMPLES = 200
PROXY = "/proxy/users/{user_id}/{path}"
PROXY_BY_ID = "/proxy/connections/{connection_id}/{path}"
SDK = "/sdk/contio/users/{user_id}/{path}"
SDK_BY_ID = "/sdk/contio/connections/{connection_id}/{path}"
SDK_PREFIX = "/v1/partner/user"
WEBHOOK = "/webhooks/contio"


def fuzzable(document: dict[str, Any]) -> dict[str, Any]:
    """The document with the proxy's catch-alls replaced by GET on ``PROXY_PATHS`` (below the
    SDK's prefix on its base paths): for a user connected or not, and for a connection id that
    names none (or is no id)."""
    document = copy.deepcopy(document)
    by_id = [str(uuid.UUID(int=0)), "not-an-id"]
    for catch_all, name, values, prefix in (
        (PROXY, "user_id", [CONNECTED_USER, "nobody"], ""),
        (PROXY_BY_ID, "connection_id", by_id, ""),
        (SDK, "user_id", [CONNECTED_USER, "nobody"], SDK_PREFIX),
        (SDK_BY_ID, "connection_id", by_id, SDK_PREFIX),
    ):
        operation = document["paths"].pop(catch_all)["get"]
        operation["parameters"] = [
            {**parameter, "schema": {"enum": values}} if parameter["name"] == name else parameter
            for parameter in operation["parameters"]
            if parameter["name"] != "path"
        ]
        for path in PROXY_PATHS:
            document["paths"][catch_all.replace("/{path}", prefix + path)] = {"get": operation}
    return document


def fuzzed(examples: int) -> schemathesis.BaseSchema:
    config = schemathesis.Config.from_dict(
        {
            "generation": {"max-examples": examples, "database": "none"},
            # Stateful links would need the document to describe them; the flows are tested by hand.
            "phases": {"stateful": {"enabled": False}},
        }
    )
    return schemathesis.openapi.from_dict(DOCUMENT, config=config)


DOCUMENT = fuzzable(build())
schema = fuzzed(MAX_EXAMPLES)
thorough = fuzzed(THOROUGH_EXAMPLES)
ERROR_SHAPE = jsonschema_rs.validator_for(DOCUMENT["components"]["schemas"]["Error"])


# Cases are generated before any fixture has run (the coverage phase's at collection), so they carry
# this stand-in, which the test swaps for the real key just before the call. Cases that probe a
# missing or wrong key are left as schemathesis made them.
STAND_IN = "Bearer stand-in-for-the-service-key"


class ServiceKey:
    def get(self, case: Case[Any], context: schemathesis.AuthContext) -> str:
        return STAND_IN

    def set(self, case: Case[Any], data: str, context: schemathesis.AuthContext) -> None:
        case.headers["Authorization"] = data


for fuzzing in (schema, thorough):
    fuzzing.auth(refresh_interval=None, retry_on=[])(ServiceKey)


def is_proxy(case: Case[Any]) -> bool:
    path: str = case.operation.path
    return path.startswith(("/proxy/", "/sdk/"))


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
    operation = operation_of(case)
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


def operation_of(case: Case[Any]) -> dict[str, Any] | None:
    found: dict[str, Any] | None = DOCUMENT["paths"][case.operation.path].get(case.method.lower())
    return found


def is_page(case: Case[Any]) -> bool:
    """Whether the operation answers with HTML for people (some of its responses are pages)."""
    operation = operation_of(case) or {}
    return any("text/html" in r.get("content", {}) for r in operation["responses"].values())


@schemathesis.check
def errors_are_the_error_shape_or_a_page(
    ctx: CheckContext, response: Response, case: Case[Any]
) -> bool | None:
    """A gateway's error is JSON in the Error shape, or an HTML page where the route is a page."""
    if response.status_code < 400 or not made_by_gateway(response, case):
        return None
    media_type = (response.headers.get("content-type") or [""])[0].partition(";")[0].strip()
    if media_type == "application/json":
        problems = [str(error) for error in ERROR_SHAPE.iter_errors(response.json())]
        assert not problems, f"{response.status_code} is not the Error shape: {problems}"
    elif media_type == "text/html":
        assert is_page(case), f"{response.status_code}: a page from an API operation"
    else:
        raise AssertionError(f"{response.status_code} answered as {media_type!r}")
    return None


CONFORMANCE: list[CheckFunction] = [
    no_server_error_made_by_the_gateway,
    errors_are_the_error_shape_or_a_page,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    error_code_is_listed,
]


def keyed(case: Case[Any], key: str) -> Case[Any]:
    if case.headers.get("Authorization") == STAND_IN:
        case.headers["Authorization"] = f"Bearer {key}"
    return case


def keeps_to_the_document(case: Case[Any], url: str) -> None:
    response = case.call(base_url=url, timeout=10)
    if case.operation.path == WEBHOOK:
        assert response.status_code in (401, 405), response.text
    checks: list[CheckFunction] = [no_server_error_made_by_the_gateway]
    if made_by_gateway(response, case):
        checks = CONFORMANCE
    case.validate_response(response, checks=checks)


def is_hidden_there(case: Case[Any], url: str) -> None:
    """The public listener's answer to an operation that is not public: 404 not_found."""
    response = case.call(base_url=url, timeout=10)
    assert response.status_code == 404, response.text[:500]
    assert response.headers.get("gateway-error") == ["1"]
    assert not list(ERROR_SHAPE.iter_errors(response.json()))
    assert response.json()["error"]["code"] == "not_found"


def on_both_listeners(case: Case[Any], ports: Ports) -> None:
    keeps_to_the_document(case, ports.url)
    if is_public(case.operation.path, case.method.upper()):
        keeps_to_the_document(case, ports.public_url)
    else:
        is_hidden_there(case, ports.public_url)


@schema.parametrize()
def test_both_listeners_keep_to_the_document(
    case: Case[Any], ports: Ports, key: str, connected_user: str
) -> None:
    on_both_listeners(keyed(case, key), ports)


@pytest.mark.slow
@thorough.parametrize()
def test_both_listeners_keep_to_the_document_under_a_long_hunt(
    case: Case[Any], ports: Ports, key: str, connected_user: str
) -> None:
    on_both_listeners(keyed(case, key), ports)
