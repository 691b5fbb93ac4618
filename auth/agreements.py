"""Which documents a caller still has to accept (LL 21, LL 3.1, LRS 1.1), as SQL for the principal.

The rules are ``privacy.agreements``'s; their SQL is here because the principal (``auth.principal``, one
statement per request) asks them to refuse the request or the field, and ``auth`` sits below ``privacy``
(ADR 1), exactly as for consent at 13 (``auth.own_consent``).

* The *current* version of a kind is the newest whose ``effective_from`` has passed (:func:`current_document`).
  A kind never published binds nobody.
* ``terms_pending``: the school's Super-Users have not accepted the current licence terms.
* ``policies_pending``: the account has not accepted a current user policy (privacy notice, acceptable use).
  A pupil under 13 (on the school's date; or with no date of birth) does not accept: a parent, or a school
  admin from the parent's paper form, accepts on their behalf.
* ``lrs_pending``: the same, for the Learning Records Service user agreement.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select
from sqlalchemy.orm import aliased

from common.clock import school_today, years_before
from models import Account, Pupil
from models.agreements import LICENCE_TERMS, LRS_AGREEMENT, USER_POLICIES, DocumentAcceptance, PolicyDocument
from tenants.scoping import in_school

CONSENT_AGE = 13
"""Under this age a pupil's parent consents and accepts for them (LL 6.3.2); from it, the pupil (LL 6.3.3)."""


def born_after(now: datetime) -> date:
    """Pupils born after this date are under 13 on the school's date at ``now``."""
    return years_before(school_today(now), CONSENT_AGE)


def current_document(document: Any, now: Any) -> ColumnElement[bool]:
    """``document`` (the table or an alias) is the current version of its kind at ``now``."""
    newer = aliased(PolicyDocument)
    return and_(
        document.effective_from <= now,
        ~exists(
            select(newer.id).where(
                newer.kind == document.kind,
                newer.effective_from <= now,
                or_(
                    newer.effective_from > document.effective_from,
                    and_(
                        newer.effective_from == document.effective_from,
                        newer.published_at > document.published_at,
                    ),
                ),
            )
        ),
    )


def under_13(pupil_id: Any, school_id: Any, born_after: Any) -> ColumnElement[bool]:
    """The pupil was born after ``born_after`` (13 years before the school's date: under 13), or has no
    recorded date of birth."""
    born: Any = Pupil.date_of_birth
    return exists(
        select(Pupil.id)
        .where(in_school(Pupil, school_id), Pupil.id == pupil_id, or_(born.is_(None), born > born_after))
        .correlate_except(Pupil)  # the account (or pupil) asked about is the enclosing query's, at any depth
    )


def accepted_by(
    document_id: Any, school_id: Any, account_id: Any, pupil_id: Any, child: ColumnElement[bool]
) -> ColumnElement[bool]:
    """The account accepted the document itself, or (``child``: a pupil under 13) someone accepted it on the
    pupil's behalf."""
    for_child = exists(
        select(DocumentAcceptance.id)
        .where(
            in_school(DocumentAcceptance, school_id),
            DocumentAcceptance.document_id == document_id,
            DocumentAcceptance.on_behalf_of_pupil_id == pupil_id,
        )
        .correlate_except(DocumentAcceptance)
    )
    own = accepted_by_itself(document_id, school_id, account_id)
    return or_(and_(child, for_child), and_(~child, own))


def accepted_by_itself(document_id: Any, school_id: Any, account_id: Any) -> ColumnElement[bool]:
    """The account accepted the document itself (what :func:`accepted_by` asks of anyone but a pupil under
    13)."""
    return exists(
        select(DocumentAcceptance.id)
        .where(
            in_school(DocumentAcceptance, school_id),
            DocumentAcceptance.document_id == document_id,
            DocumentAcceptance.account_id == account_id,
            DocumentAcceptance.on_behalf_of_pupil_id.is_(None),  # type: ignore[union-attr]
        )
        .correlate_except(DocumentAcceptance)
    )


def _pending(
    kinds: tuple[str, ...], school_id: Any, account: Any, now: Any, born_after: Any, role: str | None
) -> ColumnElement[bool]:
    document = aliased(PolicyDocument)
    if role is None or role == "PUPIL":
        child = and_(account.role == "PUPIL", under_13(account.pupil_id, school_id, born_after))
        accepted = accepted_by(document.id, school_id, account.id, account.pupil_id, child)
    else:
        # An account known to be of another role is never a pupil under 13: what accepted_by asks of it.
        accepted = accepted_by_itself(document.id, school_id, account.id)
    return exists(
        select(document.id).where(
            # One equality per kind rather than an expanding IN: the principal's statement is then sent
            # exactly as compiled, with no per-request expansion of its parameters.
            or_(*(document.kind == kind for kind in kinds)),
            current_document(document, now),
            ~accepted,
        )
    )


def policies_pending(
    school_id: Any, now: Any, born_after: Any, account: Any = Account, role: str | None = None
) -> ColumnElement[bool]:
    """The account owes its acceptance of a current user policy (LL 3.1). ``role``: the account's role when
    the statement is only for accounts of that role (the principal's per-role statements), else None."""
    return _pending(USER_POLICIES, school_id, account, now, born_after, role)


def lrs_pending(
    school_id: Any, now: Any, born_after: Any, account: Any = Account, role: str | None = None
) -> ColumnElement[bool]:
    """The account has not accepted the current LRS user agreement (LRS 1.1): no ULN or learner record.
    ``role`` as for :func:`policies_pending`."""
    return _pending((LRS_AGREEMENT,), school_id, account, now, born_after, role)


def terms_pending(school_id: Any, now: Any) -> ColumnElement[bool]:
    """The school's Super-Users have not accepted the current licence terms (LL 21, LRS 3)."""
    document = aliased(PolicyDocument)
    return exists(
        select(document.id).where(
            document.kind == LICENCE_TERMS,
            current_document(document, now),
            ~exists(
                select(DocumentAcceptance.id).where(
                    in_school(DocumentAcceptance, school_id), DocumentAcceptance.document_id == document.id
                )
            ),
        )
    )
