"""Licences, the schools they cover, invoices and what non-payment does (LL 15).

* A licence renews every year on ``term_end`` unless cancelled in writing 90 days before (LL 15.1): the
  cancellation deadline is ``term_end - 90 days``.
* Price changes for the coming year are notified at least 30 days before that 90-day period begins
  (LL 15.2): the price-change notice is due ``term_end - 120 days``, and a new price set later is refused.
* An invoice unpaid after its due date ends access for every user of every school the licence covers
  (LL 15.4): the school is refused with reason ``LICENCE_UNPAID`` until the invoice is paid.

A school is covered by at most one licence on any day: a licence that would overlap another's cover of
the same school is refused. A school's access status is *derived* (:func:`refresh_school_status`) from its
suspension, its unpaid invoices and its termination, and cached on ``schools.status`` for the edge.

The package's modules, lowest first: ``terms`` (the dates and money of the terms, pure), ``covers``
(which licence covers which school), ``invoices`` (invoices, payments, the derived status), ``creation``
(a new licence) and ``renewal`` (cancellation, price changes, the yearly renewal and its notices).
Callers use the names below, as ``subscriptions.licences.<name>``.
"""

from __future__ import annotations

from subscriptions.licences.covers import (
    covered_school_ids,
    covers_of,
    current_licence,
    end_school_cover,
    licence_by_id,
    lock_schools,
)
from subscriptions.licences.creation import NewLicence, create_licence
from subscriptions.licences.invoices import (
    Payment,
    has_unpaid,
    invoice_state,
    issue_invoice,
    record_payment,
    refresh_school_status,
    settle_access,
    unpaid_condition,
)
from subscriptions.licences.renewal import (
    cancel,
    due_renewal,
    due_renewal_notice,
    notify_licensee,
    renew,
    send_renewal_notice,
    set_next_fee,
)
from subscriptions.licences.terms import (
    CURRENT_TERMS_VERSION,
    NOTICE_PERIOD,
    PAYMENT_TERMS,
    PRICE_NOTICE_LEAD,
    UNPAID,
    add_years,
    cancellation_deadline,
    cover_end,
    price_notice_due,
    terms_in_force,
)

__all__ = [
    "CURRENT_TERMS_VERSION",
    "NOTICE_PERIOD",
    "PAYMENT_TERMS",
    "PRICE_NOTICE_LEAD",
    "UNPAID",
    "NewLicence",
    "Payment",
    "add_years",
    "cancel",
    "cancellation_deadline",
    "cover_end",
    "covered_school_ids",
    "covers_of",
    "create_licence",
    "current_licence",
    "due_renewal",
    "due_renewal_notice",
    "end_school_cover",
    "has_unpaid",
    "invoice_state",
    "issue_invoice",
    "licence_by_id",
    "lock_schools",
    "notify_licensee",
    "price_notice_due",
    "record_payment",
    "refresh_school_status",
    "renew",
    "send_renewal_notice",
    "set_next_fee",
    "settle_access",
    "terms_in_force",
    "unpaid_condition",
]
