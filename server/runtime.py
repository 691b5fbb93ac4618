"""What a running server holds for its lifetime: settings, the runtime engine, keys and schemas."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import strawberry
from sqlalchemy.ext.asyncio import AsyncEngine

from audit.sequencer import AuditSequencer
from audit.spool import AuditSpool, spool_directory
from auth.kept import KeptPrincipals
from auth.service import AuthRuntime
from auth.tokens import SigningKeys
from common.clock import Clock, SystemClock
from common.settings import Settings
from graph.audit import AnonymousDenials
from partners.oneroster.positions import Positions
from server.metrics import AUDIT_SEQUENCING_LAG


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    engine: AsyncEngine
    auth: AuthRuntime
    school_schema: strawberry.Schema
    clock: Clock = field(default_factory=SystemClock)
    """Where each request's ``now`` comes from: the host's clock, or a test's :class:`FixedClock`."""
    anonymous_denials: AnonymousDenials = field(default_factory=AnonymousDenials)
    """How anonymous denials reach the audit chains: counted, at most one entry a minute per address."""
    kept_principals: KeptPrincipals = field(default_factory=KeptPrincipals)
    """Callers' principals kept between their requests, confirmed by the database at each (auth/kept.py)."""
    oneroster_positions: Positions = field(default_factory=Positions)
    """The OneRoster person listings' remembered page positions (partners/oneroster/positions.py)."""
    audit_spool: AuditSpool | None = None
    """Where a failed request's audit entries wait while the database cannot take them (replayed by the
    sequencer): ``<data_dir>/audit-spool``."""
    audit_sequencer: AuditSequencer | None = None
    """Numbers, chains and signs the schools' audit entries after their requests committed; the app's
    lifespan starts it (a runtime without a running app only notes the schools it is woken for)."""

    def recorded(self, schools: set[uuid.UUID]) -> None:
        """A transaction that wrote audit entries of these schools ended: wake their sequencer."""
        if self.audit_sequencer is not None and schools:
            self.audit_sequencer.wake(schools)


def load_keys(settings: Settings) -> SigningKeys:
    """Signing keys from ``SCHOOLGRAPH_SIGNING_KEYS`` (JSON), else the key file (created on first start)."""
    if settings.signing_keys_json:
        return SigningKeys.from_json(settings.signing_keys_json)
    return SigningKeys.load_or_create(settings.key_file)


def build_runtime(
    settings: Settings, engine: AsyncEngine, keys: SigningKeys, clock: Clock | None = None
) -> Runtime:
    from graph.school.schema import build_schema

    clock = clock or SystemClock()
    spool = AuditSpool(spool_directory(settings.data_dir))
    return Runtime(
        settings=settings,
        engine=engine,
        auth=AuthRuntime.from_settings(settings, keys),
        school_schema=build_schema(settings),
        clock=clock,
        audit_spool=spool,
        audit_sequencer=AuditSequencer(engine, keys, clock, spool=spool, on_lag=AUDIT_SEQUENCING_LAG.set),
    )
