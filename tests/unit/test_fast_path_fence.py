"""The fence around the fast path: what graph/execution.py and compile_guards take from graphql-core and
strawberry beyond their documented APIs, pinned so that an upgrade fails here, by name, instead of silently
falling back to the slow path (or worse, answering differently).

The executor overrides three of graphql-core's completion hooks and calls two more; it reads the field
details graphql-core collects. compile_guards reads strawberry's field definitions behind each graphql-core
field, its resolvers' parameters, and its permission extension, and builds strawberry's ``Info`` itself.
If one of these changes, read the new version's code and adapt graph/execution.py or graph/permissions.py,
then this test.
"""

from __future__ import annotations

import inspect
import tomllib
from collections.abc import Mapping
from importlib.metadata import version
from types import SimpleNamespace
from typing import Any

import pytest
import strawberry
from graphql.execution.collect_fields import CollectedFields, FieldDetails
from packaging.requirements import Requirement
from strawberry.permission import PermissionExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types import Info
from strawberry.types.base import get_object_definition
from strawberry.types.field import StrawberryField

from auth.policies import SIGNED_IN
from common.settings import REPO_ROOT
from graph.execution import Executor, plan
from graph.permissions import compile_guards, guarded, public


def _declared(package: str) -> Requirement:
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    found = [Requirement(d) for d in project["dependencies"] if Requirement(d).name == package]
    assert len(found) == 1, f"pyproject.toml must declare {package} once, with its range"
    return found[0]


@pytest.mark.parametrize("package", ["graphql-core", "strawberry-graphql"])
def test_installed_versions_are_within_the_declared_ranges(package: str) -> None:
    """Both are declared with an upper bound: the fast path was written against these versions."""
    requirement = _declared(package)
    assert any(spec.operator == "<" for spec in requirement.specifier), f"{package} needs an upper bound"
    assert requirement.specifier.contains(version(package)), (package, version(package), str(requirement))


def _parameters(function: Any) -> list[str]:
    return list(inspect.signature(function).parameters)


def test_graphql_core_hooks_the_executor_overrides_and_calls() -> None:
    base: Any = StrawberryGraphQLCoreExecutionContext.__mro__[1]  # graphql-core's executor
    assert issubclass(Executor, StrawberryGraphQLCoreExecutionContext)
    assert _parameters(base.execute_field) == [
        "self", "parent_type", "source", "field_details_list", "path", "position_context",
    ]  # fmt: skip
    for hook in ("complete_object_value", "complete_list_value"):
        assert _parameters(getattr(base, hook)) == [
            "self", "return_type", "field_details_list", "info", "path", "result", "position_context",
        ], hook  # fmt: skip
    assert _parameters(base.collect_subfields) == ["self", "return_type", "field_details_list"]
    assert _parameters(base.get_stream_usage) == ["self", "field_details_list", "path"]
    # The executor unpacks collect_subfields' result as (grouped fields, defer usages, _) and reads each
    # field detail's node and fragment variables.
    assert CollectedFields._fields[:2] == ("grouped_field_set", "new_defer_usages")
    assert len(CollectedFields._fields) == 3
    assert {"node", "fragment_variable_values"} <= set(FieldDetails._fields)


