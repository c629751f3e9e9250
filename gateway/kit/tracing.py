"""OpenTelemetry tracing, on only when an exporter is configured.

Set ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) and the standard
``OTEL_*`` variables configure an OTLP/HTTP exporter; without them no tracer provider is installed and
spans cost nothing. Spans carry route templates, methods and statuses, never query strings, headers or
bodies, so no token or authorization code can reach a trace.

``Tracing`` is the middleware: an OpenTelemetry server span per request (continuing the caller's
``traceparent``) while tracing is on, named by the route *template*
(``/proxy/users/{user_id}/{path:path}``), never the path.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.kit.middleware import route_of

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

tracer = trace.get_tracer("gateway")
# Asking OpenTelemetry whether a provider is installed reads the environment each time: the answer
# is kept, and a "no" asked again at most this often (a provider, once installed, stays for the
# life of the process).
RECHECK_SECONDS = 1.0
_installed = False
_checked_at = -RECHECK_SECONDS


def exporter_configured(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return any(env.get(name) for name in ENDPOINT_VARIABLES)


def tracing_on(_scope: Scope | None = None) -> bool:
    """Whether any tracer provider is installed (ours or an auto-instrumentation's); until one is,
    every span is a no-op, and the request path skips making one. A provider installed later is
    seen within a second. (It takes a scope it ignores so that it is also the proxy's front door's
    reason to step aside: traced requests take the ordinary way.)"""
    global _installed, _checked_at
    if _installed:
        return True
    now = time.monotonic()
    if now - _checked_at >= RECHECK_SECONDS:
        _checked_at = now
        _installed = not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)
    return _installed


def configure_tracing(
    service_name: str,
    environ: Mapping[str, str] | None = None,
    exporter: SpanExporter | None = None,
) -> bool:
    """Install a tracer provider when an exporter is configured (or given); whether it did."""
    if exporter is None:
        if not exporter_configured(environ):
            return False
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    global _checked_at
    _checked_at = -RECHECK_SECONDS  # seen at once by the next request
    return True


class Tracing:
    """A server span per HTTP request while tracing is on; nothing otherwise."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not tracing_on():
            await self.app(scope, receive, send)
            return
        status = 500

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        with tracer.start_as_current_span(
            "HTTP " + scope["method"], context=propagate.extract(carrier), kind=SpanKind.SERVER
        ) as span:
            try:
                await self.app(scope, receive, observed_send)
            finally:
                if span.is_recording():
                    route = route_of(scope)
                    span.update_name(f"{scope['method']} {route}")
                    span.set_attribute("http.request.method", scope["method"])
                    span.set_attribute("http.route", route)
                    span.set_attribute("http.response.status_code", status)
                    if status >= 500:
                        span.set_status(Status(StatusCode.ERROR))
                    request_id = scope.get("state", {}).get("request_id")
                    if request_id:
                        span.set_attribute("gateway.request_id", request_id)
