"""The principal's statement reads a teacher's pupils by the ids of the groups the teacher teaches (a
semi-join: ``group_pupils.group_id IN (the active groups taught)``), where it joined the taught groups, the
groups and their pupils: PostgreSQL then looked the group up again for each of its pupils. The answer is the
same set of pupils; in a loop in the database (3,000 calls, a teacher of one class of 30, the learning
bench's full data) the subquery cost 25.6 us a call against 49.6 (ADR 13, eleventh pass).

``app_enter_school`` (migration 0029) holds the principal's statement of each role, so it is replaced: the
statement of every role and the STAFF one change (``auth.principal.function_statement``: the texts below);
the SCHOOL_ADMIN, PUPIL and PARENT statements have no teacher's arm and are 0029's. Everything else is
0029's function, arguments and columns included. tests/test_enter_school_function.py fails when the texts
are no longer what ``function_statement`` writes.

Revision ID: 0032
Revises: 0031
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EVERY_ROLE = (
    "SELECT accounts.id, accounts.username, accounts.role, accounts.staff_id, accounts.pupil_id, accounts"
    ".contact_id, accounts.must_change_password, staff.pupil_access, staff.pupil_access_reason, coalesce("
    "staff.active, pupils.active, contacts.active, true::BOOLEAN) AS coalesce_1, CASE WHEN (accounts.role"
    " = 'STAFF'::VARCHAR AND staff.pupil_access != 'SCHOOL'::VARCHAR) THEN (SELECT array_agg(DISTINCT gro"
    "up_teachers.group_id) AS array_agg_1 \nFROM group_teachers JOIN groups ON groups.school_id = p_school"
    "_id::UUID AND groups.id = group_teachers.group_id AND groups.active \nWHERE group_teachers.school_id "
    "= p_school_id::UUID AND group_teachers.staff_id = accounts.staff_id) WHEN (accounts.role = 'PUPIL'::"
    "VARCHAR OR accounts.role = 'PARENT'::VARCHAR) THEN (SELECT array_agg(DISTINCT group_pupils.group_id)"
    " AS array_agg_2 \nFROM group_pupils JOIN groups ON groups.school_id = p_school_id::UUID AND groups.id"
    " = group_pupils.group_id AND groups.active \nWHERE group_pupils.school_id = p_school_id::UUID AND (gr"
    "oup_pupils.pupil_id = accounts.pupil_id OR group_pupils.pupil_id IN (SELECT pupil_contacts.pupil_id "
    "\nFROM pupil_contacts \nWHERE pupil_contacts.school_id = p_school_id::UUID AND pupil_contacts.contact_"
    "id = accounts.contact_id))) END AS anon_1, CASE WHEN (accounts.role = 'STAFF'::VARCHAR AND staff.pup"
    "il_access != 'SCHOOL'::VARCHAR) THEN (SELECT array_agg(DISTINCT group_pupils.pupil_id) AS array_agg_"
    "3 \nFROM group_pupils \nWHERE group_pupils.school_id = p_school_id::UUID AND group_pupils.group_id IN "
    "(SELECT group_teachers.group_id \nFROM group_teachers JOIN groups ON groups.school_id = p_school_id::"
    "UUID AND groups.id = group_teachers.group_id AND groups.active \nWHERE group_teachers.school_id = p_s"
    "chool_id::UUID AND group_teachers.staff_id = accounts.staff_id)) WHEN (accounts.role = 'PARENT'::VAR"
    "CHAR) THEN (SELECT array_agg(DISTINCT pupil_contacts.pupil_id) AS array_agg_4 \nFROM pupil_contacts \n"
    "WHERE pupil_contacts.school_id = p_school_id::UUID AND pupil_contacts.contact_id = accounts.contact_"
    "id) END AS anon_2, CASE WHEN (accounts.role = 'PUPIL'::VARCHAR OR accounts.role = 'PARENT'::VARCHAR)"
    " THEN (SELECT array_agg(DISTINCT group_teachers.staff_id) AS array_agg_5 \nFROM group_pupils JOIN gro"
    "ups ON groups.school_id = p_school_id::UUID AND groups.id = group_pupils.group_id AND groups.active "
    "JOIN group_teachers ON group_teachers.school_id = p_school_id::UUID AND group_teachers.group_id = gr"
    "oup_pupils.group_id \nWHERE group_pupils.school_id = p_school_id::UUID AND (group_pupils.pupil_id = a"
    "ccounts.pupil_id OR group_pupils.pupil_id IN (SELECT pupil_contacts.pupil_id \nFROM pupil_contacts \nW"
    "HERE pupil_contacts.school_id = p_school_id::UUID AND pupil_contacts.contact_id = accounts.contact_i"
    "d))) END AS anon_3, CASE WHEN (accounts.role = 'PUPIL'::VARCHAR) THEN (EXISTS (SELECT own_consent_du"
    "e.pupil_id \nFROM own_consent_due \nWHERE own_consent_due.school_id = p_school_id::UUID AND own_consen"
    "t_due.pupil_id = accounts.pupil_id AND own_consent_due.parent_responsible_reason IS NULL)) AND NOT ("
    "EXISTS (SELECT pupil_consents.id \nFROM pupil_consents \nWHERE pupil_consents.school_id = p_school_id:"
    ":UUID AND pupil_consents.pupil_id = accounts.pupil_id AND pupil_consents.given_by = 'PUPIL'::VARCHAR"
    " AND pupil_consents.withdrawn_at IS NULL)) ELSE false::BOOLEAN END AS anon_4, EXISTS (SELECT super_u"
    "sers.account_id \nFROM super_users \nWHERE super_users.school_id = p_school_id::UUID AND super_users.a"
    "ccount_id = accounts.id) AS anon_5, EXISTS (SELECT policy_documents_1.id \nFROM policy_documents AS p"
    "olicy_documents_1 \nWHERE policy_documents_1.kind = 'LICENCE_TERMS'::VARCHAR AND policy_documents_1.e"
    "ffective_from <= p_now::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT policy_documents_2.id \nFROM"
    " policy_documents AS policy_documents_2 \nWHERE policy_documents_2.kind = policy_documents_1.kind AND"
    " policy_documents_2.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND (policy_documents_2.effect"
    "ive_from > policy_documents_1.effective_from OR policy_documents_2.effective_from = policy_documents"
    "_1.effective_from AND policy_documents_2.published_at > policy_documents_1.published_at))) AND NOT ("
    "EXISTS (SELECT document_acceptances.id \nFROM document_acceptances \nWHERE document_acceptances.school"
    "_id = p_school_id::UUID AND document_acceptances.document_id = policy_documents_1.id))) AS anon_6, E"
    "XISTS (SELECT policy_documents_3.id \nFROM policy_documents AS policy_documents_3 \nWHERE (policy_docu"
    "ments_3.kind = 'PRIVACY_NOTICE'::VARCHAR OR policy_documents_3.kind = 'ACCEPTABLE_USE'::VARCHAR) AND"
    " policy_documents_3.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT policy"
    "_documents_4.id \nFROM policy_documents AS policy_documents_4 \nWHERE policy_documents_4.kind = policy"
    "_documents_3.kind AND policy_documents_4.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND (poli"
    "cy_documents_4.effective_from > policy_documents_3.effective_from OR policy_documents_4.effective_fr"
    "om = policy_documents_3.effective_from AND policy_documents_4.published_at > policy_documents_3.publ"
    "ished_at))) AND NOT (accounts.role = 'PUPIL'::VARCHAR AND (EXISTS (SELECT pupils.id \nFROM pupils \nWH"
    "ERE pupils.school_id = p_school_id::UUID AND pupils.id = accounts.pupil_id AND (pupils.date_of_birth"
    " IS NULL OR pupils.date_of_birth > p_born_after::DATE))) AND (EXISTS (SELECT document_acceptances.id"
    " \nFROM document_acceptances \nWHERE document_acceptances.school_id = p_school_id::UUID AND document_a"
    "cceptances.document_id = policy_documents_3.id AND document_acceptances.on_behalf_of_pupil_id = acco"
    "unts.pupil_id)) OR NOT (accounts.role = 'PUPIL'::VARCHAR AND (EXISTS (SELECT pupils.id \nFROM pupils "
    "\nWHERE pupils.school_id = p_school_id::UUID AND pupils.id = accounts.pupil_id AND (pupils.date_of_bi"
    "rth IS NULL OR pupils.date_of_birth > p_born_after::DATE)))) AND (EXISTS (SELECT document_acceptance"
    "s.id \nFROM document_acceptances \nWHERE document_acceptances.school_id = p_school_id::UUID AND docume"
    "nt_acceptances.document_id = policy_documents_3.id AND document_acceptances.account_id = accounts.id"
    " AND document_acceptances.on_behalf_of_pupil_id IS NULL)))) AS anon_7, EXISTS (SELECT policy_documen"
    "ts_5.id \nFROM policy_documents AS policy_documents_5 \nWHERE policy_documents_5.kind = 'LRS_AGREEMENT"
    "'::VARCHAR AND policy_documents_5.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS "
    "(SELECT policy_documents_6.id \nFROM policy_documents AS policy_documents_6 \nWHERE policy_documents_6"
    ".kind = policy_documents_5.kind AND policy_documents_6.effective_from <= p_now::TIMESTAMP WITH TIME "
    "ZONE AND (policy_documents_6.effective_from > policy_documents_5.effective_from OR policy_documents_"
    "6.effective_from = policy_documents_5.effective_from AND policy_documents_6.published_at > policy_do"
    "cuments_5.published_at))) AND NOT (accounts.role = 'PUPIL'::VARCHAR AND (EXISTS (SELECT pupils.id \nF"
    "ROM pupils \nWHERE pupils.school_id = p_school_id::UUID AND pupils.id = accounts.pupil_id AND (pupils"
    ".date_of_birth IS NULL OR pupils.date_of_birth > p_born_after::DATE))) AND (EXISTS (SELECT document_"
    "acceptances.id \nFROM document_acceptances \nWHERE document_acceptances.school_id = p_school_id::UUID "
    "AND document_acceptances.document_id = policy_documents_5.id AND document_acceptances.on_behalf_of_p"
    "upil_id = accounts.pupil_id)) OR NOT (accounts.role = 'PUPIL'::VARCHAR AND (EXISTS (SELECT pupils.id"
    " \nFROM pupils \nWHERE pupils.school_id = p_school_id::UUID AND pupils.id = accounts.pupil_id AND (pup"
    "ils.date_of_birth IS NULL OR pupils.date_of_birth > p_born_after::DATE)))) AND (EXISTS (SELECT docum"
    "ent_acceptances.id \nFROM document_acceptances \nWHERE document_acceptances.school_id = p_school_id::U"
    "UID AND document_acceptances.document_id = policy_documents_5.id AND document_acceptances.account_id"
    " = accounts.id AND document_acceptances.on_behalf_of_pupil_id IS NULL)))) AS anon_8 \nFROM accounts J"
    "OIN auth_sessions ON auth_sessions.school_id = p_school_id::UUID AND auth_sessions.account_id = acco"
    "unts.id LEFT OUTER JOIN staff ON staff.school_id = p_school_id::UUID AND staff.id = accounts.staff_i"
    "d LEFT OUTER JOIN pupils ON pupils.school_id = p_school_id::UUID AND pupils.id = accounts.pupil_id L"
    "EFT OUTER JOIN contacts ON contacts.school_id = p_school_id::UUID AND contacts.id = accounts.contact"
    "_id \nWHERE accounts.school_id = p_school_id::UUID AND accounts.id = p_account_id::UUID AND auth_sess"
    "ions.id = p_session_id::UUID AND auth_sessions.revoked_at IS NULL AND auth_sessions.expires_at > p_n"
    "ow::TIMESTAMP WITH TIME ZONE AND accounts.status = 'ACTIVE'::VARCHAR"
)
"""The statement for every role (``_principal_stmt()``), run when the token's role finds no row."""

