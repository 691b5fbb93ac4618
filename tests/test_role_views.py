"""What each role sees of a school, as a table: rows (which pupils, staff, groups) and fields (which columns).

The factory's school: staff admin, teacher1 (teaches group A), teacher2 (teaches B) and senco (school-wide
pupil access); pupils pupil1..pupil3 in A and pupilB1..pupilB3 in B; parent1 linked to pupil1. Every role
below signs in at the school's URL (anonymous: no token) and the table says, for each factory pupil,
member of staff and group, whether the role receives it and exactly which fields of it are readable;
every other field must be null with a FORBIDDEN error (UNAUTHENTICATED for the anonymous caller) at
exactly that path, and there must be no other error.

Current policies (auth/policies.py) the table encodes: a pupil's record (names, date of birth, gender,
email, groups) is readable by everyone who may see the pupil; the UPN by school admins and staff with
school-wide pupil access only; the ULN also by the pupil and their parents; staff names by all staff and
by pupils and parents for their (children's) teachers; role and work email by staff; secondary email and
staff code by school admins and the member of staff themself; a group's external id by school admins.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from graph.core.relay import to_global_id
from tests.factories.schools import SchoolData, SchoolFactory, gql, login

A = frozenset({"pupil1", "pupil2", "pupil3"})
B = frozenset({"pupilB1", "pupilB2", "pupilB3"})
EVERY_PUPIL = A | B
STAFF_KEYS = ("admin", "teacher1", "teacher2", "senco")

PUPIL_FIELDS = (
    "forename", "preferredForename", "surname", "displayName", "dateOfBirth", "gender", "email", "upn", "uln",
    "groups",
)  # fmt: skip
RECORD = frozenset(
    {"forename", "preferredForename", "surname", "displayName", "dateOfBirth", "gender", "email", "groups"}
)
UPN, ULN = frozenset({"upn"}), frozenset({"uln"})

STAFF_FIELDS = (
    "title", "forename", "preferredForename", "surname", "displayName", "roleText", "workEmail",
    "secondaryEmail", "staffCode",
)  # fmt: skip
NAME = frozenset({"title", "forename", "preferredForename", "surname", "displayName"})
DIRECTORY = NAME | {"roleText", "workEmail"}
OWN = DIRECTORY | {"secondaryEmail", "staffCode"}

GROUP_FIELDS = ("name", "kind", "yearGroup", "subject", "externalId", "active", "pupils", "teachers")
GROUP = frozenset(GROUP_FIELDS) - {"externalId"}
GROUP_ADMIN = frozenset(GROUP_FIELDS)

# Valid ULNs (weighted check digit) given to one pupil of each group, so a readable ULN is not just null.
ULNS = {"pupil1": "1234567899", "pupilB1": "2345678916"}


@dataclass(frozen=True)
class View:
    """One role's view of the factory school. Keys are factory keys (pupil1, teacher1, A, ...)."""

    pupils: frozenset[str] = frozenset()
    """Pupils in the ``pupils`` connection and returned by ``pupil(id)`` and ``node(id)``."""
    pupil_fields: frozenset[str] = frozenset()
    """Pupil fields readable on each of those pupils; the others are null with FORBIDDEN."""
    staff_directory: dict[str, frozenset[str]] | str = field(default_factory=dict)
    """The ``staff`` connection: staff -> readable fields, or the error code of the whole connection."""
    staff_members: dict[str, frozenset[str]] = field(default_factory=dict)
    """``staffMember(id)`` and ``node(id)``: staff returned -> readable fields."""
    groups: dict[str, frozenset[str]] = field(default_factory=dict)
    """Groups in ``groups``, ``group(id)`` and ``node(id)`` -> readable group fields."""
    group_pupils: dict[str, frozenset[str]] = field(default_factory=dict)
    """``group.pupils`` of each visible group."""
    group_teachers: dict[str, dict[str, frozenset[str]]] = field(default_factory=dict)
    """``group.teachers`` of each visible group: teacher -> readable fields."""
    refused: str | None = None
    """The code of every guarded root field when the caller may use none (anonymous)."""


