"""One round trip for a school request's tenant and caller: ``app_enter_school`` resolves the school of a
URL slug, binds the transaction to it (as ``tenants.context.enter_school`` does) and then, in the same call,
reads the caller's principal with the statement ``auth.principal`` runs (the row it reads, column for
column), so that the binding is in force before the principal's tables are read under row-level security.

A PL/pgSQL function runs its statements in order: the ``set_config`` is made before the principal's query
starts, which one SQL statement does not guarantee. SECURITY INVOKER (the default): it runs as the runtime
role, under row-level security, with no right the role does not have. Its plans are cached per connection,
as the prepared statements it replaces were.

Its arguments 1-21 are the principal statement's positional parameters, in order, and its body holds that
statement's text as SQLAlchemy compiles it (``$n`` in a PL/pgSQL body names the function's n-th argument);
the 22nd is the slug. ``$4`` is the token's school, ``$19`` its account: the principal is read only when
both are given, the token's school is the slug's, and the school is active; otherwise the row has the
tenant and nulls. No school with the slug: no row, nothing bound.

tests/test_enter_school_function.py fails when the statement in ``auth.principal`` no longer matches this
text: a change to the principal's statement needs a migration that replaces the function.

Plain PostgreSQL only: on Citus the binding must be ``SET LOCAL`` to reach the workers (ADR 19), and the
request keeps its separate statements there; the function is created anyway (nothing calls it).

Revision ID: 0024
Revises: 0021
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0024"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRINCIPAL_SQL = (
    "SELECT accounts.id, accounts.username, accounts.role, accounts.staff_id, accounts.pupil_id, acco"
    "unts.contact_id, accounts.must_change_password, staff.pupil_access, staff.pupil_access_reason, c"
    "oalesce(staff.active, pupils.active, contacts.active, $1::BOOLEAN) AS coalesce_1, CASE WHEN (acc"
    "ounts.role = $2::VARCHAR AND staff.pupil_access != $3::VARCHAR) THEN (SELECT array_agg(DISTINCT "
    "group_teachers.group_id) AS array_agg_1 \nFROM group_teachers JOIN groups ON groups.school_id = $"
    "4::UUID AND groups.id = group_teachers.group_id AND groups.active \nWHERE group_teachers.school_i"
    "d = $4::UUID AND group_teachers.staff_id = accounts.staff_id) WHEN (accounts.role = $5::VARCHAR "
    "OR accounts.role = $6::VARCHAR) THEN (SELECT array_agg(DISTINCT group_pupils.group_id) AS array_"
    "agg_2 \nFROM group_pupils JOIN groups ON groups.school_id = $4::UUID AND groups.id = group_pupils"
    ".group_id AND groups.active \nWHERE group_pupils.school_id = $4::UUID AND (group_pupils.pupil_id "
    "= accounts.pupil_id OR group_pupils.pupil_id IN (SELECT pupil_contacts.pupil_id \nFROM pupil_cont"
    "acts \nWHERE pupil_contacts.school_id = $4::UUID AND pupil_contacts.contact_id = accounts.contact"
    "_id))) END AS anon_1, CASE WHEN (accounts.role = $2::VARCHAR AND staff.pupil_access != $3::VARCH"
    "AR) THEN (SELECT array_agg(DISTINCT group_pupils.pupil_id) AS array_agg_3 \nFROM group_teachers J"
    "OIN groups ON groups.school_id = $4::UUID AND groups.id = group_teachers.group_id AND groups.act"
    "ive JOIN group_pupils ON group_pupils.school_id = $4::UUID AND group_pupils.group_id = group_tea"
    "chers.group_id \nWHERE group_teachers.school_id = $4::UUID AND group_teachers.staff_id = accounts"
    ".staff_id) WHEN (accounts.role = $7::VARCHAR) THEN (SELECT array_agg(DISTINCT pupil_contacts.pup"
    "il_id) AS array_agg_4 \nFROM pupil_contacts \nWHERE pupil_contacts.school_id = $4::UUID AND pupil_"
    "contacts.contact_id = accounts.contact_id) END AS anon_2, CASE WHEN (accounts.role = $5::VARCHAR"
    " OR accounts.role = $6::VARCHAR) THEN (SELECT array_agg(DISTINCT group_teachers.staff_id) AS arr"
    "ay_agg_5 \nFROM group_pupils JOIN groups ON groups.school_id = $4::UUID AND groups.id = group_pup"
    "ils.group_id AND groups.active JOIN group_teachers ON group_teachers.school_id = $4::UUID AND gr"
    "oup_teachers.group_id = group_pupils.group_id \nWHERE group_pupils.school_id = $4::UUID AND (grou"
    "p_pupils.pupil_id = accounts.pupil_id OR group_pupils.pupil_id IN (SELECT pupil_contacts.pupil_i"
    "d \nFROM pupil_contacts \nWHERE pupil_contacts.school_id = $4::UUID AND pupil_contacts.contact_id "
    "= accounts.contact_id))) END AS anon_3, CASE WHEN (accounts.role = $8::VARCHAR) THEN (EXISTS (SE"
    "LECT own_consent_due.pupil_id \nFROM own_consent_due \nWHERE own_consent_due.school_id = $4::UUID "
    "AND own_consent_due.pupil_id = accounts.pupil_id AND own_consent_due.parent_responsible_reason I"
    "S NULL)) AND NOT (EXISTS (SELECT pupil_consents.id \nFROM pupil_consents \nWHERE pupil_consents.sc"
    "hool_id = $4::UUID AND pupil_consents.pupil_id = accounts.pupil_id AND pupil_consents.given_by ="
    " $9::VARCHAR AND pupil_consents.withdrawn_at IS NULL)) ELSE $10::BOOLEAN END AS anon_4, EXISTS ("
    "SELECT super_users.account_id \nFROM super_users \nWHERE super_users.school_id = $4::UUID AND supe"
    "r_users.account_id = accounts.id) AS anon_5, EXISTS (SELECT policy_documents_1.id \nFROM policy_d"
    "ocuments AS policy_documents_1 \nWHERE policy_documents_1.kind = $11::VARCHAR AND policy_document"
    "s_1.effective_from <= $12::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT policy_documents_2.i"
    "d \nFROM policy_documents AS policy_documents_2 \nWHERE policy_documents_2.kind = policy_documents"
    "_1.kind AND policy_documents_2.effective_from <= $12::TIMESTAMP WITH TIME ZONE AND (policy_docum"
    "ents_2.effective_from > policy_documents_1.effective_from OR policy_documents_2.effective_from ="
    " policy_documents_1.effective_from AND policy_documents_2.published_at > policy_documents_1.publ"
    "ished_at))) AND NOT (EXISTS (SELECT document_acceptances.id \nFROM document_acceptances \nWHERE do"
    "cument_acceptances.school_id = $4::UUID AND document_acceptances.document_id = policy_documents_"
    "1.id))) AS anon_6, EXISTS (SELECT policy_documents_3.id \nFROM policy_documents AS policy_documen"
    "ts_3 \nWHERE (policy_documents_3.kind = $13::VARCHAR OR policy_documents_3.kind = $14::VARCHAR) A"
    "ND policy_documents_3.effective_from <= $12::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT po"
    "licy_documents_4.id \nFROM policy_documents AS policy_documents_4 \nWHERE policy_documents_4.kind "
    "= policy_documents_3.kind AND policy_documents_4.effective_from <= $12::TIMESTAMP WITH TIME ZONE"
    " AND (policy_documents_4.effective_from > policy_documents_3.effective_from OR policy_documents_"
    "4.effective_from = policy_documents_3.effective_from AND policy_documents_4.published_at > polic"
    "y_documents_3.published_at))) AND NOT (accounts.role = $15::VARCHAR AND (EXISTS (SELECT pupils.i"
    "d \nFROM pupils \nWHERE pupils.school_id = $4::UUID AND pupils.id = accounts.pupil_id AND (pupils."
    "date_of_birth IS NULL OR pupils.date_of_birth > $16::DATE))) AND (EXISTS (SELECT document_accept"
    "ances.id \nFROM document_acceptances \nWHERE document_acceptances.school_id = $4::UUID AND documen"
    "t_acceptances.document_id = policy_documents_3.id AND document_acceptances.on_behalf_of_pupil_id"
    " = accounts.pupil_id)) OR NOT (accounts.role = $15::VARCHAR AND (EXISTS (SELECT pupils.id \nFROM "
    "pupils \nWHERE pupils.school_id = $4::UUID AND pupils.id = accounts.pupil_id AND (pupils.date_of_"
    "birth IS NULL OR pupils.date_of_birth > $16::DATE)))) AND (EXISTS (SELECT document_acceptances.i"
    "d \nFROM document_acceptances \nWHERE document_acceptances.school_id = $4::UUID AND document_accep"
    "tances.document_id = policy_documents_3.id AND document_acceptances.account_id = accounts.id AND"
    " document_acceptances.on_behalf_of_pupil_id IS NULL)))) AS anon_7, EXISTS (SELECT policy_documen"
    "ts_5.id \nFROM policy_documents AS policy_documents_5 \nWHERE policy_documents_5.kind = $17::VARCH"
    "AR AND policy_documents_5.effective_from <= $12::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELEC"
    "T policy_documents_6.id \nFROM policy_documents AS policy_documents_6 \nWHERE policy_documents_6.k"
    "ind = policy_documents_5.kind AND policy_documents_6.effective_from <= $12::TIMESTAMP WITH TIME "
    "ZONE AND (policy_documents_6.effective_from > policy_documents_5.effective_from OR policy_docume"
    "nts_6.effective_from = policy_documents_5.effective_from AND policy_documents_6.published_at > p"
    "olicy_documents_5.published_at))) AND NOT (accounts.role = $18::VARCHAR AND (EXISTS (SELECT pupi"
    "ls.id \nFROM pupils \nWHERE pupils.school_id = $4::UUID AND pupils.id = accounts.pupil_id AND (pup"
    "ils.date_of_birth IS NULL OR pupils.date_of_birth > $16::DATE))) AND (EXISTS (SELECT document_ac"
    "ceptances.id \nFROM document_acceptances \nWHERE document_acceptances.school_id = $4::UUID AND doc"
    "ument_acceptances.document_id = policy_documents_5.id AND document_acceptances.on_behalf_of_pupi"
    "l_id = accounts.pupil_id)) OR NOT (accounts.role = $18::VARCHAR AND (EXISTS (SELECT pupils.id \nF"
    "ROM pupils \nWHERE pupils.school_id = $4::UUID AND pupils.id = accounts.pupil_id AND (pupils.date"
    "_of_birth IS NULL OR pupils.date_of_birth > $16::DATE)))) AND (EXISTS (SELECT document_acceptanc"
    "es.id \nFROM document_acceptances \nWHERE document_acceptances.school_id = $4::UUID AND document_a"
    "cceptances.document_id = policy_documents_5.id AND document_acceptances.account_id = accounts.id"
    " AND document_acceptances.on_behalf_of_pupil_id IS NULL)))) AS anon_8 \nFROM accounts JOIN auth_s"
    "essions ON auth_sessions.school_id = $4::UUID AND auth_sessions.account_id = accounts.id LEFT OU"
    "TER JOIN staff ON staff.school_id = $4::UUID AND staff.id = accounts.staff_id LEFT OUTER JOIN pu"
    "pils ON pupils.school_id = $4::UUID AND pupils.id = accounts.pupil_id LEFT OUTER JOIN contacts O"
    "N contacts.school_id = $4::UUID AND contacts.id = accounts.contact_id \nWHERE accounts.school_id "
    "= $4::UUID AND accounts.id = $19::UUID AND auth_sessions.id = $20::UUID AND auth_sessions.revoke"
    "d_at IS NULL AND auth_sessions.expires_at > $12::TIMESTAMP WITH TIME ZONE AND accounts.status = "
    "$21::VARCHAR"
)
"""The principal's statement as ``auth.principal._PRINCIPAL`` compiles it for asyncpg (at revision 0024)."""

