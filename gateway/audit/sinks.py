"""Where the audit stream goes: JSON lines to a file or stdout, OpenTelemetry logs, or both.

A sink's ``write`` returns once its lines are durable as far as it can tell (a file flushed and
synced, stdout flushed, the log exporter flushed) and raises ``SinkFailed`` otherwise; the stream
advances its cursor only after ``write`` returned, so a line may be written twice after a crash,
never lost.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from typing import IO, Any, Protocol

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    LogRecordExporter,
    SimpleLogRecordProcessor,
)
from opentelemetry.sdk.resources import Resource

from gateway.exceptions import ServiceUnavailable

STDOUT = "stdout"
LOG_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
FLUSH_MILLIS = 10_000

Line = Mapping[str, Any]


class SinkFailed(ServiceUnavailable):
    """A sink could not take the audit stream's lines; they are sent again next round."""

    code = "audit_sink_failed"


class Sink(Protocol):
    def write(self, lines: Sequence[Line]) -> None: ...

    def close(self) -> None: ...


class JsonLines:
    """One JSON object a line, appended to a file (created mode 0600) or written to stdout."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._file: IO[str] | None = None

    def write(self, lines: Sequence[Line]) -> None:
        text = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
        try:
            if self.target == STDOUT:
                sys.stdout.write(text)
                sys.stdout.flush()
                return
            if self._file is None:
                descriptor = os.open(self.target, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                self._file = os.fdopen(descriptor, "a", encoding="utf-8")
            self._file.write(text)
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as exc:
            self.close()
            raise SinkFailed(f"cannot write the audit stream to {self.target}: {exc}") from exc

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class OtelLogs:
    """Each line as an OpenTelemetry log record (body: the line), exported over OTLP/HTTP as the
    standard ``OTEL_*`` variables say, or to ``exporter`` when one is given."""

    def __init__(self, service_name: str, exporter: LogRecordExporter | None = None) -> None:
        self._provider = LoggerProvider(resource=Resource.create({"service.name": service_name}))
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

            self._provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter()))
        else:
            self._provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
        self._logger = self._provider.get_logger("gateway.audit")

    def write(self, lines: Sequence[Line]) -> None:
        for line in lines:
            self._logger.emit(
                body=dict(line), attributes={"event.name": str(line.get("type", "audit"))}
            )
        if not self._provider.force_flush(FLUSH_MILLIS):
            raise SinkFailed("the OpenTelemetry log exporter did not take the audit stream")

    def close(self) -> None:
        self._provider.shutdown()


class Fanout:
    """Every line to each sink, in order; a failure of any means the round is written again."""

    def __init__(self, sinks: Sequence[Sink]) -> None:
        self.sinks = list(sinks)

    def write(self, lines: Sequence[Line]) -> None:
        for sink in self.sinks:
            sink.write(lines)

    def close(self) -> None:
        for sink in self.sinks:
            sink.close()


def configured_sink(
    target: str, service_name: str, environ: Mapping[str, str] | None = None
) -> Sink | None:
    """The sinks the settings ask for: ``target`` (``stdout`` or a file path; empty for none), and
    OpenTelemetry logs when an OTLP endpoint is set. None when there is nowhere to stream to."""
    env = os.environ if environ is None else environ
    sinks: list[Sink] = []
    if target:
        sinks.append(JsonLines(target))
    if any(env.get(name) for name in LOG_ENDPOINT_VARIABLES):
        sinks.append(OtelLogs(service_name))
    if not sinks:
        return None
    return sinks[0] if len(sinks) == 1 else Fanout(sinks)
