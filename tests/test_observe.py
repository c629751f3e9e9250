"""Every request observed: metrics by route template and OpenTelemetry spans, never a secret."""

from __future__ import annotations

import asyncio
import time
import uuid

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from gateway.kit.tracing import configure_tracing, exporter_configured
from tests.e2e.flows import connect, proxy_get
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
