"""The audit sink (common.events): a service's event reaches the trail attached to its session, and an
auditable action with no trail to record it fails loudly instead of going unrecorded."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from audit.recorder import AuditTrail
from common.events import Actor, Event, MissingTrail, attach, emit, trail_of


def _trail() -> AuditTrail:
    return AuditTrail(
        actor=Actor.anonymous(), request_id="req-1", client_address=None, school_id=uuid.uuid4()
    )


async def test_emit_appends_to_the_attached_trail() -> None:
    """LRS 5.1: what a service emits is recorded in the trail of the session's transaction, as emitted."""
    trail, target, signed_in = _trail(), uuid.uuid4(), Actor("ACCOUNT", uuid.uuid4(), "pupil1", "PUPIL")
    async with AsyncSession() as session:  # nothing to flush: no connection is needed
        attach(session, trail)
        await emit(session, "privacy.extended_data.opt_in")
        await emit(
            session, "auth.login", "REJECTED", target_type="Account", target_id=target, actor=signed_in
        )
    assert trail.events == [
        Event("privacy.extended_data.opt_in", "SUCCESS"),
        Event("auth.login", "REJECTED", "Account", target, {}, signed_in),
    ]


async def test_emit_without_a_trail_fails_loudly() -> None:
    """LRS 5.1: an action with no audit trail to record it is a bug, not a silent loss."""
    async with AsyncSession() as session:
        with pytest.raises(MissingTrail):
            await emit(session, "roster.export")
        with pytest.raises(MissingTrail):
            trail_of(session)


async def test_one_trail_per_session() -> None:
    """A session records into one trail: attaching a second is refused, the same one again is harmless."""
    trail = _trail()
    async with AsyncSession() as session:
        attach(session, trail)
        attach(session, trail)
        with pytest.raises(ValueError):
            attach(session, _trail())
        assert trail_of(session) is trail
