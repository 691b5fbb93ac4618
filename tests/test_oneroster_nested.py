"""OneRoster 1.1's typed and nested endpoints (``schools``, ``terms``, ``gradingPeriods``;
``getStudentsForClass``, ``getClassesForUser``, ``getEnrollmentsForClassInSchool``...): a consumer written to
the specification walks the school's classes and their members through them. Over HTTP with a partner's
token, on real PostgreSQL, for a school that imported a package with a school year, a term in it and a grading
period in that, three classes, a teacher, pupils and a parent (``partners.oneroster.nested``)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from audit.queries import BULK_PUPIL_READ
from tenants.context import bind
from tests.factories.partners import PartnerFactory
from tests.factories.roster import enrol, klass, oneroster, user
from tests.factories.schools import SchoolData, SchoolFactory
from tests.test_partners import partners, restrict_processing, roster_url  # noqa: F401 - fixtures
from tests.test_partners_feed_shows import _as_partner, _imported_school
from tests.test_partners_scopes import _token
from tests.test_roster_import import UPNS

SESSIONS = [
    {"sourcedId": "y1", "title": "2026/27", "type": "schoolYear", "startDate": "2026-09-01",
     "endDate": "2027-07-31", "schoolYear": "2027"},
    {"sourcedId": "aut", "title": "Autumn", "type": "term", "startDate": "2026-09-01",
     "endDate": "2026-12-18", "parentSourcedId": "y1", "schoolYear": "2027"},
    {"sourcedId": "aut-1", "title": "Autumn 1", "type": "gradingPeriod", "startDate": "2026-09-01",
     "endDate": "2026-10-23", "parentSourcedId": "aut", "schoolYear": "2027"},
]  # fmt: skip
PACKAGE = oneroster(
    users=[
        user("t1", "teacher", "Tina", "Teach", email="tina@school.example"),
        *(user(p, "student", f"Pat{p}", "Pupil", user_ids=f"{{UPN:{UPNS[p]}}}") for p in ("p1", "p2")),
        user("m1", "parent", "Mo", "Parent", email="mo@home.example", agents="p1"),
    ],
    classes=[
        klass("c1", "Class 9X", terms="y1"),
        klass("c2", "Class 9Y", terms="y1"),
        klass("c3", "Autumn club", terms="aut"),
    ],
    sessions=SESSIONS,
    enrollments=[
        enrol("e-t1", "c1", "t1", "teacher"),
        enrol("e-p1", "c1", "p1"),
        enrol("e-p2", "c2", "p2"),
        enrol("e-p1c", "c3", "p1"),
    ],
)


async def _school(client: httpx.AsyncClient, factory: SchoolFactory, registry: PartnerFactory) -> SchoolData:
    """A school that says it is org-1, has imported :data:`PACKAGE`, and whose partner the client is."""
    school, _ = await _imported_school(client, factory, PACKAGE)
    await _as_partner(client, registry, school)
    return school


async def _served(client: httpx.AsyncClient, school: SchoolData, path: str, key: str) -> set[str]:
    response = await client.get(roster_url(school, path), params={"fields": "sourcedId"})
    assert response.status_code == 200, (path, response.text)
    assert response.headers["x-total-count"] == str(len(response.json()[key])), path
    return {o["sourcedId"] for o in response.json()[key]}


ENDPOINTS: dict[str, set[str]] = {
    "schools": {"org-1"},
    "terms": {"aut"},
    "gradingPeriods": {"aut-1"},
    "schools/org-1/terms": {"aut"},
    "classes/c1/students": {"p1"},
    "classes/c1/teachers": {"t1"},
    "classes/c2/students": {"p2"},
    "classes/c2/teachers": set(),
    "schools/org-1/classes/c1/enrollments": {"c1:t1:t", "c1:p1:s"},
    "schools/org-1/classes/c1/students": {"p1"},
    "schools/org-1/classes/c1/teachers": {"t1"},
    "students/p1/classes": {"c1", "c3"},
    "teachers/t1/classes": {"c1"},
    "users/p2/classes": {"c2"},
    "users/m1/classes": set(),
    "courses/course-c2/classes": {"c2"},
    "terms/aut/classes": {"c3"},
    "terms/aut/gradingPeriods": {"aut-1"},
}


async def test_every_typed_and_nested_endpoint_serves_what_belongs_to_its_parent(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    partners: PartnerFactory,  # noqa: F811 - the fixture
) -> None:
    """Each endpoint serves exactly the objects that belong to its parent, in the collection's own shape
    (the object read alone is the same), with the specification's paging, filter and fields; a session
    names its parent and its children."""
    school = await _school(client, factory, partners)
    for path, expected in ENDPOINTS.items():
        key = path.rsplit("/", 1)[-1]
        assert await _served(client, school, path, key) == expected, path
    # The school's own collections under its org: the collection itself (the factory's persons and classes
    # too, which the package's import left as they were).
    for collection in ("classes", "courses", "enrollments", "students", "teachers"):
        whole = await _served(client, school, collection, collection)
        assert await _served(client, school, f"schools/org-1/{collection}", collection) == whole
        assert {"c1", "course-c1", "c1:t1:t", "p1", "t1"} & whole, collection
    whole = (await client.get(roster_url(school, "classes/c1/students"))).json()["students"]
    alone = (await client.get(roster_url(school, f"students/{whole[0]['sourcedId']}"))).json()["user"]
    assert whole == [alone]
    term = (await client.get(roster_url(school, "terms/aut"))).json()
    assert term["academicSession"]["type"] == "term"
    assert term["academicSession"]["parent"]["sourcedId"] == "y1"
    assert [c["sourcedId"] for c in term["academicSession"]["children"]] == ["aut-1"]
    year = (await client.get(roster_url(school, "academicSessions/y1"))).json()["academicSession"]
    assert year["parent"] is None and [c["sourcedId"] for c in year["children"]] == ["aut"]
    paged = await client.get(
        roster_url(school, "schools/org-1/classes"), params={"limit": "1", "offset": "1", "sort": "title"}
    )
    assert [c["title"] for c in paged.json()["classes"]] == ["Class 9X"]
    assert paged.headers["x-total-count"] == "3" and 'rel="next"' in paged.headers["link"]
    filtered = await client.get(
        roster_url(school, "students/p1/classes"), params={"filter": "title~'club'", "fields": "title"}
    )
    assert filtered.json() == {"classes": [{"title": "Autumn club"}]}


async def test_an_unknown_parent_or_endpoint_is_the_specifications_unknownobject(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    partners: PartnerFactory,  # noqa: F811 - the fixture
) -> None:
    """A parent the school does not have (another school's org, a class or user not there, a pupil asked
    for as a teacher, a school year asked for as a term) and a pair the specification has no endpoint for
    answer 404 ``unknownobject``, naming what was not found; a bad parameter is still ``invaliddata``."""
    school = await _school(client, factory, partners)
    for path, names in {
        "schools/org-2/classes": "org-2",
        "classes/c9/students": "c9",
        "teachers/p1/classes": "p1",
        "terms/y1/classes": "y1",
        "schools/org-1/classes/c9/students": "c9",
        "classes/c1/orgs": "classes/{id}/orgs",
        "classes/c1/changes": "classes/{id}/changes",
        "enrollments/c1:p1:s/classes": "enrollments/{id}/classes",
        "classes/c1/students/p1": "classes/c1/students/p1",  # deeper than any endpoint: still the payload
        "a/b/c/d/e/f": "a/b/c/d/e/f",
    }.items():
        response = await client.get(roster_url(school, path))
        assert response.status_code == 404, (path, response.text)
        body = response.json()
        assert body["imsx_CodeMinor"]["imsx_codeMinorField"][0]["imsx_codeMinorFieldValue"] == "unknownobject"
        assert names in body["imsx_description"], (path, body)
    bad = await client.get(roster_url(school, "classes/c1/students"), params={"limit": "0"})
    assert bad.status_code == 400 and "limit" in bad.json()["imsx_description"]


async def test_nested_endpoints_keep_the_doors_refusals(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    partners: PartnerFactory,  # noqa: F811 - the fixture
) -> None:
    """Issue 14: a token without ``roster.read`` is refused (403) before anything about the parent is
    looked up, a partner approved at another school gets nothing (401), and no token at all gets nothing."""
    school = await _school(client, factory, partners)
    other = await factory.school()
    client.headers["authorization"] = f"Bearer {await _token(client, partners, school, ['progress.read'])}"
    for path in ("classes/c1/students", "classes/c9/students", "schools/org-1/classes/c1/enrollments"):
        response = await client.get(roster_url(school, path))
        assert response.status_code == 403, (path, response.text)
    client.headers["authorization"] = f"Bearer {await _token(client, partners, other, ['roster.read'])}"
    response = await client.get(roster_url(school, "classes/c1/students"))
    assert response.status_code == 401 and "students" not in response.json()
    del client.headers["authorization"]
    response = await client.get(roster_url(school, "students/p1/classes"))
    assert response.status_code == 401 and "classes" not in response.json()


async def test_a_restricted_person_is_neither_listed_nor_found_as_a_parent(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    partners: PartnerFactory,  # noqa: F811 - the fixture
    engine: AsyncEngine,
) -> None:
    """LL-S2 (xiii): once a school admin restricts a pupil's processing, the class's students leave them
    out, their classes are unknownobject, and their enrolments are not served under the class."""
    school = await _school(client, factory, partners)
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school.id])
        pupil_id = (
            await session.execute(
                text("SELECT id FROM pupils WHERE school_id = :s AND source_id = 'p1'"), {"s": school.id}
            )
        ).scalar_one()
    await restrict_processing(client, school, pupil_id)
    assert await _served(client, school, "classes/c1/students", "students") == set()
    assert await _served(client, school, "schools/org-1/classes/c1/enrollments", "enrollments") == {"c1:t1:t"}
    response = await client.get(roster_url(school, "students/p1/classes"))
    assert response.status_code == 404, response.text


async def test_a_nested_read_is_recorded_with_its_path_and_the_pupils_it_returned(
    client: httpx.AsyncClient,
    factory: SchoolFactory,
    partners: PartnerFactory,  # noqa: F811 - the fixture
    engine: AsyncEngine,
) -> None:
    """LRS 5.1, LRS 7.3: a partner's read of a class's students is in the school's log as the URL named it,
    with the pupils it returned for the pupil access report, as for the collection read whole."""
    school = await _school(client, factory, partners)
    assert await _served(client, school, "classes/c1/students", "students") == {"p1"}
    async with AsyncSession(engine) as session, session.begin():
        await bind(session, [school.id])
        rows: list[Any] = list(
            await session.execute(
                text(
                    "SELECT a.action, a.actor_type, a.detail, p.source_id FROM audit_log AS a "
                    "LEFT JOIN pupils AS p ON p.school_id = a.school_id "
                    "AND p.id::text = ANY (ARRAY(SELECT jsonb_array_elements_text(a.detail->'pupil_ids'))) "
                    "WHERE a.school_id = :s AND a.actor_type = 'PARTNER' ORDER BY a.id"
                ),
                {"s": school.id},
            )
        )
    read = [r for r in rows if r.action == "partner.oneroster.read"][-1]
    assert read.detail["collection"] == "classes/c1/students" and read.detail["returned"] == 1
    assert [r.source_id for r in rows if r.action == BULK_PUPIL_READ][-1:] == ["p1"]
