"""OpenTelemetry: traces and metrics, exported over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set.

Only the standard OTEL_* variables configure it. Trace context travels in gRPC metadata and in
NATS message headers (W3C traceparent), so one trace follows a reading across services.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from opentelemetry import context, metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor


class Telemetry:
    """The process's tracer and meter providers; shut down flushes what is buffered."""

    def __init__(self, service: str) -> None:
        resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", service)})
        self.tracer_provider = TracerProvider(resource=resource)
        readers = []
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") and os.environ.get("OTEL_SDK_DISABLED") != "true":
            from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

            self.tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
            readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        self.meter_provider = MeterProvider(resource=resource, metric_readers=readers)
        trace.set_tracer_provider(self.tracer_provider)
        metrics.set_meter_provider(self.meter_provider)

    def shutdown(self) -> None:
        self.tracer_provider.shutdown()
        self.meter_provider.shutdown()


_telemetry: Telemetry | None = None


def setup_telemetry(service: str) -> Telemetry:
    """The process's Telemetry, made on first use (OpenTelemetry providers are process-wide)."""
    global _telemetry
    if _telemetry is None:
        _telemetry = Telemetry(service)
    return _telemetry


def inject(headers: dict[str, str]) -> dict[str, str]:
    """Add the current trace context to message headers (returns them)."""
    propagate.inject(headers)
    return headers


def extract(headers: Mapping[str, str] | Iterable[tuple[str, str]] | None) -> context.Context:
    """The trace context carried by message headers or gRPC metadata."""
    if headers is None:
        return context.get_current()
    carrier = dict(headers) if not isinstance(headers, Mapping) else headers
    return propagate.extract(carrier)
