"""Every request, observed: a Prometheus counter and latency histogram by route template, method and
status, and an OpenTelemetry server span (continuing the caller's ``traceparent``) when tracing is on.

Labels and span names use the route *template* (``/proxy/users/{user_id}/{path:path}``), never the
path, so neither a user id nor anything in a query string becomes a label or an attribute.
"""

from __future__ import annotations

import time

from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.kit.tracing import tracer, tracing_on
from gateway.metrics.registry import Metrics

UNMATCHED = "unmatched"


def _route(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED


class Observe:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        recorded = False
        started = time.perf_counter()

        def record() -> None:
            nonlocal recorded
            if not recorded:
                recorded = True
                self.metrics.requests.observe(
                    _route(scope), scope["method"], status, time.perf_counter() - started
                )

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                record()  # before the last byte leaves, so a caller never sees it uncounted
            await send(message)

        if not tracing_on():
            try:
                await self.app(scope, receive, observed_send)
            finally:
                record()
            return
        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        with tracer.start_as_current_span(
            "HTTP " + scope["method"], context=propagate.extract(carrier), kind=SpanKind.SERVER
        ) as span:
            try:
                await self.app(scope, receive, observed_send)
            finally:
                record()
                if span.is_recording():
                    route = _route(scope)
                    span.update_name(f"{scope['method']} {route}")
                    span.set_attribute("http.request.method", scope["method"])
                    span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                    request_id = scope.get("state", {}).get("request_id")
                    if request_id:
                        span.set_attribute("gateway.request_id", request_id)
