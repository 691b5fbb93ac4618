"""graph.core.SchoolSchema.execute runs a document it has already parsed and validated without error
directly (graphql-core's execute, no strawberry extension machinery): the same results and errors as
strawberry's path, and everything else (a first sight, an invalid document, an unknown operation name, an
operation type not allowed, an extension that acts on execution) still goes through strawberry."""

from __future__ import annotations

from typing import Any

import pytest
import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.types.graphql import OperationType

from common.settings import Settings
from graph.core.schema import SchoolSchema
from graph.limits import schema_extensions


@strawberry.type
class Query:
    @strawberry.field
    def greeting(self, name: str) -> str:
        return f"hello {name}"

    @strawberry.field
    def broken(self) -> int | None:
        raise ValueError("broken")

    @strawberry.field
    def count(self) -> int:
        return None  # type: ignore[return-value]


@strawberry.type
class Mutation:
    @strawberry.mutation
    def touch(self) -> bool:
        return True


def _schema(*extra: Any) -> SchoolSchema:
    return SchoolSchema(query=Query, mutation=Mutation, extensions=[*schema_extensions(Settings()), *extra])


@pytest.fixture
def through_strawberry(monkeypatch: pytest.MonkeyPatch) -> list[str | None]:
    """The documents that went through strawberry's own execute (the others ran directly)."""
    seen: list[str | None] = []
    original = strawberry.Schema.execute

    async def counted(self: Any, query: str | None, *args: Any, **kwargs: Any) -> Any:
        seen.append(query)
        return await original(self, query, *args, **kwargs)

    monkeypatch.setattr(strawberry.Schema, "execute", counted)
    return seen


def _shape(result: Any) -> tuple[Any, Any]:
    return result.data, [(e.message, e.path, e.extensions) for e in result.errors or []]


QUERIES = [
    ("query Q($n: String!) { greeting(name: $n) broken }", {"n": "x"}),
    ("{ count }", None),  # a null for a non-null field: an error and data None
    ("query Q($n: String!) { greeting(name: $n) }", {"n": 3}),  # variables that do not coerce
]


@pytest.mark.parametrize(("query", "variables"), QUERIES)
async def test_a_validated_document_runs_directly_with_the_same_result(
    query: str, variables: dict[str, Any] | None, through_strawberry: list[str | None]
) -> None:
    schema = _schema()
    first = await schema.execute(query, variable_values=variables, operation_name=None)
    second = await schema.execute(query, variable_values=variables, operation_name=None)
    assert through_strawberry == [query]  # the first sight only
    assert _shape(second) == _shape(first)
    assert first.errors  # each of these has an error to compare
    assert second.extensions == first.extensions


async def test_an_invalid_document_goes_through_strawberry_every_time(
    through_strawberry: list[str | None],
) -> None:
    schema = _schema()
    query = "{ greeting }"  # a required argument missing: a validation error
    first, second = await schema.execute(query), await schema.execute(query)
    assert through_strawberry == [query, query]
    assert _shape(second) == _shape(first)
    assert first.errors is not None and first.errors[0].path is None


async def test_an_unknown_operation_name_and_a_type_not_allowed_are_still_refused(
    through_strawberry: list[str | None],
) -> None:
    schema = _schema()
    query = 'query A { greeting(name: "a") } mutation B { touch }'
    assert (await schema.execute(query, operation_name="A")).data == {"greeting": "hello a"}
    assert (await schema.execute(query, operation_name="A")).data == {"greeting": "hello a"}
    with pytest.raises(CannotGetOperationTypeError):
        await schema.execute(query, operation_name="C")
    with pytest.raises(InvalidOperationTypeError):
        await schema.execute(query, operation_name="B", allowed_operation_types=(OperationType.QUERY,))
    assert (await schema.execute(query, operation_name="B")).data == {"touch": True}
    assert through_strawberry == [query, query, query]  # the first sight, then each refusal


class Tagging(SchemaExtension):
    """An extension that acts on the result: a schema with it never runs directly."""

    def get_results(self) -> dict[str, Any]:
        return {"tagged": True}


async def test_an_extension_acting_on_execution_keeps_strawberry_s_path(
    through_strawberry: list[str | None],
) -> None:
    schema = _schema(Tagging)
    query = '{ greeting(name: "a") }'
    first, second = await schema.execute(query), await schema.execute(query)
    assert through_strawberry == [query, query]
    assert first.extensions == second.extensions == {"tagged": True}
