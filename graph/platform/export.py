"""Files generated from the trust and platform schemas: their SDL and permission matrices.

``python -m graph.platform.export`` writes ``trust.graphql``, ``platform.graphql``,
``docs/permissions-trust.md`` and ``docs/permissions-platform.md``; with ``--check`` it writes nothing and
exits 1, naming each stale file (tests/test_platform_schema.py runs the same comparison). It reads the
declarations the way ``graph.export`` does for the school schema (whose files it leaves alone).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path

import strawberry

from auth.operators import OPERATOR
from auth.policies import Policy
from auth.trust_admins import SCHOOL_ADMIN_DIRECTORY, TRUST_ADMIN
from graph import export
from graph.export import command
from graph.platform.context import ADMIN_DATA_TYPES

REPO_ROOT = export.REPO_ROOT
TRUST_SCHEMA_FILE = Path("trust.graphql")
TRUST_PERMISSIONS_FILE = Path("docs/permissions-trust.md")
PLATFORM_SCHEMA_FILE = Path("platform.graphql")
PLATFORM_PERMISSIONS_FILE = Path("docs/permissions-platform.md")


def trust_schema() -> strawberry.Schema:
    from common.settings import Settings
    from graph.trust.schema import build_schema

    return build_schema(Settings())


def platform_schema() -> strawberry.Schema:
    from common.settings import Settings
    from graph.platform.schema import build_schema

    return build_schema(Settings())


def permissions_markdown(
    schema: strawberry.Schema, *, name: str, url: str, policies: Iterable[Policy]
) -> str:
    personal = set(export.personal_type_names(schema, ADMIN_DATA_TYPES))
    lines = [
        f"# Permission matrix of the {name} schema (generated)",
        "",
        f"The schema served at `{url}`.",
        "",
        "Generated from the code by `python -m graph.platform.export`; do not edit.",
        "tests/test_platform_schema.py fails when this file and the field declarations (`graph/permissions.py`:",
        "`guarded`, `guarded_mutation`, `public`) differ. Policies live in `auth/operators.py` and",
        "`auth/trust_admins.py`. No type of this schema can carry a pupil's personal data; types marked",
        "(personal data) carry an admin account's (a username, a name, an e-mail).",
        "",
    ]
    used: dict[str, int] = {}
    for type_name in export.declared_types(schema):
        for d in export.declarations(schema, type_name):
            if d.policy is not None:
                used[d.policy.name] = used.get(d.policy.name, 0) + 1
    lines += ["## Policies", "", "| policy | who | fields |", "|---|---|---|"]
    for each in sorted(policies, key=lambda p: p.name):
        lines.append(f"| `{each.name}` | {export._cell(each.who)} | {used.get(each.name, 0)} |")
    lines.append("")
    for type_name in export.declared_types(schema):
        marker = " (personal data)" if type_name in personal else ""
        lines += [f"## {type_name}{marker}", "", "| field | policy | who |", "|---|---|---|"]
        for d in export.declarations(schema, type_name):
            if d.policy is not None:
                policy, who = f"`{d.policy.name}`", d.policy.who
            elif d.public_reason is not None:
                policy, who = "public", f"public: {d.public_reason}"
            else:
                policy, who = "**none**", "no declaration"
            lines.append(f"| `{d.path}` | {policy} | {export._cell(who)} |")
        lines.append("")
    return "\n".join(lines)


def generated() -> dict[Path, str]:
    trust, platform = trust_schema(), platform_schema()
    return {
        TRUST_SCHEMA_FILE: trust.as_str() + "\n",
        TRUST_PERMISSIONS_FILE: permissions_markdown(
            trust, name="trust", url="/trusts/{slug}/graphql", policies=[TRUST_ADMIN, SCHOOL_ADMIN_DIRECTORY]
        ),
        PLATFORM_SCHEMA_FILE: platform.as_str() + "\n",
        PLATFORM_PERMISSIONS_FILE: permissions_markdown(
            platform, name="platform", url="/platform/graphql", policies=[OPERATOR, SCHOOL_ADMIN_DIRECTORY]
        ),
    }


def stale_files(root: Path = REPO_ROOT) -> list[Path]:
    return [
        path
        for path, text in generated().items()
        if not (root / path).exists() or (root / path).read_text(encoding="utf-8") != text
    ]


def write(root: Path = REPO_ROOT) -> list[Path]:
    written = []
    for path, text in generated().items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None, *, root: Path = REPO_ROOT) -> int:
    return command("graph.platform.export", __doc__.splitlines()[0], stale_files, write, argv, root)


if __name__ == "__main__":
    sys.exit(main())
