"""OpenTelemetry traces: a server span per HTTP request (ASGI) with the database statements beneath it
(SQLAlchemy), exported over OTLP. Off unless configured, by the standard variables only:

* ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` (and ``..._HEADERS``,
  ``..._PROTOCOL`` http/protobuf...) turn it on; ``OTEL_TRACES_EXPORTER=console`` writes spans to stdout
  instead; ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none`` keep it off.
* ``OTEL_SERVICE_NAME`` (default ``schoolgraph``), ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER`` and
  ``OTEL_TRACES_SAMPLER_ARG`` as the SDK reads them.

Statements are traced without their parameters (SQLAlchemy's instrumentation records the statement text
with placeholders), so no pupil's data reaches the trace store. GET queries (off in production) would put
a document's variables in the URL of the server span.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine


def tracing_configured(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").lower()
    if exporter == "none":
        return False
    return exporter == "console" or bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def instrument(app: Any, engine: AsyncEngine, *, exporter: Any = None) -> Any:
    """Trace ``app``'s requests and ``engine``'s statements; ``exporter`` defaults to the environment's
    (OTLP over HTTP, or the console). Returns the tracer provider (flush it at shutdown)."""
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SimpleSpanProcessor

    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME") or "schoolgraph"})
    provider = TracerProvider(resource=resource)
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    elif os.environ.get("OTEL_TRACES_EXPORTER", "").lower() == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    # The instrumentation declares SQLAlchemy < 2.1; its event hooks are what 2.1 still has (the test
    # of tracing checks the statements arrive), so its version check is skipped.
    SQLAlchemyInstrumentor().instrument(
        engine=engine.sync_engine, tracer_provider=provider, skip_dep_check=True
    )
    app.add_middleware(OpenTelemetryMiddleware, tracer_provider=provider, exclude_spans=["receive", "send"])
    return provider
