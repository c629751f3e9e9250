"""The two error bodies Contio answers with, both carrying the request's id.

- ``OAuthError``, raised by the OAuth endpoints, renders ``{error, error_description, code, message,
  request_id}``. Contio's docs give the first pair and its OpenAPI spec the second (they
  disagree), so both are sent, equal.
- ``ApiError``, raised by the partner API, renders ``{code, error, message, request_id}``: ``code``
  is the machine code, ``error`` the human message and ``message`` its deprecated duplicate.

Starlette's own 404/405 answers and unexpected failures take the partner API shape.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Scope

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed"}


class OAuthError(Exception):
    """An OAuth endpoint refuses the request (RFC 6749 §5.2 codes)."""

    def __init__(
        self,
        error: str,
        description: str,
        status_code: int = 400,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status_code = status_code
        self.headers = dict(headers or {})


class ApiError(Exception):
    """A partner API endpoint refuses the request; ``extra`` fields join the body (as
    ``workspace_conflict``'s ``workspace_id`` does)."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        headers: Mapping[str, str] | None = None,
        extra: Mapping[str, object] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.code = code
        self.message = message
        self.headers = dict(headers or {})
        self.extra = dict(extra or {})


def request_id(request: Request) -> str:
    """The id the request-id middleware gave this request."""
    value: str = request.scope["state"]["request_id"]
    return value


async def render_oauth_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    body = {
        "error": exc.error,
        "error_description": exc.description,
        "code": exc.error,
        "message": exc.description,
        "request_id": request_id(request),
    }
    return JSONResponse(body, exc.status_code, headers={**NO_STORE, **exc.headers})


async def render_api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return api_error_response(request.scope, exc)


def api_error_response(scope: Scope, exc: ApiError) -> Response:
    """The partner API error body for ``exc``; usable from ASGI middleware too."""
    body = {
        "code": exc.code,
        "error": exc.message,
        "message": exc.message,
        "request_id": scope.get("state", {}).get("request_id", ""),
        **exc.extra,
    }
    return JSONResponse(body, exc.status_code, headers=exc.headers)


async def render_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "bad_request")
    return api_error_response(
        request.scope, ApiError(exc.status_code, code, exc.detail, exc.headers or {})
    )


async def render_unexpected(request: Request, exc: Exception) -> Response:
    # Runs outside the middleware stack, so the request id header is set here by hand; Starlette
    # re-raises the exception afterwards for the server to log.
    rid = request.scope.get("state", {}).get("request_id", "")
    body = {"code": "internal_error", "error": "Internal error.", "message": "Internal error."}
    return JSONResponse({**body, "request_id": rid}, 500, headers={"X-Request-Id": rid})
