# mypy: disable-error-code="attr-defined,union-attr"
"""Assignments (homework or a revision resource) set to a group, pupils' work and staff feedback.

* Staff who teach a group set work to it, due today or later, referencing content, free text, or both.
* Pupils see their groups' assignments and submit work (text and/or a file that passes the upload
  gate, LL 6.4.4); resubmitting replaces the work until feedback is given.
* Staff who teach the pupil give feedback. Parents see their children's assignments, status and feedback
  (row scopes: a parent's pupils and groups are their children's).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

from sqlalchemy import Select, and_, false, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from auth.principal import Principal, Role
from common import pagination as paging
from common.clock import school_today
from common.errors import DomainError, Problems
from common.pagination import Page, after_key
from learning.content import accepted_file, content_by_ids, store_file
from learning.policies import may_assess, may_teach_group
from learning.queries import submissions_of_assignments
from models import Group, GroupPupil, Pupil
from models.base import new_id
from models.learning import ASSIGNMENT_KINDS, Assignment, Submission
from people import queries as people
from people.processing import refuse_if_restricted, visible_to
from storage.files import FileStore
from tenants.scoping import in_school, scoped

MAX_TEXT: Final = 20_000
MAX_FEEDBACK: Final = 5_000
MAX_INSTRUCTIONS: Final = 10_000


@dataclass(frozen=True)
class NewAssignment:
    group_id: uuid.UUID
    title: str
    kind: str
    due_on: date
    instructions: str | None = None
    content_id: uuid.UUID | None = None


async def _taught_group(session: AsyncSession, principal: Principal, group_id: uuid.UUID) -> Group | None:
    if not may_teach_group(principal, group_id):
        return None
    return (
        await session.execute(scoped(Group, principal.school_id).where(Group.id == group_id, Group.active))
    ).scalar_one_or_none()


async def set_assignment(
    session: AsyncSession, principal: Principal, data: NewAssignment, *, now: datetime
) -> Assignment:
    problems = Problems()
    group = await _taught_group(session, principal, data.group_id)
    if group is None:
        problems.add("groupId", "GROUP_NOT_FOUND", "No group with this id among the groups you teach.")
    title = (data.title or "").strip()
    if not title:
        problems.add("title", "REQUIRED", "title must not be empty.")
    elif len(title) > 200:
        problems.add("title", "TOO_LONG", "title has at most 200 characters.")
    if data.kind not in ASSIGNMENT_KINDS:
        problems.add("kind", "INVALID_KIND", f"kind must be one of {', '.join(ASSIGNMENT_KINDS)}.")
    today = school_today(now)
    if data.due_on < today:
        problems.add("dueOn", "DUE_DATE_IN_PAST", f"dueOn {data.due_on} is before today ({today}).")
    instructions = (data.instructions or "").strip() or None
    if instructions and len(instructions) > MAX_INSTRUCTIONS:
        problems.add("instructions", "TOO_LONG", f"instructions have at most {MAX_INSTRUCTIONS} characters.")
    refs: dict[str, uuid.UUID | None] = {"platform_content_id": None, "school_content_id": None}
    if data.content_id is not None:
        item = (await content_by_ids(session, principal, [data.content_id])).get(data.content_id)
        if item is None:
            problems.add("contentId", "CONTENT_NOT_FOUND", "No content with this id at this school.")
        else:
            refs = item.refs
    elif instructions is None:
        problems.add("instructions", "REQUIRED", "Give instructions, content, or both.")
    problems.raise_if_any()
    row = Assignment(
        school_id=principal.school_id,
        group_id=data.group_id,
        title=title,
        kind=data.kind,
        instructions=instructions,
        due_on=data.due_on,
        set_by=principal.account_id,
        set_by_staff=principal.staff_id,
        created_at=now,
        **refs,
    )
    session.add(row)
    await session.flush()
    return row


def _within_groups(stmt: Select[Any], principal: Principal) -> Select[Any]:
    scope = principal.group_scope
    if scope is None:
        return stmt
    if not scope:
        return stmt.where(false())
    return stmt.where(Assignment.group_id.in_(scope))


async def assignments_page(
    session: AsyncSession,
    principal: Principal,
    page: Page,
    *,
    group_id: uuid.UUID | None = None,
    pupil_id: uuid.UUID | None = None,
) -> list[Assignment]:
    """Assignments of active groups the caller may see, latest due date first.

    ``pupil_id``: only that pupil's groups (a parent of several children, a teacher looking at one pupil).
    """
    school = principal.school_id
    stmt = _within_groups(
        scoped(Assignment, school).join(
            Group, and_(in_school(Group, school), Group.id == Assignment.group_id, Group.active)
        ),
        principal,
    )
    if group_id is not None:
        stmt = stmt.where(Assignment.group_id == group_id)
    if pupil_id is not None:
        if not principal.may_see_pupil(pupil_id):
            return []
        stmt = stmt.where(
            Assignment.group_id.in_(
                select(GroupPupil.group_id).where(
                    in_school(GroupPupil, school),
                    GroupPupil.pupil_id == pupil_id,
                    visible_to(principal, GroupPupil, GroupPupil.pupil_id),  # LL-S2 (xiii)
                )
            )
        )
    after = after_key(page, paging.DATE, paging.UUID)
    if after is not None:
        stmt = stmt.where(tuple_(Assignment.due_on, Assignment.id) < tuple_(*after))
    stmt = stmt.order_by(Assignment.due_on.desc(), Assignment.id.desc()).limit(page.first + 1)
    return list((await session.execute(stmt)).scalars().all())


async def assignments_by_ids(
    session: AsyncSession, principal: Principal, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Assignment]:
    school = principal.school_id
    stmt = _within_groups(
        scoped(Assignment, school)
        .join(Group, and_(in_school(Group, school), Group.id == Assignment.group_id, Group.active))
        .where(Assignment.id.in_(ids)),
        principal,
    )
    return {a.id: a for a in (await session.execute(stmt)).scalars()}


# --- work: status per pupil ----------------------------------------------------------------------------


@dataclass(frozen=True)
class PupilWork:
    """One pupil's side of an assignment: their status and submission (if any)."""

    assignment: Assignment
    pupil: Pupil
    submission: Submission | None
    today: date

    @property
    def pupil_id(self) -> uuid.UUID:
        return self.pupil.id

    @property
    def status(self) -> str:
        s = self.submission
        if s is None:
            return "OVERDUE" if self.today > self.assignment.due_on else "NOT_SUBMITTED"
        if s.feedback is not None:
            return "FEEDBACK_GIVEN"
        return "SUBMITTED_LATE" if is_late(self.assignment, s) else "SUBMITTED"


