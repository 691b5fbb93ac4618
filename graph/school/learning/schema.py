"""The learning domain's part of the school schema: its queries, and its mutations from each module."""

from __future__ import annotations

import strawberry

from graph.school.learning.mutations.assignments import AssignmentMutation
from graph.school.learning.mutations.content import ContentMutation
from graph.school.learning.mutations.curriculum import CurriculumMutation
from graph.school.learning.mutations.judgements import JudgementMutation
from graph.school.learning.mutations.records import RecordMutation
from graph.school.learning.queries import LearningQuery


@strawberry.type
class LearningMutation(
    CurriculumMutation, JudgementMutation, AssignmentMutation, ContentMutation, RecordMutation
):
    """The school schema's learning mutations. Fields in the order of the bases:
    curriculum, judgements, assignments, content, records.

    Each mutation declares its policy (who may call it at all); the services check the rows (the pupil is
    taught by the caller, the group is theirs, the content is visible) and report every problem as a
    ``UserError``.
    """


__all__ = ["LearningMutation", "LearningQuery"]