ARGUMENTS = (
    "boolean",  # $1 coalesce_2
    "text",  # $2 role_1
    "text",  # $3 pupil_access_1
    "uuid",  # $4 school_id
    "text",  # $5 role_2
    "text",  # $6 role_3
    "text",  # $7 role_4
    "text",  # $8 role_5
    "text",  # $9 given_by_1
    "boolean",  # $10 param_1
    "text",  # $11 kind_1
    "timestamptz",  # $12 now
    "text",  # $13 kind_2
    "text",  # $14 kind_3
    "text",  # $15 role_6
    "date",  # $16 born_after
    "text",  # $17 kind_4
    "text",  # $18 role_7
    "uuid",  # $19 account_id
    "uuid",  # $20 session_id
    "text",  # $21 status_1
)
"""The types of its positional parameters, ``$1`` to ``$21``."""

TENANT_COLUMNS = "r_school_id uuid, r_slug text, r_name text, r_status text, r_status_reason text"
PRINCIPAL_COLUMNS = (
    "r_account_id uuid, r_username text, r_role text, r_staff_id uuid, r_pupil_id uuid, r_contact_id uuid, "
    "r_must_change_password boolean, r_pupil_access text, r_pupil_access_reason text, r_person_active boolean, "
    "r_groups uuid[], r_pupils uuid[], r_teachers uuid[], r_consent_required boolean, r_super_user boolean, "
    "r_terms_pending boolean, r_policies_pending boolean, r_lrs_pending boolean"
)
_CASTS = [column.split(" ", 1)[1] for column in PRINCIPAL_COLUMNS.split(", ")]
_NAMES = ", ".join(f"c{i}" for i in range(1, len(_CASTS) + 1))
_CAST = ", ".join(f"p.c{i}::{cast}" for i, cast in enumerate(_CASTS, start=1))
_NULLS = ", ".join(f"NULL::{cast}" for cast in _CASTS)
_TENANT = "school.id, school.slug::text, school.name::text, school.status::text, school.status_reason::text"


