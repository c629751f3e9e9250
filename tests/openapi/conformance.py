"""Checking one answer against the document, the way a client generated from it would read it.

The status must be documented for the operation (the proxy's ``default`` stands for the provider's
answers, which carry no Gateway-Error header), the content type must be one that status lists, a
JSON body must validate against its schema (formats included), the headers the document marks
required must be there, and a gateway error's code must be one its response lists in
``x-error-codes``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import httpx
import jsonschema_rs

from gateway.openapi import build

JSON = "application/json"
GATEWAY_ERROR = "Gateway-Error"


def responses(method: str, path: str) -> dict[str, Any]:
    found: dict[str, Any] = build()["paths"][path][method.lower()]["responses"]
    return found


@cache
def _validator(method: str, path: str, status: str) -> jsonschema_rs.Validator:
    schema = responses(method, path)[status]["content"][JSON]["schema"]
    # The response's schema with the document's components beside it, so that its $refs resolve.
    root = {"allOf": [schema], "components": build()["components"]}
    return jsonschema_rs.validator_for(root, validate_formats=True)


def conforms(response: httpx.Response, path: str) -> httpx.Response:
    """``response`` (to a request on the documented ``path``), once it matches the document."""
    method = response.request.method
    documented = responses(method, path)
    status = str(response.status_code)
    if "default" in documented and GATEWAY_ERROR not in response.headers:
        # The proxy: an answer the gateway did not make is the provider's, whatever its status.
        status = "default"
    if status not in documented:
        assert "default" in documented, (
            f"{method} {path} answered {status}, which the document does not list: "
            f"{response.text[:300]}"
        )
        status = "default"
    answer = documented[status]
    for name, header in answer.get("headers", {}).items():
        if header.get("required"):
            assert name in response.headers, f"{method} {path} {status}: no {name} header"
    content = answer.get("content")
    if not content:
        return response
    media_type = response.headers.get("content-type", "").partition(";")[0].strip()
    assert media_type in content, f"{method} {path} {status}: {media_type!r} is not documented"
    if media_type != JSON:
        return response
    body = response.json()
    errors = [str(error) for error in _validator(method, path, status).iter_errors(body)]
    assert not errors, f"{method} {path} {status}: the body breaks the schema: {errors}"
    codes = answer.get("x-error-codes")
    if codes is not None:
        code = body["error"]["code"]
        assert code in codes, f"{method} {path} {status}: {code!r} is not one of {codes}"
    return response


def error_code(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code
