"""The school schema's roster fields (placeholder until the roster capability lands)."""

from __future__ import annotations

import strawberry


@strawberry.type
class RosterQuery:
    pass


@strawberry.type
class RosterMutation:
    pass
