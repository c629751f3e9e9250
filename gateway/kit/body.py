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
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest("the body is not valid JSON", code="invalid_json") from exc
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
