"""The class view compiled: ``classProgress`` answered by ONE statement that builds the JSON in PostgreSQL.

The general executor builds a class view value by value: each pupil's progress object, each level, each
name, checked and completed one by one, then serialised. Here, when a request's selection is one this
module knows (the group's id and name, the ladder, each pupil's id and names, levels, secure share and
count; aliases allowed; no fragments, directives or ``__typename``), the JSON of the group and of the
pupils comes from one statement (:func:`learning.queries.class_json`: the same rows, scope and order as
the general path's) and goes into the response as it is. The ladder, reference data the process keeps,
is completed by the executor's direct path, once per selection for a platform ladder when nothing in the
selection could depend on the caller (:func:`_ladder_json`).

The declared field permissions still decide: every guarded field of the selection has its policy asked,
through :func:`graph.permissions.refusal` as the general path asks it, about each object it would be asked
about (the class, the group, each pupil's progress, each pupil), given what the statement returns of
them (their ids). A policy that refuses, or that wants more of an object than its id, sends the request
to the general executor, which answers it (and the refusal) as always; so does anything unexpected
(an id that is not one, a group the caller does not teach, a ladder unknown): nothing is recorded before
the compiled form knows it answers. tests/test_class_view_compiled.py runs both side by side.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache
from operator import itemgetter
from typing import Any

import orjson
from graphql import FieldNode, GraphQLField, GraphQLNamedType, GraphQLObjectType, get_named_type
from graphql.execution.collect_fields import FieldDetails
from graphql.execution.values import get_argument_values
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField

from graph import permissions
from graph.audit import pupils_read_in
from graph.core.relay import from_global_id, global_id_sql
from graph.execution import MISS, Executor
from graph.permissions import PASSWORD_CHANGE_EXEMPT_KEY, POLICY_KEY
from learning import ladders
from learning.policies import may_teach_group
from learning.queries import ClassJsonShape, class_json

_GROUP = {"id": "id", "name": "name"}
_PUPIL = {"id": "id", "forename": "forename", "preferredForename": "preferred_forename", "surname": "surname"}
_PROGRESS = {"levels": "levels", "secureShare": "secure_share", "secureCount": "secure_count"}


@dataclass(frozen=True)
class _Check:
    """A guarded field of the selection: its policy, asked about one kind of object (``subject``)."""

    policy: Any
    exempt: bool
    subject: str
    """``class``, ``group``, ``progress`` or ``pupil``."""


@dataclass(frozen=True)
class _Plan:
    """What a selection asks: the statement's shape, the ladder's field, the keys in order, the checks."""

    shape: ClassJsonShape
    keys: tuple[tuple[str, str], ...]
    """(response key, part: ``group``/``ladder``/``pupils``), in the selection's order."""
    ladder: FieldNode | None
    checks: tuple[_Check, ...]
    ladder_shared: bool = False
    """The ladder's selection asks nothing guarded, nothing with arguments, no fragment or directive: its
    JSON depends on the ladder and the selection alone, and a platform ladder's is kept (:func:`_ladder_json`)."""


def _check_of(field: GraphQLField | None, subject: str) -> _Check | bool | None:
    """The field's check; None when it needs none (public or plain); False when it is not a field."""
    if field is None:
        return False
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    if not isinstance(definition, StrawberryField):
        return False
    policy = definition.metadata.get(POLICY_KEY)
    if policy is None:
        return None
    return _Check(policy, bool(definition.metadata.get(PASSWORD_CHANGE_EXEMPT_KEY)), subject)


def _fields(node: FieldNode) -> list[FieldNode] | None:
    """The sub-fields of a field, if every one is a plain field (no fragment, directive or argument) and
    every response key is used once; else None."""
    if node.selection_set is None:
        return None
    found: list[FieldNode] = []
    keys: set[str] = set()
    for selection in node.selection_set.selections:
        if not isinstance(selection, FieldNode) or selection.directives or selection.arguments:
            return None
        key = (selection.alias or selection.name).value
        if key in keys:
            return None
        keys.add(key)
        found.append(selection)
    return found


def _key(node: FieldNode) -> str:
    return (node.alias or node.name).value


def _object_type(field: GraphQLField) -> GraphQLObjectType:
    named: GraphQLNamedType = get_named_type(field.type)
    assert isinstance(named, GraphQLObjectType)
    return named