def _directory(own: str | None, everyone: frozenset[str]) -> dict[str, frozenset[str]]:
    return {key: OWN if key == own else everyone for key in STAFF_KEYS}


ADMIN = View(
    pupils=EVERY_PUPIL,
    pupil_fields=RECORD | UPN | ULN,
    staff_directory=_directory(None, OWN),
    staff_members=_directory(None, OWN),
    groups={"A": GROUP_ADMIN, "B": GROUP_ADMIN},
    group_pupils={"A": A, "B": B},
    group_teachers={"A": {"teacher1": OWN}, "B": {"teacher2": OWN}},
)
SENCO = View(
    pupils=EVERY_PUPIL,
    pupil_fields=RECORD | UPN | ULN,
    staff_directory=_directory("senco", DIRECTORY),
    staff_members=_directory("senco", DIRECTORY),
    groups={"A": GROUP, "B": GROUP},
    group_pupils={"A": A, "B": B},
    group_teachers={"A": {"teacher1": DIRECTORY}, "B": {"teacher2": DIRECTORY}},
)
TEACHER1 = View(
    pupils=A,
    pupil_fields=RECORD,
    staff_directory=_directory("teacher1", DIRECTORY),
    staff_members=_directory("teacher1", DIRECTORY),
    groups={"A": GROUP},
    group_pupils={"A": A},
    group_teachers={"A": {"teacher1": OWN}},
)
TEACHER2 = View(
    pupils=B,
    pupil_fields=RECORD,
    staff_directory=_directory("teacher2", DIRECTORY),
    staff_members=_directory("teacher2", DIRECTORY),
    groups={"B": GROUP},
    group_pupils={"B": B},
    group_teachers={"B": {"teacher2": OWN}},
)
PUPIL1 = View(
    pupils=frozenset({"pupil1"}),
    pupil_fields=RECORD | ULN,
    staff_directory="FORBIDDEN",
    staff_members={"teacher1": NAME},
    groups={"A": GROUP},
    group_pupils={"A": frozenset({"pupil1"})},
    group_teachers={"A": {"teacher1": NAME}},
)
PARENT1 = PUPIL1  # parent1's only child is pupil1: the same view, through the parent's own account
ANONYMOUS = View(refused="UNAUTHENTICATED", staff_directory="UNAUTHENTICATED")

VIEWS: dict[str, View] = {
    "admin": ADMIN,
    "teacher1": TEACHER1,
    "teacher2": TEACHER2,
    "senco": SENCO,
    "pupil1": PUPIL1,
    "parent1": PARENT1,
    "anonymous": ANONYMOUS,
}
ROLES = list(VIEWS)

# --- documents ----------------------------------------------------------------------------------------

PUPIL_SELECTION = (
    "id forename preferredForename surname displayName dateOfBirth gender email upn uln groups { name }"
)
STAFF_SELECTION = (
    "id title forename preferredForename surname displayName roleText workEmail secondaryEmail staffCode"
)
GROUP_SELECTION = (
    "id name kind yearGroup subject externalId active pupils { id forename surname } "
    f"teachers {{ {STAFF_SELECTION} }}"
)


def _lookups(keys: list[str], kind: str, root: str, selection: str) -> tuple[str, str]:
    """Variables and aliased ``<root>(id:)`` + ``node(id:)`` lookups for each key."""
    variables = ", ".join(f"${k}: ID!" for k in keys)
    fields = " ".join(
        f"x_{k}: {root}(id: ${k}) {{ {selection} }} n_{k}: node(id: ${k}) {{ id ... on {kind} {{ {selection} }} }}"
        for k in keys
    )
    return variables, fields


# --- helpers ------------------------------------------------------------------------------------------


