"""The trust and platform schemas as code: generated files in step, default deny, and no type that could
carry a pupil's personal data (ARCHITECTURE: the operator sees anonymised statistics only)."""

from __future__ import annotations

from pathlib import Path

import pytest
import strawberry
from graphql import get_introspection_query

from common.settings import Settings
from graph import export
from graph.permissions import PERSONAL_DATA_TYPES
from graph.platform import export as admin_export
from graph.platform.context import ADMIN_DATA_TYPES
from graph.platform.schema import build_schema as platform_schema
from graph.school.schema import build_schema as school_schema
from graph.trust.schema import build_schema as trust_schema

SCHEMAS = {"trust": trust_schema, "platform": platform_schema}


def test_generated_files_match_the_code() -> None:
    """trust.graphql, platform.graphql and their permission matrices are committed and current."""
    assert admin_export.stale_files() == [], "run `python -m graph.platform.export`"


def test_export_check_names_a_stale_file(tmp_path: Path) -> None:
    admin_export.write(tmp_path)
    assert admin_export.main(["--check"], root=tmp_path) == 0
    (tmp_path / admin_export.PLATFORM_SCHEMA_FILE).write_text(
        "type Query { edited: Int }\n", encoding="utf-8"
    )
    assert admin_export.stale_files(tmp_path) == [admin_export.PLATFORM_SCHEMA_FILE]
    assert admin_export.main(["--check"], root=tmp_path) == 1


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_every_root_and_account_data_field_declares_a_policy(name: str) -> None:
    """Default deny: every Query/Mutation field and every field of an admin-account type has a policy or a
    stated reason to be public; a type that guards one field guards them all."""
    schema = SCHEMAS[name](Settings())
    assert export.undeclared_fields(schema, ADMIN_DATA_TYPES) == []
    half = [
        d.path
        for t in export.declared_types(schema)
        for d in export.declarations(schema, t)
        if not d.declared
    ]
    assert half == []


def test_every_account_data_type_is_served_and_walked() -> None:
    served = {
        n
        for build in SCHEMAS.values()
        for n in export.personal_type_names(build(Settings()), ADMIN_DATA_TYPES)
    }
    assert len(served) >= len({t.__strawberry_definition__.name for t in ADMIN_DATA_TYPES})  # type: ignore[attr-defined]
    assert {"SchoolAdmin", "TrustAdmin", "Operator", "AccountEvent"} <= served


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_no_type_can_carry_a_pupils_personal_data(name: str) -> None:
    """The trust and platform schemas serve none of the school schema's personal-data types (pupil,
    contact, group, staff member, school account, learning records), nor any field that would hold a pupil's
    identifier or date of birth."""
    schema: strawberry.Schema = SCHEMAS[name](Settings())
    assert export.personal_type_names(schema, PERSONAL_DATA_TYPES) == []
    school_personal = set(export.personal_type_names(school_schema(Settings()), PERSONAL_DATA_TYPES))
    assert {"Pupil", "Contact", "Group", "Staff"} <= school_personal
    names = set(schema._schema.type_map)
    assert names.isdisjoint(school_personal), names & school_personal
    fields = {f for t in export._object_types(schema) for f in t.fields}
    # (SchoolCounts.pupils is a number.)
    assert fields.isdisjoint({"upn", "uln", "dateOfBirth", "contacts", "gender", "children", "groups"})


@pytest.mark.parametrize("name", sorted(SCHEMAS))
async def test_introspection_is_off_in_production(name: str) -> None:
    production = SCHEMAS[name](Settings(environment="production"))
    result = await production.execute(get_introspection_query())
    assert result.data is None and result.errors
