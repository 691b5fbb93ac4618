"""Files generated from the code: the school schema's SDL and the permission matrix.

``python -m graph.export`` writes ``schema.graphql`` and ``docs/permissions.md``; ``python -m graph.export
--check`` writes nothing and exits 1, naming each stale file, when either differs from what the code
generates (tests/test_schema.py runs the same comparison).

The matrix is read from the declarations themselves (``graph.permissions``: the ``POLICY_KEY`` and
``PUBLIC_KEY`` metadata of each field), so it cannot say anything the code does not do.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import strawberry
from graphql import GraphQLInterfaceType, GraphQLObjectType

from auth.policies import ALL, Policy
from graph.permissions import PERSONAL_DATA_TYPES, POLICY_KEY, PUBLIC_KEY

REPO_ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = Path("schema.graphql")
PERMISSIONS_FILE = Path("docs/permissions.md")
ROOT_TYPES = ("Query", "Mutation")


@dataclass(frozen=True)
class Declaration:
    """What one GraphQL field declares: a policy, a public reason, or (``None`` both) nothing."""

    type_name: str
    field_name: str
    policy: Policy | None
    public_reason: str | None

    @property
    def declared(self) -> bool:
        return self.policy is not None or self.public_reason is not None

    @property
    def path(self) -> str:
        return f"{self.type_name}.{self.field_name}"


def _object_types(schema: strawberry.Schema) -> Iterator[GraphQLObjectType | GraphQLInterfaceType]:
    for name in sorted(schema._schema.type_map):
        graphql_type = schema._schema.type_map[name]
        if name.startswith("__"):
            continue
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            yield graphql_type


def declarations(schema: strawberry.Schema, type_name: str) -> list[Declaration]:
    """Every field of a schema type (in schema order) with what it declares."""
    graphql_type = schema._schema.type_map[type_name]
    assert isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType), type_name
    found = []
    for field_name, graphql_field in graphql_type.fields.items():
        definition = (graphql_field.extensions or {}).get("strawberry-definition")
        metadata = getattr(definition, "metadata", None) or {}
        found.append(Declaration(type_name, field_name, metadata.get(POLICY_KEY), metadata.get(PUBLIC_KEY)))
    return found


def personal_type_names(schema: strawberry.Schema, personal: Iterable[type]) -> list[str]:
    """Schema names of the types in ``personal`` (the classes marked ``@personal_data``) that it serves."""
    origins = set(personal)
    names = []
    for graphql_type in _object_types(schema):
        definition = (graphql_type.extensions or {}).get("strawberry-definition")
        if getattr(definition, "origin", None) in origins:
            names.append(graphql_type.name)
    return names


def undeclared_fields(schema: strawberry.Schema, personal: Iterable[type] = PERSONAL_DATA_TYPES) -> list[str]:
    """``Type.field`` of every field with neither a policy nor a public reason, where one is required.

    Required on every field of a personal-data type and every root (Query, Mutation) field: default deny.
    """
    required = [*personal_type_names(schema, personal)]
    required += [name for name in ROOT_TYPES if name in schema._schema.type_map]
    return [d.path for name in required for d in declarations(schema, name) if not d.declared]


def declared_types(schema: strawberry.Schema) -> list[str]:
    """Query and Mutation first, then (by name) every type with at least one declared field."""
    roots = [name for name in ROOT_TYPES if name in schema._schema.type_map]
    others = [
        t.name
        for t in _object_types(schema)
        if t.name not in ROOT_TYPES and any(d.declared for d in declarations(schema, t.name))
    ]
    return roots + others


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def permissions_markdown(schema: strawberry.Schema) -> str:
    """docs/permissions.md: who may read each declared field, type by type."""
    personal = set(personal_type_names(schema, PERSONAL_DATA_TYPES))
    lines = [
        "# Permission matrix (generated)",
        "",
        "Generated from the code by `python -m graph.export`; do not edit. tests/test_schema.py fails when",
        "this file and the field declarations (`graph/permissions.py`: `guarded`, `guarded_mutation`,",
        "`public`) differ. Policies live in `auth/policies.py`. A denied field is null with a GraphQL error",
        "whose `extensions.code` is `UNAUTHENTICATED` (no caller) or `FORBIDDEN`. Row scopes apply first:",
        "a caller only ever receives the rows (pupils, groups, staff) its Principal may see.",
        "",
    ]
    used: dict[str, list[str]] = {}
    for type_name in declared_types(schema):
        for d in declarations(schema, type_name):
            if d.policy is not None:
                used.setdefault(d.policy.name, []).append(d.path)
    lines += ["## Policies", "", "| policy | who | fields |", "|---|---|---|"]
    # Every policy of auth/policies.py, and any a domain declares beside it (audit/policies.py) and uses.
    declared = {d.policy for t in declared_types(schema) for d in declarations(schema, t) if d.policy}
    for each in sorted({*ALL, *declared}, key=lambda p: p.name):
        lines.append(f"| `{each.name}` | {_cell(each.who)} | {len(used.get(each.name, []))} |")
    lines.append("")
    for type_name in declared_types(schema):
        marker = " (personal data)" if type_name in personal else ""
        lines += [f"## {type_name}{marker}", "", "| field | policy | who |", "|---|---|---|"]
        for d in declarations(schema, type_name):
            if d.policy is not None:
                policy, who = f"`{d.policy.name}`", d.policy.who
            elif d.public_reason is not None:
                policy, who = "public", f"public: {d.public_reason}"
            else:
                policy, who = "**none**", "no declaration"
            lines.append(f"| `{d.path}` | {policy} | {_cell(who)} |")
        lines.append("")
    return "\n".join(lines)


def school_schema() -> strawberry.Schema:
    from common.settings import Settings
    from graph.school.schema import build_schema

    return build_schema(Settings())


def generated(schema: strawberry.Schema | None = None) -> dict[Path, str]:
    """The generated files by path (relative to the repository root) and their exact contents."""
    schema = schema or school_schema()
    return {SCHEMA_FILE: schema.as_str() + "\n", PERMISSIONS_FILE: permissions_markdown(schema)}


def stale_files(root: Path = REPO_ROOT) -> list[Path]:
    """The generated files whose contents on disk differ from what the code generates now."""
    stale = []
    for path, text in generated().items():
        target = root / path
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            stale.append(path)
    return stale


def write(root: Path = REPO_ROOT) -> list[Path]:
    written = []
    for path, text in generated().items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(path)
    return written


def command(
    prog: str,
    description: str,
    stale: Callable[[Path], list[Path]],
    written: Callable[[Path], list[Path]],
    argv: list[str] | None,
    root: Path,
) -> int:
    """``python -m <prog> [--check]``: write the exported files, or with ``--check`` write nothing and exit 1
    naming each one that is out of date (one command line for every schema's export)."""
    parser = argparse.ArgumentParser(prog=f"python -m {prog}", description=description)
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 naming each file that is out of date"
    )
    args = parser.parse_args(argv)
    if args.check:
        out_of_date = stale(root)
        for path in out_of_date:
            print(f"{path} is out of date: run python -m {prog}", file=sys.stderr)
        return 1 if out_of_date else 0
    for path in written(root):
        print(f"wrote {path}")
    return 0


def main(argv: list[str] | None = None, *, root: Path = REPO_ROOT) -> int:
    return command("graph.export", __doc__.splitlines()[0], stale_files, write, argv, root)


if __name__ == "__main__":
    sys.exit(main())
