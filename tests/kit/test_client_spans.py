"""Client spans while tracing is on: the providers' HTTP calls (their ``traceparent`` reaching the
provider) and the database's statements, with no URL query, statement text or parameter."""

from __future__ import annotations

import uuid

import httpx
from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from sqlalchemy import text
from sqlalchemy.engine import URL

from gateway.kit.db import Database
from tests.e2e.flows import connect
from tests.fixtures.stack import Stack
from tests.test_observe import exported
from tests.test_observe import spans as spans  # the session's exporter: the first one set wins


async def test_a_provider_call_gets_a_client_span_and_sends_its_traceparent(
    http: httpx.AsyncClient, service_key: str, stack: Stack, spans: InMemorySpanExporter
) -> None:
    spans.clear()
    stack.sandbox_store.counters.reset()
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
