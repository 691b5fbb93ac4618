"""server.logs writes the request's JSON line straight to the handler configure_logging installed: the
same line (keys, order, values) the standard library's logging writes, on the same stream; and whenever
that handler is not the only place the line would go (another handler, a filter, a level above INFO, the
logger disabled), the line goes through logging as before."""

from __future__ import annotations

import dataclasses
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

import server.logs
from common.settings import load_settings
from server.logs import configure_logging, log_request


@dataclasses.dataclass
class Record:
    request_id: str = "req-1"
    tenant: str = "oakfield-primary"
    operation: str | None = "ClassList"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    """Production's logging into a buffer, configured when the test first logs (pytest's own capturing
    handlers are on the root logger during the test, and production has none: configuring replaces them),
    and put back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, logging.getLogger("uvicorn.access").disabled)
    logger = logging.getLogger("schoolgraph.request")
    buffer = io.StringIO()
    yield buffer
    root.handlers[:], level, disabled = saved
    root.setLevel(level)
    logging.getLogger("uvicorn.access").disabled = disabled
    logger.disabled, logger.filters[:] = False, []
    logger.setLevel(logging.NOTSET)
    structlog.reset_defaults()
    server.logs._direct = None


def _lines(buffer: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def _configure(buffer: io.StringIO) -> None:
    configure_logging(dataclasses.replace(load_settings(), environment="production"), stream=buffer)


def _log(status: int = 200) -> None:
    log_request({"method": "POST"}, Record(), "school", status, 0.01234)


def test_the_direct_line_is_the_line_logging_writes(stream: io.StringIO) -> None:
    _configure(stream)
    direct = server.logs._direct
    assert direct is not None and direct.applies()
    _log()
    server.logs._direct = None  # the ordinary path: structlog, the standard library's logging, its handler
    _log()
    server.logs._direct = direct
    written, logged = _lines(stream)
    assert written.pop("timestamp").endswith("Z") and logged.pop("timestamp").endswith("Z")
    assert list(written.items()) == list(logged.items())
    assert written == {
        "request_id": "req-1",
        "tenant": "oakfield-primary",
        "endpoint": "school",
        "operation": "ClassList",
        "method": "POST",
        "status": 200,
        "duration_ms": 12.3,
        "event": "request",
        "level": "info",
        "logger": "schoolgraph.request",
    }


def test_another_handler_a_filter_or_a_level_sends_the_line_through_logging(stream: io.StringIO) -> None:
    _configure(stream)
    direct = server.logs._direct
    assert direct is not None
    other = io.StringIO()
    extra = logging.StreamHandler(other)
    logging.getLogger().addHandler(extra)
    assert not direct.write({"request_id": "x"})
    _log()
    assert [line["request_id"] for line in _lines(stream)] == ["req-1"]
    assert other.getvalue().count("req-1") == 1  # the other handler has it too, as logging sends it
    logging.getLogger().removeHandler(extra)

    logger = logging.getLogger("schoolgraph.request")
    logger.setLevel(logging.WARNING)
    _log()
    logger.setLevel(logging.NOTSET)
    logger.disabled = True
    _log()
    logger.disabled = False
    logger.addFilter(lambda record: False)
    _log()
    assert len(_lines(stream)) == 1  # none of the three was written, by either path
    logger.filters[:] = []
    _log(status=404)
    assert [line["status"] for line in _lines(stream)] == [200, 404]


def test_the_console_format_has_no_direct_line() -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level, logging.getLogger("uvicorn.access").disabled
    try:
        configure_logging(dataclasses.replace(load_settings(), log_format="console"), stream=io.StringIO())
        assert server.logs._direct is None
    finally:
        root.handlers[:], level, disabled = saved
        root.setLevel(level)
        logging.getLogger("uvicorn.access").disabled = disabled
        structlog.reset_defaults()


def test_a_stream_that_fails_is_reported_as_logging_reports_it(
    stream: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As StreamHandler.emit: the failure goes to the handler's handleError, the request goes on."""
    _configure(stream)
    direct = server.logs._direct
    assert direct is not None and direct.applies()
    reported: list[logging.LogRecord] = []
    monkeypatch.setattr(direct.handler, "handleError", reported.append)

    def broken(text: str) -> int:
        raise BrokenPipeError("the reader went away")

    monkeypatch.setattr(stream, "write", broken)
    _log()
    assert [json.loads(r.getMessage())["request_id"] for r in reported] == ["req-1"]
