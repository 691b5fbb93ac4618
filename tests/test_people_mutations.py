"""School-admin mutations on staff, pupils, groups, memberships and contacts, through the HTTP edge.

Every refused input is checked twice: the payload names the field and the code, and re-reading the school
shows that nothing was written. Ids of another school must behave exactly like unknown ids.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.factories import clock
from tests.factories.people import (
    all_groups,
    all_pupils,
    all_staff,
    bad_uln,
    gid,
    login_payload,
    new_school,
    new_uln,
    new_upn,
    unknown_id,
    wrong_check_letter,
)
from tests.factories.schools import SchoolData, SchoolFactory, gql, login

INPUT_TYPES = {
    "addGroupPupils": "GroupPupilsInput",
    "removeGroupPupils": "GroupPupilsInput",
    "addGroupTeacher": "GroupTeacherInput",
    "removeGroupTeacher": "GroupTeacherInput",
}
STAFF = (
    "staff { id title forename surname workEmail secondaryEmail teaching roleText staffCode dateOfLeaving"
    " active pupilAccess pupilAccessReason }"
)
PUPIL = "pupil { id forename surname dateOfBirth gender email upn uln active dateOfLeaving }"
GROUP = "group { id name kind yearGroup subject externalId active pupils { id } teachers { id } }"
CONTACT = "contact { id title forename surname email phone }"


def document(mutation: str, selection: str) -> str:
    input_type = INPUT_TYPES.get(mutation, mutation[0].upper() + mutation[1:] + "Input")
    return (
        f"mutation($input: {input_type}!) {{ {mutation}(input: $input) "
        f"{{ {selection} errors {{ field code message }} }} }}"
    )


async def mutate(
    client: httpx.AsyncClient, slug: str, token: str, mutation: str, selection: str, **input: Any
) -> dict[str, Any]:
    body = await gql(client, slug, document(mutation, selection), {"input": input}, token=token)
    assert "errors" not in body, body
    payload: dict[str, Any] = body["data"][mutation]
    return payload


def problems(payload: dict[str, Any]) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


async def admin_of(client: httpx.AsyncClient, factory: SchoolFactory) -> tuple[SchoolData, str]:
    school = await new_school(factory)
    return school, await login(client, school.slug, "admin")


def today() -> datetime.date:
    return clock.school_day()


def pupil_input(**overrides: Any) -> dict[str, Any]:
    return {
        "forename": "Nia",
        "surname": "Newcomer",
        "dateOfBirth": "2017-03-14",
        "gender": "FEMALE",
        "upn": new_upn(),
        **overrides,
    }


async def read(client: httpx.AsyncClient, slug: str, token: str, query: str, id: str) -> Any:
    body = await gql(client, slug, query, {"id": id}, token=token)
    assert "errors" not in body, body
    return body["data"]


READ_PUPIL = (
    "query($id: ID!) { pupil(id: $id) { forename surname dateOfBirth gender email upn uln active"
    " dateOfLeaving groups { id } contacts { id } } }"
)
READ_STAFF = (
    "query($id: ID!) { staffMember(id: $id) { title forename surname workEmail secondaryEmail teaching"
    " roleText staffCode dateOfLeaving active pupilAccess pupilAccessReason groups { id } } }"
)
READ_GROUP = (
    "query($id: ID!) { group(id: $id) { name kind yearGroup subject externalId active pupils { id }"
    " teachers { id } } }"
)
VIEWER_AND_PUPILS = "{ viewer { username } pupils { edges { node { id } } } }"


# --- staff ----------------------------------------------------------------------------------------------


async def test_create_staff(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 6.3.1: staff accounts carry name and work email"""
    school, admin = await admin_of(client, factory)
    payload = await mutate(
        client,
        school.slug,
        admin,
        "createStaff",
        STAFF,
        title="Dr",
        forename=" Nadia ",
        surname="Newton",
        workEmail="N.Newton@School.EXAMPLE",
        secondaryEmail="nadia@home.example",
        teaching=False,
        roleText="Business manager",
        staffCode="NN1",
    )
    assert payload["errors"] == []
    staff = payload["staff"]
    data = await read(client, school.slug, admin, READ_STAFF, staff["id"])
    assert data["staffMember"] == {
        "title": "Dr",
        "forename": "Nadia",
        "surname": "Newton",
        "workEmail": "N.Newton@school.example",
        "secondaryEmail": "nadia@home.example",
        "teaching": False,
        "roleText": "Business manager",
        "staffCode": "NN1",
        "dateOfLeaving": None,
        "active": True,
        "pupilAccess": "TAUGHT",
        "pupilAccessReason": None,
        "groups": [],
    }


@pytest.mark.parametrize(
    ("work_email", "code"), [("not-an-email", "INVALID_EMAIL"), ("  ", "REQUIRED"), ("a@b", "INVALID_EMAIL")]
)
async def test_create_staff_needs_a_valid_work_email(
    client: httpx.AsyncClient, factory: SchoolFactory, work_email: str, code: str
) -> None:
    """LL 6.3.1: staff accounts carry name and work email"""
    school, admin = await admin_of(client, factory)
    before = await all_staff(client, school.slug, admin)
    payload = await mutate(
        client, school.slug, admin, "createStaff", STAFF, forename="No", surname="Email", workEmail=work_email
    )
    assert payload["staff"] is None
    assert problems(payload) == [("workEmail", code)]
    assert await all_staff(client, school.slug, admin) == before


