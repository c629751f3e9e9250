"""The proxy's front door: ``/proxy/users/...`` answered ahead of Starlette's middleware stack.

Every other route passes through ``RequestContext``, ``Observe``, the public-listener check, the
router and Starlette's exception handling. The proxy carries most of the traffic, so its requests
get the same service here, done once: the request id (accepted or made, returned), the metrics,
one access-log line, 503 when the database is unavailable and 500 for a bug. That halves what the
gateway spends per proxied call (``make bench``; the README has the figures).

It steps aside, and the request takes the ordinary way through ``ProxyRoute``, whenever the
ordinary way would answer differently: with tracing on (spans come from ``Observe``), on the
public listener (where the proxy is a 404), for a method the proxy does not serve (405) and when
the app is mounted below a root path.
"""

from __future__ import annotations

import logging
import time

from starlette.types import Message, Receive, Scope, Send

from gateway.failures import DATABASE_UNAVAILABLE, database_unavailable, unexpected
from gateway.kit import logs
from gateway.kit.access import log_access
from gateway.kit.middleware import REQUEST_ID_HEADER, accepted_request_id
from gateway.kit.tracing import tracing_on
from gateway.listeners import on_public_listener
from gateway.metrics import Metrics
from gateway.proxy.endpoints import serve
from gateway.proxy.headers import CallerHeaders
from gateway.proxy.paths import PREFIX
from gateway.proxy.route import METHODS, TEMPLATE

log = logging.getLogger(__name__)


class ProxyFront:
    def __init__(self, metrics: Metrics, public_port: int | None) -> None:
        self._requests = metrics.requests
        self._public_port = public_port

    def takes(self, scope: Scope) -> bool:
        """Whether this request is the front door's (else it goes the ordinary way)."""
        if scope["type"] != "http" or not scope["path"].startswith(PREFIX):
            return False
        if scope["method"] not in METHODS or scope.get("root_path") or tracing_on():
            return False
        return not on_public_listener(scope, self._public_port)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        caller = CallerHeaders.read(scope["headers"])
        request_id = accepted_request_id(caller.request_id)
        encoded_id = request_id.encode("ascii")
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        status = 0
        done = False

        def finish() -> None:
            nonlocal done
            if not done:
                done = True
                answered = status or 500
                elapsed = time.perf_counter() - started
                self._requests.observe(TEMPLATE, scope["method"], answered, elapsed)
                log_access(
                    request_id,
                    scope["method"],
                    scope["path"],
                    scope["query_string"],
                    answered,
                    elapsed,
                )

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER, encoded_id)]
            elif not message.get("more_body"):
                finish()  # before the last byte leaves, so a caller never sees it uncounted
            await send(message)

        bound = logs.request_id.set(request_id)
        try:
            await serve(state["resources"], scope, receive, send_with_id, caller, request_id)
        except DATABASE_UNAVAILABLE as exc:
            if status:
                raise
            log.error(
                "database unavailable on %s %s: %s", scope["method"], PREFIX, type(exc).__name__
            )
            await database_unavailable()(scope, receive, send_with_id)
        except Exception:
            if status:
                raise
            log.exception("unhandled error on %s %s...", scope["method"], PREFIX)
            await unexpected()(scope, receive, send_with_id)
        finally:
            finish()
            logs.request_id.reset(bound)
