"""The school schema's audit-log fields: school admins read their school's audit (LRS 7.3, LRS 8.9, LL 7.1.4).

``auditLog`` lists entries with filters, newest first; ``pupilAccessReport`` answers "who accessed this
pupil's record". Both are cursor connections over the entries' ``id`` (insertion order). Policies live in
:mod:`audit.policies`; every field of an entry declares one. Reading the audit is itself recorded.
"""

from __future__ import annotations

import datetime
import uuid
from enum import Enum
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON
from strawberry.types import Info

from audit import proofs, queries
from audit.policies import AUDIT_LOG, AUDIT_PERSONAL
from common.errors import DomainError
from common.pagination import Page
from graph.core.arguments import page_of
from graph.core.relay import Connection, connection, from_global_id, to_global_id
from graph.permissions import guarded, personal_data
from models import AuditEntry, AuditTreeHead

# The global-id type of an actor, by actor type (anonymous callers and the system have no id).
_ACTOR_NODE = {"ACCOUNT": "Account", "PARTNER": "Partner", "OPERATOR": "Operator"}


@strawberry.enum(description="How an audited action ended.")
class AuditOutcome(Enum):
    SUCCESS = "SUCCESS"
    REJECTED = strawberry.enum_value("REJECTED", description="Refused for its input or a domain rule.")
    DENIED = strawberry.enum_value("DENIED", description="Refused: the caller was not allowed.")
    FAILED = strawberry.enum_value("FAILED", description="An error; nothing it wrote was kept.")


@strawberry.enum(description="Who acted.")
class AuditActorType(Enum):
    ACCOUNT = "ACCOUNT"
    PARTNER = "PARTNER"
    OPERATOR = "OPERATOR"
    ANONYMOUS = "ANONYMOUS"
    SYSTEM = "SYSTEM"


@personal_data
@strawberry.type(
    name="AuditEntry",
    description="One recorded action of the school's tamper-evident audit log (LRS 5.1).",
)
class AuditEntryType:
    row: strawberry.Private[AuditEntry]
    seq: int | None = guarded(
        AUDIT_LOG,
        description=(
            "Position in the school's log (its chain and Merkle tree): from 1, without gaps; null while "
            "the entry is pending (recorded, not yet sequenced)."
        ),
    )
    occurred_at: datetime.datetime | None = guarded(AUDIT_LOG)
    actor_type: AuditActorType | None = guarded(AUDIT_LOG)
    actor_id: strawberry.ID | None = guarded(
        AUDIT_LOG, description="Global id of the account (or partner, operator) that acted."
    )
    actor_username: str | None = guarded(
        AUDIT_PERSONAL, description="The username at the time; null once the person was erased."
    )
    role: str | None = guarded(AUDIT_LOG, description="The actor's role at the time.")
    action: str | None = guarded(
        AUDIT_LOG, description="What was done: mutation.<name>, auth.*, read.*, permission.denied, ..."
    )
    target_type: str | None = guarded(AUDIT_LOG)
    target_id: strawberry.ID | None = guarded(AUDIT_LOG, description="Global id of what it was done to.")
    outcome: AuditOutcome | None = guarded(AUDIT_LOG)
    detail: JSON | None = guarded(
        AUDIT_LOG, description="Ids and codes only (error codes, the pupils of a listed page, ...)."
    )
    request_id: str | None = guarded(AUDIT_LOG, description="The request's id (the x-request-id header).")
    client_address: str | None = guarded(
        AUDIT_PERSONAL, description="Network address of the caller; null once the person was erased."
    )

    @classmethod
    def of(cls, row: AuditEntry) -> AuditEntryType:
        actor_node = _ACTOR_NODE.get(row.actor_type)
        return cls(
            row=row,
            seq=row.seq,
            occurred_at=row.occurred_at,
            actor_type=AuditActorType(row.actor_type),
            actor_id=to_global_id(actor_node, row.actor_id) if actor_node and row.actor_id else None,
            actor_username=row.actor_username,
            role=row.role,
            action=row.action,
            target_type=row.target_type,
            target_id=(
                to_global_id(row.target_type, row.target_id) if row.target_type and row.target_id else None
            ),
            outcome=AuditOutcome(row.outcome),
            detail=row.detail,
            request_id=row.request_id,
            client_address=row.client_address,
        )


AuditEntryConnection = Connection[AuditEntryType]


@strawberry.input(description="Every given field must match.")
class AuditLogFilter:
    actor_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global id of the acting account."
    )
    action: str | None = strawberry.field(
        default=None, description="An action, or a prefix ending in .* (auth.*, read.*)."
    )
    target_type: str | None = None
    target_id: strawberry.ID | None = strawberry.field(
        default=None, description="Global id of the target (a Pupil, an Account, ...)."
    )
    outcome: AuditOutcome | None = None
    since: datetime.datetime | None = strawberry.field(default=None, description="Inclusive.")
    until: datetime.datetime | None = strawberry.field(default=None, description="Exclusive.")


