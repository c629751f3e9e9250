"""The document itself: valid OpenAPI 3.1, every error in the one shape with its codes listed, and
a checker (``conformance``) that would notice an answer breaking it."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import schemathesis

from gateway.openapi import build
from tests.openapi.conformance import conforms

OPERATIONS = [
    (path, method, operation)
    for path, item in build()["paths"].items()
    for method, operation in item.items()
]


def test_it_is_valid_openapi_3_1() -> None:
    schemathesis.openapi.from_dict(build()).validate()


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS)
def test_every_json_error_is_the_error_shape_with_its_codes(
    path: str, method: str, operation: dict[str, Any]
) -> None:
    for status, response in operation["responses"].items():
        json = response.get("content", {}).get("application/json")
        if status == "default" or int(status) < 400 or json is None:
            continue
        where = f"{method.upper()} {path} {status}"
        assert json["schema"] == {"$ref": "#/components/schemas/Error"}, where
        # A page for people (the verify form shown again) need not carry it; JSON always does.
        page = "text/html" in response["content"]
        assert page or response["headers"]["Gateway-Error"]["required"] is True, where
        codes = response["x-error-codes"]
        assert codes, f"{where} lists no error code"
        assert re.findall(r"`([a-z_]+)`", response["description"]) == codes, where


@pytest.mark.parametrize(("path", "method", "operation"), OPERATIONS)
def test_every_operation_with_a_key_documents_401_and_403(
    path: str, method: str, operation: dict[str, Any]
) -> None:
    if operation.get("security") == []:
        return
    assert {"401", "403"} <= set(operation["responses"]), f"{method.upper()} {path}"


def test_every_operation_is_tagged_with_a_declared_area() -> None:
    document = build()
    areas = {tag["name"] for tag in document["tags"]}
    for path, method, operation in OPERATIONS:
        assert len(operation["tags"]) == 1, f"{method.upper()} {path}"
        assert operation["tags"][0] in areas


def answer(
    status: int, body: object, path: str, method: str = "GET", **headers: str
) -> httpx.Response:
    request = httpx.Request(method, f"http://gateway{path}")
    return httpx.Response(status, json=body, headers=headers, request=request)


ERROR = {"error": {"code": "connection_not_found", "message": "no"}}


def test_the_checker_accepts_a_documented_answer() -> None:
    conforms(
        answer(404, ERROR, "/v1/connections/x", **{"Gateway-Error": "1"}),
        "/v1/connections/{connection_id}",
    )


@pytest.mark.parametrize(
    ("status", "body", "headers", "problem"),
    [
        (418, ERROR, {"Gateway-Error": "1"}, "does not list"),
        (404, ERROR, {}, "no Gateway-Error header"),
        (
            404,
            {"error": {"code": "connection_not_found"}},
            {"Gateway-Error": "1"},
            "breaks the schema",
        ),
        (
            404,
            {"error": {"code": "not_found", "message": "no"}},
            {"Gateway-Error": "1"},
            "is not one of",
        ),
        (200, {"id": "not-a-uuid"}, {"ETag": '"1"'}, "breaks the schema"),
    ],
)
def test_the_checker_refuses_an_answer_that_breaks_the_document(
    status: int, body: object, headers: dict[str, str], problem: str
) -> None:
    with pytest.raises(AssertionError, match=problem):
        conforms(
            answer(status, body, "/v1/connections/x", **headers), "/v1/connections/{connection_id}"
        )
