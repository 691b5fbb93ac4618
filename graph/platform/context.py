"""What the trust and platform schemas share: the request context (``AdminContext``), the declaration
registry for account data (``@admin_data``) and the school id and URL helpers.

Neither schema has a type that could carry a pupil's personal data: schools appear as counts, and the only
people they show are admin accounts (operators, trust admins, school admins). tests/test_platform_schema.py
walks both schemas to prove it, and that every root field and every field of an ``@admin_data`` type
declares its policy (``graph/permissions.py``), as the school schema's walk does for its types.
"""

from __future__ import annotations

import asyncio
import datetime
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from audit.platform import PlatformTrail
from auth.admin_tokens import PLATFORM_AUDIENCE, audience_for_trust
from auth.operators import OperatorPrincipal
from auth.service import AuthRuntime
from auth.trust_admins import TrustAdminPrincipal
from graph.core.relay import expect_global_id
from subscriptions.trusts import TrustTenant
from tenants.context import bound

ADMIN_DATA_TYPES: set[type] = set()


def admin_data(cls: type) -> type:
    """Class decorator for the trust and platform schemas: this type carries an admin's personal data
    (a username, a name, an e-mail), so each of its fields must declare a policy.

    Kept apart from ``graph.permissions.PERSONAL_DATA_TYPES``, which the school schema's walk expects to be
    served in full by the school schema.
    """
    ADMIN_DATA_TYPES.add(cls)
    return cls


@dataclass(frozen=True)
class AdminContext:
    """The context of a trust or platform request. ``tenant`` is the trust at a trust URL, else None;
    ``school_ids`` are the trust's current schools, to which the transaction is bound."""

    audit: PlatformTrail
    session: AsyncSession
    principal: OperatorPrincipal | TrustAdminPrincipal | None
    tenant: TrustTenant | None
    auth: AuthRuntime
    now: datetime.datetime
    request_id: str
    client_address: str
    max_page_size: int
    school_ids: tuple[uuid.UUID, ...] = ()
    binding_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def today(self) -> datetime.date:
        return self.now.date()

    @property
    def throttle_realm(self) -> str:
        """Where failed attempts from an address count (:mod:`auth.throttling`): this trust, or the platform."""
        return PLATFORM_AUDIENCE if self.tenant is None else audience_for_trust(self.tenant.id)

    @asynccontextmanager
    async def tenant_rows(
        self, school_ids: Sequence[uuid.UUID], trust_ids: Sequence[uuid.UUID] = ()
    ) -> AsyncIterator[None]:
        """Read tenant rows of these schools (or a trust's memberships) from a query resolver.

        Resolvers of one request run concurrently on one session, and the row-level-security binding is
        the transaction's: so a block that rebinds holds the request's lock for its whole length, and
        restores the binding before letting the next one in. Outside such blocks a platform request is
        bound to no school; a trust request to its schools, which its resolvers never change.
        """
        async with self.binding_lock, bound(self.session, school_ids, trust_ids):
            yield


def school_url(slug: str) -> str:
    return f"/schools/{slug}/graphql"


def expect_school_id(global_id: str, *, field: str = "schoolId") -> uuid.UUID:
    return expect_global_id(global_id, "School", field=field)


def operator_of(info: Info) -> OperatorPrincipal:
    """The signed-in operator (a resolver behind the OPERATOR policy)."""
    principal = info.context.principal
    assert isinstance(principal, OperatorPrincipal)  # the OPERATOR policy admitted the caller
    return principal


def trust_admin_of(info: Info) -> TrustAdminPrincipal:
    """The signed-in trust admin (a resolver behind the TRUST_ADMIN policy)."""
    principal = info.context.principal
    assert isinstance(principal, TrustAdminPrincipal)  # the TRUST_ADMIN policy admitted the caller
    return principal