def _bad_input(field: str, message: str) -> GraphQLError:
    return GraphQLError(message, extensions={"code": "BAD_USER_INPUT", "field": field})


def _id_page(info: Info, first: int | None, after: str | None) -> tuple[Page, int | None]:
    """The page asked for and the entry ``id`` its cursor stands at (entries older than it come next). A bad
    ``first`` or cursor is a GraphQL error here (a query has no payload to carry it)."""
    try:
        page = page_of(info, first, after)
    except DomainError as error:
        problem = error.problems[0]
        raise _bad_input(problem.field or "after", problem.message) from None
    if page.after is None:
        return page, None
    if len(page.after) != 1 or not page.after[0].isdigit():
        raise _bad_input("after", "The cursor does not belong to this list.")
    return page, int(page.after[0])


def _global_id(value: str, field: str) -> tuple[str, uuid.UUID]:
    decoded = from_global_id(value)
    if decoded is None:
        raise _bad_input(field, f"{value!r} is not an id of this API.")
    return decoded


def _where(filter: AuditLogFilter | None) -> queries.AuditFilter:
    if filter is None:
        return queries.AuditFilter()
    if filter.since and filter.until and filter.since >= filter.until:
        raise _bad_input("filter.until", "until must be later than since.")
    actor = _global_id(filter.actor_id, "filter.actorId")[1] if filter.actor_id is not None else None
    target_type, target_id = filter.target_type, None
    if filter.target_id is not None:
        decoded_type, target_id = _global_id(filter.target_id, "filter.targetId")
        if target_type is not None and target_type != decoded_type:
            raise _bad_input("filter.targetType", f"targetId names a {decoded_type}, not a {target_type}.")
        target_type = decoded_type
    return queries.AuditFilter(
        actor_id=actor,
        action=filter.action,
        target_type=target_type,
        target_id=target_id,
        outcome=filter.outcome.value if filter.outcome is not None else None,
        since=filter.since,
        until=filter.until,
    )


def _connection(rows: Any, page: Page) -> Connection[AuditEntryType]:
    return connection(rows, page, key=lambda e: (e.id,), node=AuditEntryType.of)


async def _audit_log(
    info: Info,
    filter: AuditLogFilter | None = None,
    first: int | None = None,
    after: str | None = None,
) -> AuditEntryConnection:
    ctx = info.context
    page, before_id = _id_page(info, first, after)
    where = _where(filter)
    rows = await queries.entries_page(
        ctx.session, ctx.tenant.id, where, first=page.first, before_id=before_id
    )
    ctx.audit.record("read.audit_log", detail={"report": "auditLog"})
    return _connection(rows, page)


async def _pupil_access_report(
    info: Info, pupil_id: strawberry.ID, first: int | None = None, after: str | None = None
) -> AuditEntryConnection:
    ctx = info.context
    page, before_id = _id_page(info, first, after)
    kind, pupil = _global_id(pupil_id, "pupilId")
    if kind != "Pupil":
        raise _bad_input("pupilId", f"{pupil_id!r} is not a pupil's id.")
    rows = await queries.pupil_access(
        ctx.session, ctx.tenant.id, pupil, first=page.first, before_id=before_id
    )
    # Not targeted at the pupil: reading the report is not an access to the pupil's record.
    ctx.audit.record("read.audit_log", detail={"report": "pupilAccessReport", "pupilId": str(pupil_id)})
    return _connection(rows, page)


@strawberry.type(
    name="AuditTreeHead",
    description=(
        "A signed tree head of the school's audit log (RFC 9162 hashing): the Merkle root over its first "
        "treeSize entries, signed by the platform (ES256 JWS, keys at /.well-known/jwks.json). Keep it: "
        "a later head must be a consistent extension of it."
    ),
)
class AuditTreeHeadType:
    row: strawberry.Private[AuditTreeHead]
    tree_size: int | None = guarded(
        AUDIT_LOG, description="How many entries the tree holds (seq 1..treeSize)."
    )
    root_hash: str | None = guarded(AUDIT_LOG, description="The Merkle root, lowercase hex.")
    chain_hash: str | None = guarded(AUDIT_LOG, description="The hash of entry treeSize in the chain, hex.")
    signed_at: datetime.datetime | None = guarded(AUDIT_LOG)
    signature: str | None = guarded(
        AUDIT_LOG, description="The compact JWS over the head (what the stand-alone verifier checks)."
    )

    @classmethod
    def of(cls, head: AuditTreeHead) -> AuditTreeHeadType:
        return cls(
            row=head,
            tree_size=head.tree_size,
            root_hash=head.root_hash.hex(),
            chain_hash=head.chain_hash.hex(),
            signed_at=head.signed_at,
            signature=head.signature,
        )


