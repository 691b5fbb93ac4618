"""``UserError``: how every schema's mutation payload says what was wrong with the input."""

from __future__ import annotations

import strawberry

from common.errors import Problem


@strawberry.type(
    name="UserError", description="A problem with the input or a domain rule; nothing was written."
)
class UserError:
    field: str | None = strawberry.field(
        description="Dotted path of the input field, or null for the whole input."
    )
    code: str
    message: str


def user_errors(problems: tuple[Problem, ...] | list[Problem]) -> list[UserError]:
    return [UserError(field=p.field, code=p.code, message=p.message) for p in problems]