def is_late(assignment: Assignment, submission: Submission) -> bool:
    return school_today(submission.submitted_at) > assignment.due_on


async def work_of_assignments(
    session: AsyncSession, principal: Principal, assignments: Sequence[Assignment], *, now: datetime
) -> list[list[PupilWork]]:
    """Each assignment's pupils the caller may see (the whole group for its teachers, a pupil themself,
    a parent their children) with status and submission: two statements however many assignments."""
    group_ids = list({a.group_id for a in assignments})
    pupils = dict(zip(group_ids, await people.pupils_of_groups(session, principal, group_ids)))
    submissions = await submissions_of_assignments(session, principal, [a.id for a in assignments])
    today = school_today(now)
    return [
        [PupilWork(a, p, submissions.get((a.id, p.id)), today) for p in pupils.get(a.group_id, [])]
        for a in assignments
    ]


# --- submitting and feedback ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewWork:
    assignment_id: uuid.UUID
    text: str | None = None
    file_name: str | None = None
    data: bytes | None = None
    size: int | None = None
    """The file's real size when ``data`` holds only its first bytes (see :func:`accepted_file`)."""


async def submit_work(
    session: AsyncSession,
    principal: Principal,
    store: FileStore,
    work: NewWork,
    *,
    max_bytes: int,
    now: datetime,
) -> Submission:
    """A pupil submits (or resubmits, until feedback is given) their work for one of their assignments.

    The write is one upsert on the pupil's one row for the assignment: concurrent first submissions (a
    double tap, a retrying client) all succeed, the last to commit being the work kept, instead of all but
    one failing on the unique constraint. Feedback given in the meantime still refuses (ALREADY_MARKED)."""
    problems = Problems()
    if principal.role is not Role.PUPIL or principal.pupil_id is None:
        raise DomainError.one(None, "PUPILS_ONLY", "Only pupils submit work.")
    pupil_id = principal.pupil_id
    await refuse_if_restricted(session, principal.school_id, [pupil_id], None)  # LL-S2 (xiii)
    assignment = (await assignments_by_ids(session, principal, [work.assignment_id])).get(work.assignment_id)
    if assignment is None:
        problems.add("assignmentId", "ASSIGNMENT_NOT_FOUND", "No assignment with this id for you.")
    text = (work.text or "").strip() or None
    if text and len(text) > MAX_TEXT:
        problems.add("text", "TOO_LONG", f"text has at most {MAX_TEXT} characters.")
    accepted = None
    if work.data is not None:
        accepted = accepted_file(problems, "file", work.file_name or "", work.data, max_bytes, work.size)
    elif text is None:
        problems.add("text", "REQUIRED", "Submit some text, a file, or both.")
    existing = None
    if assignment is not None:
        existing = (
            await session.execute(
                scoped(Submission, principal.school_id)
                .where(Submission.assignment_id == assignment.id, Submission.pupil_id == pupil_id)
                .with_for_update()
            )
        ).scalar_one_or_none()
        if existing is not None and existing.feedback is not None:
            problems.add("assignmentId", "ALREADY_MARKED", "Feedback has been given on this work already.")
    problems.raise_if_any()
    assert assignment is not None
    file_id = (await store_file(session, principal, store, accepted, now=now)).id if accepted else None
    work_values: dict[str, Any] = {
        "text": text,
        "file_id": file_id,
        "submitted_by": principal.account_id,
        "submitted_at": now,
    }
    upsert = (
        pg_insert(Submission)
        .values(
            school_id=principal.school_id,
            id=new_id(),
            assignment_id=assignment.id,
            pupil_id=pupil_id,
            **work_values,
        )
        .on_conflict_do_update(
            index_elements=["school_id", "assignment_id", "pupil_id"],
            set_=work_values,
            where=col(Submission.feedback).is_(None),
        )
        .returning(Submission)
    )
    submitted = (await session.scalars(upsert, execution_options={"populate_existing": True})).one_or_none()
    if submitted is None:  # feedback was given between the check above and this write
        raise DomainError.one(
            "assignmentId", "ALREADY_MARKED", "Feedback has been given on this work already."
        )
    return submitted


async def give_feedback(
    session: AsyncSession, principal: Principal, submission_id: uuid.UUID, feedback: str, *, now: datetime
) -> Submission:
    """Staff who teach the pupil give (or revise) feedback on a submission."""
    problems = Problems()
    submission = (
        await session.execute(
            scoped(Submission, principal.school_id).where(Submission.id == submission_id).with_for_update()
        )
    ).scalar_one_or_none()
    if submission is None or not may_assess(principal, submission.pupil_id):
        raise DomainError.one(
            "submissionId", "NOT_FOUND", "No submission with this id from a pupil you teach."
        )
    await refuse_if_restricted(session, principal.school_id, [submission.pupil_id], "submissionId")
    text = (feedback or "").strip()
    if not text:
        problems.add("feedback", "REQUIRED", "feedback must not be empty.")
    elif len(text) > MAX_FEEDBACK:
        problems.add("feedback", "TOO_LONG", f"feedback has at most {MAX_FEEDBACK} characters.")
    problems.raise_if_any()
    submission.feedback = text
    submission.feedback_by = principal.account_id
    submission.feedback_by_staff = principal.staff_id
    submission.feedback_at = now
    await session.flush()
    return submission