def test_strawberry_internals_compile_guards_reads() -> None:
    assert isinstance(GraphQLCoreConverter.DEFINITION_BACKREF, str)
    assert _parameters(Info) == ["_raw_info", "_field"]
    assert "execution_context_class" in _parameters(strawberry.Schema.__init__)
    assert "permissions" in _parameters(PermissionExtension.__init__)

    @strawberry.type
    class Row:
        plain: str
        checked: str = guarded(SIGNED_IN)

        @strawberry.field
        def computed(self) -> str:
            return self.plain

        @strawberry.field
        def with_info(self, info: strawberry.Info) -> str:
            return self.plain

        @strawberry.field
        async def awaited(self) -> str:
            return self.plain

    fields = {f.python_name: f for f in get_object_definition(Row, strict=True).fields}
    assert all(isinstance(f, StrawberryField) for f in fields.values())
    assert fields["plain"].is_basic_field and fields["plain"].base_resolver is None
    assert isinstance(fields["checked"].metadata, Mapping)
    assert len(fields["checked"].extensions) == 1
    assert isinstance(fields["checked"].extensions[0], PermissionExtension)
    computed, with_info, awaited = (fields[n].base_resolver for n in ("computed", "with_info", "awaited"))
    assert computed is not None and with_info is not None and awaited is not None
    assert callable(computed.wrapped_func)
    assert computed.self_parameter is not None and computed.root_parameter is None
    assert computed.parent_parameter is None and computed.info_parameter is None and not computed.is_async
    assert with_info.info_parameter is not None
    assert awaited.is_async


def _shout(root: Item) -> str:
    """Synchronous and without Info: side-effect free, so the executor may call it as a fetch."""
    return root.name.upper()


def _described(root: Item, info: strawberry.Info) -> str:
    return f"{root.name} ({info.field_name})"


def _louder(root: Item) -> str:
    return root.name.upper() + "!"


@strawberry.type
class Item:
    name: str
    score: int
    shout: str = guarded(SIGNED_IN, resolver=_shout)
    described: str = guarded(SIGNED_IN, resolver=_described)
    louder: str = strawberry.field(resolver=_louder)


def _items() -> list[Item]:
    return [Item(name=f"item{i}", score=i) for i in range(50)]


@strawberry.type
class Query:
    items: list[Item] = public("the test's items", resolver=_items)
    secret: str = guarded(SIGNED_IN, resolver=lambda: "kept")


def _fast() -> strawberry.Schema:
    schema = strawberry.Schema(query=Query, execution_context_class=Executor)
    compile_guards(schema)
    plan(schema._schema)
    return schema


def test_plan_gives_a_fetch_to_exactly_the_side_effect_free_fields() -> None:
    """A plain attribute and a guarded synchronous resolver without Info get a fetch; a resolver with Info
    does not (it may reach the request), nor one that compile_guards did not compile."""
    item: Any = _fast()._schema.type_map["Item"]
    fields = item.fields
    planned = {name for name, field in fields.items() if "schoolgraph.fetch" in (field.extensions or {})}
    assert planned == {"name", "score", "shout"}


async def test_a_list_of_objects_is_completed_on_the_direct_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """graphql-core executes the one root field; the 50 objects and their 150 fields are completed by
    the executor's direct path. A change in graphql-core that sent them back through execute_field would
    keep the answer but lose the speed: this counts the calls."""
    base: Any = StrawberryGraphQLCoreExecutionContext.__mro__[1]  # graphql-core's executor
    calls: list[str] = []
    original = base.execute_field

    def counted(self: Any, parent_type: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(parent_type.name)
        return original(self, parent_type, *args, **kwargs)

    monkeypatch.setattr(base, "execute_field", counted)
    context = SimpleNamespace(principal=SimpleNamespace(must_change_password=False), tenant=None)
    result = await _fast().execute("{ items { name score shout } secret }", context_value=context)
    assert result.errors is None
    assert result.data is not None
    assert result.data["items"][7] == {"name": "item7", "score": 7, "shout": "ITEM7"}
    assert len(result.data["items"]) == 50
    assert calls == ["Query"], calls  # items; secret is a compiled guard fetched directly
    calls.clear()
    described = await _fast().execute("{ items { name described } }", context_value=context)
    assert described.data is not None and described.data["items"][0] == {
        "name": "item0",
        "described": "item0 (described)",
    }
    # A field that needs Info sends its object back to graphql-core, which executes that field (50 times);
    # its planned neighbour ``name`` is still fetched directly.
    assert calls == ["Query"] + ["Item"] * 50
