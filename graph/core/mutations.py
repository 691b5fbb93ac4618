"""The one way a mutation resolver is written: decode the ids, run the service call, build the payload.

::

    async def archive_ladder(info: Info, input: ArchiveLadderInput) -> LadderPayload:
        ctx = info.context
        return await mutate(
            info,
            LadderPayload,
            lambda ladder_id: ladders.archive_ladder(ctx.session, ctx.principal, ladder_id, now=ctx.now),
            [("ladderId", "Ladder", input.ladder_id)],
            done=lambda ladder: LadderPayload(ladder=LadderType.full(ladder)),
        )

:func:`mutate` runs the call inside a SAVEPOINT of the request's transaction (:func:`attempt`). A
:class:`~common.errors.DomainError` (a global id that is not one, a refused input, a domain rule), or a
constraint the database enforces, rolls the savepoint back and becomes the payload's ``errors``; a lock
conflict with another transaction (a deadlock) rolls it back and runs the call once more; anything else
propagates, is masked for the client, and rolls back the whole request. Work that must follow a success
but stay out of the savepoint (recording an audit event, reading what the payload shows) belongs in
``done``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction
from strawberry.types import Info

from auth import service as auth_service
from common.errors import DomainError, violated_constraint
from common.events import trail_of
from common.faults import lock_conflict
from graph.core.arguments import WantedId, decode_ids
from graph.core.errors import UserError, user_errors

T = TypeVar("T")
P = TypeVar("P")


async def mutate(
    info: Info,
    payload: Callable[..., P],
    call: Callable[..., Awaitable[T]],
    ids: Sequence[WantedId] = (),
    *,
    done: Callable[[T], P | Awaitable[P]],
    throttle_on: str | None = None,
) -> P:
    """Decode ``ids`` (every bad one reported on its field), run ``call(*decoded_ids)`` in a savepoint, and
    return ``done(result)``, or ``payload(errors=...)`` when the input was refused.

    ``throttle_on``: the call checks a secret (a password, a parent or activation code) and fails with this
    code when it is wrong; it then runs through :func:`guessing_attempt` (refused while the caller's address
    is throttled, and each such failure counted against the address).
    """

    async def operation() -> T:
        return await call(*decode_ids(ids))

    if throttle_on is None:
        result, errors = await attempt(info, operation)
    else:
        result, errors = await guessing_attempt(info, throttle_on, operation)
    if errors:
        return payload(errors=errors)
    built = done(result)  # no errors: the call's own result
    if isinstance(built, Awaitable):
        return await built
    return built


async def attempt(info: Info, operation: Callable[[], Awaitable[T]]) -> tuple[T | None, list[UserError]]:
    """``operation()`` in a savepoint: its result and no errors, or None and the errors it was refused with.

    When PostgreSQL undoes the operation's statement for a lock conflict with another transaction (a
    deadlock: an import deactivating a parent while an admin links that parent to a pupil, each holding a
    row the other's trigger needs, ADR 17), the savepoint is rolled back, which releases every row the
    operation had locked and lets the other transaction finish, and the operation runs once more from the
    start, with what it recorded in the audit trail forgotten. A second conflict fails the request as any
    other error does (:data:`CONFLICT_ATTEMPTS`)."""
    session = info.context.session
    trail = trail_of(session)
    for tries_left in range(CONFLICT_ATTEMPTS - 1, -1, -1):
        since = trail.mark()
        savepoint = await session.begin_nested()
        try:
            return await _in_savepoint(session, savepoint, operation)
        except Exception as error:
            if not tries_left or not lock_conflict(error):
                raise
            await savepoint.rollback()
            trail.rewind(since)
    raise AssertionError("unreachable: the last attempt returns or raises")


CONFLICT_ATTEMPTS = 2
"""How many times :func:`attempt` runs an operation that PostgreSQL undid for a lock conflict."""


async def _in_savepoint(
    session: AsyncSession, savepoint: AsyncSessionTransaction, operation: Callable[[], Awaitable[T]]
) -> tuple[T | None, list[UserError]]:
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
    realm = ctx.throttle_realm
    if await auth_service.address_blocked(ctx.session, ctx.auth, ctx.client_address, ctx.now, realm=realm):
        return None, user_errors([auth_service.throttled_problem(ctx.auth)])
    result, errors = await attempt(info, operation)
    if any(e.code == failure_code for e in errors):
        await auth_service.record_address_failure(
            ctx.session, ctx.auth, ctx.client_address, ctx.now, realm=realm
        )
    return result, errors
