"""OpenTelemetry tracing, on only when an exporter is configured.

Set ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) and the standard
``OTEL_*`` variables configure an OTLP/HTTP exporter; without them no tracer provider is installed and
spans cost nothing. Spans carry route templates, methods and statuses, never query strings, headers or
bodies, so no token or authorization code can reach a trace.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

tracer = trace.get_tracer("gateway")
# Asking OpenTelemetry whether a provider is installed reads the environment each time, which a
# busy proxy notices: the answer is kept, and a "no" asked again at most this often (a provider,
# once installed, stays for the life of the process).
RECHECK_SECONDS = 1.0
_installed = False
_checked_at = -RECHECK_SECONDS


def exporter_configured(environ: Mapping[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return any(env.get(name) for name in ENDPOINT_VARIABLES)


def tracing_on() -> bool:
    """Whether any tracer provider is installed (ours or an auto-instrumentation's); until one is,
    every span is a no-op, and the request path skips making one (it cost about 5% of the
    proxy's CPU in ``make bench``). A provider installed later is seen within a second."""
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
