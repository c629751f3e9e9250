"""Every request observed: metrics by route template and OpenTelemetry spans (server spans, and
client spans for provider calls and database statements), never a secret."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text
from sqlalchemy.engine import URL

from gateway.kit.db import Database
from gateway.kit.tracing import configure_tracing, exporter_configured
from tests.e2e.flows import connect, proxy_get
from tests.fixtures.stack import Stack
from tests.test_metrics import value


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    exporter = InMemorySpanExporter()
    # The first provider set wins for the whole process; later tests keep recording into it.
    assert configure_tracing("gateway-test", exporter=exporter)
    return exporter


async def exported(spans: InMemorySpanExporter, names: set[str]) -> tuple[ReadableSpan, ...]:
    """The finished spans once every one of ``names`` is among them (or after 10 s): a server
    span ends just after its response is sent."""
    deadline = time.monotonic() + 10
    while True:
        trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
        finished = spans.get_finished_spans()
        if names <= {span.name for span in finished} or time.monotonic() > deadline:
            return finished
        await asyncio.sleep(0.01)


def test_tracing_is_off_without_an_exporter() -> None:
    assert not exporter_configured({})
    assert exporter_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert not configure_tracing("gateway", environ={})


async def test_requests_are_counted_by_route_template_not_by_path(
    http: httpx.AsyncClient, service_key: str
) -> None:
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    await proxy_get(http, service_key, user_id, "/meetings")  # 404: not connected
    text = (await http.get("/metrics")).text
    route = "/proxy/users/{user_id}/{path:path}"
    assert (
        value(text, "gateway_http_requests_total", route=route, method="GET", status="404") or 0
    ) >= 1
    assert user_id not in text


async def test_a_traced_request_continues_the_callers_trace_and_keeps_secrets_out(
    http: httpx.AsyncClient, service_key: str, spans: InMemorySpanExporter
) -> None:
    spans.clear()
    caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    response = await connect(http, service_key, user_id)
    assert response.status_code == 200
    traced = await http.get(
        "/healthz", headers={"traceparent": f"00-{caller_trace}-00f067aa0ba902b7-01"}
    )
    assert traced.status_code == 200
    wanted = {"GET /oauth/callback", "GET /connect", "GET /healthz"}
    finished = await exported(spans, wanted)
    by_name = {span.name: span for span in finished}
    assert wanted <= set(by_name)
    health = by_name["GET /healthz"]
    assert format(health.context.trace_id, "032x") == caller_trace
    assert health.attributes is not None and health.attributes["http.response.status_code"] == 200
    recorded = repr([(s.name, dict(s.attributes or {})) for s in finished])
    assert "code=" not in recorded and "token=" not in recorded and "state=" not in recorded
    assert user_id not in recorded


async def test_a_proxied_call_is_traced_when_tracing_is_on(
    http: httpx.AsyncClient, service_key: str, spans: InMemorySpanExporter
) -> None:
    """With a tracer installed, the proxy's front door steps aside for the traced route."""
    spans.clear()
    caller_trace = "0af7651916cd43dd8448eb211c80319c"
    user_id = f"user-{uuid.uuid4().hex[:8]}"
    response = await http.get(
        f"/proxy/users/{user_id}/meetings?token=s3cret",
        headers={
            "Authorization": f"Bearer {service_key}",
            "traceparent": f"00-{caller_trace}-b7ad6b7169203331-01",
        },
    )
    assert response.status_code == 404  # not connected: still a traced call
    wanted = "GET /proxy/users/{user_id}/{path:path}"
    found = [span for span in await exported(spans, {wanted}) if span.name == wanted]
    [span] = found
    assert format(span.context.trace_id, "032x") == caller_trace
    recorded = repr(dict(span.attributes or {}))
    assert user_id not in recorded and "s3cret" not in recorded


async def test_a_provider_call_gets_a_client_span_and_sends_its_traceparent(
    http: httpx.AsyncClient, service_key: str, stack: Stack, spans: InMemorySpanExporter
) -> None:
    spans.clear()
    user_id = f"user-{uuid.uuid4().hex[:8]}"

    assert (await connect(http, service_key, user_id)).status_code == 200

    finished = await exported(spans, {"GET /oauth/callback"})
    calls = [
        span
        for span in finished
        if span.kind == SpanKind.CLIENT
        and (span.attributes or {}).get("url.path") == "/oauth2/token"
    ]
    assert calls, [span.name for span in finished]
    call = calls[0]
    assert call.attributes is not None and call.attributes["http.response.status_code"] == 200
    seen = stack.sandbox_store.counters.traceparents()
    trace_id, span_id = format(call.context.trace_id, "032x"), format(call.context.span_id, "016x")
    assert any(header.startswith(f"00-{trace_id}-{span_id}-") for header in seen), seen
    # Part of the callback's trace, and nothing of the request's secrets recorded.
    [callback] = [span for span in finished if span.name == "GET /oauth/callback"]
    assert call.context.trace_id == callback.context.trace_id
    recorded = repr([dict(span.attributes or {}) for span in calls])
    assert "code=" not in recorded and "secret" not in recorded


async def test_database_statements_get_client_spans_under_the_current_one(
    database_url: URL, spans: InMemorySpanExporter
) -> None:
    database = Database(database_url, pool_size=1)  # made while tracing is on
    spans.clear()
    try:
        with trace.get_tracer("test").start_as_current_span("parent") as parent:
            async with database.transaction() as session:
                await session.execute(text("SELECT :secret_value"), {"secret_value": "s3cret"})
    finally:
        await database.dispose()

    trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
    statements = [
        span
        for span in spans.get_finished_spans()
        if span.kind == SpanKind.CLIENT and span.name == f"SELECT {database_url.database}"
    ]
    assert statements
    statement = statements[-1]
    assert statement.parent is not None
    assert statement.parent.span_id == parent.get_span_context().span_id
    assert statement.attributes is not None
    assert statement.attributes["db.system.name"] == "postgresql"
    assert "s3cret" not in repr(dict(statement.attributes))


async def test_quick_reads_get_client_spans_under_the_current_one(
    database_url: URL, spans: InMemorySpanExporter
) -> None:
    # The proxy's cache misses read through the driver alone (``Database.quick_fetch``), and are
    # traced as the engine's statements are.
    database = Database(database_url, pool_size=1)
    spans.clear()
    try:
        with trace.get_tracer("test").start_as_current_span("parent") as parent:
            await database.quick_fetch("SELECT $1::text", "s3cret")
    finally:
        await database.dispose()

    trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]
    [statement] = [
        span
        for span in spans.get_finished_spans()
        if span.kind == SpanKind.CLIENT and span.name == f"SELECT {database_url.database}"
    ]
    assert statement.parent is not None
    assert statement.parent.span_id == parent.get_span_context().span_id
    assert statement.attributes is not None
    assert statement.attributes["db.operation.name"] == "SELECT"
    assert "s3cret" not in repr(dict(statement.attributes))