STAFF = (
    "SELECT accounts.id, accounts.username, accounts.role, accounts.staff_id, accounts.pupil_id, accounts"
    ".contact_id, accounts.must_change_password, staff.pupil_access, staff.pupil_access_reason, coalesce("
    "staff.active, pupils.active, contacts.active, true::BOOLEAN) AS coalesce_1, CASE WHEN (accounts.role"
    " = 'STAFF'::VARCHAR AND staff.pupil_access != 'SCHOOL'::VARCHAR) THEN (SELECT array_agg(DISTINCT gro"
    "up_teachers.group_id) AS array_agg_1 \nFROM group_teachers JOIN groups ON groups.school_id = p_school"
    "_id::UUID AND groups.id = group_teachers.group_id AND groups.active \nWHERE group_teachers.school_id "
    "= p_school_id::UUID AND group_teachers.staff_id = accounts.staff_id) END AS anon_1, CASE WHEN (accou"
    "nts.role = 'STAFF'::VARCHAR AND staff.pupil_access != 'SCHOOL'::VARCHAR) THEN (SELECT array_agg(DIST"
    "INCT group_pupils.pupil_id) AS array_agg_2 \nFROM group_pupils \nWHERE group_pupils.school_id = p_scho"
    "ol_id::UUID AND group_pupils.group_id IN (SELECT group_teachers.group_id \nFROM group_teachers JOIN g"
    "roups ON groups.school_id = p_school_id::UUID AND groups.id = group_teachers.group_id AND groups.act"
    "ive \nWHERE group_teachers.school_id = p_school_id::UUID AND group_teachers.staff_id = accounts.staff"
    "_id)) END AS anon_2, CAST(NULL AS UUID[]) AS anon_3, false AS anon_4, EXISTS (SELECT super_users.acc"
    "ount_id \nFROM super_users \nWHERE super_users.school_id = p_school_id::UUID AND super_users.account_i"
    "d = accounts.id) AS anon_5, EXISTS (SELECT policy_documents_1.id \nFROM policy_documents AS policy_do"
    "cuments_1 \nWHERE policy_documents_1.kind = 'LICENCE_TERMS'::VARCHAR AND policy_documents_1.effective"
    "_from <= p_now::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT policy_documents_2.id \nFROM policy_"
    "documents AS policy_documents_2 \nWHERE policy_documents_2.kind = policy_documents_1.kind AND policy_"
    "documents_2.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND (policy_documents_2.effective_from"
    " > policy_documents_1.effective_from OR policy_documents_2.effective_from = policy_documents_1.effec"
    "tive_from AND policy_documents_2.published_at > policy_documents_1.published_at))) AND NOT (EXISTS ("
    "SELECT document_acceptances.id \nFROM document_acceptances \nWHERE document_acceptances.school_id = p_"
    "school_id::UUID AND document_acceptances.document_id = policy_documents_1.id))) AS anon_6, EXISTS (S"
    "ELECT policy_documents_3.id \nFROM policy_documents AS policy_documents_3 \nWHERE (policy_documents_3."
    "kind = 'PRIVACY_NOTICE'::VARCHAR OR policy_documents_3.kind = 'ACCEPTABLE_USE'::VARCHAR) AND policy_"
    "documents_3.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT policy_documen"
    "ts_4.id \nFROM policy_documents AS policy_documents_4 \nWHERE policy_documents_4.kind = policy_documen"
    "ts_3.kind AND policy_documents_4.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND (policy_docum"
    "ents_4.effective_from > policy_documents_3.effective_from OR policy_documents_4.effective_from = pol"
    "icy_documents_3.effective_from AND policy_documents_4.published_at > policy_documents_3.published_at"
    "))) AND NOT (EXISTS (SELECT document_acceptances.id \nFROM document_acceptances \nWHERE document_accep"
    "tances.school_id = p_school_id::UUID AND document_acceptances.document_id = policy_documents_3.id AN"
    "D document_acceptances.account_id = accounts.id AND document_acceptances.on_behalf_of_pupil_id IS NU"
    "LL))) AS anon_7, EXISTS (SELECT policy_documents_5.id \nFROM policy_documents AS policy_documents_5 \n"
    "WHERE policy_documents_5.kind = 'LRS_AGREEMENT'::VARCHAR AND policy_documents_5.effective_from <= p_"
    "now::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT policy_documents_6.id \nFROM policy_documents A"
    "S policy_documents_6 \nWHERE policy_documents_6.kind = policy_documents_5.kind AND policy_documents_6"
    ".effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND (policy_documents_6.effective_from > policy_d"
    "ocuments_5.effective_from OR policy_documents_6.effective_from = policy_documents_5.effective_from A"
    "ND policy_documents_6.published_at > policy_documents_5.published_at))) AND NOT (EXISTS (SELECT docu"
    "ment_acceptances.id \nFROM document_acceptances \nWHERE document_acceptances.school_id = p_school_id::"
    "UUID AND document_acceptances.document_id = policy_documents_5.id AND document_acceptances.account_i"
    "d = accounts.id AND document_acceptances.on_behalf_of_pupil_id IS NULL))) AS anon_8 \nFROM accounts J"
    "OIN auth_sessions ON auth_sessions.school_id = p_school_id::UUID AND auth_sessions.account_id = acco"
    "unts.id LEFT OUTER JOIN staff ON staff.school_id = p_school_id::UUID AND staff.id = accounts.staff_i"
    "d LEFT OUTER JOIN pupils ON pupils.school_id = p_school_id::UUID AND pupils.id = accounts.pupil_id L"
    "EFT OUTER JOIN contacts ON contacts.school_id = p_school_id::UUID AND contacts.id = accounts.contact"
    "_id \nWHERE accounts.school_id = p_school_id::UUID AND accounts.id = p_account_id::UUID AND auth_sess"
    "ions.id = p_session_id::UUID AND auth_sessions.revoked_at IS NULL AND auth_sessions.expires_at > p_n"
    "ow::TIMESTAMP WITH TIME ZONE AND accounts.status = 'ACTIVE'::VARCHAR AND accounts.role = 'STAFF'::VA"
    "RCHAR"
)
"""The statement for STAFF accounts (``_principal_stmt(Role.STAFF)``)."""


