"""How the package's records and the school's rows correspond, for every set-based check and write.

A package names a person by kind (PUPIL, STAFF, CONTACT) and the MIS's id; a row is known by its source id,
or, for a row made in schoolgraph, by its own id (what the export writes). A staged row is active unless
the package marks it ``tobedeleted``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Text, cast, func, or_

from models import Account, Contact, Pupil, Staff

PERSON_MODELS: dict[str, Any] = {"PUPIL": Pupil, "STAFF": Staff, "CONTACT": Contact}
ACCOUNT_PERSON: dict[str, Any] = {
    "PUPIL": Account.pupil_id,
    "STAFF": Account.staff_id,
    "CONTACT": Account.contact_id,
}
"""The account column that links an account to a person of each kind."""


def key(model: Any, column: str = "source_id") -> Any:
    """The id a package knows a row by: its source id, or for a row made in schoolgraph its own id."""
    return func.coalesce(getattr(model, column), cast(model.id, Text))


def active_row(table: Any) -> Any:
    """A staged row the package does not mark ``tobedeleted`` (a blank status is active)."""
    return or_(table.c.status.is_(None), table.c.status != "tobedeleted")
