"""A school request's principal statement split by role: ``app_enter_school`` (migration 0024) ran one
statement holding every role's scopes as correlated subqueries under ``CASE``; PostgreSQL ran only the
caller's role's, but its executor set up all of them (about 55 subplans, 51 unused for a staff caller) on
every call, about half of the database's CPU for a ``{ viewer }``. The function now takes the role the
token names and first runs that role's statement (``auth.principal._principal_stmt(role)``: only the
``CASE`` arms that can apply to the role, and ``accounts.role`` equal to it in its WHERE); if it finds no
row (a refused caller: revoked, expired, disabled; or a role that is not the account's) it runs the
statement of every role, as before. The answer is that statement's in every case: a role's statement
answers exactly what it answers for an account of that role, and nothing for any other.

Everything else is 0024's: it resolves the school of a URL slug, binds the transaction to it (as
``tenants.context.enter_school`` does), and, only when the token's school is the slug's and the school is
active, reads the principal after the binding (PL/pgSQL runs its statements in order), SECURITY INVOKER,
under row-level security. The row's columns are 0024's.

Its arguments are named now: the parameters a request gives (``auth.principal.FUNCTION_ARGUMENTS``), the
token's role and the slug; the values the statements carry themselves (a role's name, a document kind)
are constants in their text. ``auth.principal.function_statement`` writes each statement so, and
tests/test_enter_school_function.py fails when the texts below are no longer what it writes: a change to
the principal's statement needs a migration that replaces the function.

Plain PostgreSQL only: on Citus the binding must be ``SET LOCAL`` to reach the workers (ADR 19), and the
request keeps its separate statements there (``load_principal`` runs the statement of every role); the
function is created anyway (nothing calls it).

Revision ID: 0029
Revises: 0028
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
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
    "3 \nFROM group_teachers JOIN groups ON groups.school_id = p_school_id::UUID AND groups.id = group_tea"
    "chers.group_id AND groups.active JOIN group_pupils ON group_pupils.school_id = p_school_id::UUID AND"
    " group_pupils.group_id = group_teachers.group_id \nWHERE group_teachers.school_id = p_school_id::UUID"
    " AND group_teachers.staff_id = accounts.staff_id) WHEN (accounts.role = 'PARENT'::VARCHAR) THEN (SEL"
    "ECT array_agg(DISTINCT pupil_contacts.pupil_id) AS array_agg_4 \nFROM pupil_contacts \nWHERE pupil_con"
    "tacts.school_id = p_school_id::UUID AND pupil_contacts.contact_id = accounts.contact_id) END AS anon"
    "_2, CASE WHEN (accounts.role = 'PUPIL'::VARCHAR OR accounts.role = 'PARENT'::VARCHAR) THEN (SELECT a"
    "rray_agg(DISTINCT group_teachers.staff_id) AS array_agg_5 \nFROM group_pupils JOIN groups ON groups.s"
    "chool_id = p_school_id::UUID AND groups.id = group_pupils.group_id AND groups.active JOIN group_teac"
    "hers ON group_teachers.school_id = p_school_id::UUID AND group_teachers.group_id = group_pupils.grou"
    "p_id \nWHERE group_pupils.school_id = p_school_id::UUID AND (group_pupils.pupil_id = accounts.pupil_i"
    "d OR group_pupils.pupil_id IN (SELECT pupil_contacts.pupil_id \nFROM pupil_contacts \nWHERE pupil_cont"
    "acts.school_id = p_school_id::UUID AND pupil_contacts.contact_id = accounts.contact_id))) END AS ano"
    "n_3, CASE WHEN (accounts.role = 'PUPIL'::VARCHAR) THEN (EXISTS (SELECT own_consent_due.pupil_id \nFRO"
    "M own_consent_due \nWHERE own_consent_due.school_id = p_school_id::UUID AND own_consent_due.pupil_id "
    "= accounts.pupil_id AND own_consent_due.parent_responsible_reason IS NULL)) AND NOT (EXISTS (SELECT "
    "pupil_consents.id \nFROM pupil_consents \nWHERE pupil_consents.school_id = p_school_id::UUID AND pupil"
    "_consents.pupil_id = accounts.pupil_id AND pupil_consents.given_by = 'PUPIL'::VARCHAR AND pupil_cons"
    "ents.withdrawn_at IS NULL)) ELSE false::BOOLEAN END AS anon_4, EXISTS (SELECT super_users.account_id"
    " \nFROM super_users \nWHERE super_users.school_id = p_school_id::UUID AND super_users.account_id = acc"
    "ounts.id) AS anon_5, EXISTS (SELECT policy_documents_1.id \nFROM policy_documents AS policy_documents"
    "_1 \nWHERE policy_documents_1.kind = 'LICENCE_TERMS'::VARCHAR AND policy_documents_1.effective_from <"
    "= p_now::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT policy_documents_2.id \nFROM policy_documen"
    "ts AS policy_documents_2 \nWHERE policy_documents_2.kind = policy_documents_1.kind AND policy_documen"
    "ts_2.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND (policy_documents_2.effective_from > poli"
    "cy_documents_1.effective_from OR policy_documents_2.effective_from = policy_documents_1.effective_fr"
    "om AND policy_documents_2.published_at > policy_documents_1.published_at))) AND NOT (EXISTS (SELECT "
    "document_acceptances.id \nFROM document_acceptances \nWHERE document_acceptances.school_id = p_school_"
    "id::UUID AND document_acceptances.document_id = policy_documents_1.id))) AS anon_6, EXISTS (SELECT p"
    "olicy_documents_3.id \nFROM policy_documents AS policy_documents_3 \nWHERE (policy_documents_3.kind = "
    "'PRIVACY_NOTICE'::VARCHAR OR policy_documents_3.kind = 'ACCEPTABLE_USE'::VARCHAR) AND policy_documen"
    "ts_3.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT policy_documents_4.id"
    " \nFROM policy_documents AS policy_documents_4 \nWHERE policy_documents_4.kind = policy_documents_3.ki"
    "nd AND policy_documents_4.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND (policy_documents_4."
    "effective_from > policy_documents_3.effective_from OR policy_documents_4.effective_from = policy_doc"
    "uments_3.effective_from AND policy_documents_4.published_at > policy_documents_3.published_at))) AND"
    " NOT (accounts.role = 'PUPIL'::VARCHAR AND (EXISTS (SELECT pupils.id \nFROM pupils \nWHERE pupils.scho"
    "ol_id = p_school_id::UUID AND pupils.id = accounts.pupil_id AND (pupils.date_of_birth IS NULL OR pup"
    "ils.date_of_birth > p_born_after::DATE))) AND (EXISTS (SELECT document_acceptances.id \nFROM document"
    "_acceptances \nWHERE document_acceptances.school_id = p_school_id::UUID AND document_acceptances.docu"
    "ment_id = policy_documents_3.id AND document_acceptances.on_behalf_of_pupil_id = accounts.pupil_id))"
    " OR NOT (accounts.role = 'PUPIL'::VARCHAR AND (EXISTS (SELECT pupils.id \nFROM pupils \nWHERE pupils.s"
    "chool_id = p_school_id::UUID AND pupils.id = accounts.pupil_id AND (pupils.date_of_birth IS NULL OR "
    "pupils.date_of_birth > p_born_after::DATE)))) AND (EXISTS (SELECT document_acceptances.id \nFROM docu"
    "ment_acceptances \nWHERE document_acceptances.school_id = p_school_id::UUID AND document_acceptances."
    "document_id = policy_documents_3.id AND document_acceptances.account_id = accounts.id AND document_a"
    "cceptances.on_behalf_of_pupil_id IS NULL)))) AS anon_7, EXISTS (SELECT policy_documents_5.id \nFROM p"
    "olicy_documents AS policy_documents_5 \nWHERE policy_documents_5.kind = 'LRS_AGREEMENT'::VARCHAR AND "
    "policy_documents_5.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT policy_"
    "documents_6.id \nFROM policy_documents AS policy_documents_6 \nWHERE policy_documents_6.kind = policy_"
    "documents_5.kind AND policy_documents_6.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND (polic"
    "y_documents_6.effective_from > policy_documents_5.effective_from OR policy_documents_6.effective_fro"
    "m = policy_documents_5.effective_from AND policy_documents_6.published_at > policy_documents_5.publi"
    "shed_at))) AND NOT (accounts.role = 'PUPIL'::VARCHAR AND (EXISTS (SELECT pupils.id \nFROM pupils \nWHE"
    "RE pupils.school_id = p_school_id::UUID AND pupils.id = accounts.pupil_id AND (pupils.date_of_birth "
    "IS NULL OR pupils.date_of_birth > p_born_after::DATE))) AND (EXISTS (SELECT document_acceptances.id "
    "\nFROM document_acceptances \nWHERE document_acceptances.school_id = p_school_id::UUID AND document_ac"
    "ceptances.document_id = policy_documents_5.id AND document_acceptances.on_behalf_of_pupil_id = accou"
    "nts.pupil_id)) OR NOT (accounts.role = 'PUPIL'::VARCHAR AND (EXISTS (SELECT pupils.id \nFROM pupils \n"
    "WHERE pupils.school_id = p_school_id::UUID AND pupils.id = accounts.pupil_id AND (pupils.date_of_bir"
    "th IS NULL OR pupils.date_of_birth > p_born_after::DATE)))) AND (EXISTS (SELECT document_acceptances"
    ".id \nFROM document_acceptances \nWHERE document_acceptances.school_id = p_school_id::UUID AND documen"
    "t_acceptances.document_id = policy_documents_5.id AND document_acceptances.account_id = accounts.id "
    "AND document_acceptances.on_behalf_of_pupil_id IS NULL)))) AS anon_8 \nFROM accounts JOIN auth_sessio"
    "ns ON auth_sessions.school_id = p_school_id::UUID AND auth_sessions.account_id = accounts.id LEFT OU"
    "TER JOIN staff ON staff.school_id = p_school_id::UUID AND staff.id = accounts.staff_id LEFT OUTER JO"
    "IN pupils ON pupils.school_id = p_school_id::UUID AND pupils.id = accounts.pupil_id LEFT OUTER JOIN "
    "contacts ON contacts.school_id = p_school_id::UUID AND contacts.id = accounts.contact_id \nWHERE acco"
    "unts.school_id = p_school_id::UUID AND accounts.id = p_account_id::UUID AND auth_sessions.id = p_ses"
    "sion_id::UUID AND auth_sessions.revoked_at IS NULL AND auth_sessions.expires_at > p_now::TIMESTAMP W"
    "ITH TIME ZONE AND accounts.status = 'ACTIVE'::VARCHAR"
)
"""The principal's statement for every role (``_principal_stmt()``), as the function holds it."""