def _plan(field: GraphQLField, node: FieldNode) -> _Plan | None:
    """The plan of a ``classProgress`` selection, or None when it asks anything this module does not
    answer."""
    selections = _fields(node)
    if not selections:
        return None
    view_type = _object_type(field)
    checks: list[_Check] = []
    keys: list[tuple[str, str]] = []
    group: tuple[tuple[str, str], ...] | None = None
    pupils: tuple[tuple[str, Any], ...] | None = None
    ladder: FieldNode | None = None

    def checked(type_: GraphQLObjectType, name: str, subject: str) -> bool:
        check = _check_of(type_.fields.get(name), subject)
        if check is False:
            return False
        if isinstance(check, _Check):
            checks.append(check)
        return True

    for selection in selections:
        name = selection.name.value
        if name not in ("group", "ladder", "pupils") or not checked(view_type, name, "class"):
            return None
        keys.append((_key(selection), name))
        if name == "ladder":
            ladder = selection
            continue
        inner = _fields(selection)
        if not inner:
            return None
        inner_type = _object_type(view_type.fields[name])
        if name == "group":
            entries = []
            for child in inner:
                value = _GROUP.get(child.name.value)
                if value is None or not checked(inner_type, child.name.value, "group"):
                    return None
                entries.append((_key(child), value))
            group = tuple(entries)
            continue
        progress_entries: list[tuple[str, Any]] = []
        for child in inner:
            child_name = child.name.value
            if not checked(inner_type, child_name, "progress"):
                return None
            if child_name != "pupil":
                value = _PROGRESS.get(child_name)
                if value is None:
                    return None
                progress_entries.append((_key(child), value))
                continue
            pupil_fields = _fields(child)
            if not pupil_fields:
                return None
            pupil_type = _object_type(inner_type.fields["pupil"])
            pupil_entries = []
            for leaf in pupil_fields:
                value = _PUPIL.get(leaf.name.value)
                if value is None or not checked(pupil_type, leaf.name.value, "pupil"):
                    return None
                pupil_entries.append((_key(leaf), value))
            progress_entries.append((_key(child), ("pupil", tuple(pupil_entries))))
        pupils = tuple(progress_entries)
    # One check per policy and kind of object: the fields a policy guards on one object are admitted or
    # refused together (a policy is a function of the caller and the object), so a class of 30 asks each
    # pupil's policy once, not once per field.
    shared = ladder is not None and _unguarded(_object_type(view_type.fields["ladder"]), ladder)
    return _Plan(ClassJsonShape(group, pupils), tuple(keys), ladder, tuple(dict.fromkeys(checks)), shared)


def _unguarded(type_: GraphQLObjectType, node: FieldNode) -> bool:
    """Whether every field selected under ``node`` (of ``type_``), at every depth, is a plain field with no
    policy, arguments or directives, and no fragment is used: what it completes to cannot depend on the
    caller or the request's variables."""
    for selection in node.selection_set.selections if node.selection_set else ():
        if not isinstance(selection, FieldNode) or selection.directives or selection.arguments:
            return False
        name = selection.name.value
        if name == "__typename":
            continue
        field = type_.fields.get(name)
        if field is None or _check_of(field, "ladder") is not None:
            return False
        inner = get_named_type(field.type)
        if selection.selection_set is not None and (
            not isinstance(inner, GraphQLObjectType) or not _unguarded(inner, selection)
        ):
            return False
    return True


_PLANS: dict[int, tuple[FieldNode, _Plan | None]] = {}
_PLANS_MAX = 1024


def _plan_of(field: GraphQLField, node: FieldNode) -> _Plan | None:
    """The plan of a selection, remembered per field node (documents come from the parser cache)."""
    found = _PLANS.get(id(node))
    if found is not None and found[0] is node:
        return found[1]
    plan = _plan(field, node)
    if len(_PLANS) >= _PLANS_MAX:
        _PLANS.clear()
    _PLANS[id(node)] = (node, plan)  # the node kept alive with its plan: its id stays its own
    return plan


class _Subjects(dict[str, list[Any]]):
    """The rows each kind of check is asked about (what the GraphQL objects wrap), made when a check first
    asks for that kind: the class and the group (from the group's id), each pupil's progress and each pupil
    (from the pupils' ids, when the selection has pupils). Each holds only its ids: a policy that reads
    anything else raises AttributeError, and is then not decided here."""

    def __init__(self, group_id: uuid.UUID, pupil_ids: list[uuid.UUID], pupils: bool) -> None:
        super().__init__()
        self.group_id, self.pupil_ids, self.pupils = group_id, pupil_ids, pupils

    def __missing__(self, subject: str) -> list[Any]:
        ids = self.pupil_ids if self.pupils else []
        made: list[Any]
        if subject == "class":
            made = [_GroupIdRow((self.group_id,))]
        elif subject == "group":
            made = [_IdRow((self.group_id,))]
        elif subject == "progress":
            made = list(map(_PupilIdRow, zip(ids)))
        elif subject == "pupil":
            made = list(map(_IdRow, zip(ids)))
        else:
            raise KeyError(subject)
        self[subject] = made
        return made


