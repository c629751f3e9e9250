"""The proxy's own failures, in the gateway's error tree (``gateway.exceptions``)::

    BadRequest             400 invalid_path          the path could leave the API base, or is badly encoded
    Forbidden              403 proxy_forbidden       no allow rule, or the user is outside the namespace
    Conflict               409 connection_disabled   the connection is paused (``enabled`` false)
    TooManyRequests        429 rate_limited          the client's rate limit is spent (Retry-After)
    UpstreamError          502 upstream_unreachable  the provider's API could not be reached, or broke off
    GatewayTimeout         504 upstream_timeout      the provider's API did not answer in time

All are rendered with ``Gateway-Error: 1``; an error the provider answers with is passed through as
it came, so a caller can always tell the two apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from gateway.exceptions import (
    BadRequest,
    Conflict,
    Forbidden,
    GatewayError,
    GatewayTimeout,
    TooManyRequests,
    UpstreamError,
)


class InvalidPath(BadRequest):
    """Raised when a proxied path could escape the API base or is not plainly encoded."""

    code = "invalid_path"


class ProxyForbidden(Forbidden):
    """Raised when the client's policy does not allow this call for this user."""

    code = "proxy_forbidden"


class ConnectionDisabled(Conflict):
    """Raised when the addressed connection is paused; its owner or an operator resumes it."""

    code = "connection_disabled"


class RateLimited(TooManyRequests):
    """Raised when the client has spent its rate limit on this replica."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(
            message,
            details={"retry_after_seconds": round(retry_after, 3)},
            headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
        )


class UpstreamFailure(GatewayError):
    """A failed exchange with the provider's API; ``before_sending`` says no byte of it left us,
    so that trying again cannot repeat the request's effect."""

    def __init__(
        self,
        message: str,
        *,
        before_sending: bool = False,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.before_sending = before_sending


class UpstreamUnreachable(UpstreamFailure, UpstreamError):
    """Raised when the provider's API cannot be reached (DNS, refused, reset) or broke off."""

    code = "upstream_unreachable"


class UpstreamTimeout(UpstreamFailure, GatewayTimeout):
    """Raised when the provider's API did not answer in time."""

    code = "upstream_timeout"