SCHOOL_ADMIN = (
    "SELECT accounts.id, accounts.username, accounts.role, accounts.staff_id, accounts.pupil_id, accounts"
    ".contact_id, accounts.must_change_password, staff.pupil_access, staff.pupil_access_reason, coalesce("
    "staff.active, pupils.active, contacts.active, true::BOOLEAN) AS coalesce_1, CAST(NULL AS UUID[]) AS "
    "anon_1, CAST(NULL AS UUID[]) AS anon__1, CAST(NULL AS UUID[]) AS anon__2, false AS anon_2, EXISTS (S"
    "ELECT super_users.account_id \nFROM super_users \nWHERE super_users.school_id = p_school_id::UUID AND "
    "super_users.account_id = accounts.id) AS anon_3, EXISTS (SELECT policy_documents_1.id \nFROM policy_d"
    "ocuments AS policy_documents_1 \nWHERE policy_documents_1.kind = 'LICENCE_TERMS'::VARCHAR AND policy_"
    "documents_1.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT policy_documen"
    "ts_2.id \nFROM policy_documents AS policy_documents_2 \nWHERE policy_documents_2.kind = policy_documen"
    "ts_1.kind AND policy_documents_2.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND (policy_docum"
    "ents_2.effective_from > policy_documents_1.effective_from OR policy_documents_2.effective_from = pol"
    "icy_documents_1.effective_from AND policy_documents_2.published_at > policy_documents_1.published_at"
    "))) AND NOT (EXISTS (SELECT document_acceptances.id \nFROM document_acceptances \nWHERE document_accep"
    "tances.school_id = p_school_id::UUID AND document_acceptances.document_id = policy_documents_1.id)))"
    " AS anon_4, EXISTS (SELECT policy_documents_3.id \nFROM policy_documents AS policy_documents_3 \nWHERE"
    " (policy_documents_3.kind = 'PRIVACY_NOTICE'::VARCHAR OR policy_documents_3.kind = 'ACCEPTABLE_USE':"
    ":VARCHAR) AND policy_documents_3.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS ("
    "SELECT policy_documents_4.id \nFROM policy_documents AS policy_documents_4 \nWHERE policy_documents_4."
    "kind = policy_documents_3.kind AND policy_documents_4.effective_from <= p_now::TIMESTAMP WITH TIME Z"
    "ONE AND (policy_documents_4.effective_from > policy_documents_3.effective_from OR policy_documents_4"
    ".effective_from = policy_documents_3.effective_from AND policy_documents_4.published_at > policy_doc"
    "uments_3.published_at))) AND NOT (EXISTS (SELECT document_acceptances.id \nFROM document_acceptances "
    "\nWHERE document_acceptances.school_id = p_school_id::UUID AND document_acceptances.document_id = pol"
    "icy_documents_3.id AND document_acceptances.account_id = accounts.id AND document_acceptances.on_beh"
    "alf_of_pupil_id IS NULL))) AS anon_5, EXISTS (SELECT policy_documents_5.id \nFROM policy_documents AS"
    " policy_documents_5 \nWHERE policy_documents_5.kind = 'LRS_AGREEMENT'::VARCHAR AND policy_documents_5"
    ".effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT policy_documents_6.id \nFR"
    "OM policy_documents AS policy_documents_6 \nWHERE policy_documents_6.kind = policy_documents_5.kind A"
    "ND policy_documents_6.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND (policy_documents_6.effe"
    "ctive_from > policy_documents_5.effective_from OR policy_documents_6.effective_from = policy_documen"
    "ts_5.effective_from AND policy_documents_6.published_at > policy_documents_5.published_at))) AND NOT"
    " (EXISTS (SELECT document_acceptances.id \nFROM document_acceptances \nWHERE document_acceptances.scho"
    "ol_id = p_school_id::UUID AND document_acceptances.document_id = policy_documents_5.id AND document_"
    "acceptances.account_id = accounts.id AND document_acceptances.on_behalf_of_pupil_id IS NULL))) AS an"
    "on_6 \nFROM accounts JOIN auth_sessions ON auth_sessions.school_id = p_school_id::UUID AND auth_sessi"
    "ons.account_id = accounts.id LEFT OUTER JOIN staff ON staff.school_id = p_school_id::UUID AND staff."
    "id = accounts.staff_id LEFT OUTER JOIN pupils ON pupils.school_id = p_school_id::UUID AND pupils.id "
    "= accounts.pupil_id LEFT OUTER JOIN contacts ON contacts.school_id = p_school_id::UUID AND contacts."
    "id = accounts.contact_id \nWHERE accounts.school_id = p_school_id::UUID AND accounts.id = p_account_i"
    "d::UUID AND auth_sessions.id = p_session_id::UUID AND auth_sessions.revoked_at IS NULL AND auth_sess"
    "ions.expires_at > p_now::TIMESTAMP WITH TIME ZONE AND accounts.status = 'ACTIVE'::VARCHAR AND accoun"
    "ts.role = 'SCHOOL_ADMIN'::VARCHAR"
)
"""The statement for SCHOOL_ADMIN accounts (``_principal_stmt(Role.SCHOOL_ADMIN)``)."""

