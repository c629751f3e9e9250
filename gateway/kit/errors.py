"""The gateway's one error tree, drawn here in ``kit`` so that the kit can raise it too; the rest of
the gateway takes it from ``gateway.exceptions``, which adds the errors every layer shares.

Every error a client can see is a ``GatewayError``: it carries an HTTP status, a stable machine ``code``
and a human message, and is rendered in one shape by ``error_response``::

    {"error": {"code": "...", "message": "...", "details": {...}}}

    GatewayError                      500 internal_error   a bug; never raised on purpose
     +-- BadRequest                   400                  the request itself is wrong
     +-- Unauthorized                 401 unauthorized     no or wrong service key
     +-- Forbidden                    403                  authenticated, but not allowed
     +-- NotFound                     404
     +-- Conflict                     409
     +-- Gone                         410
     +-- PreconditionFailed           412 precondition_failed  an If-Match names another version
     +-- PayloadTooLarge              413 payload_too_large  the body is larger than the endpoint takes
     +-- UnsupportedMediaType         415 unsupported_media_type  a body in a type the endpoint
                                                           does not take
     +-- UnprocessableContent         422                  well-formed, but the provider refused it
     +-- TooManyRequests              429                  a limit is spent; Retry-After says when
     +-- ServiceUnavailable           503                  the gateway cannot serve right now
     +-- UpstreamError                502                  the provider failed us (see providers.errors)
     +-- GatewayTimeout               504                  the provider did not answer in time

Domain errors subclass these with their own codes (``connections.errors``, ``tokens.errors``,
``proxy.errors``, ``providers.errors``, ``provisioning.errors``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

GATEWAY_ERROR_HEADER = "Gateway-Error"


class GatewayError(Exception):
    """Base of every error the gateway renders; subclasses set ``status_code`` and ``code``."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details = dict(details) if details else None
        self.headers = dict(headers) if headers else {}

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            error["details"] = self.details
        return {"error": error}


class BadRequest(GatewayError):
    """Raised when the request is malformed or names something impossible."""

    status_code = 400
    code = "invalid_request"


class Unauthorized(GatewayError):
    """Raised when the service key is missing or wrong."""

    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "A valid service key is required.") -> None:
        super().__init__(message, headers={"WWW-Authenticate": 'Bearer realm="gateway"'})


class Forbidden(GatewayError):
    """Raised when the caller is known but may not do this."""

    status_code = 403
    code = "forbidden"


class NotFound(GatewayError):
    """Raised when the named resource does not exist (or is not the caller's to see)."""

    status_code = 404
    code = "not_found"


class Conflict(GatewayError):
    """Raised when the resource's state forbids the request."""

    status_code = 409
    code = "conflict"


class Gone(GatewayError):
    """Raised when the resource existed but is over for good (expired, consumed, revoked)."""

    status_code = 410
    code = "gone"


class PreconditionFailed(GatewayError):
    """Raised when a conditional request's ``If-Match`` names no current version of the resource."""

    status_code = 412
    code = "precondition_failed"


class PayloadTooLarge(GatewayError):
    """Raised when a request body is, or is announced as, larger than the endpoint takes (the
    server drops a bounded part of the rest, then closes the connection: ``kit.server``)."""

    status_code = 413
    code = "payload_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"The body is larger than {limit} bytes.",
            details={"limit_bytes": limit},
        )


class UnsupportedMediaType(GatewayError):
    """Raised when a body's ``Content-Type`` is none of those the endpoint takes."""

    status_code = 415
    code = "unsupported_media_type"


class UnprocessableContent(GatewayError):
    """Raised when a well-formed request names something the provider will not accept."""

    status_code = 422
    code = "unprocessable_content"


class TooManyRequests(GatewayError):
    """Raised when a rate limit is spent; carries Retry-After."""

    status_code = 429
    code = "rate_limited"


class ServiceUnavailable(GatewayError):
    """Raised when the gateway cannot serve right now (database down, schema outdated)."""

    status_code = 503
    code = "service_unavailable"


class UpstreamError(GatewayError):
    """Raised when the provider failed in a way the caller cannot fix."""

    status_code = 502
    code = "upstream_error"


class GatewayTimeout(GatewayError):
    """Raised when the provider did not answer in time."""

    status_code = 504
    code = "gateway_timeout"


def error_response(error: GatewayError) -> JSONResponse:
    headers = {GATEWAY_ERROR_HEADER: "1", **error.headers}
    return JSONResponse(error.body(), status_code=error.status_code, headers=headers)


def plain_error(status_code: int, code: str, message: str) -> JSONResponse:
    """Render an error the framework raised (unknown route, wrong method) in the gateway's shape."""
    error = GatewayError(message, code=code)
    error.status_code = status_code
    return error_response(error)


async def handle_gateway_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GatewayError)
    return error_response(exc)