def upgrade() -> None:
    op.execute(
        f"""
        CREATE FUNCTION app_enter_school({", ".join(ARGUMENTS)}, p_slug text)
        RETURNS TABLE ({TENANT_COLUMNS}, {PRINCIPAL_COLUMNS})
        LANGUAGE plpgsql VOLATILE AS $function$
        DECLARE
            school record;
        BEGIN
            SELECT s.id, s.slug, s.name, s.status, s.status_reason INTO school
            FROM schools AS s WHERE s.slug = p_slug;
            IF NOT FOUND THEN
                RETURN;
            END IF;
            PERFORM set_config('app.school_ids', school.id::text, true), set_config('app.trust_ids', '', true);
            IF school.status IS DISTINCT FROM 'ACTIVE' OR $19 IS NULL OR $4 IS DISTINCT FROM school.id THEN
                RETURN QUERY SELECT {_TENANT}, {_NULLS};
                RETURN;
            END IF;
            RETURN QUERY SELECT {_TENANT}, {_CAST}
            FROM (SELECT 1) AS one LEFT JOIN (
{PRINCIPAL_SQL}
            ) AS p ({_NAMES}) ON true;
        END
        $function$
        """  # noqa: S608 - the migration's own constants
    )


def downgrade() -> None:
    op.execute(f"DROP FUNCTION app_enter_school({', '.join(ARGUMENTS)}, text)")
