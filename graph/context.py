"""The per-request context every resolver receives as ``info.context``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from audit.recorder import AuditTrail
from auth.principal import Principal
from auth.service import AuthRuntime
from auth.throttling import school_realm
from graph.core.browser import BrowserSession
from tenants.context import Tenant

if TYPE_CHECKING:
    from graph.school.loaders import Loaders


@dataclass(frozen=True)
class Context:
    """Frozen: a resolver can read the request's session, caller and tenant but never swap them."""

    audit: AuditTrail
    session: AsyncSession
    principal: Principal | None
    tenant: Tenant
    loaders: Loaders
    auth: AuthRuntime
    now: datetime
    request_id: str
    client_address: str
    max_page_size: int
    browser: BrowserSession | None = None
    """The cookie side of a browser session (school endpoint); None where cookies are not used."""

    @property
    def throttle_realm(self) -> str:
        """Where failed attempts from an address count (:mod:`auth.throttling`): this school."""
        return school_realm(self.tenant.id)
