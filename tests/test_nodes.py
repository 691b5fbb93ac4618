"""``node(id)``: every object with an id implements Node and is fetched by it, with exactly the permissions of
the field that lists it (Relay's object identification; relay-compiler's ``@refetchable`` relies on it).

Each kind is made through the product's own mutations at one school; then, for every role of that school,
``node(id)`` returns the object exactly when the role's listing field shows it, and null otherwise. Another
school's admin gets null for every id, and an anonymous caller gets null with UNAUTHENTICATED.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import roster
from tests.factories.learning import (
    ROLES,
    TEXT,
    gid,
    starter,
    today,
    tokens,
    upload,
    workbook_gid,
)
from tests.factories.learning import (
    mutate as mutate_payload,
)
from tests.factories.schools import SchoolData, SchoolFactory, gql, login

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"

Listing = Callable[[str | None], Awaitable[set[str]]]


@dataclass(frozen=True)
class Made:
    """One object of a kind: its GraphQL type, its id and how to list what a role may see of its kind."""

    typename: str
    id: str
    listing: Listing | None
    """None where no field lists the kind (prints, grants): ``visible`` says who may see it instead."""
    visible: frozenset[str] = frozenset()
    shared: bool = False
    """Curriculum and content: every signed-in role of the school sees it (never another school)."""


def _ids(value: Any) -> set[str]:
    """Every ``id`` anywhere in a response value."""
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("id"), str):
                found.add(item["id"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


async def mutate(*args: Any, **input: Any) -> dict[str, Any]:
    payload = await mutate_payload(*args, **input)
    assert payload["errors"] == [], payload
    return payload


async def _make_everything(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory, school: SchoolData
) -> list[Made]:
    admin = await login(client, school.slug, "admin")
    teacher = await login(client, school.slug, "teacher1")
    pupil1, pupil_b1 = gid("Pupil", school.pupils["pupil1"]), gid("Pupil", school.pupils["pupilB1"])
    ladder = starter()

    def listing(query: str, variables: dict[str, Any] | None = None) -> Listing:
        async def read(token: str | None) -> set[str]:
            body = await gql(client, school.slug, query, variables, token=token)
            return _ids(body.get("data"))

        return read

    own = await mutate(
        client, school.slug, admin, "createLadder", "ladder { id rungs { id } }",
        code="OWN-1", subject="Science", title="Our science", rungs=[{"code": "S1", "statement": "Observe"}],
    )  # fmt: skip
    judgement = await mutate(
        client, school.slug, teacher, "recordJudgement", "judgement { id }",
        pupilId=pupil1, rungId=gid("Rung", ladder.rung_ids[0]), level="SECURE", assessedOn=today().isoformat(),
    )  # fmt: skip
    assignment = await mutate(
        client, school.slug, teacher, "setAssignment", "assignment { id }",
        groupId=gid("Group", school.groups["A"]), title="Read chapter 1", kind="HOMEWORK",
        dueOn=str(today() + timedelta(days=7)), instructions="Read it aloud.",
    )  # fmt: skip
    assignment_id = assignment["assignment"]["id"]
    submission = await mutate(
        client, school.slug, await login(client, school.slug, "pupil1"), "submitWork", "submission { id }",
        assignmentId=assignment_id, text="Done it",
    )  # fmt: skip
    content = await upload(
        client, school.slug, teacher, "uploadContent", "content { id }",
        file_name="spellings.txt", data=TEXT, title="Spellings",
    )  # fmt: skip
    content_id = content["data"]["uploadContent"]["content"]["id"]
    download = await mutate(
        client, school.slug, teacher, "downloadContent", "file { downloadId }", contentId=content_id
    )
    report = await mutate(
        client, school.slug, teacher, "reportContent", "report { id }", contentId=content_id, reason="Typo"
    )
    achievement = await mutate(
        client, school.slug, teacher, "recordAchievement", "achievement { id }",
        pupilId=pupil1, kind="AWARD", title="Reader of the week", achievedOn=today().isoformat(),
    )  # fmt: skip
    goal = await mutate(
        client,
        school.slug,
        teacher,
        "setLearningGoal",
        "goal { id }",
        pupilId=pupil1,
        statement="Times tables",
    )
    prints = await mutate(
        client, school.slug, teacher, "requestWorkbookPrint", "prints { id }",
        contentId=workbook_gid(), pupilIds=[pupil1],
    )  # fmt: skip
    grant = await mutate(
        client, school.slug, admin, "grantExtraPrint", "grant { id }",
        contentId=workbook_gid(), pupilId=pupil_b1, reason="Lost it",
    )  # fmt: skip
    refused = await roster.upload(client, school.slug, admin, b"not a zip")
    consents = listing("query($p: ID!) { pupilConsents(pupilId: $p) { id } }", {"p": pupil1})
    learner = "query($p: ID!) { learnerRecord(pupilId: $p) { achievements { id } goals { id } } }"
    viewer = listing(
        "{ viewer { id } pupil1: pupil(id: %r) { account { id } } }".replace("%r", f'"{pupil1}"')
    )
    return [
        Made(
            "Ladder",
            own["ladder"]["id"],
            listing("{ ladders(first: 100) { edges { node { id } } } }"),
            shared=True,
        ),
        Made(
            "Rung",
            own["ladder"]["rungs"][0]["id"],
            listing("{ ladders(first: 100) { edges { node { rungs { id } } } } }"),
            shared=True,
        ),
        Made(
            "Judgement",
            judgement["judgement"]["id"],
            listing(
                "query($p: ID!) { judgementHistory(pupilId: $p) { edges { node { id } } } }", {"p": pupil1}
            ),
        ),
        Made("Assignment", assignment_id, listing("{ assignments(first: 50) { edges { node { id } } } }")),
        Made(
            "Submission",
            submission["submission"]["id"],
            listing(
                "query($a: ID!) { assignment(id: $a) { work { submission { id } } } }", {"a": assignment_id}
            ),
        ),
        Made(
            "Content", content_id, listing("{ content(first: 100) { edges { node { id } } } }"), shared=True
        ),
        Made(
            "DownloadRecord",
            download["file"]["downloadId"],
            listing("{ downloads(first: 50) { edges { node { id } } } }"),
        ),
        Made(
            "ContentReport",
            report["report"]["id"],
            listing("{ contentReports(first: 50) { edges { node { id } } } }"),
        ),
        Made("Achievement", achievement["achievement"]["id"], listing(learner, {"p": pupil1})),
        Made("LearningGoal", goal["goal"]["id"], listing(learner, {"p": pupil1})),
        Made("Consent", next(iter(await consents(admin))), consents),
        Made(
            "RosterImport",
            refused["data"]["importRoster"]["rosterImport"]["id"],
            listing("{ importHistory(first: 50) { edges { node { id } } } }"),
        ),
        Made("Account", gid("Account", school.accounts["pupil1"]), viewer),
        Made(
            "PrintRequest",
            prints["prints"][0]["id"],
            None,
            frozenset({"admin", "teacher1", "senco", "pupil1", "parent1"}),
        ),
        Made("PrintGrant", grant["grant"]["id"], None, frozenset({"admin"})),
    ]


async def test_every_entity_is_a_node_with_its_list_fields_permissions(
    client: httpx.AsyncClient, engine: AsyncEngine, factory: SchoolFactory
) -> None:
    school, other = await factory.school(), await factory.school()
    made = await _make_everything(client, engine, factory, school)
    by_role = await tokens(client, engine, factory, school)
    stranger = await login(client, other.slug, "admin")
    for item in made:
        seen_by: set[str] = set()
        for role in ROLES:
            token = by_role[role]
            body = await gql(client, school.slug, NODE, {"id": item.id}, token=token)
            node = body["data"]["node"]
            listed = item.id in await item.listing(token) if item.listing else role in item.visible
            assert (node is not None) == listed, (item.typename, role, node)
            if node is not None:
                assert node == {"__typename": item.typename, "id": item.id}
                seen_by.add(role)
        # Shared kinds are seen by every role; the others by some roles and refused to some other role.
        assert seen_by == set(ROLES) if item.shared else seen_by and seen_by != set(ROLES), (
            item.typename,
            seen_by,
        )
        theirs = await gql(client, other.slug, NODE, {"id": item.id}, token=stranger)
        assert theirs["data"]["node"] is None, item.typename
        anonymous = await gql(client, school.slug, NODE, {"id": item.id})
        assert anonymous["data"]["node"] is None
        assert anonymous["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
