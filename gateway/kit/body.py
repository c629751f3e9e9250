"""Reading a JSON request body into a pydantic model, with errors in the gateway's shape."""

from __future__ import annotations

import json
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from gateway.exceptions import BadRequest

Model = TypeVar("Model", bound=BaseModel)
MAX_BODY_BYTES = 64 * 1024


async def parse_json(request: Request, model: type[Model]) -> Model:
    if "json" not in request.headers.get("content-type", ""):
        raise BadRequest(
            "send a JSON body with Content-Type: application/json", code="invalid_json"
        )
    raw = await request.body()
    if len(raw) > MAX_BODY_BYTES:
        raise BadRequest(f"the body is larger than {MAX_BODY_BYTES} bytes", code="body_too_large")
    try:
        data = json.loads(raw)
        nul = _nul_at(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest("the body is not valid JSON", code="invalid_json") from exc
    except RecursionError as exc:  # [[[[…: what no schema of ours nests
        raise BadRequest("the body is nested too deeply", code="invalid_json") from exc
    if nul is not None:
        # PostgreSQL text and jsonb cannot hold U+0000: refuse it here rather than fail on storing.
        raise BadRequest(
            "the body does not match the schema",
            code="validation_error",
            details={"errors": [{"field": nul, "problem": "NUL (U+0000) is not allowed"}]},
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            {
                "field": ".".join(str(part) for part in error["loc"]) or "body",
                "problem": error["msg"],
            }
            for error in exc.errors(include_url=False, include_input=False)
        ]
        raise BadRequest(
            "the body does not match the schema",
            code="validation_error",
            details={"errors": problems},
        ) from exc


def _nul_at(data: object, at: str = "") -> str | None:
    """The dotted path of the first key or string in ``data`` holding U+0000, if any."""
    if isinstance(data, str):
        return (at or "body") if "\x00" in data else None
    if isinstance(data, dict):
        for key, value in data.items():
            field = f"{at}.{key}" if at else str(key)
            found = field if "\x00" in key else _nul_at(value, field)
            if found is not None:
                return found
    if isinstance(data, list):
        for index, value in enumerate(data):
            found = _nul_at(value, f"{at}.{index}" if at else str(index))
            if found is not None:
                return found
    return None
