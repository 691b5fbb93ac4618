"""``Policy.admits_each`` (asked by the compiled class view about every pupil at once) answers exactly what
asking the policy about each object in turn answers, for every policy the school schema declares, every
kind of caller, and any objects: one refusal refuses all, and none asked about is admitted."""

from __future__ import annotations

import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strawberry.schema.schema_converter import GraphQLCoreConverter

from auth.policies import Policy
from auth.principal import Principal, Role
from auth.scopes import ACHIEVEMENTS_READ, PROGRESS_READ, ROSTER_READ
from common.settings import Settings
from graph.permissions import POLICY_KEY
from graph.school.learning.compiled import _Subjects
from graph.school.schema import build_schema

IDS = [uuid.UUID(int=n) for n in range(1, 7)]


def _declared() -> list[Policy]:
    """Every policy a field or mutation of the school schema declares."""
    found: dict[str, Policy] = {}
    schema = build_schema(Settings())
    for type_ in schema._schema.type_map.values():
        for field in (getattr(type_, "fields", None) or {}).values():
            definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
            policy = getattr(definition, "metadata", {}).get(POLICY_KEY) if definition else None
            if isinstance(policy, Policy):
                found[policy.name] = policy
    return list(found.values())


POLICIES = _declared()


def _principal(
    role: Role, scope: frozenset[uuid.UUID] | None, lrs_pending: bool, scopes: frozenset[str]
) -> Any:
    return Principal(
        account_id=IDS[0],
        username="someone",
        school_id=IDS[1],
        role=role,
        session_id=IDS[2],
        staff_id=IDS[3] if role in (Role.STAFF, Role.SCHOOL_ADMIN) else None,
        pupil_id=IDS[4] if role is Role.PUPIL else None,
        contact_id=IDS[5] if role is Role.PARENT else None,
        lrs_pending=lrs_pending,
        pupil_scope=scope,
        group_scope=scope,
        teacher_scope=scope,
        scopes=scopes if role is Role.PARTNER else frozenset(),
    )


def test_the_school_schema_declares_the_policies_the_class_view_asks() -> None:
    names = {policy.name for policy in POLICIES}
    assert {"pupil_record", "learning_record_or_progress_read", "group_progress"} <= names, names


_CASES = {
    "policy": st.sampled_from(POLICIES),
    "principal": st.builds(
        _principal,
        st.sampled_from(list(Role)),
        st.none() | st.frozensets(st.sampled_from(IDS)),
        st.booleans(),
        st.frozensets(st.sampled_from([ROSTER_READ, PROGRESS_READ, ACHIEVEMENTS_READ])),
    ),
    "ids": st.lists(st.sampled_from(IDS), max_size=5),
}
"""Any declared policy, any kind of caller (role, row scope, LRS agreement, a partner's scopes), any ids."""


@settings(max_examples=300, deadline=None)
@given(**_CASES)
def test_each_is_every_one_in_turn(policy: Policy, principal: Any, ids: list[uuid.UUID]) -> None:
    # Rows as the class view's subjects carry them: an id under each name a policy reads.
    rows = [SimpleNamespace(id=i, pupil_id=i, group_id=i, staff_id=i, school_id=IDS[1]) for i in ids]
    try:
        expected: bool | type[Exception] = all(policy(principal, row) for row in rows)
    except Exception as error:  # a policy that reads what the rows do not carry fails alike both ways
        expected = type(error)
    if isinstance(expected, bool):
        assert policy.admits_each(principal, rows) is expected
    else:
        with pytest.raises(expected):
            policy.admits_each(principal, rows)


@pytest.mark.parametrize("policy", POLICIES, ids=lambda p: p.name)
def test_nobody_and_nothing(policy: Policy) -> None:
    """No caller is refused everything; about no object at all, a caller the policy admits is admitted."""
    assert policy.admits_each(None, [SimpleNamespace(id=IDS[0])]) is False
    admin = _principal(Role.SCHOOL_ADMIN, None, False, frozenset())
    assert policy.admits_each(admin, []) is True
    assert policy.admits_each(None, []) is True


@settings(max_examples=300, deadline=None)
@given(**_CASES)
def test_the_class_views_rows_are_answered_as_rows_that_carry_only_that_id(
    policy: Policy, principal: Any, ids: list[uuid.UUID]
) -> None:
    """The compiled class view asks about rows made in C that carry one id each (its ``_Subjects``): each
    kind is answered as a row carrying that one attribute is, an attribute it lacks refused alike."""
    subjects = _Subjects(IDS[0], ids, True)
    for kind, attribute, made_from in (
        ("pupil", "id", ids),
        ("progress", "pupil_id", ids),
        ("group", "id", [IDS[0]]),
        ("class", "group_id", [IDS[0]]),
    ):
        plain = [SimpleNamespace(**{attribute: i}) for i in made_from]
        try:
            expected: bool | type[Exception] = policy.admits_each(principal, plain)
        except AttributeError:
            expected = AttributeError
        if isinstance(expected, bool):
            assert policy.admits_each(principal, subjects[kind]) is expected, kind
        else:
            with pytest.raises(AttributeError):
                policy.admits_each(principal, subjects[kind])