async def _school(client: httpx.AsyncClient, factory: SchoolFactory) -> SchoolData:
    """A school whose admin has recorded the ULNs of pupil1 and pupilB1 (updatePupil)."""
    school = await factory.school()
    admin = await login(client, school.slug, "admin")
    for key, uln in ULNS.items():
        pupil = school.pupils[key]
        body = await gql(
            client,
            school.slug,
            "mutation($p: ID!, $u: String) { updatePupil(input: {pupilId: $p, uln: $u}) "
            "{ pupil { uln } errors { code } } }",
            {"p": to_global_id("Pupil", pupil.id), "u": uln},
            token=admin,
        )
        assert body["data"]["updatePupil"] == {"pupil": {"uln": uln}, "errors": []}, body
        pupil.uln = uln
    return school


async def _ask(
    client: httpx.AsyncClient, school: SchoolData, role: str, query: str, variables: dict[str, Any]
) -> tuple[dict[str, Any], dict[tuple[Any, ...], str]]:
    token = None if role == "anonymous" else await login(client, school.slug, role)
    body = await gql(client, school.slug, query, variables, token=token)
    errors: dict[tuple[Any, ...], str] = {}
    for error in body.get("errors", []):
        path = tuple(error["path"])
        assert path not in errors, f"two errors at {path}"
        errors[path] = error["extensions"]["code"]
    return body["data"], errors


def _group_of(key: str) -> str:
    return "B" if key in B else "A"


def _pupil_values(school: SchoolData, key: str) -> dict[str, Any]:
    row = school.pupils[key]
    return {
        "id": to_global_id("Pupil", row.id),
        "forename": row.forename,
        "preferredForename": row.preferred_forename,
        "surname": row.surname,
        "displayName": f"{row.preferred_forename or row.forename} {row.surname}",
        "dateOfBirth": str(row.date_of_birth),
        "gender": row.gender,
        "email": row.email,
        "upn": row.upn,
        "uln": row.uln,
        "groups": [{"name": school.groups[_group_of(key)].name}],
    }


def _staff_values(school: SchoolData, key: str) -> dict[str, Any]:
    row = school.staff[key]
    return {
        "id": to_global_id("Staff", row.id),
        "title": row.title,
        "forename": row.forename,
        "preferredForename": row.preferred_forename,
        "surname": row.surname,
        "displayName": f"{row.preferred_forename or row.forename} {row.surname}",
        "roleText": row.role_text,
        "workEmail": row.work_email,
        "secondaryEmail": row.secondary_email,
        "staffCode": row.staff_code,
    }


def _check_fields(
    node: dict[str, Any],
    values: dict[str, Any],
    fields: tuple[str, ...],
    readable: frozenset[str],
    path: tuple[Any, ...],
    expected_errors: dict[tuple[Any, ...], str],
) -> None:
    assert node["id"] == values["id"], path
    for name in fields:
        if name in readable:
            assert node[name] == values[name], (*path, name)
        else:
            assert node[name] is None, (*path, name)
            expected_errors[(*path, name)] = "FORBIDDEN"


def _key_of(ids: dict[str, str], global_id: str) -> str:
    matches = [key for key, value in ids.items() if value == global_id]
    assert matches, f"{global_id} is not a row of this school's table"
    return matches[0]


