"""The trust endpoint ``/trusts/{slug}/graphql``: a trust admin sees the trust's schools today, as counts,
with their school admins and account events, and nothing of any other school; no pupil's personal data."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from graph.core.relay import to_global_id
from tests.factories.schools import LOGIN, PASSWORD, SchoolData, SchoolFactory, gql, login
from tests.factories.trusts import TrustData, TrustFactory, platform_login, post, trust_gql, trust_login

SCHOOLS = """
{ trust { slug kind } schools { id slug name status url memberSince
    counts { pupils staff activeAccounts lastImportAt }
    schoolAdmins { username forename surname email status superUser } } }
"""


async def _trust_with_schools(
    factory: SchoolFactory, trusts: TrustFactory
) -> tuple[TrustData, list[SchoolData]]:
    trust = await trusts.trust()
    schools = [await factory.school(), await factory.school()]
    for school in schools:
        await trusts.join(school, trust)
    return trust, schools


async def test_a_trust_admin_sees_its_schools_as_counts(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LRS 8.9: the trust's schools with pupils, staff, active accounts and their school admins; no pupil's
    personal data anywhere in the answer (that stays with the school)."""
    trust, schools = await _trust_with_schools(factory, trusts)
    token = await trust_login(client, trust.slug)
    body = await trust_gql(client, trust.slug, SCHOOLS, token=token)
    assert "errors" not in body, body
    assert body["data"]["trust"] == {"slug": trust.slug, "kind": "MULTI_ACADEMY_TRUST"}
    listed = {s["slug"]: s for s in body["data"]["schools"]}
    assert set(listed) == {s.slug for s in schools}
    for school in schools:
        view = listed[school.slug]
        assert view["id"] == to_global_id("School", school.id)
        assert view["url"] == f"/schools/{school.slug}/graphql"
        assert view["counts"] == {
            "pupils": len(school.pupils),
            "staff": len(school.staff),
            "activeAccounts": len(school.accounts),
            "lastImportAt": None,
        }
        assert view["schoolAdmins"] == [
            {
                "username": "admin",
                "forename": "Ada",
                "surname": "Admin",
                "email": f"admin@{school.slug}.example",
                "status": "ACTIVE",
                "superUser": False,
            }
        ]
    text = str(body)
    for school in schools:
        for pupil in school.pupils.values():
            assert pupil.forename not in text and pupil.upn not in text and str(pupil.email) not in text


