"""Structured logs (structlog): one JSON object per line on stdout in production, readable lines in
development.

* One line per HTTP request (logger ``schoolgraph.request``): ``request_id``, ``tenant`` (the school's or
  trust's slug, or ``platform``), ``endpoint``, ``operation``, ``method``, ``status``, ``duration_ms``.
  No client address, token or variable: the log is not a second copy of personal data.
* Every other log record of the process (the standard library's ``logging``: uvicorn, SQLAlchemy, ours)
  goes through the same renderer, so an exception's traceback is a field (``exception``) of its one JSON
  line, never a run of lines on stdout that a log shipper would split.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import orjson
import structlog
from starlette.types import Scope

from common.settings import Settings

request_log = structlog.get_logger("schoolgraph.request")
_REQUEST_LOGGER = "schoolgraph.request"


def log_format(settings: Settings) -> str:
    return settings.log_format or ("json" if settings.production else "console")


def configure_logging(settings: Settings, *, stream: Any = None) -> None:
    """Route structlog and the standard library's logging through one renderer on ``stream`` (stdout)."""
    global _direct
    _direct = None
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any
    if log_format(settings) == "json":
        renderer = structlog.processors.JSONRenderer(serializer=_json_line)
        shared.append(structlog.processors.dict_tracebacks)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = []
        logger.propagate = True
    # The request line below replaces uvicorn's access log (which has the client's address).
    logging.getLogger("uvicorn.access").disabled = True
    if log_format(settings) == "json":
        _direct = _DirectLine(handler, shared, renderer)


class _DirectLine:
    """The request's JSON line written straight to the handler ``configure_logging`` installed: the same
    processors (context variables, level, logger name, timestamp) and the same renderer make the same line,
    on the same stream, under the handler's lock, without the standard library's record, its logger
    hierarchy walk and ProcessorFormatter's copies (about a twentieth of a small request's CPU). It is used
    only while that handler is still the root logger's only one and the request logger would pass an INFO
    record to it (not disabled, no level above INFO, no handler or filter of its own, propagating);
    otherwise, as when anything fails, the line goes through ``logging`` as before."""

    def __init__(self, handler: logging.StreamHandler[Any], processors: list[Any], renderer: Any) -> None:
        self.handler, self.processors, self.renderer = handler, processors, renderer
        self.logger = logging.getLogger(_REQUEST_LOGGER)

    def applies(self) -> bool:
        root, logger, handler = logging.root, self.logger, self.handler
        return (
            len(root.handlers) == 1
            and root.handlers[0] is handler
            and not handler.filters
            and handler.level <= logging.INFO
            and not logger.handlers
            and not logger.filters
            and logger.propagate
            and logger.isEnabledFor(logging.INFO)
        )

    def write(self, fields: dict[str, Any]) -> bool:
        """Write the line of ``fields`` (the request's); False when it was not written (see the class)."""
        if not self.applies():
            return False
        event: dict[str, Any] = {**fields, "event": "request"}
        try:
            for processor in self.processors:
                event = processor(self.logger, "info", event)
            line = self.renderer(self.logger, "info", event)
        except Exception:  # the ordinary path reports it as it always did
            return False
        handler = self.handler
        handler.acquire()
        try:
            handler.stream.write(line + handler.terminator)
            handler.flush()
        except RecursionError:  # as StreamHandler.emit
            raise
        except Exception:  # a stream that fails is reported as logging reports it, never raised
            handler.handleError(logging.makeLogRecord({"name": _REQUEST_LOGGER, "msg": line}))
        finally:
            handler.release()
        return True


_direct: _DirectLine | None = None


def _json_line(event: Any, **options: Any) -> str:
    """A log line's JSON by orjson (one per request: the standard encoder cost a visible share of a
    small request); what orjson cannot encode is written by ``options["default"]`` as before."""
    return orjson.dumps(event, default=options.get("default")).decode()


def log_request(scope: Scope, record: Any, endpoint: str, status: int, seconds: float) -> None:
    """The request's one line (:class:`server.metrics.Observed` calls it when the response is sent)."""
    if endpoint in ("livez", "readyz", "healthz", "metrics") and status < 400:
        return  # probes and scrapes every few seconds: counted in the metrics, not logged
    fields = {
        "request_id": record.request_id,
        "tenant": record.tenant,
        "endpoint": endpoint,
        "operation": record.operation,
        "method": scope.get("method"),
        "status": status,
        "duration_ms": round(seconds * 1000, 1),
    }
    direct = _direct
    if direct is None or not direct.write(fields):
        request_log.info("request", **fields)
