"""Uploads at the edge (the GraphQL multipart request spec): what is not a file is refused before anything
runs, a file over the limit is refused naming its real size, and the multipart body limit holds for a
chunked body (no Content-Length) as for a declared one. Each refusal writes nothing."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx

from server.app import create_app
from server.runtime import Runtime, build_runtime
from tests.factories.learning import TEXT, document, upload
from tests.factories.schools import SchoolData, SchoolFactory, gql, login

CONTENT = "content { id title fileName byteSize }"
LISTING = "{ content(first: 100) { edges { node { title source } } } }"
UPLOAD_DOCUMENT = document("uploadContent", CONTENT)


async def _titles(client: httpx.AsyncClient, school: SchoolData, token: str) -> list[str]:
    body = await gql(client, school.slug, LISTING, token=token)
    """The titles of the school's own content (the pre-loaded items are every school's)."""
    edges = body["data"]["content"]["edges"]
    return [edge["node"]["title"] for edge in edges if edge["node"]["source"] == "SCHOOL"]


def _client(runtime: Runtime) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app(runtime), client=(f"up-{uuid.uuid4().hex[:12]}", 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_a_value_that_is_not_a_file_is_a_validation_error(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """A string, a number or an object where an Upload belongs (in JSON variables or inline in the
    document) is refused before execution with the variable named; nothing is stored."""
    school = await factory.school()
    teacher = await login(client, school.slug, "teacher1")
    headers = {"authorization": f"Bearer {teacher}"}
    for value in ("not a file", 42, {"filename": "x.txt", "data": "aGVsbG8="}):
        response = await client.post(
            f"/schools/{school.slug}/graphql",
            json={"query": UPLOAD_DOCUMENT, "variables": {"input": {"title": "Sneaky", "file": value}}},
            headers=headers,
        )
        assert response.status_code == 400, response.text
        error = response.json()["errors"][0]
        assert "data" not in response.json()
        assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
        assert "$input" in error["message"] and "Upload takes a file" in error["message"]
    inline = 'mutation { uploadContent(input: {title: "Inline", file: "x"}) { content { id } } }'
    response = await client.post(f"/schools/{school.slug}/graphql", json={"query": inline}, headers=headers)
    assert response.status_code == 400
    assert "Upload cannot be written in the document" in response.json()["errors"][0]["message"]
    assert await _titles(client, school, teacher) == []


async def test_a_file_over_the_limit_is_refused_naming_its_real_size(
    runtime: Runtime, factory: SchoolFactory
) -> None:
    """The service reads no more than the limit and one byte, yet the refusal says how large the file
    really is (not the limit plus one)."""
    limited = build_runtime(
        dataclasses.replace(runtime.settings, extra={**runtime.settings.extra, "upload_max_bytes": "2000"}),
        runtime.engine,
        runtime.auth.keys,
        clock=runtime.clock,
    )
    school = await factory.school()
    async with _client(limited) as client:
        teacher = await login(client, school.slug, "teacher1")
        data = TEXT * 200  # 11,000 bytes
        body = await upload(
            client, school.slug, teacher, "uploadContent", CONTENT + " errors { field code message }",
            file_name="big.txt", data=data, title="Too big",
        )  # fmt: skip
        payload = body["data"]["uploadContent"]
        assert payload["content"] is None
        [problem] = payload["errors"]
        assert (problem["field"], problem["code"]) == ("file", "FILE_TOO_LARGE")
        assert f"big.txt is {len(data):,} bytes" in problem["message"]
        assert "at most 2,000 bytes" in problem["message"]
        assert await _titles(client, school, teacher) == []


async def test_the_multipart_limit_holds_for_a_chunked_body(runtime: Runtime, factory: SchoolFactory) -> None:
    """Without a Content-Length (chunked transfer), the multipart body is cut off at the upload limit while
    it is read: the sender is stopped near the limit, not after sending everything."""
    limit = 64 * 1024
    limited = build_runtime(
        dataclasses.replace(runtime.settings, max_upload_bytes=limit),
        runtime.engine,
        runtime.auth.keys,
        clock=runtime.clock,
    )
    school = await factory.school()
    boundary = "schoolgraphboundary"
    operations = json.dumps(
        {"query": UPLOAD_DOCUMENT, "variables": {"input": {"title": "Chunked", "file": None}}}
    )
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n{operations}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n{{"0": ["variables.input.file"]}}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="0"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()
    sent = 0
    chunk = b"a" * 8192

    async def body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield head
        for _ in range(1000):  # 8 MB if nothing stopped it
            sent += len(chunk)
            yield chunk
        yield f"\r\n--{boundary}--\r\n".encode()

    async with _client(limited) as client:
        teacher = await login(client, school.slug, "teacher1")
        response = await client.post(
            f"/schools/{school.slug}/graphql",
            content=body(),
            headers={
                "authorization": f"Bearer {teacher}",
                "content-type": f"multipart/form-data; boundary={boundary}",
            },
        )
        assert "content-length" not in response.request.headers
        assert response.status_code == 413, response.text
        error: dict[str, Any] = response.json()["errors"][0]
        assert error["extensions"]["code"] == "REQUEST_TOO_LARGE"
        assert sent <= limit + 2 * len(chunk)
        assert await _titles(client, school, teacher) == []
