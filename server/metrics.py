"""Prometheus metrics at ``GET /metrics`` (the text exposition format), and the per-request record that
feeds them and the request log (:mod:`server.logs`).

What is measured:

* ``schoolgraph_requests_total{endpoint, operation, outcome}`` and
  ``schoolgraph_request_duration_seconds{endpoint, operation}``: every HTTP request. ``endpoint`` is the
  route (``school``, ``trust``, ``platform``, ``readyz``...: never a school's slug, which would make one
  series per school), ``operation`` the GraphQL operation's name (bounded: see :func:`operation_label`),
  ``outcome`` ``ok``, ``graphql_error`` (executed, with errors), ``client_error`` (4xx) or
  ``server_error`` (5xx).
* ``schoolgraph_db_pool_connections{state}``: the runtime engine's pool (``checked_out``, ``idle``,
  ``overflow``) and ``schoolgraph_db_pool_size``, read at each scrape.
* ``schoolgraph_job_last_run_timestamp_seconds{step, outcome}``: the jobs runner's last run of each step,
  read from the ``job_runs`` table at each scrape (the runner is a separate, short-lived process).
* ``schoolgraph_audit_sequencing_lag_seconds``: a gauge for the audit sequencer to set
  (:data:`AUDIT_SEQUENCING_LAG`, set by the audit sequencer at each sweep).
* ``schoolgraph_principals_total{outcome}``: signed-in callers' principals at the school endpoint since the
  process started (``auth/kept.py``), read at each scrape: ``kept`` (the one kept, confirmed by the
  database), ``changed`` (the one kept had changed: read again), ``read`` (none to offer: read). A low
  share of ``kept`` says a school's roster or documents are written often.

With several worker processes, set ``PROMETHEUS_MULTIPROC_DIR`` to an empty directory shared by them: the
scrape then adds up every worker's counters (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import hmac
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("schoolgraph.metrics")

REGISTRY = CollectorRegistry(auto_describe=True)
"""The process's metrics (not prometheus_client's global registry: nothing else registers here)."""

REQUESTS = Counter(
    "schoolgraph_requests",
    "HTTP requests by endpoint, GraphQL operation and outcome.",
    ["endpoint", "operation", "outcome"],
    registry=REGISTRY,
)
DURATION = Histogram(
    "schoolgraph_request_duration_seconds",
    "HTTP request latency by endpoint and GraphQL operation.",
    ["endpoint", "operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
    registry=REGISTRY,
)
AUDIT_SEQUENCING_LAG = Gauge(
    "schoolgraph_audit_sequencing_lag_seconds",
    "Age of the oldest audit entry not yet sequenced into its chain (set by the audit sequencer).",
    registry=REGISTRY,
    multiprocess_mode="max",
)

_OPERATION = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MAX_OPERATIONS = 500
"""Distinct operation names one process labels; later new names count as ``other`` (the names are the
clients', and each would otherwise be a new series)."""
_seen_operations: set[str] = set()


def operation_label(name: str | None) -> str:
    if not name:
        return "anonymous"
    if not _OPERATION.fullmatch(name):
        return "invalid"
    if name not in _seen_operations:
        if len(_seen_operations) >= MAX_OPERATIONS:
            return "other"
        _seen_operations.add(name)
    return name


_ENDPOINTS = {
    "/schools/{slug}/graphql": "school",
    "/trusts/{slug}/graphql": "trust",
    "/platform/graphql": "platform",
}


def endpoint_label(app: Any, scope: Scope) -> str:
    """The route's name for the metrics: never the slug of a school or trust."""
    for route in getattr(app, "routes", ()):
        match, _ = route.matches(scope)
        if match is Match.FULL:
            path = getattr(route, "path", "")
            return _ENDPOINTS.get(path, path.strip("/").replace("/", "_").replace(".", "") or "root")
    return "unmatched"


def outcome_label(status: int, graphql_errors: bool) -> str:
    if status >= 500:
        return "server_error"
    if status >= 400:
        return "client_error"
    return "graphql_error" if graphql_errors else "ok"


class PoolCollector(Collector):
    """The runtime engine's connection pool, read at each scrape."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[GaugeMetricFamily]:
        pool = self.runtime.engine.pool
        connections = GaugeMetricFamily(
            "schoolgraph_db_pool_connections", "Database connections of the runtime pool.", labels=["state"]
        )
        for state, reader in (("checked_out", "checkedout"), ("idle", "checkedin"), ("overflow", "overflow")):
            value = getattr(pool, reader, None)
            if callable(value):
                connections.add_metric([state], max(float(value()), 0.0))
        yield connections
        size = getattr(pool, "size", None)
        if callable(size):
            yield GaugeMetricFamily(
                "schoolgraph_db_pool_size", "Configured size of the runtime pool.", value=size()
            )


class PrincipalsCollector(Collector):
    """How each signed-in caller's principal was had (``auth.kept.KeptPrincipals``), read at each scrape:
    this process's, as the pool's figures are."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime

    def collect(self) -> Iterator[CounterMetricFamily]:
        kept = self.runtime.kept_principals
        family = CounterMetricFamily(
            "schoolgraph_principals",
            "Signed-in callers' principals: kept and confirmed, changed and read again, or read.",
            labels=["outcome"],
        )
        for outcome, count in kept.outcomes.items():
            family.add_metric([outcome], float(count))
        yield family


async def job_runs(runtime: Any) -> GaugeMetricFamily:
    """The last run of each job step by outcome, from the runner's own record (``job_runs``)."""
    from sqlalchemy import case, func, select

    from models.platform import JobRun

    outcome = case((JobRun.failed > 0, "failed"), else_="ok")
    stmt = (
        select(JobRun.step, outcome, func.extract("epoch", func.max(JobRun.finished_at)))
        .where(JobRun.finished_at.is_not(None))  # type: ignore[union-attr]
        .group_by(JobRun.step, outcome)
    )
    family = GaugeMetricFamily(
        "schoolgraph_job_last_run_timestamp_seconds",
        "When the jobs runner last finished each step, by outcome (unix time).",
        labels=["step", "outcome"],
    )
    async with runtime.engine.connect() as connection:
        for step, result, at in await connection.execute(stmt):
            family.add_metric([str(step), str(result)], float(at))
    return family


class _Fixed(Collector):
    def __init__(self, families: Iterable[Any]) -> None:
        self.families = list(families)

    def collect(self) -> Iterator[Any]:
        yield from self.families


def scrape_refusal(request: Request, settings: Any) -> Response | None:
    """Who may scrape: with ``SCHOOLGRAPH_METRICS_TOKEN`` set, a caller sending it as a bearer token; without
    one, anyone in development and no one in production. The metrics hold no personal data (no slug, no
    address), but the request rates of a school platform are the operator's business."""
    from server.caller import bearer_token

    if settings.metrics_token:
        presented = bearer_token(request) or ""
        if hmac.compare_digest(presented.encode(), settings.metrics_token.encode()):
            return None
        return JSONResponse(
            {"error": "Send the metrics token as Authorization: Bearer."},
            status_code=401,
            headers={"www-authenticate": "Bearer"},
        )
    if settings.production:
        return JSONResponse({"error": "Set SCHOOLGRAPH_METRICS_TOKEN to scrape /metrics in production."}, 403)
    return None


async def metrics(request: Request) -> Response:
    runtime = request.app.state.runtime
    refused = scrape_refusal(request, runtime.settings)
    if refused is not None:
        return refused
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    else:
        registry.register(_Fixed(REGISTRY.collect()))
    registry.register(PoolCollector(runtime))
    registry.register(PrincipalsCollector(runtime))
    try:
        registry.register(_Fixed([await job_runs(runtime)]))
    except Exception as error:  # the database being down must not hide the other metrics
        log.warning("job runs not read for /metrics: %s", type(error).__name__)
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


class RequestRecord:
    """What the edge learns about a request on its way (``scope["state"]["record"]``): the handlers fill
    in the operation, tenant and outcome; :class:`Observed` writes the metrics and the log line."""

    __slots__ = ("graphql_errors", "operation", "request_id", "tenant")

    def __init__(self) -> None:
        self.operation: str | None = None
        self.tenant: str | None = None
        self.request_id: str | None = None
        self.graphql_errors = False


def record_of(request: Request) -> RequestRecord | None:
    found = request.scope.get("state", {}).get("record")
    return found if isinstance(found, RequestRecord) else None


class Observed:
    """Outermost middleware: times every HTTP request, counts it, and logs one line for it."""

    def __init__(self, app: ASGIApp, *, router: Any, log_request: Any) -> None:
        self.app, self.router, self.log_request = app, router, log_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        endpoint = endpoint_label(self.router, scope)  # before routing: a Mount rewrites the scope's paths
        record = RequestRecord()
        scope.setdefault("state", {})["record"] = record
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            seconds = time.perf_counter() - started
            if endpoint != "metrics":
                operation = operation_label(record.operation)
                outcome = outcome_label(status, record.graphql_errors)
                REQUESTS.labels(endpoint, operation, outcome).inc()
                DURATION.labels(endpoint, operation).observe(seconds)
            self.log_request(scope, record, endpoint, status, seconds)
