"""School-admin mutations on staff, pupils, groups and memberships."""

from __future__ import annotations

import strawberry


@strawberry.type
class PeopleMutation:
    pass
