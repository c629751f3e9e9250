"""OpenTelemetry tracing, on only when an exporter is configured.

Set ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) and the standard
``OTEL_*`` variables configure an OTLP/HTTP exporter; without them no tracer provider is installed and
spans cost nothing. Spans carry route templates, methods and statuses, never query strings, headers or
bodies, so no token or authorization code can reach a trace.

``Tracing`` is the middleware: an OpenTelemetry server span per request (continuing the caller's
``traceparent``) while tracing is on, named by the route *template*
(``/proxy/users/{user_id}/{path:path}``), never the path. ``TracedTransport`` and
``trace_database`` make client spans for the providers' HTTP calls (sending ``traceparent``) and the
database's statements, while tracing is on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import httpx
from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import SpanKind, Status, StatusCode
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext
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


class TracedTransport(httpx.AsyncBaseTransport):
    """An httpx transport making a client span per request while tracing is on, its
    ``traceparent`` sent along; passes requests straight through otherwise. Spans record the
    method, host, port, path and status, never the query, headers or bodies."""

    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if not tracing_on():
            return await self.inner.handle_async_request(request)
        url = request.url
        with tracer.start_as_current_span(
            f"{request.method} {url.host}", kind=SpanKind.CLIENT
        ) as span:
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            request.headers.update(carrier)
            span.set_attribute("http.request.method", request.method)
            span.set_attribute("server.address", url.host)
            if url.port is not None:
                span.set_attribute("server.port", url.port)
            span.set_attribute("url.path", url.path)
            response = await self.inner.handle_async_request(request)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return response

    async def aclose(self) -> None:
        await self.inner.aclose()


@contextmanager
def traced_statement(database: str | None, statement: str) -> Iterator[None]:
    """A client span around a statement sent by the driver itself (``Database.quick_fetch``),
    named and marked as ``trace_database`` names the engine's; nothing while tracing is off."""
    if not tracing_on():
        yield
        return
    operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
    name = database or "postgres"
    with tracer.start_as_current_span(f"{operation} {name}", kind=SpanKind.CLIENT) as span:
        span.set_attribute("db.system.name", "postgresql")
        span.set_attribute("db.namespace", name)
        span.set_attribute("db.operation.name", operation)
        yield


def trace_database(engine: Engine) -> None:
    """A client span per statement on ``engine``, named by its first keyword (``SELECT``) and
    the database; never the statement's text or parameters. Installed only while tracing is on,
    so an untraced process runs no listener."""
    if not tracing_on():
        return
    database = engine.url.database or "postgres"

    def before(
        _conn: Connection, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool
    ) -> None:
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        span = tracer.start_span(f"{operation} {database}", kind=SpanKind.CLIENT)
        span.set_attribute("db.system.name", "postgresql")
        span.set_attribute("db.namespace", database)
        span.set_attribute("db.operation.name", operation)
        context._gateway_span = span

    def after(*args: Any) -> None:
        span = getattr(args[4], "_gateway_span", None)
        if span is not None:
            span.end()

    def failed(exception_context: ExceptionContext) -> None:
        span = getattr(exception_context.execution_context, "_gateway_span", None)
        if span is not None:
            span.set_status(Status(StatusCode.ERROR))
            span.end()

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    event.listen(engine, "handle_error", failed)