STAFF = (
    "SELECT accounts.id, accounts.username, accounts.role, accounts.staff_id, accounts.pupil_id, accounts"
    ".contact_id, accounts.must_change_password, staff.pupil_access, staff.pupil_access_reason, coalesce("
    "staff.active, pupils.active, contacts.active, true::BOOLEAN) AS coalesce_1, CASE WHEN (accounts.role"
    " = 'STAFF'::VARCHAR AND staff.pupil_access != 'SCHOOL'::VARCHAR) THEN (SELECT array_agg(DISTINCT gro"
    "up_teachers.group_id) AS array_agg_1 \nFROM group_teachers JOIN groups ON groups.school_id = p_school"
    "_id::UUID AND groups.id = group_teachers.group_id AND groups.active \nWHERE group_teachers.school_id "
    "= p_school_id::UUID AND group_teachers.staff_id = accounts.staff_id) END AS anon_1, CASE WHEN (accou"
    "nts.role = 'STAFF'::VARCHAR AND staff.pupil_access != 'SCHOOL'::VARCHAR) THEN (SELECT array_agg(DIST"
    "INCT group_pupils.pupil_id) AS array_agg_2 \nFROM group_teachers JOIN groups ON groups.school_id = p_"
    "school_id::UUID AND groups.id = group_teachers.group_id AND groups.active JOIN group_pupils ON group"
    "_pupils.school_id = p_school_id::UUID AND group_pupils.group_id = group_teachers.group_id \nWHERE gro"
    "up_teachers.school_id = p_school_id::UUID AND group_teachers.staff_id = accounts.staff_id) END AS an"
    "on_2, CAST(NULL AS UUID[]) AS anon_3, false AS anon_4, EXISTS (SELECT super_users.account_id \nFROM s"
    "uper_users \nWHERE super_users.school_id = p_school_id::UUID AND super_users.account_id = accounts.id"
    ") AS anon_5, EXISTS (SELECT policy_documents_1.id \nFROM policy_documents AS policy_documents_1 \nWHER"
    "E policy_documents_1.kind = 'LICENCE_TERMS'::VARCHAR AND policy_documents_1.effective_from <= p_now:"
    ":TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT policy_documents_2.id \nFROM policy_documents AS po"
    "licy_documents_2 \nWHERE policy_documents_2.kind = policy_documents_1.kind AND policy_documents_2.eff"
    "ective_from <= p_now::TIMESTAMP WITH TIME ZONE AND (policy_documents_2.effective_from > policy_docum"
    "ents_1.effective_from OR policy_documents_2.effective_from = policy_documents_1.effective_from AND p"
    "olicy_documents_2.published_at > policy_documents_1.published_at))) AND NOT (EXISTS (SELECT document"
    "_acceptances.id \nFROM document_acceptances \nWHERE document_acceptances.school_id = p_school_id::UUID"
    " AND document_acceptances.document_id = policy_documents_1.id))) AS anon_6, EXISTS (SELECT policy_do"
    "cuments_3.id \nFROM policy_documents AS policy_documents_3 \nWHERE (policy_documents_3.kind = 'PRIVACY"
    "_NOTICE'::VARCHAR OR policy_documents_3.kind = 'ACCEPTABLE_USE'::VARCHAR) AND policy_documents_3.eff"
    "ective_from <= p_now::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT policy_documents_4.id \nFROM p"
    "olicy_documents AS policy_documents_4 \nWHERE policy_documents_4.kind = policy_documents_3.kind AND p"
    "olicy_documents_4.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND (policy_documents_4.effectiv"
    "e_from > policy_documents_3.effective_from OR policy_documents_4.effective_from = policy_documents_3"
    ".effective_from AND policy_documents_4.published_at > policy_documents_3.published_at))) AND NOT (EX"
    "ISTS (SELECT document_acceptances.id \nFROM document_acceptances \nWHERE document_acceptances.school_i"
    "d = p_school_id::UUID AND document_acceptances.document_id = policy_documents_3.id AND document_acce"
    "ptances.account_id = accounts.id AND document_acceptances.on_behalf_of_pupil_id IS NULL))) AS anon_7"
    ", EXISTS (SELECT policy_documents_5.id \nFROM policy_documents AS policy_documents_5 \nWHERE policy_do"
    "cuments_5.kind = 'LRS_AGREEMENT'::VARCHAR AND policy_documents_5.effective_from <= p_now::TIMESTAMP "
    "WITH TIME ZONE AND NOT (EXISTS (SELECT policy_documents_6.id \nFROM policy_documents AS policy_docume"
    "nts_6 \nWHERE policy_documents_6.kind = policy_documents_5.kind AND policy_documents_6.effective_from"
    " <= p_now::TIMESTAMP WITH TIME ZONE AND (policy_documents_6.effective_from > policy_documents_5.effe"
    "ctive_from OR policy_documents_6.effective_from = policy_documents_5.effective_from AND policy_docum"
    "ents_6.published_at > policy_documents_5.published_at))) AND NOT (EXISTS (SELECT document_acceptance"
    "s.id \nFROM document_acceptances \nWHERE document_acceptances.school_id = p_school_id::UUID AND docume"
    "nt_acceptances.document_id = policy_documents_5.id AND document_acceptances.account_id = accounts.id"
    " AND document_acceptances.on_behalf_of_pupil_id IS NULL))) AS anon_8 \nFROM accounts JOIN auth_sessio"
    "ns ON auth_sessions.school_id = p_school_id::UUID AND auth_sessions.account_id = accounts.id LEFT OU"
    "TER JOIN staff ON staff.school_id = p_school_id::UUID AND staff.id = accounts.staff_id LEFT OUTER JO"
    "IN pupils ON pupils.school_id = p_school_id::UUID AND pupils.id = accounts.pupil_id LEFT OUTER JOIN "
    "contacts ON contacts.school_id = p_school_id::UUID AND contacts.id = accounts.contact_id \nWHERE acco"
    "unts.school_id = p_school_id::UUID AND accounts.id = p_account_id::UUID AND auth_sessions.id = p_ses"
    "sion_id::UUID AND auth_sessions.revoked_at IS NULL AND auth_sessions.expires_at > p_now::TIMESTAMP W"
    "ITH TIME ZONE AND accounts.status = 'ACTIVE'::VARCHAR AND accounts.role = 'STAFF'::VARCHAR"
)
"""The statement for STAFF accounts (``_principal_stmt(Role.STAFF)``)."""

