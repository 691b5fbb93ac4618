"""Hostile input at the HTTP edge, in production: each attack is refused with its status and code, cheaply,
and the server keeps answering.

Cost is measured as the tokens the lexer read, CPU time of this process (the app runs in it) and memory
from its own counters, never as wall-clock time. Over the ASGI app (httpx): token and character floods, oversized and deeply nested
bodies, suggestions, GET, directive overloading, a flood of anonymous denials. Over a real uvicorn server on
127.0.0.1, where the transport matters: slow headers, a trickled body, a Content-Length that lies.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql.language.lexer import Lexer
from sqlalchemy.ext.asyncio import AsyncEngine

from common.settings import Settings
from graph.documents import DOCUMENTS
from server.app import create_app
from server.runtime import Runtime, build_runtime
from server.timeouts import server_config
from tests.factories.apps import serving
from tests.factories.audit import entries
from tests.factories.schools import SchoolData, SchoolFactory

SMALL = {"query": "{ __typename }"}
CPU_BOUND = 1.0
"""Seconds of this process's CPU an attack may cost (before these limits: 11 s for a 400 KB document)."""


@pytest.fixture(scope="module")
def production(runtime: Runtime) -> Runtime:
    """The suite's runtime with production settings, and short body and header limits for the socket tests."""
    settings = dataclasses.replace(
        runtime.settings, environment="production", body_timeout_seconds=1, header_timeout_seconds=1
    )
    return build_runtime(settings, runtime.engine, runtime.auth.keys, clock=runtime.clock)


