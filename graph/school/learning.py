"""The school schema's learning fields (placeholder until the learning capability lands)."""

from __future__ import annotations

import strawberry


@strawberry.type
class LearningQuery:
    pass


@strawberry.type
class LearningMutation:
    pass