PUPIL = (
    "SELECT accounts.id, accounts.username, accounts.role, accounts.staff_id, accounts.pupil_id, accounts"
    ".contact_id, accounts.must_change_password, staff.pupil_access, staff.pupil_access_reason, coalesce("
    "staff.active, pupils.active, contacts.active, true::BOOLEAN) AS coalesce_1, CASE WHEN (accounts.role"
    " = 'PUPIL'::VARCHAR OR accounts.role = 'PARENT'::VARCHAR) THEN (SELECT array_agg(DISTINCT group_pupi"
    "ls.group_id) AS array_agg_1 \nFROM group_pupils JOIN groups ON groups.school_id = p_school_id::UUID A"
    "ND groups.id = group_pupils.group_id AND groups.active \nWHERE group_pupils.school_id = p_school_id::"
    "UUID AND (group_pupils.pupil_id = accounts.pupil_id OR group_pupils.pupil_id IN (SELECT pupil_contac"
    "ts.pupil_id \nFROM pupil_contacts \nWHERE pupil_contacts.school_id = p_school_id::UUID AND pupil_conta"
    "cts.contact_id = accounts.contact_id))) END AS anon_1, CAST(NULL AS UUID[]) AS anon_2, CASE WHEN (ac"
    "counts.role = 'PUPIL'::VARCHAR OR accounts.role = 'PARENT'::VARCHAR) THEN (SELECT array_agg(DISTINCT"
    " group_teachers.staff_id) AS array_agg_2 \nFROM group_pupils JOIN groups ON groups.school_id = p_scho"
    "ol_id::UUID AND groups.id = group_pupils.group_id AND groups.active JOIN group_teachers ON group_tea"
    "chers.school_id = p_school_id::UUID AND group_teachers.group_id = group_pupils.group_id \nWHERE group"
    "_pupils.school_id = p_school_id::UUID AND (group_pupils.pupil_id = accounts.pupil_id OR group_pupils"
    ".pupil_id IN (SELECT pupil_contacts.pupil_id \nFROM pupil_contacts \nWHERE pupil_contacts.school_id = "
    "p_school_id::UUID AND pupil_contacts.contact_id = accounts.contact_id))) END AS anon_3, CASE WHEN (a"
    "ccounts.role = 'PUPIL'::VARCHAR) THEN (EXISTS (SELECT own_consent_due.pupil_id \nFROM own_consent_due"
    " \nWHERE own_consent_due.school_id = p_school_id::UUID AND own_consent_due.pupil_id = accounts.pupil_"
    "id AND own_consent_due.parent_responsible_reason IS NULL)) AND NOT (EXISTS (SELECT pupil_consents.id"
    " \nFROM pupil_consents \nWHERE pupil_consents.school_id = p_school_id::UUID AND pupil_consents.pupil_i"
    "d = accounts.pupil_id AND pupil_consents.given_by = 'PUPIL'::VARCHAR AND pupil_consents.withdrawn_at"
    " IS NULL)) ELSE false::BOOLEAN END AS anon_4, EXISTS (SELECT super_users.account_id \nFROM super_user"
    "s \nWHERE super_users.school_id = p_school_id::UUID AND super_users.account_id = accounts.id) AS anon"
    "_5, EXISTS (SELECT policy_documents_1.id \nFROM policy_documents AS policy_documents_1 \nWHERE policy_"
    "documents_1.kind = 'LICENCE_TERMS'::VARCHAR AND policy_documents_1.effective_from <= p_now::TIMESTAM"
    "P WITH TIME ZONE AND NOT (EXISTS (SELECT policy_documents_2.id \nFROM policy_documents AS policy_docu"
    "ments_2 \nWHERE policy_documents_2.kind = policy_documents_1.kind AND policy_documents_2.effective_fr"
    "om <= p_now::TIMESTAMP WITH TIME ZONE AND (policy_documents_2.effective_from > policy_documents_1.ef"
    "fective_from OR policy_documents_2.effective_from = policy_documents_1.effective_from AND policy_doc"
    "uments_2.published_at > policy_documents_1.published_at))) AND NOT (EXISTS (SELECT document_acceptan"
    "ces.id \nFROM document_acceptances \nWHERE document_acceptances.school_id = p_school_id::UUID AND docu"
    "ment_acceptances.document_id = policy_documents_1.id))) AS anon_6, EXISTS (SELECT policy_documents_3"
    ".id \nFROM policy_documents AS policy_documents_3 \nWHERE (policy_documents_3.kind = 'PRIVACY_NOTICE':"
    ":VARCHAR OR policy_documents_3.kind = 'ACCEPTABLE_USE'::VARCHAR) AND policy_documents_3.effective_fr"
    "om <= p_now::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT policy_documents_4.id \nFROM policy_doc"
    "uments AS policy_documents_4 \nWHERE policy_documents_4.kind = policy_documents_3.kind AND policy_doc"
    "uments_4.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND (policy_documents_4.effective_from > "
    "policy_documents_3.effective_from OR policy_documents_4.effective_from = policy_documents_3.effectiv"
    "e_from AND policy_documents_4.published_at > policy_documents_3.published_at))) AND NOT (accounts.ro"
    "le = 'PUPIL'::VARCHAR AND (EXISTS (SELECT pupils.id \nFROM pupils \nWHERE pupils.school_id = p_school_"
    "id::UUID AND pupils.id = accounts.pupil_id AND (pupils.date_of_birth IS NULL OR pupils.date_of_birth"
    " > p_born_after::DATE))) AND (EXISTS (SELECT document_acceptances.id \nFROM document_acceptances \nWHE"
    "RE document_acceptances.school_id = p_school_id::UUID AND document_acceptances.document_id = policy_"
    "documents_3.id AND document_acceptances.on_behalf_of_pupil_id = accounts.pupil_id)) OR NOT (accounts"
    ".role = 'PUPIL'::VARCHAR AND (EXISTS (SELECT pupils.id \nFROM pupils \nWHERE pupils.school_id = p_scho"
    "ol_id::UUID AND pupils.id = accounts.pupil_id AND (pupils.date_of_birth IS NULL OR pupils.date_of_bi"
    "rth > p_born_after::DATE)))) AND (EXISTS (SELECT document_acceptances.id \nFROM document_acceptances "
    "\nWHERE document_acceptances.school_id = p_school_id::UUID AND document_acceptances.document_id = pol"
    "icy_documents_3.id AND document_acceptances.account_id = accounts.id AND document_acceptances.on_beh"
    "alf_of_pupil_id IS NULL)))) AS anon_7, EXISTS (SELECT policy_documents_5.id \nFROM policy_documents A"
    "S policy_documents_5 \nWHERE policy_documents_5.kind = 'LRS_AGREEMENT'::VARCHAR AND policy_documents_"
    "5.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT policy_documents_6.id \nF"
    "ROM policy_documents AS policy_documents_6 \nWHERE policy_documents_6.kind = policy_documents_5.kind "
    "AND policy_documents_6.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND (policy_documents_6.eff"
    "ective_from > policy_documents_5.effective_from OR policy_documents_6.effective_from = policy_docume"
    "nts_5.effective_from AND policy_documents_6.published_at > policy_documents_5.published_at))) AND NO"
    "T (accounts.role = 'PUPIL'::VARCHAR AND (EXISTS (SELECT pupils.id \nFROM pupils \nWHERE pupils.school_"
    "id = p_school_id::UUID AND pupils.id = accounts.pupil_id AND (pupils.date_of_birth IS NULL OR pupils"
    ".date_of_birth > p_born_after::DATE))) AND (EXISTS (SELECT document_acceptances.id \nFROM document_ac"
    "ceptances \nWHERE document_acceptances.school_id = p_school_id::UUID AND document_acceptances.documen"
    "t_id = policy_documents_5.id AND document_acceptances.on_behalf_of_pupil_id = accounts.pupil_id)) OR"
    " NOT (accounts.role = 'PUPIL'::VARCHAR AND (EXISTS (SELECT pupils.id \nFROM pupils \nWHERE pupils.scho"
    "ol_id = p_school_id::UUID AND pupils.id = accounts.pupil_id AND (pupils.date_of_birth IS NULL OR pup"
    "ils.date_of_birth > p_born_after::DATE)))) AND (EXISTS (SELECT document_acceptances.id \nFROM documen"
    "t_acceptances \nWHERE document_acceptances.school_id = p_school_id::UUID AND document_acceptances.doc"
    "ument_id = policy_documents_5.id AND document_acceptances.account_id = accounts.id AND document_acce"
    "ptances.on_behalf_of_pupil_id IS NULL)))) AS anon_8 \nFROM accounts JOIN auth_sessions ON auth_sessio"
    "ns.school_id = p_school_id::UUID AND auth_sessions.account_id = accounts.id LEFT OUTER JOIN staff ON"
    " staff.school_id = p_school_id::UUID AND staff.id = accounts.staff_id LEFT OUTER JOIN pupils ON pupi"
    "ls.school_id = p_school_id::UUID AND pupils.id = accounts.pupil_id LEFT OUTER JOIN contacts ON conta"
    "cts.school_id = p_school_id::UUID AND contacts.id = accounts.contact_id \nWHERE accounts.school_id = "
    "p_school_id::UUID AND accounts.id = p_account_id::UUID AND auth_sessions.id = p_session_id::UUID AND"
    " auth_sessions.revoked_at IS NULL AND auth_sessions.expires_at > p_now::TIMESTAMP WITH TIME ZONE AND"
    " accounts.status = 'ACTIVE'::VARCHAR AND accounts.role = 'PUPIL'::VARCHAR"
)
"""The statement for PUPIL accounts (``_principal_stmt(Role.PUPIL)``)."""

