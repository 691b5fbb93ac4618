"""graph.execution.Executor fetches planned leaf fields directly and completes lists of leaves in one pass:
the same results, errors and paths as graphql-core's own executor, for every kind of value."""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Any

import pytest
import strawberry

from graph.execution import Executor, plan


@strawberry.enum
class Level(Enum):
    SECURE = "SECURE"
    NOT_YET = "NOT_YET"


async def _two() -> int:
    return 2


def _broken() -> list[Any]:
    return ["SECURE", "NO_SUCH_LEVEL"]


@strawberry.type
class Row:
    name: str
    count: int
    level: Level | None
    tags: list[str] | None
    strict_tags: list[str] | None
    odd: int | None


def _rows() -> list[Row]:
    return [
        Row(name="a", count=1, level=Level.SECURE, tags=["x", None], strict_tags=["y"], odd=1),  # type: ignore[list-item]
        Row(name="b", count=None, level=None, tags=None, strict_tags=["y", None], odd="x"),  # type: ignore[list-item]
    ]


@strawberry.type
class Query:
    rows_of_objects: list[Row] = strawberry.field(resolver=_rows)

    @strawberry.field
    def levels(self) -> list[Level | None]:
        return ["SECURE", None, Level.NOT_YET]  # type: ignore[list-item]

    @strawberry.field
    def strict_levels(self) -> list[Level]:
        return ["SECURE", None]  # type: ignore[list-item]

    @strawberry.field
    def bad_levels(self) -> list[Level | None]:
        return _broken()

    @strawberry.field
    def dates(self) -> list[datetime.date]:
        return [datetime.date(2026, 11, 23), datetime.date(2027, 1, 1)]

    @strawberry.field
    def numbers(self) -> list[int | None]:
        return [1, _two(), None]  # type: ignore[list-item]

    @strawberry.field
    def wrong_numbers(self) -> list[int]:
        return [1, "x"]  # type: ignore[list-item]

    @strawberry.field
    def rows(self) -> list[list[str]]:
        return [["a", "b"], ["c"]]


QUERIES = [
    "{ levels }",
    "{ strictLevels }",
    "{ badLevels }",
    "{ dates }",
    "{ numbers }",
    "{ wrongNumbers }",
    "{ rows }",
    "{ levels dates rows numbers }",
    "{ rowsOfObjects { name level tags } }",
    "{ rowsOfObjects { count } }",
    "{ rowsOfObjects { strictTags } }",
    "{ rowsOfObjects { odd } }",
    "{ rowsOfObjects { name count level tags strictTags odd } }",
    "{ rowsOfObjects { n: name n2: name } }",
]


def _fast() -> strawberry.Schema:
    schema = strawberry.Schema(query=Query, execution_context_class=Executor)
    assert plan(schema._schema) >= 6
    return schema


def _plain(result: Any) -> Any:
    errors = [(e.message, e.path) for e in result.errors or []]
    return result.data, errors


@pytest.mark.parametrize("query", QUERIES)
async def test_same_result_as_graphql_core(query: str) -> None:
    fast, plain = _fast(), strawberry.Schema(query=Query)
    assert _plain(await fast.execute(query)) == _plain(await plain.execute(query))


async def test_fast_path_serialises_enums_and_nulls() -> None:
    result = await _fast().execute("{ levels dates }")
    assert result.errors is None
    assert result.data == {"levels": ["SECURE", None, "NOT_YET"], "dates": ["2026-11-23", "2027-01-01"]}


async def test_a_null_in_a_non_null_list_is_an_error_at_the_item() -> None:
    result = await _fast().execute("{ strictLevels }")
    assert result.errors is not None
    assert result.errors[0].path == ["strictLevels", 1]


# --- guarded fields and nested objects: compiled + direct vs strawberry's own chain ------------------------

from types import SimpleNamespace  # noqa: E402

from auth.policies import Policy  # noqa: E402
from graph.permissions import compile_guards, guarded, public  # noqa: E402

VISIBLE = Policy("visible", "callers of visible rows", lambda principal, row: bool(row.visible))


@strawberry.interface
class Named:
    label: str | None = public("a test label")


@strawberry.type
class Child(Named):
    row: strawberry.Private[Any]
    name: str | None = guarded(VISIBLE)
    levels: list[Level | None] | None = guarded(VISIBLE, resolver=lambda root: root.row.levels)


