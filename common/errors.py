"""Errors a service raises for the caller to see: validation and domain rules, never internals.

:class:`DomainError` carries one or more :class:`Problem` s, each naming the input field (a dotted path
from the mutation input), a stable machine code and a sentence for people. The GraphQL edge turns it into
the payload's ``errors`` list and rolls back everything the operation wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    field: str | None
    code: str
    message: str


class DomainError(Exception):
    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(f"{p.field or '-'}: {p.code}: {p.message}" for p in self.problems))

    @classmethod
    def one(cls, field: str | None, code: str, message: str) -> DomainError:
        return cls([Problem(field, code, message)])


class Problems:
    """Collects problems while validating a whole input, so the caller hears of all of them at once."""

    def __init__(self) -> None:
        self.items: list[Problem] = []

    def add(self, field: str | None, code: str, message: str) -> None:
        self.items.append(Problem(field, code, message))

    def raise_if_any(self) -> None:
        if self.items:
            raise DomainError(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)


def violated_constraint(error: BaseException) -> str:
    """The name of the constraint an IntegrityError broke, for a message; a generic phrase if unknown.

    asyncpg keeps the name on its own exception, which SQLAlchemy's DB-API wrapper holds as the cause.
    On Citus the error comes from a worker: the name is only in the message, the shard's (the table's
    constraint with the shard's id appended, ``uq_pupils_school_id_upn_102008``), and is given as the
    table's.
    """
    orig = getattr(error, "orig", None)
    for candidate in (orig, getattr(orig, "__cause__", None)):
        name = getattr(candidate, "constraint_name", None)
        if name:
            return str(name)
    for candidate in (orig, getattr(orig, "__cause__", None)):
        found = _SHARD_CONSTRAINT.search(str(candidate or ""))
        if found:
            return found.group(1)
    return "a uniqueness or reference rule"


_SHARD_CONSTRAINT = re.compile(r'constraint "([a-z0-9_]+?)_[0-9]{6,}"')
"""A shard's constraint in a Citus worker's message: the table's constraint name, then the shard id."""
