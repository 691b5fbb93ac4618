"""The school schema's audit-log fields (school admins)."""

from __future__ import annotations

import strawberry


@strawberry.type
class AuditQuery:
    pass
