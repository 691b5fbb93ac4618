"""Factories and helpers for learning tests: starter ladders, judgements seeded fast, mutations over HTTP
(JSON and GraphQL multipart uploads), and files of every allowed and refused kind."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from graph.core.relay import to_global_id
from learning import curriculum
from models import Account, Contact, PupilContact
from models.curriculum import Judgement
from tenants.context import bind
from tests.factories import clock
from tests.factories.schools import SchoolData, SchoolFactory, gql, login


@dataclass(frozen=True)
class StarterLadder:
    id: uuid.UUID
    code: str
    rung_ids: list[uuid.UUID]
    rung_codes: list[str]

    @property
    def gid(self) -> str:
        return to_global_id("Ladder", self.id)

    def rung_gid(self, i: int) -> str:
        return to_global_id("Rung", self.rung_ids[i])


def starter(code: str = "Y4-MATHS") -> StarterLadder:
    """A shipped starter ladder (global reference data loaded by the migration)."""
    for ladder in curriculum.starter_ladders():
        if ladder.code == code:
            return StarterLadder(
                curriculum.ladder_id(code),
                code,
                [curriculum.rung_id(r.code) for r in ladder.rungs],
                [r.code for r in ladder.rungs],
            )
    raise KeyError(code)


def workbook_gid(code: str = "Y4-MATHS") -> str:
    return to_global_id("Content", curriculum.workbook_id(code))


def gid(kind: str, row: Any) -> str:
    return to_global_id(kind, row if isinstance(row, uuid.UUID) else row.id)


def today() -> date:
    return clock.school_day()


async def seed_judgements(
    engine: AsyncEngine,
    school: SchoolData,
    rows: list[tuple[uuid.UUID, uuid.UUID, uuid.UUID, str, date]],
    *,
    recorded_at: datetime | None = None,
) -> None:
    """Judgements (pupil, ladder, rung, level, assessed on) written straight to the table, one statement."""
    at = recorded_at or clock.now()
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school.id])
        await session.execute(
            insert(Judgement),
            [
                {
                    "school_id": school.id,
                    "id": uuid.uuid4(),
                    "pupil_id": pupil,
                    "ladder_id": ladder,
                    "rung_id": rung,
                    "level": level,
                    "assessed_on": on,
                    "recorded_by": school.accounts["teacher1"].id,
                    "recorded_at": at + timedelta(microseconds=i),
                }
                for i, (pupil, ladder, rung, level, on) in enumerate(rows)
            ],
        )


def document(mutation: str, selection: str, input_type: str | None = None) -> str:
    input_type = input_type or mutation[0].upper() + mutation[1:] + "Input"
    return (
        f"mutation($input: {input_type}!) {{ {mutation}(input: $input) "
        f"{{ {selection} errors {{ field code message }} }} }}"
    )


async def mutate(
    client: httpx.AsyncClient, slug: str, token: str | None, mutation: str, selection: str, **input: Any
) -> dict[str, Any]:
    """The mutation's payload (asserting no GraphQL-level error)."""
    body = await gql(client, slug, document(mutation, selection), {"input": input}, token=token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][mutation]
    return payload


def problems(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def upload(
    client: httpx.AsyncClient,
    slug: str,
    token: str | None,
    mutation: str,
    selection: str,
    *,
    file_name: str,
    data: bytes,
    **input: Any,
) -> dict[str, Any]:
    """A GraphQL multipart request (the file at ``variables.input.file``); the whole response body."""
    operations = {"query": document(mutation, selection), "variables": {"input": {**input, "file": None}}}
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = await client.post(
        f"/schools/{slug}/graphql",
        data={"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.input.file"]})},
        files={"0": (file_name, data, "application/octet-stream")},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- files ------------------------------------------------------------------------------------------------

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 32
TEXT = b"Spellings for the week: because, could, would, should.\n"
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 64


def docx() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


async def add_parent(
    engine: AsyncEngine, factory: SchoolFactory, school: SchoolData, pupil: str, username: str
) -> None:
    """Another parent with an account, linked to ``pupil`` (a parent of *another* child than parent1's)."""
    async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
        await bind(session, [school.id])
        now = clock.now()
        contact = Contact(
            school_id=school.id,
            created_at=now,
            forename="Olly",
            surname="Other",
            email=f"{username}@example.org",
        )
        session.add(contact)
        await session.flush()
        session.add(
            PupilContact(
                school_id=school.id, created_at=now, pupil_id=school.pupils[pupil].id, contact_id=contact.id
            )
        )
        account = Account(
            school_id=school.id,
            created_at=now,
            username=username,
            password_hash=factory.password_hash(),
            role="PARENT",
            contact_id=contact.id,
        )
        session.add(account)
        school.contacts[username] = contact
        school.accounts[username] = account


ROLES = ("admin", "teacher1", "teacher2", "senco", "pupil1", "pupilB1", "parent1", "parentB1")


async def tokens(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory, school: SchoolData
) -> dict[str, str | None]:
    """A token per role of the factory school (plus parentB1, parent of pupilB1); anonymous: None."""
    if "parentB1" not in school.accounts:
        await add_parent(engine, factory, school, "pupilB1", "parentB1")
    found: dict[str, str | None] = {role: await login(client, school.slug, role) for role in ROLES}
    found["anonymous"] = None
    return found