PARENT = (
    "SELECT accounts.id, accounts.username, accounts.role, accounts.staff_id, accounts.pupil_id, accounts"
    ".contact_id, accounts.must_change_password, staff.pupil_access, staff.pupil_access_reason, coalesce("
    "staff.active, pupils.active, contacts.active, true::BOOLEAN) AS coalesce_1, CASE WHEN (accounts.role"
    " = 'PUPIL'::VARCHAR OR accounts.role = 'PARENT'::VARCHAR) THEN (SELECT array_agg(DISTINCT group_pupi"
    "ls.group_id) AS array_agg_1 \nFROM group_pupils JOIN groups ON groups.school_id = p_school_id::UUID A"
    "ND groups.id = group_pupils.group_id AND groups.active \nWHERE group_pupils.school_id = p_school_id::"
    "UUID AND (group_pupils.pupil_id = accounts.pupil_id OR group_pupils.pupil_id IN (SELECT pupil_contac"
    "ts.pupil_id \nFROM pupil_contacts \nWHERE pupil_contacts.school_id = p_school_id::UUID AND pupil_conta"
    "cts.contact_id = accounts.contact_id))) END AS anon_1, CASE WHEN (accounts.role = 'PARENT'::VARCHAR)"
    " THEN (SELECT array_agg(DISTINCT pupil_contacts.pupil_id) AS array_agg_2 \nFROM pupil_contacts \nWHERE"
    " pupil_contacts.school_id = p_school_id::UUID AND pupil_contacts.contact_id = accounts.contact_id) E"
    "ND AS anon_2, CASE WHEN (accounts.role = 'PUPIL'::VARCHAR OR accounts.role = 'PARENT'::VARCHAR) THEN"
    " (SELECT array_agg(DISTINCT group_teachers.staff_id) AS array_agg_3 \nFROM group_pupils JOIN groups O"
    "N groups.school_id = p_school_id::UUID AND groups.id = group_pupils.group_id AND groups.active JOIN "
    "group_teachers ON group_teachers.school_id = p_school_id::UUID AND group_teachers.group_id = group_p"
    "upils.group_id \nWHERE group_pupils.school_id = p_school_id::UUID AND (group_pupils.pupil_id = accoun"
    "ts.pupil_id OR group_pupils.pupil_id IN (SELECT pupil_contacts.pupil_id \nFROM pupil_contacts \nWHERE "
    "pupil_contacts.school_id = p_school_id::UUID AND pupil_contacts.contact_id = accounts.contact_id))) "
    "END AS anon_3, false AS anon_4, EXISTS (SELECT super_users.account_id \nFROM super_users \nWHERE super"
    "_users.school_id = p_school_id::UUID AND super_users.account_id = accounts.id) AS anon_5, EXISTS (SE"
    "LECT policy_documents_1.id \nFROM policy_documents AS policy_documents_1 \nWHERE policy_documents_1.ki"
    "nd = 'LICENCE_TERMS'::VARCHAR AND policy_documents_1.effective_from <= p_now::TIMESTAMP WITH TIME ZO"
    "NE AND NOT (EXISTS (SELECT policy_documents_2.id \nFROM policy_documents AS policy_documents_2 \nWHERE"
    " policy_documents_2.kind = policy_documents_1.kind AND policy_documents_2.effective_from <= p_now::T"
    "IMESTAMP WITH TIME ZONE AND (policy_documents_2.effective_from > policy_documents_1.effective_from O"
    "R policy_documents_2.effective_from = policy_documents_1.effective_from AND policy_documents_2.publi"
    "shed_at > policy_documents_1.published_at))) AND NOT (EXISTS (SELECT document_acceptances.id \nFROM d"
    "ocument_acceptances \nWHERE document_acceptances.school_id = p_school_id::UUID AND document_acceptanc"
    "es.document_id = policy_documents_1.id))) AS anon_6, EXISTS (SELECT policy_documents_3.id \nFROM poli"
    "cy_documents AS policy_documents_3 \nWHERE (policy_documents_3.kind = 'PRIVACY_NOTICE'::VARCHAR OR po"
    "licy_documents_3.kind = 'ACCEPTABLE_USE'::VARCHAR) AND policy_documents_3.effective_from <= p_now::T"
    "IMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT policy_documents_4.id \nFROM policy_documents AS poli"
    "cy_documents_4 \nWHERE policy_documents_4.kind = policy_documents_3.kind AND policy_documents_4.effec"
    "tive_from <= p_now::TIMESTAMP WITH TIME ZONE AND (policy_documents_4.effective_from > policy_documen"
    "ts_3.effective_from OR policy_documents_4.effective_from = policy_documents_3.effective_from AND pol"
    "icy_documents_4.published_at > policy_documents_3.published_at))) AND NOT (EXISTS (SELECT document_a"
    "cceptances.id \nFROM document_acceptances \nWHERE document_acceptances.school_id = p_school_id::UUID A"
    "ND document_acceptances.document_id = policy_documents_3.id AND document_acceptances.account_id = ac"
    "counts.id AND document_acceptances.on_behalf_of_pupil_id IS NULL))) AS anon_7, EXISTS (SELECT policy"
    "_documents_5.id \nFROM policy_documents AS policy_documents_5 \nWHERE policy_documents_5.kind = 'LRS_A"
    "GREEMENT'::VARCHAR AND policy_documents_5.effective_from <= p_now::TIMESTAMP WITH TIME ZONE AND NOT "
    "(EXISTS (SELECT policy_documents_6.id \nFROM policy_documents AS policy_documents_6 \nWHERE policy_doc"
    "uments_6.kind = policy_documents_5.kind AND policy_documents_6.effective_from <= p_now::TIMESTAMP WI"
    "TH TIME ZONE AND (policy_documents_6.effective_from > policy_documents_5.effective_from OR policy_do"
    "cuments_6.effective_from = policy_documents_5.effective_from AND policy_documents_6.published_at > p"
    "olicy_documents_5.published_at))) AND NOT (EXISTS (SELECT document_acceptances.id \nFROM document_acc"
    "eptances \nWHERE document_acceptances.school_id = p_school_id::UUID AND document_acceptances.document"
    "_id = policy_documents_5.id AND document_acceptances.account_id = accounts.id AND document_acceptanc"
    "es.on_behalf_of_pupil_id IS NULL))) AS anon_8 \nFROM accounts JOIN auth_sessions ON auth_sessions.sch"
    "ool_id = p_school_id::UUID AND auth_sessions.account_id = accounts.id LEFT OUTER JOIN staff ON staff"
    ".school_id = p_school_id::UUID AND staff.id = accounts.staff_id LEFT OUTER JOIN pupils ON pupils.sch"
    "ool_id = p_school_id::UUID AND pupils.id = accounts.pupil_id LEFT OUTER JOIN contacts ON contacts.sc"
    "hool_id = p_school_id::UUID AND contacts.id = accounts.contact_id \nWHERE accounts.school_id = p_scho"
    "ol_id::UUID AND accounts.id = p_account_id::UUID AND auth_sessions.id = p_session_id::UUID AND auth_"
    "sessions.revoked_at IS NULL AND auth_sessions.expires_at > p_now::TIMESTAMP WITH TIME ZONE AND accou"
    "nts.status = 'ACTIVE'::VARCHAR AND accounts.role = 'PARENT'::VARCHAR"
)
"""The statement for PARENT accounts (``_principal_stmt(Role.PARENT)``)."""

