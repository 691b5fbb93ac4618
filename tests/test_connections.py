"""Every connection of the school schema pages to its end for each role: page after page, one or two rows
at a time, the same rows in the same order as one page of everything; a role that may not read a list is
refused whole. (The people lists are walked in tests/test_pagination.py, the same way.)"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import roster
from tests.factories.learning import ROLES, gid, mutate, starter, today, tokens, workbook_gid
from tests.factories.schools import SchoolData, SchoolFactory, gql, login

CONNECTIONS = {
    "ladders": "ladders(first: $first, after: $after)",
    "content": "content(first: $first, after: $after)",
    "assignments": "assignments(first: $first, after: $after)",
    "judgementHistory": "judgementHistory(pupilId: $pupil, first: $first, after: $after)",
    "downloads": "downloads(first: $first, after: $after)",
    "contentReports": "contentReports(first: $first, after: $after)",
    "auditLog": "auditLog(first: $first, after: $after)",
    "pupilAccessReport": "pupilAccessReport(pupilId: $pupil, first: $first, after: $after)",
    "importHistory": "importHistory(first: $first, after: $after)",
    "extendedPupilData": "extendedPupilData(first: $first, after: $after)",
}
GROWING = {"auditLog", "pupilAccessReport"}
"""Append-only logs that reading them adds to."""


def _query(field: str) -> str:
    pupil = ", $pupil: ID!" if "$pupil" in CONNECTIONS[field] else ""
    return (
        f"query($first: Int, $after: String{pupil}) {{ {CONNECTIONS[field]} "
        "{ edges { cursor node { __typename } } pageInfo { hasNextPage endCursor } } }"
    )


async def _walk(
    client: httpx.AsyncClient, school: SchoolData, token: str | None, field: str, first: int, pupil: str
) -> list[str] | None:
    """The list's cursors page after page (each names its row); None when the list is refused."""
    cursors: list[str] = []
    after: str | None = None
    for _ in range(500):
        variables: dict[str, Any] = {"first": first, "after": after}
        if "$pupil" in CONNECTIONS[field]:
            variables["pupil"] = pupil
        body = await gql(client, school.slug, _query(field), variables, token=token)
        if "errors" in body:
            assert after is None, body  # refused whole, never half-way
            assert body["data"] == {field: None}
            assert [e["extensions"]["code"] for e in body["errors"]] in (["FORBIDDEN"], ["UNAUTHENTICATED"])
            return None
        page = body["data"][field]
        assert len(page["edges"]) <= first
        cursors += [edge["cursor"] for edge in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return cursors
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    raise AssertionError(f"{field} never ended")


async def _fill(client: httpx.AsyncClient, school: SchoolData) -> None:
    """Three or more rows in every list, through the product's own mutations."""
    admin = await login(client, school.slug, "admin")
    teacher = await login(client, school.slug, "teacher1")
    pupil1 = gid("Pupil", school.pupils["pupil1"])
    ladder = starter()
    for n, rung in enumerate(ladder.rung_ids[:4]):
        payload = await mutate(
            client, school.slug, teacher, "recordJudgement", "judgement { id }",
            pupilId=pupil1, rungId=gid("Rung", rung), level="SECURE",
            assessedOn=str(today() - timedelta(days=n)),
        )  # fmt: skip
        assert payload["errors"] == [], payload
    for n in range(3):
        payload = await mutate(
            client, school.slug, teacher, "setAssignment", "assignment { id }",
            groupId=gid("Group", school.groups["A"]), title=f"Task {n}", kind="HOMEWORK",
            dueOn=str(today() + timedelta(days=n + 1)), instructions="Do it.",
        )  # fmt: skip
        assert payload["errors"] == [], payload
    for code in ("Y4-MATHS", "Y5-MATHS", "Y6-MATHS"):
        downloaded = await mutate(
            client,
            school.slug,
            teacher,
            "downloadContent",
            "file { downloadId }",
            contentId=workbook_gid(code),
        )
        assert downloaded["errors"] == [], downloaded
        reported = await mutate(
            client, school.slug, teacher, "reportContent", "report { id }",
            contentId=workbook_gid(code), reason="Typo on page 2",
        )  # fmt: skip
        assert reported["errors"] == [], reported
    for _ in range(3):
        await roster.upload(client, school.slug, admin, b"not a zip")
    for _ in range(3):  # reads of pupil1's record, for the access report
        await gql(client, school.slug, "query($p: ID!) { pupil(id: $p) { id } }", {"p": pupil1}, token=admin)


async def test_every_connection_pages_to_its_end_for_each_role(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory
) -> None:
    school = await factory.school()
    await _fill(client, school)
    by_role = await tokens(client, engine, factory, school)
    pupil1 = gid("Pupil", school.pupils["pupil1"])
    longest: dict[str, int] = {}
    for field in CONNECTIONS:
        for role in (*ROLES, "anonymous"):
            token = by_role[role]
            whole = await _walk(client, school, token, field, 100, pupil1)
            for first in (1, 2):
                if field in GROWING:
                    whole = await _walk(client, school, token, field, 100, pupil1)
                walked = await _walk(client, school, token, field, first, pupil1)
                if field in GROWING and whole is not None and walked is not None:
                    # Reading the log is logged: entries written since ``whole`` come first (newest first),
                    # and the walk then meets every row of ``whole`` once, in order.
                    grown = len(walked) - len(whole)
                    assert 0 <= grown <= 3 and walked[grown:] == whole, (field, role, first)
                else:
                    assert walked == whole, (field, role, first)
            if whole is not None:
                longest[field] = max(longest.get(field, 0), len(whole))
                assert len(set(whole)) == len(whole), (field, role)  # every row once
            if role == "anonymous":
                assert whole is None, field
    # Every list was walked across several pages by some role (extendedPupilData is empty until a school
    # opts in to extended data, which this school has not).
    assert {f for f, n in longest.items() if n >= 3} == set(CONNECTIONS) - {"extendedPupilData"}, longest