def _child(root: Parent) -> Child | None:
    kid = root.row.child
    return None if kid is None else Child(row=kid, label="c", name=kid.name)


def _children(root: Parent) -> list[Child]:
    return [Child(row=k, label="c", name=k.name) for k in root.row.children]


@strawberry.type
class Parent:
    row: strawberry.Private[Any]
    name: str | None = guarded(VISIBLE)
    child: Child | None = guarded(VISIBLE, resolver=_child)
    children: list[Child] | None = guarded(VISIBLE, resolver=_children)
    required: Child = public("a non-null object, for the null error")


def _kid(name: str, *, visible: bool = True, levels: list[Any] | None = None) -> SimpleNamespace:
    return SimpleNamespace(name=name, visible=visible, levels=levels)


def _parents() -> list[Parent]:
    rows = [
        SimpleNamespace(
            name="p1", visible=True, child=_kid("k1", levels=["SECURE", None]),
            children=[_kid("k2"), _kid("k3", visible=False)], required=None,
        ),
        SimpleNamespace(name="p2", visible=False, child=None, children=[], required=None),
        SimpleNamespace(
            name="p3", visible=True, child=None, children=[_kid("k4", levels=["NO_SUCH"])], required=None,
        ),
    ]  # fmt: skip
    return [
        Parent(
            row=r,
            name=r.name,
            required=Child(row=_kid("r"), label="r", name="r") if r.name != "p3" else None,
        )
        for r in rows
    ]


@strawberry.type(name="Query")
class GuardedQuery:
    parents: list[Parent] = public("the test's parents", resolver=_parents)


GUARDED = [
    "{ parents { name child { name levels label } } }",
    "{ parents { children { name levels } } }",
    "{ parents { name required { name label } } }",
    "{ parents { child { __typename name } children { ... on Named { label } name } } }",
]


@pytest.mark.parametrize("query", GUARDED)
async def test_guarded_and_nested_the_same_as_strawberry(query: str) -> None:
    """Refusals at any depth, nulls for non-null objects, interfaces and __typename: the compiled guards and
    the direct path give exactly strawberry's own answer (data, messages and paths)."""
    context = SimpleNamespace(principal=SimpleNamespace(must_change_password=False), tenant=None)
    fast = strawberry.Schema(query=GuardedQuery, execution_context_class=Executor)
    assert compile_guards(fast) == 5
    plan(fast._schema)
    plain = strawberry.Schema(query=GuardedQuery)
    got = _plain(await fast.execute(query, context_value=context))
    assert got == _plain(await plain.execute(query, context_value=context))
    assert got[1], "each query meets at least one refusal or error"


async def test_completers_shared_between_requests_only_without_directives() -> None:
    """A document without directives reuses its completers on the next request; one whose selection
    depends on a variable (@include) is completed afresh each time, so each request gets its own shape."""
    fast, plain = _fast(), strawberry.Schema(query=Query)
    static = "{ rowsOfObjects { name level tags } }"
    first = _plain(await fast.execute(static))
    assert first == _plain(await fast.execute(static)) == _plain(await plain.execute(static))
    dynamic = "query($x: Boolean!) { rowsOfObjects { name tags @include(if: $x) } }"
    for x in (True, False, True):
        got = _plain(await fast.execute(dynamic, variable_values={"x": x}))
        assert got == _plain(await plain.execute(dynamic, variable_values={"x": x}))
        assert all(("tags" in row) is x for row in got[0]["rowsOfObjects"])


def test_the_class_view_fields_are_planned_as_fetches() -> None:
    """The class view's ladder and its rungs: every field is planned as a direct fetch, so the view is
    completed on the direct path (``Ladder.rungs`` is a plain attribute, not an async resolver)."""
    from common.settings import Settings
    from graph.execution import FETCH_KEY
    from graph.school.schema import build_schema

    types = build_schema(Settings())._schema.type_map
    for type_name in ("ClassProgress", "Ladder", "Rung"):
        fields = types[type_name].fields  # type: ignore[attr-defined]
        unplanned = [name for name, field in fields.items() if FETCH_KEY not in (field.extensions or {})]
        assert unplanned == [], (type_name, unplanned)
