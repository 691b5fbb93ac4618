"""Running a mutation's service call so that a refused input writes nothing and says exactly why.

Each call runs inside a SAVEPOINT of the request's transaction. A :class:`~common.errors.DomainError`
(or a constraint the database enforces) rolls the savepoint back and becomes the payload's ``errors``;
anything else propagates, is masked for the client, and rolls back the whole request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from strawberry.types import Info

from auth import service as auth_service
from common.errors import DomainError, Problem, violated_constraint
from graph.school.types import UserError

T = TypeVar("T")


def user_errors(problems: tuple[Problem, ...] | list[Problem]) -> list[UserError]:
    return [UserError(field=p.field, code=p.code, message=p.message) for p in problems]


async def attempt(info: Info, operation: Callable[[], Awaitable[T]]) -> tuple[T | None, list[UserError]]:
    session = info.context.session
    savepoint = await session.begin_nested()
    try:
        result = await operation()
        await session.flush()
    except DomainError as error:
        await savepoint.rollback()
        return None, user_errors(error.problems)
    except IntegrityError as error:
        # A concurrent request got there first (the services check uniqueness before writing).
        await savepoint.rollback()
        constraint = violated_constraint(error)
        return None, [
            UserError(
                field=None,
                code="CONFLICT",
                message=f"The change conflicts with existing data ({constraint}).",
            )
        ]
    await savepoint.commit()
    return result, []


async def guessing_attempt(
    info: Info, failure_code: str, operation: Callable[[], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
    """:func:`attempt` for an operation that checks a secret (a password, a parent or activation code).

    Refused while the caller's address is throttled, and a failure with ``failure_code`` counts against
    the address like a failed sign-in (LRS 5.11): otherwise the operation is an unthrottled oracle for
    guessing the secret. The failure is counted outside the operation's savepoint, so it is kept.
    """
    ctx = info.context
    if await auth_service.address_blocked(ctx.session, ctx.auth, ctx.client_address, ctx.now):
        return None, user_errors([auth_service.throttled_problem(ctx.auth)])
    result, errors = await attempt(info, operation)
    if any(e.code == failure_code for e in errors):
        await auth_service.record_address_failure(ctx.session, ctx.auth, ctx.client_address, ctx.now)
    return result, errors