@strawberry.type(
    name="AuditInclusionProof",
    description="The audit path proving entry seq is in the signed tree of treeSize (RFC 9162 2.1.3).",
)
class AuditInclusionProofType:
    row: strawberry.Private[proofs.InclusionProof]
    seq: int | None = guarded(AUDIT_LOG)
    tree_size: int | None = guarded(AUDIT_LOG)
    leaf_hash: str | None = guarded(
        AUDIT_LOG, description="SHA-256(0x00 || the entry's canonical form), hex."
    )
    path: list[str] | None = guarded(AUDIT_LOG, description="The audit path, hex, leaf to root.")
    head: AuditTreeHeadType | None = guarded(AUDIT_LOG, description="The signed head of treeSize.")


@strawberry.type(
    name="AuditConsistencyProof",
    description="Proof that the signed tree of fromSize is a prefix of the one of toSize (RFC 9162 2.1.4).",
)
class AuditConsistencyProofType:
    row: strawberry.Private[proofs.ConsistencyProof]
    from_size: int | None = guarded(AUDIT_LOG)
    to_size: int | None = guarded(AUDIT_LOG)
    path: list[str] | None = guarded(AUDIT_LOG, description="The consistency proof, hex.")
    from_head: AuditTreeHeadType | None = guarded(AUDIT_LOG)
    to_head: AuditTreeHeadType | None = guarded(AUDIT_LOG)


def _user_error(error: DomainError) -> GraphQLError:
    problem = error.problems[0]
    return GraphQLError(problem.message, extensions={"code": "BAD_USER_INPUT", "field": problem.field})


async def _audit_tree_head(info: Info, tree_size: int | None = None) -> AuditTreeHeadType | None:
    ctx = info.context
    ctx.audit.record("read.audit_log", detail={"report": "auditTreeHead"})
    try:
        return AuditTreeHeadType.of(await proofs.signed_head(ctx.session, ctx.tenant.id, tree_size))
    except DomainError:
        return None


async def _inclusion_proof(info: Info, seq: int, tree_size: int | None = None) -> AuditInclusionProofType:
    ctx = info.context
    try:
        proof = await proofs.prove_inclusion(ctx.session, ctx.tenant.id, seq, tree_size)
    except DomainError as error:
        raise _user_error(error) from None
    ctx.audit.record("read.audit_log", detail={"report": "auditInclusionProof", "seq": seq})
    return AuditInclusionProofType(
        row=proof,
        seq=proof.seq,
        tree_size=proof.tree_size,
        leaf_hash=proof.leaf_hash.hex(),
        path=[h.hex() for h in proof.path],
        head=AuditTreeHeadType.of(proof.head),
    )


async def _consistency_proof(
    info: Info, from_size: int, to_size: int | None = None
) -> AuditConsistencyProofType:
    ctx = info.context
    try:
        proof = await proofs.prove_consistency(ctx.session, ctx.tenant.id, from_size, to_size)
    except DomainError as error:
        raise _user_error(error) from None
    ctx.audit.record("read.audit_log", detail={"report": "auditConsistencyProof", "fromSize": from_size})
    return AuditConsistencyProofType(
        row=proof,
        from_size=proof.from_size,
        to_size=proof.to_size,
        path=[h.hex() for h in proof.path],
        from_head=AuditTreeHeadType.of(proof.from_head),
        to_head=AuditTreeHeadType.of(proof.to_head),
    )


@strawberry.type
class AuditQuery:
    audit_log: AuditEntryConnection | None = guarded(
        AUDIT_LOG,
        resolver=_audit_log,
        description="The school's audit log, newest first, with filters (LRS 7.3 spot checks).",
    )
    pupil_access_report: AuditEntryConnection | None = guarded(
        AUDIT_LOG,
        resolver=_pupil_access_report,
        description=(
            "Who accessed this pupil's record: reads of the record, lists that included the pupil, and "
            "changes to it, newest first."
        ),
    )
    audit_tree_head: AuditTreeHeadType | None = guarded(
        AUDIT_LOG,
        resolver=_audit_tree_head,
        description="The school's latest signed tree head, or the one of treeSize; null when there is none.",
    )
    audit_inclusion_proof: AuditInclusionProofType | None = guarded(
        AUDIT_LOG,
        resolver=_inclusion_proof,
        description="Proof that entry seq is in the signed tree of treeSize (default: the latest head).",
    )
    audit_consistency_proof: AuditConsistencyProofType | None = guarded(
        AUDIT_LOG,
        resolver=_consistency_proof,
        description=(
            "Proof that the signed tree of fromSize is a prefix of the signed tree of toSize (default: the "
            "latest head): the log only grew."
        ),
    )
