"""One event per action (issue 15): a mutation whose service emitted its own event is recorded once."""

from __future__ import annotations

import uuid

from audit.platform import PlatformTrail
from audit.recorder import AuditTrail, fold_operation
from common.events import Actor, Event


def _trail() -> AuditTrail:
    return AuditTrail(actor=Actor.anonymous(), request_id="r", client_address="a", school_id=uuid.uuid4())


def test_an_operation_with_no_service_event_is_recorded_as_itself() -> None:
    trail = _trail()
    since = trail.mark()
    trail.record_operation(since, "mutation.updateGroup", "SUCCESS")
    assert [(e.action, e.outcome) for e in trail.events] == [("mutation.updateGroup", "SUCCESS")]


def test_the_service_event_carries_the_operation() -> None:
    """LRS 5.1: the import is one entry, the service's, naming the mutation and its codes; the events
    emitted after the first (a lockout) and before the mark are left alone."""
    trail = _trail()
    trail.record("earlier.event")
    since = trail.mark()
    imported = uuid.uuid4()
    trail.record("roster.import", "REJECTED", target_type="RosterImport", target_id=imported, detail={"n": 1})
    trail.record("auth.locked_out", target_type="Account", target_id=uuid.uuid4())
    trail.record_operation(since, "mutation.importRoster", "REJECTED", detail={"codes": ["ROSTER_REFUSED"]})
    assert [e.action for e in trail.events] == ["earlier.event", "roster.import", "auth.locked_out"]
    folded = trail.events[1]
    assert (folded.outcome, folded.target_type, folded.target_id) == ("REJECTED", "RosterImport", imported)
    assert folded.detail == {"n": 1, "mutation": "importRoster", "codes": ["ROSTER_REFUSED"]}
    assert trail.events[2].detail == {}


def test_the_worse_outcome_and_the_returned_object_are_kept() -> None:
    service_target, returned = uuid.uuid4(), uuid.uuid4()
    event = Event("consent.given", "SUCCESS", "Pupil", service_target, {}, None)
    failed = fold_operation(event, Event("mutation.giveConsent", "FAILED", "Consent", returned))
    assert failed.outcome == "FAILED" and (failed.target_type, failed.target_id) == ("Pupil", service_target)
    assert failed.detail == {"mutation": "giveConsent", "result": {"type": "Consent", "id": str(returned)}}
    untargeted = fold_operation(
        Event("x.done", "SUCCESS"), Event("mutation.do", "SUCCESS", "Thing", returned)
    )
    assert (untargeted.target_type, untargeted.target_id, untargeted.detail) == (
        "Thing",
        returned,
        {"mutation": "do"},
    )


def test_a_platform_operation_folds_into_its_event_about_a_school() -> None:
    """An operator's mutation whose service emitted an event about a school: one entry, in the school's
    chain and the platform log alike, naming the mutation."""
    trail = PlatformTrail(
        actor=Actor("OPERATOR", uuid.uuid4(), "op", "OPERATOR"), request_id="r", client_address=None
    )
    school = uuid.uuid4()
    since = trail.mark()
    trail.for_school(school, "school.suspended", detail={"reason": "DATA_BREACH"})
    trail.record_operation(since, "mutation.suspendSchool", "SUCCESS")
    assert trail.events == []
    assert [(s, e.action, e.detail) for s, e in trail.school_events] == [
        (school, "school.suspended", {"reason": "DATA_BREACH", "mutation": "suspendSchool"})
    ]


def test_rewinding_forgets_what_was_recorded_since_the_mark() -> None:
    """What a savepoint's work recorded is forgotten when that work is rolled back to run again
    (graph.core.mutations.attempt on a lock conflict); what came before the mark stays."""
    trail = _trail()
    trail.record("earlier.event")
    since = trail.mark()
    trail.record("contact.linked")
    trail.rewind(since)
    assert [e.action for e in trail.events] == ["earlier.event"]

    platform = PlatformTrail(actor=Actor.anonymous(), request_id="r", client_address="a")
    school = uuid.uuid4()
    platform.record("platform.kept")
    platform.for_school(school, "school.kept")
    since = platform.mark()
    platform.record("platform.undone")
    platform.for_school(school, "school.undone")
    platform.for_school(school, "unchained.undone", chain=False)
    platform.rewind(since)
    assert [e.action for e in platform.events] == ["platform.kept"]
    assert [(s, e.action) for s, e in platform.school_events] == [(school, "school.kept")]
    assert platform.unchained == []