# --- pupils -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
async def test_pupils_each_role_sees(role: str, client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 4.3, LL 6.3.4, LL-S1: the pupils a role receives (connection, pupil(id), node(id)) and their readable fields.

    School admins see every pupil with every field (LL 4.3: the master account); teachers only the pupils
    of the groups they teach; the SENCO every pupil; a pupil only themself; a parent only their linked
    children (LL 6.3.4). The fields are the LL-S1 pupil data: UPN only for admins and school-wide staff,
    ULN also for the pupil and their parents.
    """
    view = VIEWS[role]
    school = await _school(client, factory)
    keys = sorted(EVERY_PUPIL)
    ids = {key: to_global_id("Pupil", school.pupils[key].id) for key in keys}
    variables, lookups = _lookups(keys, "Pupil", "pupil", PUPIL_SELECTION)
    query = f"query({variables}) {{ pupils(first: 100) {{ edges {{ node {{ {PUPIL_SELECTION} }} }} }} {lookups} }}"
    data, errors = await _ask(client, school, role, query, ids)

    expected: dict[tuple[Any, ...], str] = {}
    if view.refused:
        assert data["pupils"] is None
        expected[("pupils",)] = view.refused
        for key in keys:
            assert data[f"x_{key}"] is None and data[f"n_{key}"] is None
            expected[(f"x_{key}",)] = expected[(f"n_{key}",)] = view.refused
        assert errors == expected
        return

    edges = data["pupils"]["edges"]
    seen = [_key_of(ids, edge["node"]["id"]) for edge in edges]
    assert set(seen) == view.pupils
    assert len(seen) == len(view.pupils)
    rows = [school.pupils[k] for k in seen]
    assert rows == sorted(rows, key=lambda p: (p.surname, p.forename, str(p.id))), "name order"
    for index, key in enumerate(seen):
        path = ("pupils", "edges", index, "node")
        _check_fields(
            edges[index]["node"], _pupil_values(school, key), PUPIL_FIELDS, view.pupil_fields, path, expected
        )
    for key in keys:
        for alias in (f"x_{key}", f"n_{key}"):
            if key in view.pupils:
                _check_fields(
                    data[alias],
                    _pupil_values(school, key),
                    PUPIL_FIELDS,
                    view.pupil_fields,
                    (alias,),
                    expected,
                )
            else:
                assert data[alias] is None, (role, alias)  # not visible: nothing, and no error to probe with
    assert errors == expected


# --- staff --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
async def test_staff_each_role_sees(role: str, client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 6.3.1, LL 4.3, LL-S1: the staff directory (name and work email) is for staff; pupils and parents get names only.

    Staff and school admins read every colleague's title, names, role and work email (LL 6.3.1); the
    secondary email and staff code only school admins (LL 4.3) and the person themself. Pupils and parents
    are refused the directory (FORBIDDEN) and can look up only their (children's) teachers, names only.
    """
    view = VIEWS[role]
    school = await _school(client, factory)
    keys = list(STAFF_KEYS)
    ids = {key: to_global_id("Staff", school.staff[key].id) for key in keys}
    variables, lookups = _lookups(keys, "Staff", "staffMember", STAFF_SELECTION)
    query = (
        f"query({variables}) {{ staff(first: 100) {{ edges {{ node {{ {STAFF_SELECTION} }} }} }} {lookups} }}"
    )
    data, errors = await _ask(client, school, role, query, ids)

    expected: dict[tuple[Any, ...], str] = {}
    if isinstance(view.staff_directory, str):
        assert data["staff"] is None
        expected[("staff",)] = view.staff_directory
    else:
        edges = data["staff"]["edges"]
        seen = [_key_of(ids, edge["node"]["id"]) for edge in edges]
        assert sorted(seen) == sorted(view.staff_directory)
        for index, key in enumerate(seen):
            path = ("staff", "edges", index, "node")
            _check_fields(
                edges[index]["node"],
                _staff_values(school, key),
                STAFF_FIELDS,
                view.staff_directory[key],
                path,
                expected,
            )
    for key in keys:
        for alias in (f"x_{key}", f"n_{key}"):
            if view.refused:
                assert data[alias] is None
                expected[(alias,)] = view.refused
            elif key in view.staff_members:
                _check_fields(
                    data[alias],
                    _staff_values(school, key),
                    STAFF_FIELDS,
                    view.staff_members[key],
                    (alias,),
                    expected,
                )
            else:
                assert data[alias] is None, (role, alias)
    assert errors == expected


# --- groups -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ROLES)
async def test_groups_each_role_sees(role: str, client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 4.3, LL 6.3.4, LL-S1: groups a role receives, their fields, and whom it sees in group.pupils/teachers.

    Admins (LL 4.3) and the SENCO see both groups; a teacher the group they teach; pupil1 and parent1
    (LL 6.3.4) group A only, whose ``pupils`` holds pupil1 alone and whose ``teachers`` carry names only.
    The external (MIS) id of a group (LL-S1 "Group ID") is for school admins.
    """
    view = VIEWS[role]
    school = await _school(client, factory)
    keys = ["A", "B"]
    ids = {key: to_global_id("Group", school.groups[key].id) for key in keys}
    pupil_ids = {key: to_global_id("Pupil", row.id) for key, row in school.pupils.items()}
    staff_ids = {key: to_global_id("Staff", row.id) for key, row in school.staff.items()}
    variables, lookups = _lookups(keys, "Group", "group", GROUP_SELECTION)
    query = f"query({variables}) {{ groups(first: 100) {{ edges {{ node {{ id name }} }} }} {lookups} }}"
    data, errors = await _ask(client, school, role, query, ids)

    expected: dict[tuple[Any, ...], str] = {}
    if view.refused:
        assert data["groups"] is None
        expected[("groups",)] = view.refused
    else:
        seen = [_key_of(ids, edge["node"]["id"]) for edge in data["groups"]["edges"]]
        assert sorted(seen) == sorted(view.groups)
    for key in keys:
        row = school.groups[key]
        values = {
            "id": ids[key],
            "name": row.name,
            "kind": row.type,
            "yearGroup": row.year_group,
            "subject": row.subject,
            "externalId": row.external_id,
            "active": row.active,
        }
        for alias in (f"x_{key}", f"n_{key}"):
            node = data[alias]
            if view.refused:
                assert node is None
                expected[(alias,)] = view.refused
                continue
            if key not in view.groups:
                assert node is None, (role, alias)
                continue
            readable = view.groups[key]
            scalars = tuple(f for f in GROUP_FIELDS if f not in ("pupils", "teachers"))
            _check_fields(node, values, scalars, readable, (alias,), expected)

            members = [_key_of(pupil_ids, p["id"]) for p in node["pupils"]]
            assert set(members) == view.group_pupils[key], (alias, "pupils")
            assert len(members) == len(view.group_pupils[key])
            for index, member in enumerate(members):
                pupil = school.pupils[member]
                # Whoever sees a pupil in a group may read the pupil's record (names).
                assert node["pupils"][index]["forename"] == pupil.forename
                assert node["pupils"][index]["surname"] == pupil.surname

            teachers = [_key_of(staff_ids, t["id"]) for t in node["teachers"]]
            assert sorted(teachers) == sorted(view.group_teachers[key]), (alias, "teachers")
            for index, teacher in enumerate(teachers):
                _check_fields(
                    node["teachers"][index],
                    _staff_values(school, teacher),
                    STAFF_FIELDS,
                    view.group_teachers[key][teacher],
                    (alias, "teachers", index),
                    expected,
                )
    assert errors == expected


def test_the_table_covers_every_role_and_field() -> None:
    """The table is total: every role named, every visible row has a field set drawn from the queried fields."""
    assert set(ROLES) == {"admin", "teacher1", "teacher2", "senco", "pupil1", "parent1", "anonymous"}
    for role, view in VIEWS.items():
        assert view.pupil_fields <= set(PUPIL_FIELDS), role
        assert view.pupils <= EVERY_PUPIL, role
        assert set(view.staff_members) <= set(STAFF_KEYS), role
        for fields in view.staff_members.values():
            assert fields <= set(STAFF_FIELDS), role
        assert set(view.group_pupils) == set(view.groups) == set(view.group_teachers), role
        for group, members in view.group_pupils.items():
            assert members <= view.pupils, (role, group)