def _revision_0029() -> ModuleType:
    """Migration 0029, whose function this one rewrites with two of its statements changed."""
    path = Path(__file__).with_name("0029_enter_school_by_role.py")
    spec = importlib.util.spec_from_file_location("enter_school_0029", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _function(every_role: str, staff: str) -> str:
    """0029's ``app_enter_school`` with ``every_role`` and ``staff`` as those two statements."""
    m = _revision_0029()
    branches = []
    for keyword, (role, statement) in zip(
        ("IF", "ELSIF", "ELSIF", "ELSIF"),
        (("SCHOOL_ADMIN", m.SCHOOL_ADMIN), ("STAFF", staff), ("PUPIL", m.PUPIL), ("PARENT", m.PARENT)),
        strict=True,
    ):
        branches.append(
            f"""
            {keyword} p_role = '{role}' THEN
                RETURN QUERY SELECT {m._TENANT}, {m._CAST} FROM (
{statement}
                ) AS p ({m._NAMES});
                answered := FOUND;"""  # noqa: S608 - the migration's own constants
        )
    by_role = "".join(branches) + "\n            END IF;"
    return f"""
        CREATE OR REPLACE FUNCTION app_enter_school({m.ARGUMENTS})
        RETURNS TABLE ({m.TENANT_COLUMNS}, {m.PRINCIPAL_COLUMNS})
        LANGUAGE plpgsql VOLATILE AS $function$
        DECLARE
            school record;
            answered boolean := false;
        BEGIN
            SELECT s.id, s.slug, s.name, s.status, s.status_reason INTO school
            FROM schools AS s WHERE s.slug = p_slug;
            IF NOT FOUND THEN
                RETURN;
            END IF;
            PERFORM set_config('app.school_ids', school.id::text, true), set_config('app.trust_ids', '', true);
            IF school.status IS DISTINCT FROM 'ACTIVE' OR p_account_id IS NULL
                OR p_school_id IS DISTINCT FROM school.id THEN
                RETURN QUERY SELECT {m._TENANT}, {m._NULLS};
                RETURN;
            END IF;{by_role}
            IF NOT answered THEN
                RETURN QUERY SELECT {m._TENANT}, {m._CAST}
                FROM (SELECT 1) AS one LEFT JOIN (
{every_role}
                ) AS p ({m._NAMES}) ON true;
            END IF;
        END
        $function$
        """  # noqa: S608 - the migration's own constants


def upgrade() -> None:
    op.execute(_function(EVERY_ROLE, STAFF))


def downgrade() -> None:
    previous = _revision_0029()
    op.execute(_function(previous.EVERY_ROLE, previous.STAFF))