@pytest.fixture
async def client(production: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(
        app=create_app(production), client=(f"hostile-{uuid.uuid4().hex[:12]}", 40000)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture(scope="module")
async def school(factory: SchoolFactory) -> SchoolData:
    return await factory.school()


@pytest.fixture(scope="module")
def factory(engine: AsyncEngine, runtime: Runtime) -> SchoolFactory:
    return SchoolFactory(engine, runtime.auth)


def _url(school: SchoolData) -> str:
    return f"/schools/{school.slug}/graphql"


def _code(response: httpx.Response) -> str:
    code: str = response.json()["errors"][0]["extensions"]["code"]
    return code


async def _still_answers(client: httpx.AsyncClient, school: SchoolData) -> None:
    response = await client.post(_url(school), json=SMALL)
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}


async def _cpu(request: Any) -> tuple[httpx.Response, float]:
    """The response of ``request`` (an awaitable) and the CPU seconds this process spent on it."""
    before = time.process_time()
    response = await request
    return response, time.process_time() - before


# --- documents: characters, tokens, directives, one parse, a bounded cache ---------------------------------


@pytest.fixture
def lexed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many tokens graphql-core's lexer has read (it still reads them: the count is taken on the way)."""
    count = [0]
    read = Lexer.read_next_token

    def counted(self: Lexer, start: int) -> Any:
        count[0] += 1
        return read(self, start)

    monkeypatch.setattr(Lexer, "read_next_token", counted)
    return count


async def test_a_token_flood_is_refused_while_lexing(
    client: httpx.AsyncClient, school: SchoolData, lexed: list[int]
) -> None:
    """A document of 45,000 tokens (under the character limit) stops being read at the 4,000th token:
    counted, not timed."""
    document = "{ t " + "a " * 45_000 + "}"
    assert len(document) < Settings().max_query_chars
    response = await client.post(_url(school), json={"query": document})
    assert response.status_code == 400
    assert _code(response) == "QUERY_TOO_LARGE"
    assert "4000 tokens" in response.json()["errors"][0]["message"]
    assert 4000 <= lexed[0] <= 4001
    await _still_answers(client, school)


async def test_an_over_long_document_is_refused_before_lexing(
    client: httpx.AsyncClient, school: SchoolData, lexed: list[int]
) -> None:
    """The attack as reported: ~400 KB, 200,000 tokens, no operationName; refused on its length alone,
    and neither parsed nor cached."""
    document = "{ t " + "a " * 200_000 + "}"
    cached = len(DOCUMENTS)
    response, cpu = await _cpu(client.post(_url(school), json={"query": document}))
    assert response.status_code == 400
    assert _code(response) == "QUERY_TOO_LARGE"
    assert "characters" in response.json()["errors"][0]["message"]
    assert lexed[0] == 0
    assert cpu < CPU_BOUND
    assert len(DOCUMENTS) <= cached + 1 and DOCUMENTS.chars <= DOCUMENTS.max_chars
    await _still_answers(client, school)


async def test_many_large_documents_do_not_grow_memory(client: httpx.AsyncClient, school: SchoolData) -> None:
    """60 distinct large documents (the report's +100 MiB): the cache stays within its size bound and the
    process's resident memory grows by far less than the documents' parse trees would take."""
    before = _resident_bytes()
    for i in range(60):
        document = "{ " + " ".join(f"f{i}_{j}" for j in range(2_500)) + " }"  # ~20,000 characters
        response = await client.post(_url(school), json={"query": document})
        assert response.status_code == 400  # unknown fields (or, in a bare query, the cost)
    assert DOCUMENTS.chars <= DOCUMENTS.max_chars
    assert len(DOCUMENTS) <= DOCUMENTS.max_entries
    assert _resident_bytes() - before < 64 * 1024 * 1024
    await _still_answers(client, school)


def _resident_bytes() -> int:
    """This process's resident set, from /proc (the suite runs on Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096


async def test_directive_overloading_is_refused_with_one_error(
    client: httpx.AsyncClient, school: SchoolData
) -> None:
    """50 unknown directives are refused as one error before validation (graphql-cop's check expects no
    error per directive)."""
    response = await client.post(_url(school), json={"query": "{ __typename " + "@aa " * 50 + "}"})
    assert response.status_code == 400
    assert _code(response) == "TOO_MANY_DIRECTIVES"
    assert len(response.json()["errors"]) == 1
    limit = Settings().max_directives
    allowed = "{ " + " ".join(f"a{i}: __typename @include(if: true)" for i in range(limit)) + " }"
    response = await client.post(_url(school), json={"query": allowed})
    assert response.json() == {"data": {f"a{i}": "Query" for i in range(limit)}}


async def test_field_duplication_is_refused_before_validation(
    client: httpx.AsyncClient, school: SchoolData
) -> None:
    """500 repeats of one field (graphql-cop's field duplication check) would cost validation a comparison
    per pair: refused as one error before validation; a few repeats are still answered."""
    response, cpu = await _cpu(
        client.post(_url(school), json={"query": "query { " + "__typename\n" * 500 + "}"})
    )
    assert response.status_code == 400
    assert _code(response) == "TOO_MANY_REPEATS"
    assert "data" not in response.json()
    assert cpu < CPU_BOUND
    response = await client.post(_url(school), json={"query": "{ __typename __typename __typename }"})
    assert response.json() == {"data": {"__typename": "Query"}}


# --- bodies: size while reading, nesting ------------------------------------------------------------------


async def test_an_over_large_body_is_refused_while_it_is_read(
    client: httpx.AsyncClient, school: SchoolData
) -> None:
    """A 100 MB body sent without a length is refused at the limit: the rest is never read."""
    sent = 0
    chunk = b" " * 65536

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        while sent < 100_000_000:
            sent += len(chunk)
            yield chunk

    response = await client.post(_url(school), content=body(), headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert _code(response) == "REQUEST_TOO_LARGE"
    assert sent <= Settings().max_body_bytes + 2 * len(chunk)
    await _still_answers(client, school)


async def test_a_declared_over_large_body_is_refused_before_reading(
    client: httpx.AsyncClient, school: SchoolData
) -> None:
    """A Content-Length over the limit is refused before a byte of the body is read."""
    read = False

    async def body() -> AsyncIterator[bytes]:
        nonlocal read
        read = True
        yield b"{}"

    response = await client.post(
        _url(school),
        content=body(),
        headers={"content-type": "application/json", "content-length": str(1024**3)},
    )
    assert response.status_code == 413
    assert _code(response) == "REQUEST_TOO_LARGE"
    assert not read


@pytest.mark.parametrize(("depth", "code"), [(100_000, "BAD_REQUEST"), (40, "JSON_TOO_DEEP")])
async def test_deeply_nested_json_is_a_clear_400(
    client: httpx.AsyncClient, school: SchoolData, depth: int, code: str
) -> None:
    """JSON nested 100,000 deep was a plain-text 500; now it is a 400 with a code, as is anything over the
    nesting limit (32) in the body or its variables."""
    nested = "[" * depth + "]" * depth
    body = '{"query": "{ __typename }", "variables": {"v": ' + nested + "}}"
    response, cpu = await _cpu(
        client.post(_url(school), content=body, headers={"content-type": "application/json"})
    )
    assert response.status_code == 400
    assert _code(response) == code
    assert response.json()["errors"][0]["message"].startswith("The request body")
    assert cpu < CPU_BOUND
    await _still_answers(client, school)


# --- what production reveals ------------------------------------------------------------------------------

SUGGESTING = [
    ("{ pupils(frist: 1) { edges { node { id } } } }", None, "first"),
    (
        'mutation { login(input: {username: "a", password: "b", passwrd: "c"}) { accessToken } }',
        None,
        "password",
    ),
    ("{ ...F } fragment F on Pupl { id }", None, "Pupil"),
    ("query($l: JudgementLevel = SECUR) { __typename }", None, "SECURE"),
    ("query($l: JudgementLevel) { __typename }", {"l": "SECUR"}, "SECURE"),
    ("{ school }", None, "school {"),
]


@pytest.mark.parametrize(("query", "variables", "suggested"), SUGGESTING)
async def test_production_errors_suggest_nothing(
    client: httpx.AsyncClient, school: SchoolData, query: str, variables: Any, suggested: str
) -> None:
    """Arguments, input fields, types, enum values (literal and variable) and sub-selections: the error
    is there, the suggestion is not."""
    response = await client.post(_url(school), json={"query": query, "variables": variables})
    errors = response.json()["errors"]
    assert errors
    messages = " ".join(e["message"] for e in errors)
    assert "Did you mean" not in messages
    assert f"'{suggested}" not in messages


async def test_get_queries_are_off_in_production(
    client: httpx.AsyncClient, school: SchoolData, production: Runtime
) -> None:
    """GET would let a cross-site page run queries with the browser's credentials: production answers
    405 with ``Allow: POST`` unless the setting turns it on."""
    response = await client.get(_url(school), params={"query": "{ __typename }"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert _code(response) == "METHOD_NOT_ALLOWED"
    allowed = dataclasses.replace(production.settings, get_queries=True)
    assert allowed.allows_get_queries and not production.settings.allows_get_queries
    assert Settings(environment="development").allows_get_queries


# --- the audit log under an anonymous flood ---------------------------------------------------------------


async def test_an_anonymous_flood_is_counted_not_chained(
    client: httpx.AsyncClient, school: SchoolData, engine: AsyncEngine
) -> None:
    """LRS 5.1: an anonymous denial is still recorded, but 50 of them from one address add one entry per
    action, and the repeats are counted on the next entry of that action."""
    before = len(await entries(engine, school.id))
    for _ in range(50):
        response = await client.post(_url(school), json={"query": "{ pupils { edges { node { id } } } }"})
        assert _code(response) == "UNAUTHENTICATED"
    chained = await entries(engine, school.id)
    added = chained[before:]
    assert [(e.action, e.outcome, e.actor_type) for e in added] == [
        ("permission.denied", "DENIED", "ANONYMOUS")
    ]
    await _still_answers(client, school)


# --- the transport: a real uvicorn server -----------------------------------------------------------------


async def _serve(runtime: Runtime) -> AsyncIterator[int]:
    """The app served by uvicorn, configured as ``schoolgraph serve`` configures it, on a free port."""
    config = server_config(
        create_app(runtime), runtime.settings, host="127.0.0.1", port=0, lifespan="off", log_level="warning"
    )
    async with serving(config) as port:
        yield port


@pytest.fixture
async def port(production: Runtime) -> AsyncIterator[int]:
    async for port in _serve(production):
        yield port


@pytest.fixture
async def production_port(runtime: Runtime) -> AsyncIterator[int]:
    """A server with production's own limits: a flood's 16 bodies share this process's one event loop with
    the server reading them, so on a busy machine one may take longer than the socket tests' 1 s to arrive,
    which would be a right answer (408) to a question this fixture does not ask."""
    settings = dataclasses.replace(runtime.settings, environment="production")
    async for port in _serve(build_runtime(settings, runtime.engine, runtime.auth.keys, clock=runtime.clock)):
        yield port


async def _small_query(port: int, school: SchoolData) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as http:
        response = await http.post(_url(school), json=SMALL)
        assert response.status_code == 200
        body: dict[str, Any] = response.json()
        return body


async def _response(reader: asyncio.StreamReader) -> bytes:
    """The server's response on a raw connection, head and body (bounded: the test fails, never hangs)."""
    async with asyncio.timeout(10):
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            (
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        return head + await reader.readexactly(length)


async def test_a_flood_of_large_documents_over_http(production_port: int, school: SchoolData) -> None:
    """The reported attack over a real socket: 16 clients at once, each a 400 KB document of 200,000
    tokens. Each is refused, the whole flood costs this process (server and clients) less CPU than one
    such document cost before, and a small query sent in the middle of it is answered."""
    attack = {"query": "{ t " + "a " * 200_000 + "}"}
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{production_port}", timeout=30) as http:
        before = time.process_time()
        attacks = [asyncio.create_task(http.post(_url(school), json=attack)) for _ in range(16)]
        small = await http.post(_url(school), json=SMALL)
        refused = await asyncio.gather(*attacks)
        cpu = time.process_time() - before
    assert small.status_code == 200 and small.json() == {"data": {"__typename": "Query"}}
    assert {(r.status_code, _code(r)) for r in refused} == {(400, "QUERY_TOO_LARGE")}
    assert cpu < 2 * CPU_BOUND


async def test_slow_headers_are_cut_off(port: int, school: SchoolData) -> None:
    """A connection that trickles its headers (slowloris) is answered 408 and closed at the header limit,
    while a small query on another connection is answered first."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST {_url(school)} HTTP/1.1\r\nhost: 127.0.0.1\r\n".encode())
    await writer.drain()
    closed = asyncio.create_task(_response(reader))
    answered = asyncio.create_task(_small_query(port, school))
    done, _ = await asyncio.wait({closed, answered}, return_when=asyncio.FIRST_COMPLETED)
    assert answered in done and (await answered) == {"data": {"__typename": "Query"}}
    assert (await closed).startswith(b"HTTP/1.1 408")
    writer.close()


async def test_a_trickled_body_is_cut_off(port: int, school: SchoolData) -> None:
    """A body sent a byte at a time is answered 408 at the body limit, before it is complete; a small query
    on another connection is answered meanwhile."""
    body = b'{"query": "{ __typename }"}' + b" " * 1000
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST {_url(school)} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\n\r\n".encode()
    )

    async def trickle() -> int:
        sent = 0
        for byte in body:
            writer.write(bytes([byte]))
            await writer.drain()
            sent += 1
            await asyncio.sleep(0.1)
        return sent

    sending = asyncio.create_task(trickle())
    assert (await _small_query(port, school)) == {"data": {"__typename": "Query"}}
    answer = await _response(reader)
    assert not sending.done()  # refused before the body was complete
    sending.cancel()
    assert answer.startswith(b"HTTP/1.1 408")
    assert b"REQUEST_TIMEOUT" in answer
    writer.close()


@pytest.mark.parametrize(("declared", "status"), [(1024**3, b"413"), (900_000, b"408")])
async def test_a_content_length_that_lies(
    port: int, school: SchoolData, declared: int, status: bytes
) -> None:
    """27 bytes sent of a declared 1 GB (refused at once) or 900 KB (refused at the body limit): either
    way an answer, and the server answers others meanwhile."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"POST {_url(school)} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"content-length: {declared}\r\n\r\n".encode()
        + b'{"query": "{ __typename }"}'
    )
    await writer.drain()
    assert (await _small_query(port, school)) == {"data": {"__typename": "Query"}}
    answer = await _response(reader)
    assert answer.startswith(b"HTTP/1.1 " + status)
    writer.close()
