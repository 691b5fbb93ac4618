"""The school schema as code: generated files in step, default deny on personal data, production limits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import strawberry
from graphql import get_introspection_query

from auth.policies import SIGNED_IN
from common.settings import Settings
from graph import export
from graph.permissions import PENDING_MESSAGES, PERSONAL_DATA_TYPES, guarded, public
from graph.school.schema import build_schema

# --- generated files ----------------------------------------------------------------------------------


def test_schema_graphql_matches_the_code() -> None:
    """schema.graphql is committed and is exactly the SDL the code serves (ARCHITECTURE: GraphQL conventions)."""
    expected = build_schema(Settings()).as_str() + "\n"
    assert export.generated()[export.SCHEMA_FILE] == expected
    on_disk = (export.REPO_ROOT / export.SCHEMA_FILE).read_text(encoding="utf-8")
    assert on_disk == expected, "schema.graphql is stale: run `python -m graph.export`"


def test_permission_matrix_matches_the_code() -> None:
    """docs/permissions.md is generated from the field declarations; a changed policy must regenerate it."""
    expected = export.generated()[export.PERMISSIONS_FILE]
    on_disk = (export.REPO_ROOT / export.PERMISSIONS_FILE).read_text(encoding="utf-8")
    assert on_disk == expected, "docs/permissions.md is stale: run `python -m graph.export`"
    assert export.stale_files() == []


def test_a_refusal_names_only_operations_the_school_endpoint_has() -> None:
    """A pending account's refusal tells the caller what to run next, by name ("Read and accept the current
    policies (notices, acceptDocuments)"): each name in its parentheses is a root field of the school
    endpoint, where those refusals are given (it once named ``documents``, the platform's query)."""
    schema = build_schema(Settings())._schema
    roots = {*schema.query_type.fields, *schema.mutation_type.fields}  # type: ignore[union-attr]
    named = {
        reason: [name.strip() for name in message.split("(", 1)[1].split(")", 1)[0].split(",")]
        for reason, message in PENDING_MESSAGES.items()
        if "(" in message
    }
    assert set(named) >= {"CONSENT_REQUIRED", "TERMS_NOT_ACCEPTED", "POLICIES_NOT_ACCEPTED"}
    assert {reason: [n for n in names if n not in roots] for reason, names in named.items()} == {
        reason: [] for reason in named
    }


def test_export_check_names_the_stale_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`python -m graph.export --check` fails naming the file that drifted, and passes once regenerated."""
    export.write(tmp_path)
    assert export.stale_files(tmp_path) == []
    (tmp_path / export.PERMISSIONS_FILE).write_text("# edited by hand\n", encoding="utf-8")
    assert export.stale_files(tmp_path) == [export.PERMISSIONS_FILE]
    assert export.main(["--check"], root=tmp_path) == 1
    assert "docs/permissions.md is out of date" in capsys.readouterr().err
    (tmp_path / export.SCHEMA_FILE).unlink()
    assert export.stale_files(tmp_path) == [export.SCHEMA_FILE, export.PERMISSIONS_FILE]
    assert export.main([], root=tmp_path) == 0
    assert export.main(["--check"], root=tmp_path) == 0


def test_matrix_lists_every_policy_with_who() -> None:
    """Each declared pupil field appears in the matrix with its policy name and whom it admits."""
    text = export.generated()[export.PERMISSIONS_FILE]
    assert (
        "| `Pupil.upn` | `pupil_identifier_or_roster_read` | school admins and staff with school-wide pupil "
        "access (UPN is an administrative identifier); integration partners granted roster.read |" in text
    )
    assert "| `Query.viewer` | public | public: says who the caller is; null when anonymous |" in text
    assert "| `Pupil.id` | public | public: opaque identifier |" in text
    assert "**none**" not in text


# --- default deny -------------------------------------------------------------------------------------


def test_every_personal_and_root_field_declares_a_policy() -> None:
    """Default deny: every field of a personal-data type and every Query/Mutation field has a policy or a reason."""
    schema = build_schema(Settings())
    served = export.personal_type_names(schema, PERSONAL_DATA_TYPES)
    # A personal-data type the schema does not serve would make the walk below vacuous for it.
    assert len(served) == len(PERSONAL_DATA_TYPES)
    assert {"Pupil", "Staff", "Group", "Contact", "Account", "Viewer"} <= set(served)
    assert export.undeclared_fields(schema) == []


def test_a_type_that_guards_a_field_guards_them_all() -> None:
    """A type with one declared field carries personal data: all its fields must declare (no half-guarded types)."""
    schema = build_schema(Settings())
    half = [
        d.path
        for name in export.declared_types(schema)
        for d in export.declarations(schema, name)
        if not d.declared
    ]
    assert half == []


@strawberry.type
class Leaky:
    """A throwaway type: one public id, one guarded field, one plain (undeclared) field."""

    id: strawberry.ID = public("opaque identifier")
    secret: str | None = strawberry.field(default="s")
    guarded_one: str | None = guarded(SIGNED_IN)


def _leaky() -> Leaky:
    return Leaky(id=strawberry.ID("x"), guarded_one="g")


@strawberry.type(name="Query")
class LeakyQuery:
    leaky: Leaky = public("throwaway", resolver=_leaky)
    plain: int = strawberry.field(default=1)


def test_the_walker_catches_an_undeclared_field() -> None:
    """The walk really fails on a plain field: a throwaway personal type and root with one undeclared field each."""
    schema = strawberry.Schema(query=LeakyQuery)
    assert export.undeclared_fields(schema, {Leaky}) == ["Leaky.secret", "Query.plain"]
    # Without the personal-data mark only the root is checked; the half-guarded type still shows in the matrix.
    assert export.undeclared_fields(schema, set()) == ["Query.plain"]
    assert "| `Leaky.secret` | **none** | no declaration |" in export.permissions_markdown(schema)


# --- production limits --------------------------------------------------------------------------------


class _Tenant:
    id = None
    name = "Test"
    slug = "test"


class _Context:
    principal = None
    tenant = _Tenant()


async def _execute(schema: strawberry.Schema, query: str) -> Any:
    return await schema.execute(query, context_value=_Context())


async def test_introspection_is_off_in_production() -> None:
    """ARCHITECTURE (limits): introspection is a development aid; production refuses it."""
    production = build_schema(Settings(environment="production"))
    result = await _execute(production, get_introspection_query())
    assert result.data is None
    assert result.errors
    assert any("introspection" in e.message.lower() for e in result.errors)
    small = await _execute(production, "{ __schema { queryType { name } } }")
    assert small.data is None and small.errors
    # Development still serves it (so the production refusal is the setting, not a broken schema).
    development = await _execute(build_schema(Settings()), "{ __schema { queryType { name } } }")
    assert development.errors is None
    assert development.data == {"__schema": {"queryType": {"name": "Query"}}}


@pytest.mark.parametrize("environment", ["production", "development"])
async def test_no_field_suggestions(environment: str) -> None:
    """Field suggestions would enumerate the schema to a caller without introspection: they are off."""
    schema = build_schema(Settings(environment=environment))
    result = await _execute(schema, "{ pupilz { edges { node { id } } } }")
    assert result.errors
    messages = " ".join(e.message for e in result.errors)
    assert "pupilz" in messages
    assert "Did you mean" not in messages
    typo = await _execute(schema, "{ pupils { edges { node { forenme } } } }")
    assert typo.errors
    assert "Did you mean" not in " ".join(e.message for e in typo.errors)


async def test_depth_limit_refuses_an_over_deep_query() -> None:
    """QueryDepthLimiter: a document nested deeper than max_query_depth is refused before it runs."""
    settings = Settings(environment="production")
    schema = build_schema(settings)
    inner = "id"
    depth = 1
    while depth <= settings.max_query_depth:
        inner = f"groups {{ pupils {{ {inner} }} }}"
        depth += 2
    result = await _execute(schema, f"{{ viewer {{ pupil {{ {inner} }} }} }}")
    assert result.data is None
    assert result.errors
    assert any("exceeds maximum operation depth" in e.message for e in result.errors)


async def test_alias_limit_refuses_too_many_aliases() -> None:
    """MaxAliasesLimiter: one document may not multiply a field with more than max_aliases aliases."""
    settings = Settings(environment="production")
    schema = build_schema(settings)
    aliases = " ".join(f"a{i}: school {{ name }}" for i in range(settings.max_aliases + 1))
    result = await _execute(schema, f"{{ {aliases} }}")
    assert result.data is None
    assert result.errors
    assert any("aliases" in e.message.lower() for e in result.errors)
    allowed = " ".join(f"a{i}: school {{ name }}" for i in range(settings.max_aliases))
    ok = await _execute(schema, f"{{ {allowed} }}")
    assert ok.errors is None


EXPENSIVE_INLINE = (
    "{ pupils(first: 100) { edges { node { groups { pupils { groups { pupils { id } } } } } } } }"
)
EXPENSIVE_FRAGMENT = (
    "{ pupils(first: 100) { edges { node { ...Deep } } } } "
    "fragment Deep on Pupil { groups { ...Members } } "
    "fragment Members on Group { pupils { groups { pupils { id } } } }"
)
CLASS_LIST = "{ pupils(first: 100) { edges { node { groups { name teachers { surname } } } } } }"


@pytest.mark.parametrize("query", [EXPENSIVE_INLINE, EXPENSIVE_FRAGMENT], ids=["inline", "fragments"])
async def test_cost_limit_refuses_nested_lists_also_behind_fragments(query: str) -> None:
    """The query-cost rule prices nested lists wherever they are written: named fragments are no way round it."""
    schema = build_schema(Settings(environment="production"))
    result = await _execute(schema, query)
    assert result.data is None
    assert result.errors
    assert [e.extensions["code"] for e in result.errors if e.extensions] == ["QUERY_TOO_EXPENSIVE"]


async def test_cost_limit_admits_a_class_list_with_teachers() -> None:
    """A page of pupils with their groups and those groups' teachers is an ordinary screen, not too expensive."""
    schema = build_schema(Settings(environment="production"))
    result = await _execute(schema, CLASS_LIST)
    assert not any((e.extensions or {}).get("code") == "QUERY_TOO_EXPENSIVE" for e in result.errors or [])


# --- guarded fields compiled to one resolver ------------------------------------------------------------


def _schemas() -> list[tuple[str, strawberry.Schema]]:
    from graph.platform.schema import build_schema as platform_schema
    from graph.trust.schema import build_schema as trust_schema

    settings = Settings()
    return [
        ("school", build_schema(settings)),
        ("trust", trust_schema(settings)),
        ("platform", platform_schema(settings)),
    ]


@pytest.mark.parametrize(("name", "schema"), _schemas())
def test_every_guarded_field_still_refuses_an_anonymous_caller(name: str, schema: strawberry.Schema) -> None:
    """Default deny survives the compiled resolvers (graph.permissions.compile_guards): every guarded field
    without arguments now runs one plain resolver, and that resolver refuses a caller with no principal
    exactly as the permission class did; fields with arguments or other extensions (audited mutations) keep
    strawberry's permission extension."""
    from types import SimpleNamespace

    from graphql import GraphQLError, GraphQLObjectType
    from strawberry.permission import PermissionExtension

    from graph.permissions import POLICY_KEY

    compiled = kept = 0
    for named in schema._schema.type_map.values():
        if not isinstance(named, GraphQLObjectType) or named.name.startswith("__"):
            continue
        for field_name, field in named.fields.items():
            definition = (field.extensions or {}).get("strawberry-definition")
            if definition is None or POLICY_KEY not in definition.metadata:
                continue
            assert any(isinstance(e, PermissionExtension) for e in definition.extensions), field_name
            if field.args or len(definition.extensions) > 1:  # arguments to convert, or audited mutations
                kept += 1
                continue
            info = SimpleNamespace(context=SimpleNamespace(principal=None, tenant=None))
            with pytest.raises(GraphQLError) as refused:
                field.resolve(SimpleNamespace(row=object()), info)
            assert refused.value.extensions == {"code": "UNAUTHENTICATED"}, f"{named.name}.{field_name}"
            compiled += 1
    assert compiled > 10
    if name == "school":
        assert compiled > 100 and kept > 20


@pytest.mark.parametrize("environment", ["development", "production"])
def test_no_schema_extension_wraps_every_resolver(environment: str) -> None:
    """An extension with a resolve hook would be middleware around every field, and the executor's direct
    path (graph.execution) steps aside for middleware: every value would pay graphql-core's full price
    again (ADR 13). None of the extensions every schema runs with has one."""
    from graph.limits import schema_extensions

    extensions = [make() for make in schema_extensions(Settings(environment=environment))]
    assert extensions and not [type(e).__name__ for e in extensions if e._implements_resolve()]
