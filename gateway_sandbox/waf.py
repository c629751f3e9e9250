"""Contio's request limits, off unless the ``enforce_rate_limits`` fault is on.

Contio's WAF counts requests per client IP over a rolling 5-minute window: 1 000 for the user API,
500 for the admin API, 100 for ``/oauth2/*`` and ``/auth/*``. Over the limit the answer is 429 with
the WAF's own body, ``{"error": "rate_limit_exceeded", "error_description": ...}``.

Choices where Contio says nothing: ``Retry-After`` is sent (whole seconds until the oldest counted
request leaves the window); refused requests do not count; no ``X-RateLimit-*`` headers, as none are
documented. The sandbox's other routes (discovery, ``/_sandbox/``) are never limited.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway_sandbox.faults import FaultSwitch
from gateway_sandbox.stats import Counters

WINDOW = 300.0


@dataclass(frozen=True)
class RateLimits:
    """Requests allowed per client IP in each rolling ``window`` (seconds)."""

    user_api: int = 1000
    admin_api: int = 500
    auth: int = 100
    window: float = WINDOW

    def __post_init__(self) -> None:
        if min(self.user_api, self.admin_api, self.auth) < 1 or self.window <= 0:
            raise ValueError("rate limits and their window must be positive")

    def bucket(self, path: str) -> tuple[str, int] | None:
        """The limit a path counts against, by name, or ``None`` if it has none."""
        if path.startswith("/v1/partner/user/"):
            return "user_api", self.user_api
        if path.startswith("/v1/partner/admin/"):
            return "admin_api", self.admin_api
        if path.startswith(("/oauth", "/auth/")):
            return "auth", self.auth
        return None


class RateLimiter:
    def __init__(self, limits: RateLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], deque[float]] = {}

    def admit(self, path: str, client: str) -> float | None:
        """``None`` if the request may go ahead (it is counted), else seconds to wait."""
        bucket = self.limits.bucket(path)
        if bucket is None:
            return None
        name, limit = bucket
        now = self._clock()
        with self._lock:
            seen = self._seen.setdefault((name, client), deque())
            while seen and seen[0] <= now - self.limits.window:
                seen.popleft()
            if len(seen) >= limit:
                return seen[0] + self.limits.window - now
            seen.append(now)
            return None

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()


class RateLimitMiddleware:
    def __init__(
        self, app: ASGIApp, limiter: RateLimiter, faults: FaultSwitch, counters: Counters
    ) -> None:
        self.app = app
        self.limiter = limiter
        self.faults = faults
        self.counters = counters

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.faults.current().enforce_rate_limits:
            client = scope.get("client") or ("unknown", 0)
            wait = self.limiter.admit(scope["path"], client[0])
            if wait is not None:
                self.counters.add("rate_limited")
                body = {"error": "rate_limit_exceeded", "error_description": "Too many requests."}
                headers = {"Retry-After": str(max(1, math.ceil(wait)))}
                await JSONResponse(body, 429, headers=headers)(scope, receive, send)
                return
        await self.app(scope, receive, send)
