"""THE data registry: every column of every table, classified (LL-S2 (v), LL-S2 (xii), LL 5.1.1, LL 5.1.6).

One :func:`entry` per table says whose data its rows are (:class:`Subject`), the category of each column
(:class:`Category`; every category but ``OPERATIONAL`` is personal data), how long its rows are kept
(:class:`Retention`), and how the rows reach a person: its :class:`Link` s, each a column that holds the id
of a pupil, member of staff, contact or account, with what erasing that person does to the row
(:class:`Erase`). The subject access export (``privacy.exporter``) and the erasure (``privacy.erasure``) are
driven by these entries alone, so a table is exported and erased the moment it is classified.

tests/test_privacy_registry.py walks the migrated database's catalog and fails on any table or column
missing here (its message is the entry to add), and proves that every personal column is exported (or
withheld, for one-way credentials) and erased (its row deleted, its link blanked, or cascaded).

Adding a table: one ``entry(...)`` in :data:`TABLES`, in alphabetical order, naming each column once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Subject(StrEnum):
    """Whose personal data a row (or a link column) is."""

    PUPIL = "PUPIL"
    STAFF = "STAFF"
    CONTACT = "CONTACT"
    """A parent, guardian or carer."""
    ACCOUNT = "ACCOUNT"
    """A school account (of a pupil, member of staff, parent or school admin)."""
    PERSON = "PERSON"
    """Any id of the person: their record's or their accounts' (the audit log's actor and target)."""
    PLATFORM_USER = "PLATFORM_USER"
    """An operator or trust admin: not a school's data subject; their accounts are the operator's to remove."""
    NONE = "NONE"


SCHOOL_SUBJECTS = (Subject.PUPIL, Subject.STAFF, Subject.CONTACT)
"""The people a school admin can export or erase; their accounts follow them."""


class Category(StrEnum):
    IDENTIFIER = "IDENTIFIER"
    """Names, ids, reference numbers (UPN, ULN), demographics, and ids that link a row to a person."""
    CONTACT = "CONTACT"
    LEARNING = "LEARNING"
    SPECIAL = "SPECIAL"
    """Special category and extended data (SEN, care, pupil premium, EAL)."""
    CREDENTIALS = "CREDENTIALS"
    """One-way hashes of passwords and codes: withheld from exports, erased with their row."""
    AUDIT = "AUDIT"
    """Who did what, when, from where."""
    OPERATIONAL = "OPERATIONAL"
    """Not personal data: keys, flags, timestamps of the system, reference content."""

    @property
    def personal(self) -> bool:
        return self is not Category.OPERATIONAL


class Erase(StrEnum):
    """What erasing the person a link names does to a row."""

    DELETE_ROW = "DELETE_ROW"
    """The row is the person's: deleted."""
    NULLIFY = "NULLIFY"
    """The row is someone else's record that mentions the person: the link (and its ``also`` columns) set
    to NULL."""
    PSEUDONYMISE = "PSEUDONYMISE"
    """As NULLIFY for a link that cannot be empty: set to the erasure record's pseudonymous reference."""
    BLANK = "BLANK"
    """The audit chain: the link is hashed and stays; the ``also`` columns (outside the hash) are blanked."""
    KEEP = "KEEP"
    """A platform user's link, not a school's person: the school's erasure leaves it."""


@dataclass(frozen=True)
class Link:
    column: str
    subject: Subject
    erase: Erase
    also: tuple[str, ...] = ()
    """Columns that describe the linked person (a name copied at the time) and go with the link."""


@dataclass(frozen=True)
class Retention:
    """How long rows are kept. ``days`` after ``after`` (a column) the rows are due for purging (the
    ``retention`` jobs step); without ``days`` they are kept while the school is a customer and destroyed at
    termination (LL 5.1.3)."""

    rule: str
    after: str | None = None
    days: int | None = None
    blank: tuple[str, ...] = ()
    """Columns blanked instead of deleting the row (the audit chain's personal columns)."""


WHILE_CUSTOMER = Retention("kept while the school is a customer; destroyed on termination (LL 5.1.3)")
LEAVERS = Retention(
    "a leaver is erased leaver_retention_days after their leaving date (SCHOOLGRAPH_LEAVER_RETENTION_DAYS; "
    "0, the default, keeps leavers until a school admin erases them)",
    after="date_of_leaving",
)
PLATFORM = Retention("the provider's own record: kept for the contract's life and its limitation period")


def expired(after: str, days: int = 30) -> Retention:
    return Retention(f"purged {days} days after {after}", after=after, days=days)


TOMBSTONE_DAYS = 30
TOMBSTONES = Retention(
    f"a deleted object's tombstone in the partners' change feed: purged {TOMBSTONE_DAYS} days after the "
    "deletion",
    after="deleted_at",
    days=TOMBSTONE_DAYS,
)
TOMBSTONE_KEPT = (
    "the sourcedId of a deleted (or erased) person, class, judgement or achievement stays on its tombstone "
    f"for {TOMBSTONE_DAYS} days, so that partners approved at the school with a scope covering it can delete "
    "their copy (GDPR Art. 17(2), Art. 19); no name or other data, served to nobody else (docs/adr/0016)"
)

AUDIT_YEARS = 6
"""Years after which the audit log's personal columns (username at the time, client address) are blanked."""


@dataclass(frozen=True)
class TableEntry:
    name: str
    subject: Subject
    columns: Mapping[str, Category]
    retention: Retention = WHILE_CUSTOMER
    links: tuple[Link, ...] = ()
    deleted_with: str | None = None
    """A parent table whose deletion cascades to these rows (the foreign key says ON DELETE CASCADE)."""
    platform: str | None = None
    """Why a school's export and erasure do not reach this table (a platform table: whose it is)."""
    files: str | None = None
    """A column naming a stored file (``stored_files.id``) that goes with the row, from the store too."""
    withheld: tuple[str, ...] = field(default=())
    kept: Mapping[str, str] = field(default_factory=dict)
    """Personal columns an erasure deliberately leaves, each with the reason (the change feed's tombstone:
    the sourcedId a partner needs to delete its copy, purged by the table's retention rule)."""

    @property
    def personal(self) -> tuple[str, ...]:
        return tuple(c for c, category in self.columns.items() if category.personal)

    def links_to(self, subject: Subject) -> tuple[Link, ...]:
        return tuple(link for link in self.links if link.subject is subject)


def entry(
    name: str,
    subject: Subject,
    *,
    retention: Retention = WHILE_CUSTOMER,
    links: tuple[Link, ...] = (),
    deleted_with: str | None = None,
    platform: str | None = None,
    files: str | None = None,
    kept: Mapping[str, str] | None = None,
    **categories: str,
) -> TableEntry:
    """One table's entry. ``categories`` maps a category's name in lower case to its columns, separated by
    spaces: ``entry("pupils", Subject.PUPIL, identifier="id forename surname", contact="email", ...)``."""
    columns: dict[str, Category] = {}
    for key, names in categories.items():
        category = Category[key.upper()]
        for column in names.split():
            if column in columns:
                raise ValueError(f"{name}.{column} is classified twice")
            columns[column] = category
    for link in links:
        for column in (link.column, *link.also):
            if column not in columns:
                raise ValueError(f"{name}.{column} is linked but not classified")
    withheld = tuple(c for c, category in columns.items() if category is Category.CREDENTIALS)
    for column in kept or {}:
        if not columns.get(column, Category.OPERATIONAL).personal:
            raise ValueError(f"{name}.{column} is kept after erasure but not a classified personal column")
    return TableEntry(
        name, subject, columns, retention, links, deleted_with, platform, files, withheld, dict(kept or {})
    )


P, S, C, A, U = Subject.PUPIL, Subject.STAFF, Subject.CONTACT, Subject.ACCOUNT, Subject.PLATFORM_USER
DELETE, NULL, PSEUDO, BLANK, KEEP = (
    Erase.DELETE_ROW,
    Erase.NULLIFY,
    Erase.PSEUDONYMISE,
    Erase.BLANK,
    Erase.KEEP,
)
_OPERATORS = "operator and trust admin accounts: removed by the operator, not by a school's erasure"
_STAGING = (
    "the roster import's staging rows on Citus (roster/staging.py): written and deleted inside the importing "
    "transaction, never committed, so there is never a row to export or erase"
)
_STAGED = Retention(
    "never kept: the importing transaction deletes its rows before it commits (or rolls back)"
)

TABLES: tuple[TableEntry, ...] = (
    entry(
        "account_activations", A, retention=expired("expires_at"),
        links=(Link("account_id", A, DELETE), Link("issued_by", A, NULL)),
        operational="school_id id issued_by_type created_at expires_at used_at",
        identifier="account_id issued_by", credentials="code_hash",
    ),
    entry(
        "accounts", A,
        links=(Link("id", A, DELETE), Link("staff_id", S, DELETE), Link("pupil_id", P, DELETE),
               Link("contact_id", C, DELETE), Link("created_by", A, NULL)),
        operational="school_id role status must_change_password failed_logins locked_until",
        identifier="id username staff_id pupil_id contact_id created_by status_reason",
        credentials="password_hash",
        audit="password_changed_at last_login_at created_at",
    ),
    entry(
        "achievements", P, links=(Link("pupil_id", P, DELETE), Link("recorded_by", A, PSEUDO)),
        operational="school_id id created_at changed_version", identifier="pupil_id recorded_by",
        learning="kind title awarding_body achieved_on grade",
    ),
    entry(
        "activation_codes", A, retention=expired("expires_at"),
        links=(Link("account_id", A, DELETE), Link("issued_by", A, NULL)),
        operational="school_id id issued_at expires_at used_at revoked_at",
        identifier="account_id issued_by", credentials="code_hash",
    ),
    entry(
        "address_throttles", Subject.NONE, retention=expired("window_started_at", 1),
        platform="failed sign-ins per client address, with no person: purged a day after the window",
        operational="window_started_at failures", audit="address",
    ),
    entry(
        "admin_refresh_tokens", U, retention=expired("expires_at"), platform=_OPERATORS,
        operational="id session_id created_at expires_at used_at", credentials="token_hash",
    ),
    entry(
        "admin_sessions", U, retention=expired("expires_at"), platform=_OPERATORS,
        operational="id audience created_at expires_at revoked_at revoked_reason",
        identifier="operator_id trust_admin_id", audit="client_address",
    ),
    entry("alembic_version", Subject.NONE, operational="version_num"),
    entry(
        "assignments", Subject.NONE,
        links=(Link("set_by", A, PSEUDO), Link("set_by_staff", S, NULL)),
        operational="school_id id group_id title kind instructions platform_content_id school_content_id "
        "due_on created_at",
        identifier="set_by set_by_staff",
    ),
    entry("audit_heads", Subject.NONE, operational="school_id seq hash frontier"),
    entry(
        "audit_log", A,
        retention=Retention(
            f"personal columns blanked after {AUDIT_YEARS} years; the chain is kept",
            after="occurred_at", days=AUDIT_YEARS * 365, blank=("actor_username", "client_address"),
        ),
        links=(Link("actor_id", Subject.PERSON, BLANK, also=("actor_username", "client_address")),
               Link("target_id", Subject.PERSON, KEEP)),
        operational="school_id id seq occurred_at actor_type role action target_type outcome detail request_id "
        "prev_hash hash",
        audit="actor_id target_id actor_username client_address",
    ),
    entry(
        "audit_tree_heads", Subject.NONE,
        operational="school_id tree_size root_hash chain_hash signed_at signature",
    ),
    entry(
        "auth_sessions", A, retention=expired("expires_at"), links=(Link("account_id", A, DELETE),),
        operational="school_id id created_at expires_at revoked_at revoked_reason",
        identifier="account_id", audit="client_address",
    ),
    entry(
        "change_tombstones", Subject.NONE, retention=TOMBSTONES, links=(Link("pupil_id", P, NULL),),
        operational="school_id collection changed_version deleted_at", identifier="sourced_id pupil_id",
        kept={"sourced_id": TOMBSTONE_KEPT},
    ),
    entry(
        "contacts", C, links=(Link("id", C, DELETE),),
        operational="school_id active created_at updated_at changed_version",
        identifier="id title forename preferred_forename surname source_id",
        contact="email phone",
    ),
    entry(
        "document_acceptances", A,
        links=(Link("account_id", A, DELETE), Link("on_behalf_of_pupil_id", P, DELETE)),
        operational="school_id id document_id accepted_at", identifier="account_id on_behalf_of_pupil_id",
        audit="evidence_reference",
    ),
    entry(
        "content_reports", Subject.NONE,
        links=(Link("reported_by", A, PSEUDO), Link("reviewed_by", A, NULL),
               Link("reviewed_by_operator", U, KEEP)),
        operational="school_id id platform_content_id school_content_id reason reported_at status "
        "decision_note reviewed_at uploader_suspended",
        identifier="reported_by reviewed_by reviewed_by_operator",
    ),
    entry("curriculum_ladders", Subject.NONE, operational="id code subject year_group title created_at"),
    entry("curriculum_rungs", Subject.NONE, operational="id ladder_id position code statement"),
    entry(
        "destruction_records", Subject.NONE, retention=PLATFORM,
        links=(Link("requested_by", U, KEEP), Link("handover_by", U, KEEP), Link("credential_holder", U, KEEP)),
        operational="id tenant_id school_slug school_name reason requested_at destroy_on status export_path "
        "export_sha256 export_bytes destroyed_at row_counts total_rows trust_id handover handover_at "
        # sealed_password: the seal of a whole school's archive until release; no one person's datum.
        # credential_hash: the digest of the school's handover credential (its recipient's key to that
        # archive), copied at termination; likewise the school's, not a person's.
        "return_until archive_sha256 released_at copies_purged_at sealed_password credential_hash",
        # credential_holder: the Super-User's account id (the account goes with the school's data); kept as
        # the platform log's actor id of the handover, like handover_by.
        identifier="requested_by handover_by credential_holder",
    ),
    entry(
        "downloads", A, links=(Link("account_id", A, DELETE),),
        operational="school_id id platform_content_id school_content_id title", identifier="account_id",
        audit="downloaded_at",
    ),
    entry(
        "extended_data_opt_ins", Subject.NONE,
        links=(Link("approved_by", A, NULL, also=("approved_by_name",)),
               Link("revoked_by", A, NULL, also=("revoked_by_name",))),
        operational="school_id enabled approved_at revoked_at",
        identifier="approved_by approved_by_name revoked_by revoked_by_name",
    ),
    entry(
        "group_pupils", P, links=(Link("pupil_id", P, DELETE),),
        operational="school_id group_id created_at", identifier="pupil_id",
    ),
    entry(
        "group_teachers", S, links=(Link("staff_id", S, DELETE),),
        operational="school_id group_id created_at", identifier="staff_id",
    ),
    entry(
        "erasure_records", Subject.NONE, links=(Link("erased_by", A, NULL),),
        # reference and subject_digest are pseudonymous: once the person is erased nothing links them to anyone.
        operational="school_id id subject_type reference subject_digest reason erased_at row_counts total_rows "
        "files_pending files_deleted_at",
        identifier="erased_by",
    ),
    entry("group_terms", Subject.NONE, operational="school_id group_id term_id"),
    entry(
        "groups", Subject.NONE,
        operational="school_id id name type external_id year_group subject active created_at updated_at "
        "changed_version",
    ),
    entry(
        "invoices", Subject.NONE, retention=PLATFORM,
        operational="id licence_id number period_start period_end amount_pence issued_on due_on paid_on "
        "payment_reference created_at",
    ),
    entry(
        "job_runs", Subject.NONE, retention=expired("started_at", 365),
        operational="id step runner started_at finished_at applied failed detail",
    ),
    entry(
        "judgements", P,
        links=(Link("pupil_id", P, DELETE), Link("assessed_by_staff", S, NULL), Link("recorded_by", A, PSEUDO)),
        operational="school_id id ladder_id rung_id recorded_at changed_version",
        identifier="pupil_id assessed_by_staff recorded_by", learning="level assessed_on note",
    ),
    entry(
        "learning_goals", P, links=(Link("pupil_id", P, DELETE), Link("set_by", A, PSEUDO)),
        operational="school_id id rung_id created_at", identifier="pupil_id set_by",
        learning="statement target_on status closed_on",
    ),
    entry("level_labels", Subject.NONE, operational="school_id level label updated_at"),
    entry("licence_schools", Subject.NONE, retention=PLATFORM,
          operational="licence_id tenant_id covered_from covered_to"),
    entry(
        "licences", Subject.NONE, retention=PLATFORM, links=(Link("created_by", U, KEEP),),
        operational="id reference licensee_trust_id licensee_tenant_id licensee_name terms_version term_start "
        "term_end auto_renew renewals annual_fee_pence next_fee_pence next_fee_notified_on "
        "cancellation_received_on renewal_notice_for status ended_on novated_from_id created_at",
        identifier="created_by",
    ),
    entry(
        "novations", Subject.NONE, retention=PLATFORM,
        links=(Link("proposed_by", U, KEEP), Link("accepted_by", U, KEEP), Link("closed_by", U, KEEP)),
        operational="id tenant_id from_trust_id to_trust_id reason effective_date status note proposed_by_type "
        "proposed_at accepted_at accepted_terms_version closed_by_type closed_at close_reason applied_at "
        "old_licence_id new_licence_id",
        identifier="proposed_by accepted_by closed_by",
    ),
    entry(
        "notice_reads", A, links=(Link("account_id", A, DELETE),),
        operational="school_id document_id read_at", identifier="account_id",
    ),
    entry(
        "operator_accounts", U, retention=PLATFORM, platform=_OPERATORS,
        operational="id status must_change_password failed_logins locked_until created_at",
        identifier="username display_name", contact="email", credentials="password_hash",
        audit="last_login_at password_changed_at",
    ),
    entry(
        "outbox", Subject.NONE, retention=expired("created_at", 365),
        operational="id kind audience tenant_id trust_id subject body dedupe_key created_at sent_at recipients "
        "attempts last_error",
    ),
    entry(
        "partner_approvals", Subject.NONE,
        links=(Link("approved_by", A, NULL), Link("revoked_by", A, NULL)),
        operational="school_id id partner_id scopes approved_at revoked_at", identifier="approved_by revoked_by",
    ),
    entry(
        "partner_assertions", Subject.NONE, retention=expired("expires_at", 1),
        platform="an integration partner's used client assertions (replay protection), no person",
        operational="partner_id jti expires_at",
    ),
    entry(
        "partner_keys", Subject.NONE, retention=PLATFORM, platform="an integration partner's public keys",
        operational="id partner_id kid jwk created_at revoked_at",
    ),
    entry(
        "partner_rate_windows", Subject.NONE, retention=PLATFORM,
        platform="an integration partner's request count in its current window (one row, updated in place)",
        operational="partner_id window_started_at requests",
    ),
    entry(
        "partner_secrets", Subject.NONE, retention=PLATFORM, platform="an integration partner's credentials",
        operational="id partner_id created_at expires_at", credentials="secret_hash",
    ),
    entry(
        "partner_tokens", Subject.NONE, retention=expired("expires_at"),
        operational="school_id id partner_id approval_id scopes issued_at expires_at revoked_at",
    ),
    entry(
        "partners", U, retention=PLATFORM,
        platform="the operator's register of integration partners; its contact is the partner's, not a school's",
        operational="id client_id name privacy_notice_url allowed_scopes status created_at",
        identifier="contact_name", contact="contact_email",
    ),
    entry(
        "own_consent_due", P, links=(Link("pupil_id", P, DELETE), Link("parent_responsible_by", A, NULL)),
        operational="school_id flagged_at parent_responsible_at",
        identifier="pupil_id parent_responsible_by", learning="parent_responsible_reason",
    ),
    entry(
        "parent_codes", P,
        links=(Link("pupil_id", P, DELETE), Link("issued_by", A, DELETE), Link("used_by", A, NULL)),
        operational="school_id id relationship issued_at expires_at used_at revoked_at",
        identifier="pupil_id issued_by used_by", credentials="code_hash",
    ),
    entry(
        "platform_audit", U, retention=PLATFORM, platform="the operator's and trust admins' own log",
        operational="id occurred_at actor_type action outcome trust_id tenant_id target_type target_id detail "
        "request_id",
        audit="actor_id actor_username client_address",
    ),
    entry(
        "platform_content", Subject.NONE,
        operational="id code title description subject year_group is_workbook ladder_id storage_key file_name "
        "media_type created_at taken_down_at takedown_reason",
    ),
    entry(
        "print_grants", P, links=(Link("pupil_id", P, DELETE), Link("granted_by", A, PSEUDO)),
        operational="school_id id platform_content_id school_content_id reason granted_at",
        identifier="pupil_id granted_by",
    ),
    entry(
        "print_requests", P, links=(Link("pupil_id", P, DELETE), Link("requested_by", A, PSEUDO)),
        operational="school_id id platform_content_id school_content_id copy_number requested_at",
        identifier="pupil_id requested_by",
    ),
    entry(
        "processing_restrictions", Subject.PERSON,
        links=(Link("subject_id", Subject.PERSON, DELETE), Link("started_by", A, PSEUDO),
               Link("lifted_by", A, NULL)),
        operational="school_id id subject_type kind started_at lifted_at",
        identifier="subject_id started_by lifted_by", audit="reason",
    ),
    entry(
        "policy_documents", Subject.NONE, retention=PLATFORM, links=(Link("published_by", U, KEEP),),
        platform="the platform's published documents (licence terms, notices, agreements)",
        operational="id kind version title body summary_of_changes effective_from published_at",
        identifier="published_by",
    ),
    entry(
        "pupil_consents", P,
        links=(Link("pupil_id", P, DELETE), Link("contact_id", C, DELETE), Link("account_id", A, PSEUDO),
               Link("withdrawn_by", A, NULL)),
        operational="school_id id given_by method notice_version purposes",
        identifier="pupil_id contact_id account_id withdrawn_by",
        audit="evidence_reference given_on recorded_at withdrawn_at withdrawal_reason",
    ),
    entry(
        "pupil_contacts", P, links=(Link("pupil_id", P, DELETE), Link("contact_id", C, DELETE)),
        operational="school_id created_at", identifier="pupil_id contact_id relationship",
    ),
    entry(
        "pupil_extended_data", P, links=(Link("pupil_id", P, DELETE),),
        operational="school_id updated_at", identifier="pupil_id",
        special="lea_care sen_status pupil_premium eal",
    ),
    entry(
        "pupils", P, retention=LEAVERS, links=(Link("id", P, DELETE),),
        operational="school_id active created_at updated_at changed_version",
        identifier="id forename preferred_forename surname date_of_birth gender upn uln date_of_leaving "
        "source_id",
        contact="email",
    ),
    entry(
        "refresh_tokens", A, retention=expired("expires_at"), deleted_with="auth_sessions",
        operational="school_id id session_id created_at expires_at used_at", credentials="token_hash",
    ),
    entry(
        "retention_periods", Subject.NONE, links=(Link("set_by", A, NULL),),
        operational="school_id rule days set_at", identifier="set_by",
    ),
    entry(
        "roster_imports", Subject.NONE, links=(Link("account_id", A, NULL, also=("actor",)),),
        operational="school_id id started_at finished_at file_name sha256 size_bytes format mode dry_run "
        "outcome counts error_count warning_count problem_codes",
        identifier="account_id actor",
    ),
    entry(
        "roster_sources", Subject.NONE, links=(Link("set_by", A, NULL),),
        operational="school_id org_sourced_id set_at", identifier="set_by",
    ),
    # The roster import's staging tables on Citus (migration 0020): rows only inside the importing transaction.
    entry("roster_flagged_enrollments", Subject.NONE, retention=_STAGED, platform=_STAGING,
          operational="school_id stage_key file row_no group_sid role kind unknown_class unknown_user mismatch ignored",
          identifier="person_sid"),
    entry("roster_known_people", Subject.NONE, retention=_STAGED, platform=_STAGING,
          operational="school_id stage_key kind", identifier="sourced_id"),
    entry("roster_left", Subject.NONE, retention=_STAGED, platform=_STAGING,
          operational="school_id stage_key kind", identifier="id"),
    entry("roster_match_groups", Subject.NONE, retention=_STAGED, platform=_STAGING,
          operational="school_id sourced_id id created staged active_row"),
    entry("roster_match_people", Subject.NONE, retention=_STAGED, platform=_STAGING,
          operational="school_id kind adopt created staged active_row", identifier="sourced_id id"),
    entry("roster_match_terms", Subject.NONE, retention=_STAGED, platform=_STAGING,
          operational="school_id sourced_id id created staged active_row"),
    entry("roster_pairs", Subject.NONE, retention=_STAGED, platform=_STAGING,
          operational="school_id stage_key ended relationship", identifier="a b"),
    entry("roster_stage_demographics", Subject.NONE, retention=_STAGED, platform=_STAGING,
          operational="school_id stage_key row_no status", identifier="sourced_id dob gender"),
    entry("roster_stage_enrollments", Subject.NONE, retention=_STAGED, platform=_STAGING,
          operational="school_id stage_key row_no file sourced_id status group_sid role", identifier="person_sid"),
    entry("roster_stage_extended", Subject.NONE, retention=_STAGED, platform=_STAGING,
          operational="school_id stage_key row_no", identifier="pupil_sid", special="lea_care sen_status pupil_premium eal"),
    entry("roster_stage_groups", Subject.NONE, retention=_STAGED, platform=_STAGING,
          operational="school_id stage_key row_no file sourced_id status name type year_group subject term_ids"),
    entry("roster_stage_people", Subject.NONE, retention=_STAGED, platform=_STAGING,
          operational="school_id stage_key row_no file status kind role teaching upn_column dob_file dob_row in_school",
          identifier="sourced_id username title forename surname preferred_forename upn uln dob gender "
          "staff_code role_text date_of_leaving agent_ids",
          contact="email secondary_email phone"),
    entry("roster_stage_roles", Subject.NONE, retention=_STAGED, platform=_STAGING,
          operational="school_id stage_key row_no sourced_id status role_type role org_id", identifier="user_id"),
    entry("roster_stage_terms", Subject.NONE, retention=_STAGED, platform=_STAGING,
          operational="school_id stage_key row_no sourced_id status title type start_date end_date parent_id school_year"),
    entry(
        "school_content", Subject.NONE,
        links=(Link("uploaded_by", A, PSEUDO), Link("taken_down_by", A, NULL)),
        operational="school_id id title description subject year_group is_workbook file_id created_at "
        "taken_down_at takedown_reason",
        identifier="uploaded_by taken_down_by",
    ),
    entry(
        "school_ladders", Subject.NONE, links=(Link("created_by", A, NULL),),
        operational="school_id id code subject year_group title created_at archived_at", identifier="created_by",
    ),
    entry("school_rungs", Subject.NONE, operational="school_id id ladder_id position code statement"),
    entry(
        "school_trust_memberships", Subject.NONE, links=(Link("created_by", U, KEEP),),
        operational="school_id id trust_id effective_from effective_to created_at ended_at",
        identifier="created_by",
    ),
    entry(
        "schools", Subject.NONE, operational="id slug urn name phase status status_reason created_at principal_epoch"
    ),
    entry("principal_epoch_raises", Subject.NONE, operational="id school"),
    entry(
        "staff", S, retention=LEAVERS,
        links=(Link("id", S, DELETE), Link("pupil_access_granted_by", A, NULL)),
        operational="school_id teaching active pupil_access created_at updated_at changed_version",
        identifier="id title forename preferred_forename surname role_text staff_role staff_code "
        "date_of_leaving pupil_access_reason "
        "pupil_access_granted_by pupil_access_granted_at source_id",
        contact="work_email secondary_email",
    ),
    entry("roster_change_heads", Subject.NONE, operational="school_id version"),
    entry("change_purge_horizons", Subject.NONE, operational="school_id collection version"),
    entry(
        "stored_files", Subject.NONE, links=(Link("uploaded_by", A, PSEUDO),),
        operational="school_id id storage_key file_name media_type byte_size sha256 created_at",
        identifier="uploaded_by",
    ),
    entry(
        "submissions", P, files="file_id",
        links=(Link("pupil_id", P, DELETE), Link("submitted_by", A, PSEUDO), Link("feedback_by", A, NULL),
               Link("feedback_by_staff", S, NULL)),
        operational="school_id id assignment_id",
        identifier="pupil_id submitted_by feedback_by feedback_by_staff",
        learning="text file_id submitted_at feedback feedback_at",
    ),
    entry(
        "subject_access_requests", Subject.PERSON,
        links=(Link("subject_id", Subject.PERSON, DELETE), Link("requested_by", A, PSEUDO),
               Link("released_by", A, NULL)),
        operational="school_id id subject_type channel opened_at due_on status built_at staged_key released_at "
        "archive_key archive_sha256 archive_bytes expires_at downloads purged_at",
        identifier="subject_id requested_by released_by", credentials="sealed_password",
    ),
    entry(
        "super_users", A, links=(Link("account_id", A, DELETE), Link("nominated_by", U, KEEP)),
        operational="school_id nominated_by_type nominated_at", identifier="account_id nominated_by",
    ),
    entry(
        "suspensions", Subject.NONE, retention=PLATFORM,
        links=(Link("created_by", U, KEEP), Link("lifted_by", U, KEEP)),
        operational="id tenant_id reason note starts_at ends_at agreed_longer agreement sessions_revoked "
        "created_at lifted_at lift_reason",
        identifier="created_by lifted_by",
    ),
    entry(
        "terms", Subject.NONE,
        operational="school_id id source_id title type start_date end_date parent_source_id school_year active "
        "created_at updated_at",
    ),
    entry(
        # Erasing the Super-User who chose voids the handover credential they were given.
        "termination_preferences", Subject.NONE,
        links=(Link("chosen_by", A, NULL, also=("credential_hash", "credential_issued_at")),),
        operational="school_id choice chosen_at credential_issued_at", identifier="chosen_by",
        credentials="credential_hash",
    ),
    entry(
        "trust_admin_accounts", U, retention=PLATFORM, platform=_OPERATORS,
        operational="id trust_id status status_reason must_change_password failed_logins locked_until "
        "activation_expires_at created_by created_at",
        identifier="username display_name", contact="email", credentials="password_hash activation_hash",
        audit="last_login_at password_changed_at",
    ),
    entry("trusts", Subject.NONE, operational="id slug name kind created_at"),
)  # fmt: skip

REGISTRY: dict[str, TableEntry] = {e.name: e for e in TABLES}


def unclassified_entry(table: str, columns: list[str]) -> str:
    """The entry to add for a table the registry does not know: what the catalog test prints."""
    return (
        f'entry("{table}", Subject.<whose rows: PUPIL|STAFF|CONTACT|ACCOUNT|PLATFORM_USER|NONE>, '
        f"links=(<Link(column, subject, Erase.<...>) per column holding a person's id>), "
        f'<category>="{" ".join(columns)}")'
    )
