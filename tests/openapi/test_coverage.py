"""Every route of gateway/routes.py is described in the OpenAPI document (and so fuzzed by
test_schemathesis) or listed in test_console's ``CONSOLE``: a new route fails here until it is
documented; and nothing is described that no route serves."""

from __future__ import annotations

from gateway.openapi import build
from tests.openapi.routes import Operation, operations, template
from tests.openapi.test_console import CONSOLE


def documented() -> set[Operation]:
    return {(method.upper(), path) for path, item in build()["paths"].items() for method in item}


def routed() -> set[Operation]:
    return {(method, template(path)) for method, path in operations()}


def test_every_route_is_documented_or_fuzzed_as_a_page() -> None:
    # HEAD is GET without a body, added by Starlette to every GET route; the document need not
    # repeat it (tests/hostile/test_public.py probes it).
    missing = {op for op in routed() if op[0] != "HEAD"} - documented() - set(CONSOLE)
    assert not missing, f"routes neither in the OpenAPI document nor in CONSOLE: {sorted(missing)}"


def test_every_documented_or_listed_operation_has_a_route() -> None:
    stale = (documented() | set(CONSOLE)) - routed()
    assert not stale, f"described but not routed: {sorted(stale)}"