def _admits(checks: Iterable[_Check], subjects: dict[str, list[Any]], principal: Any) -> bool:
    """Whether every check admits the caller for every object of its kind, asked as the general path asks
    (:func:`graph.permissions.admits_all`: no :func:`~graph.permissions.refusal`, the policy given the row
    its GraphQL object wraps). A policy that reads more of an object than the statement returned (its id)
    cannot be decided here: not admitted."""
    try:
        return all(
            permissions.admits_all(check.policy, principal, subjects[check.subject], exempt=check.exempt)
            for check in checks
        )
    except AttributeError:
        return False


def _id_argument(value: Any, kind: str) -> uuid.UUID | None:
    decoded = from_global_id(value) if isinstance(value, str) else None
    return decoded[1] if decoded is not None and decoded[0] == kind else None


async def class_progress(executor: Executor, field: GraphQLField, details: Any) -> Any:
    """``classProgress`` answered by one statement (see the module), or ``MISS``."""
    node: FieldNode = details[0].node
    plan = _plan_of(field, node)
    if plan is None:
        return MISS
    context = executor.context_value
    principal = context.principal
    root = _check_of(field, "school")
    if principal is None or not isinstance(root, _Check):
        return MISS
    if permissions.refusal(root.policy, principal, None, context, exempt=root.exempt) is not None:
        return MISS
    arguments = get_argument_values(field, node, executor.variable_values)
    group_id = _id_argument(arguments.get("groupId"), "Group")
    ladder_id = _id_argument(arguments.get("ladderId"), "Ladder")
    if group_id is None or ladder_id is None or not may_teach_group(principal, group_id):
        return MISS
    session = context.session
    ladder = await ladders.ladder(session, principal.school_id, ladder_id)
    if ladder is None:
        return MISS
    found = await class_json(
        session, principal, group_id, [r.id for r in ladder.rungs], ladder_id, plan.shape, global_id_sql
    )
    if found is None:
        return MISS
    if not _admits(
        plan.checks, _Subjects(found.group_id, found.pupil_ids, plan.shape.pupils is not None), principal
    ):
        return MISS
    parts: dict[str, str] = {}
    if plan.ladder is not None:
        ladder_json = _ladder_json(executor, field, plan, ladder)
        if ladder_json is None:
            return MISS
        parts["ladder"] = ladder_json
    if found.group is not None:
        parts["group"] = found.group
    if found.pupils is not None:
        parts["pupils"] = found.pupils
    pupils_read_in(context, "classProgress", found.pupil_ids)
    body = ",".join(f'"{key}":{parts[part]}' for key, part in plan.keys)
    return orjson.Fragment("{" + body + "}")


class _IdRow(tuple[uuid.UUID]):
    """A row of which the statement returned only its id: ``(id,)``, made in C from ``zip(ids)`` (a class
    view makes 30 for its pupils and 30 for their progress)."""

    __slots__ = ()
    id = property(itemgetter(0))


class _GroupIdRow(tuple[uuid.UUID]):
    """A class, of which its group's id is known: ``(group_id,)``."""

    __slots__ = ()
    group_id = property(itemgetter(0))


class _PupilIdRow(tuple[uuid.UUID]):
    """A pupil's progress, of which the pupil's id is known: ``(pupil_id,)``, made as :class:`_IdRow`."""

    __slots__ = ()
    pupil_id = property(itemgetter(0))


def _ladder_json(executor: Executor, field: GraphQLField, plan: _Plan, ladder: ladders.Ladder) -> str | None:
    """The ladder as the direct path completes it. A platform ladder's, when the selection is shared
    (:attr:`_Plan.ladder_shared`), is completed once per selection and kept: the process keeps the platform
    ladders as reference data, the same objects until it reads them again (:mod:`learning.ladders`), and
    completing one cost about 6% of a class view's instructions (ADR 13)."""
    node = plan.ladder
    assert node is not None
    key = (id(node), id(ladder))
    if plan.ladder_shared:
        kept = _LADDERS.get(key)
        if kept is not None and kept[0] is node and kept[1] is ladder:
            return kept[2]
    ladder_field = _object_type(field).fields["ladder"]
    value = executor.complete_directly(ladder_field.type, [FieldDetails(node, None)], _ladder_type()(ladder))
    if value is MISS:
        return None
    text = orjson.dumps(value).decode()
    if plan.ladder_shared and ladder.row.source == ladders.PLATFORM:
        if len(_LADDERS) >= _LADDERS_MAX:
            _LADDERS.clear()
        _LADDERS[key] = (node, ladder, text)  # both kept alive with it: their ids stay their own
    return text


_LADDERS: dict[tuple[int, int], tuple[FieldNode, ladders.Ladder, str]] = {}
_LADDERS_MAX = 1024


@cache
def _ladder_type() -> Callable[[ladders.Ladder], Any]:
    from graph.school.learning.types.curriculum import LadderType

    return LadderType.full
