"""OpenTelemetry tracing, on only when an exporter is configured.

Set ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) and the standard
``OTEL_*`` variables configure an OTLP/HTTP exporter; without them no tracer provider is installed and
spans cost nothing. Spans carry route templates, methods and statuses, never query strings, headers or
bodies, so no token or authorization code can reach a trace.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

tracer = trace.get_tracer("gateway")


def exporter_configured(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return any(env.get(name) for name in ENDPOINT_VARIABLES)


def tracing_on() -> bool:
    """Whether any tracer provider is installed (ours or an auto-instrumentation's); until one is,
    every span is a no-op, and the request path skips making one (it cost about 5% of the
    proxy's CPU in ``make bench``)."""
    return not isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider)


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
    return True
