"""graph.execution.Executor completes lists of leaves in one pass: the same results, errors and paths as
graphql-core's own executor, for every kind of list item."""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Any

import pytest
import strawberry

from graph.execution import Executor


@strawberry.enum
class Level(Enum):
    SECURE = "SECURE"
    NOT_YET = "NOT_YET"


async def _two() -> int:
    return 2


def _broken() -> list[Any]:
    return ["SECURE", "NO_SUCH_LEVEL"]


@strawberry.type
class Query:
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
]


def _plain(result: Any) -> Any:
    errors = [(e.message, e.path) for e in result.errors or []]
    return result.data, errors


@pytest.mark.parametrize("query", QUERIES)
async def test_same_result_as_graphql_core(query: str) -> None:
    fast = strawberry.Schema(query=Query, execution_context_class=Executor)
    plain = strawberry.Schema(query=Query)
    assert _plain(await fast.execute(query)) == _plain(await plain.execute(query))


async def test_fast_path_serialises_enums_and_nulls() -> None:
    result = await strawberry.Schema(query=Query, execution_context_class=Executor).execute(
        "{ levels dates }"
    )
    assert result.errors is None
    assert result.data == {"levels": ["SECURE", None, "NOT_YET"], "dates": ["2026-11-23", "2027-01-01"]}


async def test_a_null_in_a_non_null_list_is_an_error_at_the_item() -> None:
    result = await strawberry.Schema(query=Query, execution_context_class=Executor).execute(
        "{ strictLevels }"
    )
    assert result.errors is not None
    assert result.errors[0].path == ["strictLevels", 1]