async def test_another_trusts_admin_and_a_school_token_see_nothing(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """Each trust's URL serves its own admins only. Another trust's admin finds none of this trust's
    schools by any id, can change nothing of them; a school's token and an anonymous caller get nothing."""
    trust, schools = await _trust_with_schools(factory, trusts)
    other = await trusts.trust()
    theirs = await factory.school()
    await trusts.join(theirs, other)
    token = await trust_login(client, other.slug)
    school_id = to_global_id("School", schools[0].id)
    admin_id = to_global_id("Account", schools[0].accounts["admin"].id)

    body = await trust_gql(
        client,
        other.slug,
        """query($s: ID!) { schools { slug } school(id: $s) { slug }
             accountEvents(schoolId: $s) { nodes { action } } }""",
        {"s": school_id},
        token=token,
    )
    assert body["data"] == {"schools": [{"slug": theirs.slug}], "school": None, "accountEvents": None}
    writes = await trust_gql(
        client,
        other.slug,
        """mutation($s: ID!, $a: ID!, $t: String!) {
          c: createSchoolAdmin(input: {schoolId: $s, forename: "M", surname: "Allory", email: "m@x.example",
               username: "mallory"}) { schoolAdmin { id } errors { field code } }
          d: deactivateSchoolAdmin(input: {schoolId: $s, accountId: $a}) { schoolAdmin { id } errors { field code } }
          n: proposeNovation(input: {schoolId: $s, toTrust: $t, effectiveDate: "2999-01-01",
               reason: TRUST_TRANSFER}) { novation { id } errors { field code } }
        }""",
        {"s": school_id, "a": admin_id, "t": other.slug},
        token=token,
    )
    for alias in ("c", "d", "n"):
        assert writes["data"][alias]["errors"] == [{"field": "schoolId", "code": "NOT_FOUND"}], alias
    # Their own token at this trust's URL is anonymous.
    at_mine = await trust_gql(client, trust.slug, "{ viewer { username } schools { slug } }", token=token)
    assert at_mine["data"] == {"viewer": None, "schools": None}
    assert [e["extensions"]["code"] for e in at_mine["errors"]] == ["UNAUTHENTICATED"]

    school_token = await login(client, schools[0].slug, "admin")
    as_school = await trust_gql(
        client, trust.slug, "{ viewer { username } schools { slug } }", token=school_token
    )
    assert as_school["data"] == {"viewer": None, "schools": None}
    assert [e["extensions"]["code"] for e in as_school["errors"]] == ["UNAUTHENTICATED"]
    anonymous = await trust_gql(client, trust.slug, "{ schools { slug } novations { id } }")
    assert sorted(e["extensions"]["code"] for e in anonymous["errors"]) == [
        "UNAUTHENTICATED",
        "UNAUTHENTICATED",
    ]
    # A trust admin's token is worth nothing at its own schools' URLs either.
    mine = await trust_login(client, trust.slug)
    at_school = await gql(
        client, schools[0].slug, "{ viewer { username } staff { nodes { id } } }", token=mine
    )
    assert at_school["data"] == {"viewer": None, "staff": None}


async def test_an_unknown_trust_is_404(client: httpx.AsyncClient) -> None:
    """Tenant resolution: an unknown trust slug is a 404 request error, never a 500."""
    body = await post(
        client, f"/trusts/no-such-{uuid.uuid4().hex[:6]}/graphql", "{ schools { slug } }", expect_status=404
    )
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


CREATE_ADMIN = """
mutation($i: CreateSchoolAdminInput!) { createSchoolAdmin(input: $i) {
  schoolAdmin { id username status superUser } activationCode errors { field code } } }
"""
DEACTIVATE = """
mutation($s: ID!, $a: ID!) { deactivateSchoolAdmin(input: {schoolId: $s, accountId: $a, reason: "left"}) {
  schoolAdmin { username status } errors { field code } } }
"""


async def test_trust_admin_creates_and_deactivates_school_admins(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LL 4.3, LL 8.2: a trust admin makes a school admin (who activates at the school's URL with a one-time
    code) and disables one, which ends its sessions at once; the school's last admin cannot be disabled."""
    trust, schools = await _trust_with_schools(factory, trusts)
    school = schools[0]
    token = await trust_login(client, trust.slug)
    school_id = to_global_id("School", school.id)
    made = await trust_gql(
        client,
        trust.slug,
        CREATE_ADMIN,
        {
            "i": {
                "schoolId": school_id,
                "forename": "Dee",
                "surname": "Deputy",
                "email": "deputy@school.example",
                "username": "deputy",
                "superUser": True,
            }
        },
        token=token,
    )
    payload = made["data"]["createSchoolAdmin"]
    assert payload["errors"] == []
    assert payload["schoolAdmin"]["status"] == "PENDING" and payload["schoolAdmin"]["superUser"] is True
    taken = await trust_gql(
        client,
        trust.slug,
        CREATE_ADMIN,
        {
            "i": {
                "schoolId": school_id,
                "forename": "A",
                "surname": "B",
                "email": "a@b.example",
                "username": "admin",
            }
        },
        token=token,
    )
    assert taken["data"]["createSchoolAdmin"]["errors"] == [{"field": "username", "code": "USERNAME_TAKEN"}]

    activated = await gql(
        client,
        school.slug,
        "mutation($c: String!, $p: String!) { activateAccount(input: {code: $c, password: $p}) "
        "{ accessToken errors { code } } }",
        {"c": payload["activationCode"], "p": PASSWORD},
    )
    deputy_token = activated["data"]["activateAccount"]["accessToken"]
    assert deputy_token
    old_admin = await login(client, school.slug, "admin")

    off = await trust_gql(
        client,
        trust.slug,
        DEACTIVATE,
        {"s": school_id, "a": to_global_id("Account", school.accounts["admin"].id)},
        token=token,
    )
    assert off["data"]["deactivateSchoolAdmin"] == {
        "schoolAdmin": {"username": "admin", "status": "DISABLED"},
        "errors": [],
    }
    gone = await gql(client, school.slug, "{ viewer { username } }", token=old_admin)
    assert gone["data"]["viewer"] is None
    refused = await gql(client, school.slug, LOGIN, {"u": "admin", "p": PASSWORD})
    assert [e["code"] for e in refused["data"]["login"]["errors"]] == ["ACCOUNT_DISABLED"]

    last = await trust_gql(
        client, trust.slug, DEACTIVATE, {"s": school_id, "a": payload["schoolAdmin"]["id"]}, token=token
    )
    assert last["data"]["deactivateSchoolAdmin"]["errors"] == [
        {"field": "accountId", "code": "LAST_SCHOOL_ADMIN"}
    ]
    not_admin = await trust_gql(
        client,
        trust.slug,
        DEACTIVATE,
        {"s": school_id, "a": to_global_id("Account", school.accounts["teacher1"].id)},
        token=token,
    )
    assert not_admin["data"]["deactivateSchoolAdmin"]["errors"] == [
        {"field": "accountId", "code": "NOT_FOUND"}
    ]


async def test_super_users_are_at_most_three(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LRS 3 (Super-User): up to three nominated school admins per school; a non-admin cannot be one."""
    trust, schools = await _trust_with_schools(factory, trusts)
    school = schools[0]
    token = await trust_login(client, trust.slug)
    school_id = to_global_id("School", school.id)
    ids = [to_global_id("Account", school.accounts["admin"].id)]
    for i in range(3):
        made = await trust_gql(
            client,
            trust.slug,
            CREATE_ADMIN,
            {
                "i": {
                    "schoolId": school_id,
                    "forename": "A",
                    "surname": f"Admin{i}",
                    "email": f"a{i}@s.example",
                    "username": f"admin{i}",
                }
            },
            token=token,
        )
        ids.append(made["data"]["createSchoolAdmin"]["schoolAdmin"]["id"])
    set_users = "mutation($s: ID!, $a: [ID!]!) { setSuperUsers(input: {schoolId: $s, accountIds: $a}) { superUsers { username } errors { field code } } }"
    four = await trust_gql(client, trust.slug, set_users, {"s": school_id, "a": ids}, token=token)
    assert four["data"]["setSuperUsers"]["errors"] == [
        {"field": "accountIds", "code": "TOO_MANY_SUPER_USERS"}
    ]
    teacher = await trust_gql(
        client,
        trust.slug,
        set_users,
        {"s": school_id, "a": [to_global_id("Account", school.accounts["teacher1"].id)]},
        token=token,
    )
    assert teacher["data"]["setSuperUsers"]["errors"] == [{"field": "accountIds.0", "code": "NOT_FOUND"}]
    three = await trust_gql(client, trust.slug, set_users, {"s": school_id, "a": ids[:3]}, token=token)
    assert sorted(u["username"] for u in three["data"]["setSuperUsers"]["superUsers"]) == [
        "admin",
        "admin0",
        "admin1",
    ]


EVENTS = """
query($s: ID!, $after: String) { accountEvents(schoolId: $s, first: 50, after: $after) {
  nodes { action outcome actorType actorRole actorUsername targetType } pageInfo { hasNextPage endCursor } } }
"""


async def test_account_events_name_admins_never_pupils(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """LRS 8.9: sign-ins and account changes at the trust's schools are reported to the trust's admins, who
    see admins by name and every other account (a pupil, a parent) only by its role."""
    trust, schools = await _trust_with_schools(factory, trusts)
    school = schools[0]
    await login(client, school.slug, "admin")
    await login(client, school.slug, "pupil1")
    wrong = await gql(client, school.slug, LOGIN, {"u": "pupil1", "p": "definitely not the password"})
    assert wrong["data"]["login"]["errors"]
    token = await trust_login(client, trust.slug)
    body = await trust_gql(client, trust.slug, EVENTS, {"s": to_global_id("School", school.id)}, token=token)
    assert "errors" not in body, body
    events = body["data"]["accountEvents"]["nodes"]
    logins = [e for e in events if e["action"] == "auth.login"]
    assert {"action": "auth.login", "outcome": "SUCCESS", "actorType": "ACCOUNT", "actorRole": "SCHOOL_ADMIN",
            "actorUsername": "admin", "targetType": "Account"} in logins  # fmt: skip
    assert {"action": "auth.login", "outcome": "SUCCESS", "actorType": "ACCOUNT", "actorRole": "PUPIL",
            "actorUsername": None, "targetType": "Account"} in logins  # fmt: skip
    assert any(e["outcome"] == "REJECTED" and e["actorUsername"] is None for e in logins)
    assert "pupil1" not in str(body)
    # Pages follow the chain backwards.
    first = await trust_gql(
        client,
        trust.slug,
        EVENTS.replace("first: 50", "first: 1"),
        {"s": to_global_id("School", school.id)},
        token=token,
    )
    page = first["data"]["accountEvents"]
    assert len(page["nodes"]) == 1 and page["pageInfo"]["hasNextPage"] is True
    second = await trust_gql(
        client,
        trust.slug,
        EVENTS.replace("first: 50", "first: 1"),
        {"s": to_global_id("School", school.id), "after": page["pageInfo"]["endCursor"]},
        token=token,
    )
    assert second["data"]["accountEvents"]["nodes"] != page["nodes"]


async def test_operator_token_and_platform_are_separate(
    client: httpx.AsyncClient, factory: SchoolFactory, trusts: TrustFactory
) -> None:
    """The operator's token is anonymous at a trust's URL (the operator works at /platform)."""
    trust, _ = await _trust_with_schools(factory, trusts)
    operator = await trusts.operator()
    token = await platform_login(client, operator.username)
    body: dict[str, Any] = await trust_gql(client, trust.slug, "{ schools { slug } }", token=token)
    assert body["data"] == {"schools": None}
    assert [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


REFRESH = """
mutation($r: String!) { refreshToken(input: {refreshToken: $r}) { accessToken refreshToken errors { code } } }
"""


async def test_trust_admin_sessions_refresh_once_and_reuse_revokes(
    client: httpx.AsyncClient, trusts: TrustFactory
) -> None:
    """LRS 5.7, LL 7.1.5: a refresh token works once; presenting a used one again ends the whole session,
    and a trust's refresh token is worthless at another trust."""
    trust, other = await trusts.trust(), await trusts.trust()
    body = await trust_gql(
        client,
        trust.slug,
        'mutation($p: String!) { login(input: {username: "trustadmin", password: $p}) { accessToken refreshToken } }',
        {"p": PASSWORD},
    )
    first = body["data"]["login"]
    elsewhere = await trust_gql(client, other.slug, REFRESH, {"r": first["refreshToken"]})
    assert [e["code"] for e in elsewhere["data"]["refreshToken"]["errors"]] == ["INVALID_REFRESH_TOKEN"]
    rotated = (await trust_gql(client, trust.slug, REFRESH, {"r": first["refreshToken"]}))["data"][
        "refreshToken"
    ]
    assert rotated["accessToken"] and rotated["errors"] == []
    reused = await trust_gql(client, trust.slug, REFRESH, {"r": first["refreshToken"]})
    assert [e["code"] for e in reused["data"]["refreshToken"]["errors"]] == ["INVALID_REFRESH_TOKEN"]
    revoked = await trust_gql(client, trust.slug, "{ viewer { username } }", token=rotated["accessToken"])
    assert revoked["data"]["viewer"] is None