async def test_create_staff_reports_every_problem(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 6.3.1: a nameless member of staff with a bad email and a taken code is refused on all counts."""
    school, admin = await admin_of(client, factory)
    before = await all_staff(client, school.slug, admin)
    payload = await mutate(
        client,
        school.slug,
        admin,
        "createStaff",
        STAFF,
        forename="",
        surname="X" * 101,
        workEmail="two@@example.org",
        staffCode="TT1",
    )
    assert problems(payload) == [
        ("forename", "REQUIRED"),
        ("surname", "TOO_LONG"),
        ("workEmail", "INVALID_EMAIL"),
        ("staffCode", "DUPLICATE_STAFF_CODE"),
    ]
    assert await all_staff(client, school.slug, admin) == before


async def test_duplicate_staff_code(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """Staff codes are unique at a school: creating or renaming onto a taken one is refused and writes nothing."""
    school, admin = await admin_of(client, factory)
    before = await all_staff(client, school.slug, admin)
    created = await mutate(
        client,
        school.slug,
        admin,
        "createStaff",
        STAFF,
        forename="Dup",
        surname="Code",
        workEmail="dup@example.org",
        staffCode="TT1",
    )
    assert problems(created) == [("staffCode", "DUPLICATE_STAFF_CODE")]
    assert "TT1" in created["errors"][0]["message"]
    teacher2 = gid("Staff", school.staff["teacher2"])
    updated = await mutate(
        client, school.slug, admin, "updateStaff", STAFF, staffId=teacher2, staffCode="TT1", surname="Changed"
    )
    assert problems(updated) == [("staffCode", "DUPLICATE_STAFF_CODE")]
    assert await all_staff(client, school.slug, admin) == before
    data = await read(client, school.slug, admin, READ_STAFF, teacher2)
    assert (data["staffMember"]["surname"], data["staffMember"]["staffCode"]) == ("Tutor", "TT2")
    # A member of staff keeping their own code is no duplicate; a code elsewhere in the platform is none.
    other = await new_school(factory)
    own = await mutate(
        client, school.slug, admin, "updateStaff", STAFF, staffId=teacher2, staffCode="TT2", roleText="Y5"
    )
    assert own["errors"] == []
    other_admin = await login(client, other.slug, "admin")
    elsewhere = await mutate(
        client,
        other.slug,
        other_admin,
        "createStaff",
        STAFF,
        forename="Same",
        surname="Code",
        workEmail="same@example.org",
        staffCode="NEW1",
    )
    assert elsewhere["errors"] == []
    here = await mutate(
        client,
        school.slug,
        admin,
        "createStaff",
        STAFF,
        forename="Same",
        surname="Code",
        workEmail="same@example.org",
        staffCode="NEW1",
    )
    assert here["errors"] == []


async def test_update_staff_changes_only_given_fields(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 6.3.1: the name and work email stay; a field left out is unchanged, one given as null is cleared."""
    school, admin = await admin_of(client, factory)
    teacher1 = gid("Staff", school.staff["teacher1"])
    payload = await mutate(
        client,
        school.slug,
        admin,
        "updateStaff",
        STAFF,
        staffId=teacher1,
        roleText="Head of Year 4",
        secondaryEmail=None,
    )
    assert payload["errors"] == []
    data = (await read(client, school.slug, admin, READ_STAFF, teacher1))["staffMember"]
    assert data["roleText"] == "Head of Year 4"
    assert data["secondaryEmail"] is None
    assert (data["title"], data["forename"], data["surname"], data["staffCode"]) == (
        "Mr",
        "Tom",
        "Teacher",
        "TT1",
    )
    assert data["workEmail"] == f"teacher1@{school.slug}.example"
    refused = await mutate(
        client, school.slug, admin, "updateStaff", STAFF, staffId=teacher1, workEmail=None, forename=" "
    )
    assert problems(refused) == [("forename", "REQUIRED"), ("workEmail", "REQUIRED")]
    after = (await read(client, school.slug, admin, READ_STAFF, teacher1))["staffMember"]
    assert after == data


async def test_deactivate_staff_ends_access_at_once(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 11.1: a leaver's access is removed at once; LL 11.2: their token reaches nothing."""
    school, admin = await admin_of(client, factory)
    teacher_token = await login(client, school.slug, "teacher1")
    teacher1 = gid("Staff", school.staff["teacher1"])
    payload = await mutate(client, school.slug, admin, "deactivateStaff", STAFF, staffId=teacher1)
    assert payload["errors"] == []
    assert payload["staff"]["active"] is False
    assert payload["staff"]["dateOfLeaving"] == today().isoformat()
    body = await gql(client, school.slug, VIEWER_AND_PUPILS, token=teacher_token)
    assert body["data"] == {"viewer": None, "pupils": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    refused = await login_payload(client, school.slug, "teacher1")
    assert [e["code"] for e in refused["errors"]] == ["ACCOUNT_DISABLED"]
    assert teacher1 not in [s["id"] for s in (await all_staff(client, school.slug, admin)) if s["active"]]
    staff = (await read(client, school.slug, admin, READ_STAFF, teacher1))["staffMember"]
    assert (staff["active"], staff["forename"]) == (False, "Tom")


async def test_deactivate_staff_with_a_past_leaving_date(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 11.1: a leaving date in the past is recorded; one in the future is refused (deactivation is now)."""
    school, admin = await admin_of(client, factory)
    teacher2 = gid("Staff", school.staff["teacher2"])
    future = (today() + datetime.timedelta(days=3)).isoformat()
    refused = await mutate(
        client, school.slug, admin, "deactivateStaff", STAFF, staffId=teacher2, dateOfLeaving=future
    )
    assert problems(refused) == [("dateOfLeaving", "INVALID_DATE")]
    assert (await read(client, school.slug, admin, READ_STAFF, teacher2))["staffMember"]["active"] is True
    await login(client, school.slug, "teacher2")
    past = (today() - datetime.timedelta(days=2)).isoformat()
    done = await mutate(
        client, school.slug, admin, "deactivateStaff", STAFF, staffId=teacher2, dateOfLeaving=past
    )
    assert done["errors"] == []
    assert (done["staff"]["active"], done["staff"]["dateOfLeaving"]) == (False, past)
    refused_login = await login_payload(client, school.slug, "teacher2")
    assert [e["code"] for e in refused_login["errors"]] == ["ACCOUNT_DISABLED"]
    again = await mutate(client, school.slug, admin, "deactivateStaff", STAFF, staffId=teacher2)
    assert again["staff"]["dateOfLeaving"] == past  # deactivating again keeps the recorded date


async def test_update_staff_leaving_date_today_ends_access(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 11.1: access ends on the leaving date, also when it is recorded with updateStaff."""
    school, admin = await admin_of(client, factory)
    token = await login(client, school.slug, "teacher1")
    teacher1 = gid("Staff", school.staff["teacher1"])
    later = (today() + datetime.timedelta(days=30)).isoformat()
    planned = await mutate(
        client, school.slug, admin, "updateStaff", STAFF, staffId=teacher1, dateOfLeaving=later
    )
    assert (planned["staff"]["active"], planned["staff"]["dateOfLeaving"]) == (True, later)
    assert (await gql(client, school.slug, VIEWER_AND_PUPILS, token=token))["data"]["viewer"] is not None
    now = await mutate(
        client, school.slug, admin, "updateStaff", STAFF, staffId=teacher1, dateOfLeaving=today().isoformat()
    )
    assert now["staff"]["active"] is False
    assert (await gql(client, school.slug, VIEWER_AND_PUPILS, token=token))["data"]["viewer"] is None


async def test_admin_cannot_deactivate_themself(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 4.3: the master account cannot lock itself out by recording its own leaving."""
    school, admin = await admin_of(client, factory)
    own = gid("Staff", school.staff["admin"])
    payload = await mutate(client, school.slug, admin, "deactivateStaff", STAFF, staffId=own)
    assert problems(payload) == [("staffId", "OWN_ACCOUNT")]
    assert (await gql(client, school.slug, VIEWER_AND_PUPILS, token=admin))["data"]["viewer"] is not None


async def test_staff_pupil_access(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """School-wide pupil access needs a recorded reason; teacher2 sees group A's pupils only while it lasts."""
    school, admin = await admin_of(client, factory)
    teacher2_token = await login(client, school.slug, "teacher2")
    teacher2 = gid("Staff", school.staff["teacher2"])
    pupil1 = gid("Pupil", school.pupils["pupil1"])
    group_a = {gid("Pupil", p) for k, p in school.pupils.items() if "B" not in k}

    async def visible() -> set[str]:
        body = await gql(client, school.slug, VIEWER_AND_PUPILS, token=teacher2_token)
        return {edge["node"]["id"] for edge in body["data"]["pupils"]["edges"]}

    assert not visible_ids_overlap(await visible(), group_a)
    missing = await mutate(
        client, school.slug, admin, "setStaffPupilAccess", STAFF, staffId=teacher2, access="SCHOOL"
    )
    assert problems(missing) == [("reason", "REQUIRED")]
    assert not visible_ids_overlap(await visible(), group_a)

    granted = await mutate(
        client,
        school.slug,
        admin,
        "setStaffPupilAccess",
        STAFF,
        staffId=teacher2,
        access="SCHOOL",
        reason="Head of Year 4",
    )
    assert granted["errors"] == []
    assert (granted["staff"]["pupilAccess"], granted["staff"]["pupilAccessReason"]) == (
        "SCHOOL",
        "Head of Year 4",
    )
    assert group_a <= await visible()
    body = await gql(
        client,
        school.slug,
        "query($id: ID!) { pupil(id: $id) { upn } }",
        {"id": pupil1},
        token=teacher2_token,
    )
    assert body["data"]["pupil"]["upn"] == school.pupils["pupil1"].upn

    revoked = await mutate(
        client, school.slug, admin, "setStaffPupilAccess", STAFF, staffId=teacher2, access="TAUGHT"
    )
    assert (revoked["staff"]["pupilAccess"], revoked["staff"]["pupilAccessReason"]) == ("TAUGHT", None)
    assert not visible_ids_overlap(await visible(), group_a)


def visible_ids_overlap(visible: set[str], ids: set[str]) -> bool:
    return bool(visible & ids)


# --- pupils ---------------------------------------------------------------------------------------------


async def test_create_pupil(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL-S1: a pupil carries forename, surname, date of birth, gender, UPN, optional ULN and email."""
    school, admin = await admin_of(client, factory)
    upn, uln = new_upn(), new_uln()
    payload = await mutate(
        client,
        school.slug,
        admin,
        "createPupil",
        PUPIL,
        **pupil_input(upn=upn.lower(), uln=uln, email="nia@Pupils.Example"),
    )
    assert payload["errors"] == []
    data = await read(client, school.slug, admin, READ_PUPIL, payload["pupil"]["id"])
    assert data["pupil"] == {
        "forename": "Nia",
        "surname": "Newcomer",
        "dateOfBirth": "2017-03-14",
        "gender": "FEMALE",
        "email": "nia@pupils.example",
        "upn": upn,
        "uln": uln,
        "active": True,
        "dateOfLeaving": None,
        "groups": [],
        "contacts": [],
    }


async def test_uln_placeholder_means_none(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL-S1: the ULN is optional; the ILR placeholder 9999999999 is stored as no ULN."""
    school, admin = await admin_of(client, factory)
    payload = await mutate(client, school.slug, admin, "createPupil", PUPIL, **pupil_input(uln="9999999999"))
    assert payload["errors"] == []
    assert payload["pupil"]["uln"] is None


async def test_update_pupil(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL-S1: rectifying a pupil's fields changes exactly the fields given."""
    school, admin = await admin_of(client, factory)
    pupil = school.pupils["pupil2"]
    pupil_id = gid("Pupil", pupil)
    uln = new_uln()
    payload = await mutate(
        client,
        school.slug,
        admin,
        "updatePupil",
        PUPIL,
        pupilId=pupil_id,
        surname="Renamed",
        uln=uln,
        email=None,
        upn=pupil.upn,
        gender="NOT_KNOWN",
    )
    assert payload["errors"] == []
    data = (await read(client, school.slug, admin, READ_PUPIL, pupil_id))["pupil"]
    assert (data["forename"], data["surname"], data["dateOfBirth"]) == (
        pupil.forename,
        "Renamed",
        str(pupil.date_of_birth),
    )
    assert (data["upn"], data["uln"], data["email"], data["gender"]) == (pupil.upn, uln, None, "NOT_KNOWN")
    taken = await mutate(
        client,
        school.slug,
        admin,
        "updatePupil",
        PUPIL,
        pupilId=pupil_id,
        upn=school.pupils["pupil1"].upn,
        surname="Again",
    )
    assert problems(taken) == [("upn", "DUPLICATE_UPN")]
    assert (await read(client, school.slug, admin, READ_PUPIL, pupil_id))["pupil"]["surname"] == "Renamed"


def _future() -> str:
    return (today() + datetime.timedelta(days=1)).isoformat()


BadInput = tuple[Callable[[SchoolData], dict[str, Any]], list[tuple[str, str]]]
BAD_PUPIL_INPUTS: dict[str, BadInput] = {
    "upn check letter": (lambda s: {"upn": wrong_check_letter(new_upn())}, [("upn", "INVALID_UPN")]),
    "upn length": (lambda s: {"upn": "A12345"}, [("upn", "INVALID_UPN")]),
    "uln check digit": (lambda s: {"uln": bad_uln()}, [("uln", "INVALID_ULN")]),
    "uln letters": (lambda s: {"uln": "12345X7890"}, [("uln", "INVALID_ULN")]),
    "email": (lambda s: {"email": "pupil at school.example"}, [("email", "INVALID_EMAIL")]),
    "duplicate upn": (lambda s: {"upn": s.pupils["pupil1"].upn}, [("upn", "DUPLICATE_UPN")]),
    "duplicate upn, lower case": (
        lambda s: {"upn": str(s.pupils["pupil1"].upn).lower()},
        [("upn", "DUPLICATE_UPN")],
    ),
    "future date of birth": (
        lambda s: {"dateOfBirth": _future()},
        [("dateOfBirth", "INVALID_DATE_OF_BIRTH")],
    ),
    "too young": (
        lambda s: {"dateOfBirth": (today() - datetime.timedelta(days=300)).isoformat()},
        [("dateOfBirth", "INVALID_DATE_OF_BIRTH")],
    ),
    "too old": (lambda s: {"dateOfBirth": "1989-12-31"}, [("dateOfBirth", "INVALID_DATE_OF_BIRTH")]),
    "two bad fields": (
        lambda s: {"upn": wrong_check_letter(new_upn()), "email": "@example.org"},
        [("upn", "INVALID_UPN"), ("email", "INVALID_EMAIL")],
    ),
    "blank name": (lambda s: {"forename": "   "}, [("forename", "REQUIRED")]),
    "control character": (lambda s: {"surname": "Bad\x00Name"}, [("surname", "INVALID_CHARACTERS")]),
}


@pytest.mark.parametrize("case", list(BAD_PUPIL_INPUTS))
async def test_create_pupil_refuses_bad_input(
    client: httpx.AsyncClient, factory: SchoolFactory, case: str
) -> None:
    """LL-S1: identifiers validated with their check characters; LL 6.3.2: an accurate date of birth."""
    school, admin = await admin_of(client, factory)
    make, expected = BAD_PUPIL_INPUTS[case]
    before = await all_pupils(client, school.slug, admin)
    payload = await mutate(client, school.slug, admin, "createPupil", PUPIL, **pupil_input(**make(school)))
    assert payload["pupil"] is None
    assert problems(payload) == expected
    assert await all_pupils(client, school.slug, admin) == before


async def test_wrong_upn_check_letter_names_the_expected_letter(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL-S1: a mistyped UPN is explained: the message says which check letter was expected."""
    school, admin = await admin_of(client, factory)
    upn = new_upn()
    payload = await mutate(
        client, school.slug, admin, "createPupil", PUPIL, **pupil_input(upn=wrong_check_letter(upn))
    )
    [error] = payload["errors"]
    assert (error["field"], error["code"]) == ("upn", "INVALID_UPN")
    assert f"expected {upn[0]!r}" in error["message"]


@pytest.mark.parametrize("caller", ["teacher1", "senco", "pupil1", "parent1", None])
async def test_only_school_admins_create_pupils(
    client: httpx.AsyncClient, factory: SchoolFactory, caller: str | None
) -> None:
    """LL 4.3: only the school admin creates and manages Registered Users; anyone else writes nothing."""
    school = await new_school(factory)
    token = await login(client, school.slug, caller) if caller else None
    upn = new_upn()
    body = await gql(
        client,
        school.slug,
        document("createPupil", PUPIL),
        {"input": pupil_input(upn=upn)},
        token=token,
    )
    assert [e["extensions"]["code"] for e in body["errors"]] == [
        "UNAUTHENTICATED" if caller is None else "FORBIDDEN"
    ]
    assert body["data"] is None
    admin = await login(client, school.slug, "admin")
    assert upn not in {p["upn"] for p in await all_pupils(client, school.slug, admin)}


async def test_deactivate_pupil_ends_access_at_once(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 11.1: a leaver's access is removed at once; LL 11.2: a deactivated account reaches nothing."""
    school, admin = await admin_of(client, factory)
    pupil_token = await login(client, school.slug, "pupil1")
    assert (await gql(client, school.slug, VIEWER_AND_PUPILS, token=pupil_token))["data"]["viewer"] == {
        "username": "pupil1"
    }
    pupil1 = gid("Pupil", school.pupils["pupil1"])
    left = (today() - datetime.timedelta(days=1)).isoformat()
    payload = await mutate(
        client, school.slug, admin, "deactivatePupil", PUPIL, pupilId=pupil1, dateOfLeaving=left
    )
    assert payload["errors"] == []
    assert (payload["pupil"]["active"], payload["pupil"]["dateOfLeaving"]) == (False, left)

    body = await gql(client, school.slug, VIEWER_AND_PUPILS, token=pupil_token)
    assert body["data"] == {"viewer": None, "pupils": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]
    refused = await login_payload(client, school.slug, "pupil1")
    assert refused["accessToken"] is None
    assert [e["code"] for e in refused["errors"]] == ["ACCOUNT_DISABLED"]

    # The record stays for the school admin (erasure is a separate, recorded operation).
    listed = {p["id"]: p for p in await all_pupils(client, school.slug, admin)}
    assert listed[pupil1]["active"] is False
    active_only = await gql(
        client, school.slug, "{ pupils(first: 100) { edges { node { id } } } }", token=admin
    )
    assert pupil1 not in {e["node"]["id"] for e in active_only["data"]["pupils"]["edges"]}


async def test_deactivate_pupil_defaults_to_today(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 11.1: without a date the leaving date is today (in England)."""
    school, admin = await admin_of(client, factory)
    payload = await mutate(
        client, school.slug, admin, "deactivatePupil", PUPIL, pupilId=gid("Pupil", school.pupils["pupil3"])
    )
    assert payload["pupil"]["dateOfLeaving"] == today().isoformat()


# --- another school's ids are unknown ids ---------------------------------------------------------------


async def test_ids_of_another_school_are_not_found(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 4.3: an admin manages only their own school: another school's rows are indistinguishable from none."""
    school, admin = await admin_of(client, factory)
    other = await new_school(factory)
    cases = [
        ("updatePupil", PUPIL, "pupilId", "Pupil", other.pupils["pupil1"], {"surname": "Hijacked"}),
        ("deactivatePupil", PUPIL, "pupilId", "Pupil", other.pupils["pupil1"], {}),
        ("updateStaff", STAFF, "staffId", "Staff", other.staff["teacher1"], {"surname": "Hijacked"}),
        ("deactivateStaff", STAFF, "staffId", "Staff", other.staff["teacher1"], {}),
        (
            "setStaffPupilAccess",
            STAFF,
            "staffId",
            "Staff",
            other.staff["teacher1"],
            {"access": "SCHOOL", "reason": "x"},
        ),
        ("updateGroup", GROUP, "groupId", "Group", other.groups["A"], {"name": "Hijacked"}),
        ("deactivateGroup", GROUP, "groupId", "Group", other.groups["A"], {}),
    ]
    for mutation, selection, field, type_name, row, extra in cases:
        theirs = await mutate(
            client, school.slug, admin, mutation, selection, **{field: gid(type_name, row)}, **extra
        )
        unknown = await mutate(
            client, school.slug, admin, mutation, selection, **{field: unknown_id(type_name)}, **extra
        )
        assert problems(theirs) == [(field, "NOT_FOUND")], mutation
        assert theirs == unknown, mutation
    other_admin = await login(client, other.slug, "admin")
    pupil = (await read(client, other.slug, other_admin, READ_PUPIL, gid("Pupil", other.pupils["pupil1"])))[
        "pupil"
    ]
    assert (pupil["surname"], pupil["active"]) == (other.pupils["pupil1"].surname, True)
    group = (await read(client, other.slug, other_admin, READ_GROUP, gid("Group", other.groups["A"])))[
        "group"
    ]
    assert (group["name"], group["active"]) == ("Class A", True)
    await login(client, other.slug, "teacher1")  # their teacher1 was not deactivated


async def test_malformed_and_mistyped_ids_are_not_found(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """An id that is not one of ours, or names another type, is NOT_FOUND on its field."""
    school, admin = await admin_of(client, factory)
    for bad in ("not-an-id", gid("Staff", school.pupils["pupil1"])):
        payload = await mutate(client, school.slug, admin, "updatePupil", PUPIL, pupilId=bad, surname="X")
        assert problems(payload) == [("pupilId", "NOT_FOUND")]


# --- groups ---------------------------------------------------------------------------------------------


async def test_create_update_and_deactivate_group(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """Groups are created, renamed and deactivated; a deactivated group leaves the lists but not the record."""
    school, admin = await admin_of(client, factory)
    created = await mutate(
        client,
        school.slug,
        admin,
        "createGroup",
        GROUP,
        name="Reception Robins",
        kind="REGISTRATION",
        yearGroup=-1,
        externalId="REG-R",
    )
    assert created["errors"] == []
    group_id = created["group"]["id"]
    assert (await read(client, school.slug, admin, READ_GROUP, group_id))["group"] == {
        "name": "Reception Robins",
        "kind": "REGISTRATION",
        "yearGroup": -1,
        "subject": None,
        "externalId": "REG-R",
        "active": True,
        "pupils": [],
        "teachers": [],
    }
    updated = await mutate(
        client,
        school.slug,
        admin,
        "updateGroup",
        GROUP,
        groupId=group_id,
        name="Phonics",
        kind="SUBJECT",
        subject="English",
        yearGroup=None,
    )
    assert updated["errors"] == []
    data = (await read(client, school.slug, admin, READ_GROUP, group_id))["group"]
    assert (data["name"], data["kind"], data["subject"], data["yearGroup"], data["externalId"]) == (
        "Phonics",
        "SUBJECT",
        "English",
        None,
        "REG-R",
    )
    deactivated = await mutate(client, school.slug, admin, "deactivateGroup", GROUP, groupId=group_id)
    assert deactivated["group"]["active"] is False
    listed = await gql(client, school.slug, "{ groups(first: 100) { edges { node { id } } } }", token=admin)
    assert group_id not in {e["node"]["id"] for e in listed["data"]["groups"]["edges"]}
    assert group_id in {g["id"] for g in await all_groups(client, school.slug, admin)}


async def test_create_group_refuses_bad_input(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """Year groups run from -2 (nursery) to 14; external ids are unique at a school; nothing is written."""
    school, admin = await admin_of(client, factory)
    before = await all_groups(client, school.slug, admin)
    payload = await mutate(
        client,
        school.slug,
        admin,
        "createGroup",
        GROUP,
        name=" ",
        kind="CLASS",
        yearGroup=15,
        externalId=school.groups["A"].external_id,
    )
    assert problems(payload) == [
        ("name", "REQUIRED"),
        ("yearGroup", "OUT_OF_RANGE"),
        ("externalId", "DUPLICATE_EXTERNAL_ID"),
    ]
    assert await all_groups(client, school.slug, admin) == before


async def test_add_and_remove_group_pupils(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """Adding is idempotent (a pupil already in the group, or named twice, is one membership)."""
    school, admin = await admin_of(client, factory)
    group_a = gid("Group", school.groups["A"])
    b1, b2 = gid("Pupil", school.pupils["pupilB1"]), gid("Pupil", school.pupils["pupilB2"])
    pupil1 = gid("Pupil", school.pupils["pupil1"])
    payload = await mutate(
        client, school.slug, admin, "addGroupPupils", GROUP, groupId=group_a, pupilIds=[b1, pupil1, b1, b2]
    )
    assert payload["errors"] == []
    members = [p["id"] for p in payload["group"]["pupils"]]
    assert len(members) == len(set(members)) == 5
    assert {b1, b2, pupil1} <= set(members)
    again = await mutate(client, school.slug, admin, "addGroupPupils", GROUP, groupId=group_a, pupilIds=[b1])
    assert sorted(p["id"] for p in again["group"]["pupils"]) == sorted(members)
    groups_of_b1 = (await read(client, school.slug, admin, READ_PUPIL, b1))["pupil"]["groups"]
    assert {g["id"] for g in groups_of_b1} == {group_a, gid("Group", school.groups["B"])}

    removed = await mutate(
        client, school.slug, admin, "removeGroupPupils", GROUP, groupId=group_a, pupilIds=[b1, b2]
    )
    assert removed["errors"] == []
    assert {b1, b2}.isdisjoint(p["id"] for p in removed["group"]["pupils"])
    assert pupil1 in {p["id"] for p in removed["group"]["pupils"]}
    idempotent = await mutate(
        client, school.slug, admin, "removeGroupPupils", GROUP, groupId=group_a, pupilIds=[b1]
    )
    assert idempotent["errors"] == []


async def test_group_membership_refuses_unknown_and_foreign_ids(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """Unknown ids and ids of another school are NOT_FOUND on their own field; nothing is written."""
    school, admin = await admin_of(client, factory)
    other = await new_school(factory)
    group_a = gid("Group", school.groups["A"])
    b1 = gid("Pupil", school.pupils["pupilB1"])
    before = await all_groups(client, school.slug, admin)

    unknown_group = await mutate(
        client, school.slug, admin, "addGroupPupils", GROUP, groupId=unknown_id("Group"), pupilIds=[b1]
    )
    foreign_group = await mutate(
        client,
        school.slug,
        admin,
        "addGroupPupils",
        GROUP,
        groupId=gid("Group", other.groups["A"]),
        pupilIds=[b1],
    )
    assert problems(unknown_group) == [("groupId", "NOT_FOUND")]
    assert foreign_group == unknown_group

    pupils = await mutate(
        client,
        school.slug,
        admin,
        "addGroupPupils",
        GROUP,
        groupId=group_a,
        pupilIds=[b1, gid("Pupil", other.pupils["pupil2"]), unknown_id("Pupil")],
    )
    assert problems(pupils) == [("pupilIds.1", "NOT_FOUND"), ("pupilIds.2", "NOT_FOUND")]
    assert pupils["errors"][0]["message"] == pupils["errors"][1]["message"]

    undecodable = await mutate(
        client, school.slug, admin, "addGroupPupils", GROUP, groupId="nonsense", pupilIds=[b1, "x"]
    )
    assert problems(undecodable) == [("groupId", "NOT_FOUND"), ("pupilIds.1", "NOT_FOUND")]

    teacher = await mutate(
        client,
        school.slug,
        admin,
        "addGroupTeacher",
        GROUP,
        groupId=group_a,
        staffId=gid("Staff", other.staff["teacher1"]),
    )
    assert problems(teacher) == [("staffId", "NOT_FOUND")]
    assert await all_groups(client, school.slug, admin) == before
    other_admin = await login(client, other.slug, "admin")
    other_group = await read(client, other.slug, other_admin, READ_GROUP, gid("Group", other.groups["A"]))
    assert b1 not in {p["id"] for p in other_group["group"]["pupils"]}


async def test_inactive_pupils_staff_and_groups_cannot_be_added(
    client: httpx.AsyncClient, factory: SchoolFactory
) -> None:
    """LL 11.1: a leaver joins no group; a deactivated group takes no new members."""
    school, admin = await admin_of(client, factory)
    group_a, group_b = gid("Group", school.groups["A"]), gid("Group", school.groups["B"])
    leaver = gid("Pupil", school.pupils["pupilB2"])
    teacher2 = gid("Staff", school.staff["teacher2"])
    await mutate(client, school.slug, admin, "deactivatePupil", PUPIL, pupilId=leaver)
    await mutate(client, school.slug, admin, "deactivateStaff", STAFF, staffId=teacher2)
    before = await all_groups(client, school.slug, admin)

    pupil = await mutate(
        client,
        school.slug,
        admin,
        "addGroupPupils",
        GROUP,
        groupId=group_a,
        pupilIds=[gid("Pupil", school.pupils["pupilB1"]), leaver],
    )
    assert problems(pupil) == [("pupilIds.1", "INACTIVE")]
    staff = await mutate(
        client, school.slug, admin, "addGroupTeacher", GROUP, groupId=group_a, staffId=teacher2
    )
    assert problems(staff) == [("staffId", "INACTIVE")]
    assert await all_groups(client, school.slug, admin) == before

    await mutate(client, school.slug, admin, "deactivateGroup", GROUP, groupId=group_b)
    closed = await mutate(
        client,
        school.slug,
        admin,
        "addGroupPupils",
        GROUP,
        groupId=group_b,
        pupilIds=[gid("Pupil", school.pupils["pupil1"])],
    )
    assert problems(closed) == [("groupId", "INACTIVE")]
    # Tidying up a leaver's membership is allowed.
    tidy = await mutate(
        client, school.slug, admin, "removeGroupPupils", GROUP, groupId=group_b, pupilIds=[leaver]
    )
    assert tidy["errors"] == []


async def test_add_and_remove_group_teacher(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """A teacher added to a group sees its pupils from their next request, and not after removal."""
    school, admin = await admin_of(client, factory)
    teacher2_token = await login(client, school.slug, "teacher2")
    group_a = gid("Group", school.groups["A"])
    teacher2 = gid("Staff", school.staff["teacher2"])
    pupil1 = gid("Pupil", school.pupils["pupil1"])
    see_pupil1 = "query($id: ID!) { pupil(id: $id) { forename } }"

    async def teacher2_sees_pupil1() -> bool:
        body = await gql(client, school.slug, see_pupil1, {"id": pupil1}, token=teacher2_token)
        return body["data"]["pupil"] is not None

    assert not await teacher2_sees_pupil1()
    for _ in range(2):  # idempotent
        added = await mutate(
            client, school.slug, admin, "addGroupTeacher", GROUP, groupId=group_a, staffId=teacher2
        )
        assert added["errors"] == []
        assert teacher2 in {t["id"] for t in added["group"]["teachers"]}
    assert await teacher2_sees_pupil1()
    staff = (await read(client, school.slug, admin, READ_STAFF, teacher2))["staffMember"]
    assert group_a in {g["id"] for g in staff["groups"]}

    removed = await mutate(
        client, school.slug, admin, "removeGroupTeacher", GROUP, groupId=group_a, staffId=teacher2
    )
    assert teacher2 not in {t["id"] for t in removed["group"]["teachers"]}
    assert not await teacher2_sees_pupil1()


# --- contacts -------------------------------------------------------------------------------------------


LINK = "pupil { id contacts { id forename } } contact { id forename }"


async def test_contacts_link_and_unlink(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL 4.3: the school admin links parents to pupils; a parent sees exactly their linked children."""
    school, admin = await admin_of(client, factory)
    created = await mutate(
        client,
        school.slug,
        admin,
        "createContact",
        CONTACT,
        title="Mr",
        forename="Gary",
        surname="Guardian",
        email="gary@Example.org",
        phone="+44 (0)20 7946-0958",
    )
    assert created["errors"] == []
    assert created["contact"]["email"] == "gary@example.org"
    assert created["contact"]["phone"] == "+44 (0)20 7946-0958"
    contact = created["contact"]["id"]
    pupil2 = gid("Pupil", school.pupils["pupil2"])
    linked = await mutate(
        client,
        school.slug,
        admin,
        "linkContact",
        LINK,
        contactId=contact,
        pupilId=pupil2,
        relationship="GUARDIAN",
    )
    assert linked["errors"] == []
    carer = gid("Contact", school.contacts["carer_pupil2"])  # the factory's, who consented (LL 6.3.2)
    assert {c["id"] for c in linked["pupil"]["contacts"]} == {contact, carer}

    # parent1 is linked to pupil1 only; linking them to pupil2 too widens what they see.
    parent_token = await login(client, school.slug, "parent1")
    children = "{ viewer { children { id } } }"

    async def parent_children() -> set[str]:
        body = await gql(client, school.slug, children, token=parent_token)
        return {c["id"] for c in body["data"]["viewer"]["children"]}

    assert await parent_children() == {gid("Pupil", school.pupils["pupil1"])}
    parent1 = gid("Contact", school.contacts["parent1"])
    await mutate(client, school.slug, admin, "linkContact", LINK, contactId=parent1, pupilId=pupil2)
    relinked = await mutate(
        client, school.slug, admin, "linkContact", LINK, contactId=parent1, pupilId=pupil2
    )
    assert relinked["errors"] == []
    assert await parent_children() == {gid("Pupil", school.pupils["pupil1"]), pupil2}
    unlinked = await mutate(
        client, school.slug, admin, "unlinkContact", LINK, contactId=parent1, pupilId=pupil2
    )
    assert unlinked["errors"] == []
    assert {c["id"] for c in unlinked["pupil"]["contacts"]} == {contact, carer}
    assert await parent_children() == {gid("Pupil", school.pupils["pupil1"])}


async def test_contact_input_is_validated(client: httpx.AsyncClient, factory: SchoolFactory) -> None:
    """LL-S1: contact emails and phone numbers are checked; both problems are reported; nothing is written."""
    school, admin = await admin_of(client, factory)
    payload = await mutate(
        client,
        school.slug,
        admin,
        "createContact",
        CONTACT,
        forename="Bad",
        surname="Details",
        email="bad@",
        phone="call me",
    )
    assert problems(payload) == [("email", "INVALID_EMAIL"), ("phone", "INVALID_PHONE")]
    other = await new_school(factory)
    link = await mutate(
        client,
        school.slug,
        admin,
        "linkContact",
        LINK,
        contactId=gid("Contact", other.contacts["parent1"]),
        pupilId=gid("Pupil", other.pupils["pupil1"]),
    )
    assert problems(link) == [("contactId", "NOT_FOUND"), ("pupilId", "NOT_FOUND")]