ARGUMENTS = "p_school_id uuid, p_account_id uuid, p_session_id uuid, p_now timestamptz, p_born_after date, p_role text, p_slug text"
"""The function's arguments (at revision 0029)."""

PREVIOUS_ARGUMENTS = (
    "boolean, text, text, uuid, text, text, text, text, text, boolean, text, timestamptz, text, text, text, date, "
    "text, text, uuid, uuid, text, text"
)
"""0024's signature, dropped here."""

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


def _by_role() -> str:
    """``IF p_role = ... ELSIF ...``: each role's statement, its row (if any) returned."""
    branches = []
    for keyword, (role, statement) in zip(
        ("IF", "ELSIF", "ELSIF", "ELSIF"),
        (("SCHOOL_ADMIN", SCHOOL_ADMIN), ("STAFF", STAFF), ("PUPIL", PUPIL), ("PARENT", PARENT)),
        strict=True,
    ):
        branches.append(
            f"""
            {keyword} p_role = '{role}' THEN
                RETURN QUERY SELECT {_TENANT}, {_CAST} FROM (
{statement}
                ) AS p ({_NAMES});
                answered := FOUND;"""  # noqa: S608 - the migration's own constants
        )
    return "".join(branches) + "\n            END IF;"


def upgrade() -> None:
    op.execute(f"DROP FUNCTION app_enter_school({PREVIOUS_ARGUMENTS})")
    op.execute(
        f"""
        CREATE FUNCTION app_enter_school({ARGUMENTS})
        RETURNS TABLE ({TENANT_COLUMNS}, {PRINCIPAL_COLUMNS})
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
                RETURN QUERY SELECT {_TENANT}, {_NULLS};
                RETURN;
            END IF;{_by_role()}
            IF NOT answered THEN
                RETURN QUERY SELECT {_TENANT}, {_CAST}
                FROM (SELECT 1) AS one LEFT JOIN (
{EVERY_ROLE}
                ) AS p ({_NAMES}) ON true;
            END IF;
        END
        $function$
        """  # noqa: S608 - the migration's own constants
    )


def downgrade() -> None:
    op.execute(f"DROP FUNCTION app_enter_school({ARGUMENTS})")
    path = Path(__file__).with_name("0024_enter_school_with_the_principal.py")
    spec = importlib.util.spec_from_file_location("enter_school_0024", path)
    assert spec is not None and spec.loader is not None
    previous = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(previous)
    previous.upgrade()
