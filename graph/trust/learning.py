"""A trust admin's view of learning: per-school aggregates only, never a pupil's data (issue: "trust admins
get per-school aggregates only"). Every count below 5 is null, and so is every share computed from one."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from auth.trust_admins import TRUST_ADMIN
from graph.core.relay import to_global_id
from graph.permissions import guarded
from graph.platform.context import AdminContext
from learning import statistics
from subscriptions import trusts


@strawberry.type(name="SubjectLearning", description="One subject at one school: latest judgements only.")
class SubjectLearningType:
    subject: str
    assessed_pupils: int | None = strawberry.field(description="Pupils with a judgement (null below 5).")
    secure_share: float | None = strawberry.field(
        description="Share of latest judgements secure or better (null when the pupils are fewer than 5)."
    )


@strawberry.type(
    name="SchoolLearning",
    description="One of the trust's schools as aggregates: pupils, pupils assessed, judgements, and per "
    "subject the share secure or better. Counts below 5 are null.",
)
class SchoolLearningType:
    school_id: strawberry.ID
    slug: str
    name: str
    pupils: int | None
    assessed_pupils: int | None
    judgements: int | None
    subjects: list[SubjectLearningType]


async def _learning(info: Info) -> list[SchoolLearningType]:
    ctx: AdminContext = info.context
    ids = list(ctx.school_ids)  # the trust's schools today; the transaction is bound to exactly these
    schools = {s.id: s for s in await trusts.schools_by_ids(ctx.session, ids)}
    return [
        SchoolLearningType(
            school_id=to_global_id("School", row.school_id),
            slug=schools[row.school_id].slug,
            name=schools[row.school_id].name,
            pupils=row.pupils,
            assessed_pupils=row.assessed_pupils,
            judgements=row.judgements,
            subjects=[
                SubjectLearningType(
                    subject=s.subject, assessed_pupils=s.assessed_pupils, secure_share=s.secure_share
                )
                for s in row.subjects
            ],
        )
        for row in await statistics.school_summaries(ctx.session, ids)
        if row.school_id in schools
    ]


@strawberry.type
class LearningQuery:
    learning_summaries: list[SchoolLearningType] | None = guarded(
        TRUST_ADMIN,
        resolver=_learning,
        description="Per-school learning aggregates for the trust's schools today; no pupil's data.",
    )
