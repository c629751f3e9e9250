"""Request bodies, capped: ``BodyLimit`` for every request, ``read_body`` for an endpoint's own
smaller cap, and ``parse_json`` for a JSON body read into a pydantic model (its mistakes told
in the gateway's words: ``kit.validation``).

A cap is kept before the bytes are held: a ``Content-Length`` above it is refused at once, without
reading a byte, and a body without one (chunked) is counted as it arrives and refused as soon as it
passes the cap. Either way the answer is ``413 payload_too_large``, and memory does not grow with
what a client sends (the server drops at most a bounded part of the rest: ``kit.server``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable
from typing import TypeVar

from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.kit.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType, error_response
from gateway.kit.validation import problems, summary

Model = TypeVar("Model", bound=BaseModel)
MAX_JSON_BYTES = 64 * 1024
# Longer than any length below 10**18, which is more than any cap.
MAX_LENGTH_DIGITS = 18


def declared_length(value: bytes | None) -> int | None:
    """A ``Content-Length`` header's value as a number (None if absent)."""
    if value is None:
        return None
    if not value.isdigit() or len(value) > MAX_LENGTH_DIGITS:
        raise BadRequest("Content-Length must be a number of bytes", code="invalid_request")
    return int(value)


def capped_length(value: bytes | None, max_bytes: int) -> int | None:
    """A ``Content-Length`` header's value as a number (None if absent), refused with
    ``PayloadTooLarge`` above ``max_bytes``: the one test of a declared length against a cap, for
    ``BodyLimit``, ``read_body`` and the proxy's own cap alike."""
    length = declared_length(value)
    if length is not None and length > max_bytes:
        raise PayloadTooLarge(max_bytes)
    return length


def _content_length(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name == b"content-length":
            return value
    return None


class BodyLimit:
    """Pure ASGI: refuses a request whose body is larger than ``max_bytes`` (413), at once when
    its ``Content-Length`` says so, else when ``receive`` has handed out more than that (raised
    into the endpoint reading it, as ``PayloadTooLarge``). Paths under ``exempt`` keep their own
    cap, tested by the same ``capped_length`` (the proxy's, which streams bodies it does not hold)."""

    def __init__(self, app: ASGIApp, max_bytes: int, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (self.exempt and _app_path(scope).startswith(self.exempt)):
            await self.app(scope, receive, send)
            return
        max_bytes = self.max_bytes
        try:
            capped_length(_content_length(scope["headers"]), max_bytes)
        except (BadRequest, PayloadTooLarge) as exc:
            await error_response(exc)(scope, receive, send)
            return
        received = 0

        async def capped() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > max_bytes:
                raise PayloadTooLarge(max_bytes)
            return message

        await self.app(scope, capped, send)


def _app_path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, if it is no larger than ``max_bytes`` (else ``PayloadTooLarge``)."""
    capped_length(_content_length(request.scope["headers"]), max_bytes)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise PayloadTooLarge(max_bytes)
        chunks.append(chunk)
    return b"".join(chunks)


def media_type(request: Request) -> str:
    """The body's media type, without parameters, in lower case (empty when none is given)."""
    return request.headers.get("content-type", "").partition(";")[0].strip().lower()


async def parse_json(
    request: Request, model: type[Model], *, media_types: Collection[str] | None = None
) -> Model:
    """The body read into ``model``. With ``media_types``, a ``Content-Type`` outside them is
    ``415 unsupported_media_type``; without, any JSON type is taken."""
    if media_types is not None and media_type(request) not in media_types:
        raise UnsupportedMediaType(
            f"send the body as {' or '.join(media_types)}",
            details={"accepted": list(media_types)},
        )
    if "json" not in request.headers.get("content-type", ""):
        raise BadRequest(
            "send a JSON body with Content-Type: application/json", code="invalid_json"
        )
    raw = await read_body(request, MAX_JSON_BYTES)
    try:
        return validated(model, json.loads(raw))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest("the body is not valid JSON", code="invalid_json") from exc
    except RecursionError as exc:  # [[[[…: what no schema of ours nests
        raise BadRequest("the body is nested too deeply", code="invalid_json") from exc


def validated(model: type[Model], data: object) -> Model:
    """``data`` read into ``model``, its mistakes told as ``400 validation_error`` in the gateway's
    words. A string holding U+0000, which PostgreSQL text and jsonb cannot hold, is refused here
    rather than on storing."""
    nul = nul_at(data)
    if nul is not None:
        raise BadRequest(
            "the body does not match the schema",
            code="validation_error",
            details={"errors": [{"field": nul, "problem": "NUL (U+0000) is not allowed"}]},
        )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        found = problems(exc)
        raise BadRequest(
            f"the body does not match the schema: {summary(found)}",
            code="validation_error",
            details={"errors": found},
        ) from exc


def nul_at(data: object, at: str = "") -> str | None:
    """The dotted path of the first key or string in ``data`` holding U+0000, if any."""
    if isinstance(data, str):
        return (at or "body") if "\x00" in data else None
    if isinstance(data, dict):
        for key, value in data.items():
            field = f"{at}.{key}" if at else str(key)
            found = field if "\x00" in key else nul_at(value, field)
            if found is not None:
                return found
    if isinstance(data, list):
        for index, value in enumerate(data):
            found = nul_at(value, f"{at}.{index}" if at else str(index))
            if found is not None:
                return found
    return None
