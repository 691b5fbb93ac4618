"""What an operator sees: Prometheus metrics at /metrics, one JSON log line per request (tracebacks inside
their line), and OpenTelemetry traces with the database statements under the request's span."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import structlog
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import auth.service
from server.app import create_app
from server.database import DatabaseUrls, create_engine
from server.logs import configure_logging
from server.runtime import Runtime, build_runtime
from server.tracing import instrument, tracing_configured
from tests.factories.citus import ON_CITUS
from tests.factories.schools import PASSWORD, SchoolFactory

NAMED = "query ClassList { viewer { username } }"


def _client(runtime: Runtime) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(runtime), client=(f"obs-{uuid.uuid4().hex[:12]}", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample of the exposition text (0 when absent)."""
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        metric, _, value = line.rpartition(" ")
        found = re.fullmatch(r"([a-z_]+)(?:\{(.*)\})?", metric)
        if found and found.group(1) == name:
            have = ",".join(sorted(p for p in (found.group(2) or "").split(",") if p))
            if have == wanted:
                return float(value)
    return 0.0


async def test_metrics_count_requests_by_endpoint_operation_and_outcome(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    school = await factory.school()
    url = f"/schools/{school.slug}/graphql"
    before = (await client.get("/metrics")).text
    for _ in range(3):
        assert (await client.post(url, json={"query": NAMED})).status_code == 200
    await client.post(url, json={"query": "query Broken { nope }"})  # a validation error: 400
    await client.post(url, json={"query": "query Denied { staff(first: 5) { edges { cursor } } }"})
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    after = response.text
    ok = {"endpoint": "school", "operation": "ClassList", "outcome": "ok"}
    assert (
        _sample(after, "schoolgraph_requests_total", **ok)
        - _sample(before, "schoolgraph_requests_total", **ok)
        == 3
    )
    for operation, outcome in (("Broken", "client_error"), ("Denied", "graphql_error")):
        labels = {"endpoint": "school", "operation": operation, "outcome": outcome}
        assert _sample(after, "schoolgraph_requests_total", **labels) >= 1, (operation, after)
    timed = {"endpoint": "school", "operation": "ClassList"}
    assert _sample(after, "schoolgraph_request_duration_seconds_count", **timed) >= 3
    assert _sample(after, "schoolgraph_request_duration_seconds_bucket", **timed, le="+Inf") >= 3
    assert _sample(after, "schoolgraph_db_pool_size") >= 1
    assert 'schoolgraph_db_pool_connections{state="checked_out"}' in after
    for family in ("schoolgraph_job_last_run_timestamp_seconds", "schoolgraph_audit_sequencing_lag_seconds"):
        assert f"# TYPE {family} gauge" in after
    assert school.slug not in after  # one series per route, never per school


async def test_metrics_need_the_token_in_production(runtime: Runtime) -> None:
    production = dataclasses.replace(runtime.settings, environment="production")
    async with _client(
        build_runtime(production, runtime.engine, runtime.auth.keys, clock=runtime.clock)
    ) as c:
        assert (await c.get("/metrics")).status_code == 403
    with_token = dataclasses.replace(production, metrics_token="scrape-me-please")
    async with _client(
        build_runtime(with_token, runtime.engine, runtime.auth.keys, clock=runtime.clock)
    ) as c:
        assert (await c.get("/metrics", headers={"authorization": "Bearer wrong"})).status_code == 401
        scraped = await c.get("/metrics", headers={"authorization": "Bearer scrape-me-please"})
        assert scraped.status_code == 200 and "schoolgraph_requests_total" in scraped.text


@pytest.fixture
def json_logs(runtime: Runtime) -> Iterator[io.StringIO]:
    """The process's logging as production configures it, into a buffer; put back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("uvicorn.access").disabled)
    stream = io.StringIO()
    configure_logging(dataclasses.replace(runtime.settings, environment="production"), stream=stream)
    yield stream
    root.handlers[:], level, disabled = saved
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = disabled
    structlog.reset_defaults()


async def test_one_json_line_per_request_and_tracebacks_inside_their_line(
    client: httpx.AsyncClient, factory: SchoolFactory, json_logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    school = await factory.school()
    url = f"/schools/{school.slug}/graphql"
    await client.post(url, json={"query": NAMED}, headers={"x-request-id": "req-log-1"})

    async def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("boom in the service")

    monkeypatch.setattr(auth.service, "login", explode)
    login = "mutation SignIn($u: String!, $p: String!) { login(input: {username: $u, password: $p}) { accessToken } }"
    await client.post(
        url,
        json={"query": login, "variables": {"u": "teacher1", "p": PASSWORD}},
        headers={"x-request-id": "req-log-2"},
    )
    lines = [json.loads(line) for line in json_logs.getvalue().splitlines()]  # every line is one JSON object
    requests = [line for line in lines if line.get("event") == "request"]
    first = next(line for line in requests if line["request_id"] == "req-log-1")
    assert first["tenant"] == school.slug and first["operation"] == "ClassList"
    assert first["status"] == 200 and first["endpoint"] == "school" and first["duration_ms"] >= 0
    assert first["level"] == "info" and first["logger"] == "schoolgraph.request"
    failed = next(line for line in lines if "req-log-2" in line.get("event", "") and line.get("exception"))
    assert failed["level"] == "error"
    assert any("boom in the service" in str(frame) for frame in json.dumps(failed["exception"]).split("\\n"))
    assert next(line for line in requests if line["request_id"] == "req-log-2")["operation"] == "SignIn"
    for line in requests:
        assert PASSWORD not in json.dumps(line) and "client" not in line


LOGIN = (
    "mutation($u: String!, $p: String!) { login(input: {username: $u, password: $p}) "
    "{ accessToken errors { code } } }"
)


async def test_traces_have_the_database_statements_under_the_request_span(
    runtime: Runtime, database_urls: DatabaseUrls, factory: SchoolFactory
) -> None:
    """Each request's statements are spans under its server span, the request path's own among them (the
    school-and-caller call and the audit entries' insert, sent through asyncpg when nothing observes the
    engine: common.driver, common.commit), and a request that records audit entries (a sign-in) is served
    while tracing observes them."""
    school = await factory.school()
    engine = create_engine(database_urls.runtime, runtime.settings, pool_size=1)
    try:
        traced = build_runtime(runtime.settings, engine, runtime.auth.keys, clock=runtime.clock)
        app = create_app(traced)
        exporter = InMemorySpanExporter()
        provider = instrument(app, engine, exporter=exporter)
        transport = httpx.ASGITransport(app=app, client=("192.0.2.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            response = await client.post(f"/schools/{school.slug}/graphql", json={"query": NAMED})
            assert response.status_code == 200
            provider.force_flush()
            spans = exporter.get_finished_spans()
            exporter.clear()
            signed_in = await client.post(
                f"/schools/{school.slug}/graphql",
                json={"query": LOGIN, "variables": {"u": "admin", "p": PASSWORD}},
            )
        provider.force_flush()
        login_spans = exporter.get_finished_spans()
        provider.shutdown()
    finally:
        await engine.dispose()
    [server] = [s for s in spans if s.kind is SpanKind.SERVER]
    assert (
        server.attributes is not None
        and server.attributes.get("http.request.method", server.attributes.get("http.method")) == "POST"
    )
    statements = [s for s in spans if (s.attributes or {}).get("db.system") == "postgresql"]
    assert statements, [s.name for s in spans]
    assert all(s.context.trace_id == server.context.trace_id for s in statements)

    assert signed_in.status_code == 200, signed_in.text
    payload = signed_in.json()["data"]["login"]
    assert payload["errors"] == [] and payload["accessToken"]
    texts = [
        str((s.attributes or {}).get("db.statement", ""))
        for s in login_spans
        if (s.attributes or {}).get("db.system") == "postgresql"
    ]
    # On Citus the school and the caller are two statements and the audit entries a plain INSERT (ADR 19).
    school_call, audit_insert = (
        ("FROM schools", "INSERT INTO audit_log")
        if ON_CITUS
        else (
            "app_enter_school",
            "app_audit_append",
        )
    )
    assert any(school_call in text for text in texts), texts
    assert any(audit_insert in text for text in texts), texts


def test_tracing_is_off_unless_the_standard_variables_configure_it() -> None:
    assert not tracing_configured({})
    assert tracing_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing_configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"})
    assert tracing_configured({"OTEL_TRACES_EXPORTER": "console"})
    assert not tracing_configured(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}
    )
    assert not tracing_configured(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}
    )
