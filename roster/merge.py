"""Writing an import: set-based statements from the staging tables into the school's tables.

Order: which existing row each staged record is (:meth:`Merge.match`, temporary tables only), then terms,
groups, people (insert the new, update what differs, deactivate leavers), extended data, the links
(memberships, teaching assignments, contacts' children, classes' terms), and last the accounts (leavers'
disabled with their sessions revoked, joiners' created PENDING). Each statement is one INSERT ... SELECT or
UPDATE ... FROM over the staging tables, scoped to the school through tenants/scoping.py; each returns its
row count, which is the report's count, so a dry run (the same statements, rolled back) reports exactly
what a commit would do.

Rules the statements carry out (docs/roster-csv.md):

* A row is matched by its source id (``source_id``, or ``external_id`` for groups), or for a row made in
  schoolgraph by its own id (what the export writes); a pupil with no source id is adopted by UPN, a member
  of staff by work email, so the first import of a school that was set up by hand does not duplicate it.
* A blank value never clears a stored one (MIS exports often leave optional columns out).
* Bulk: records of the file's kind that came from the MIS (have a source id) and are missing from it are
  deactivated, never deleted; the links between records that are both in the file are made exactly what
  the file says. Delta: ``tobedeleted`` deactivates (or unlinks); nothing else is removed.
* A leaver's account is disabled and its sessions revoked at once (LL 11.1); their data stays.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from models import GroupPupil, GroupTeacher
from roster import staging
from roster.matching import MatchSteps
from roster.merge_accounts import AccountSteps
from roster.merge_base import ENTITIES, Counts
from roster.merge_links import LinkSteps
from roster.merge_records import RecordSteps
from roster.session_settings import analyze_written

__all__ = ["ENTITIES", "Counts", "Merge"]


RECORD_ENTITIES = ("terms", "groups", "staff", "pupils", "contacts", "extendedData")
"""The records, written before the links between them."""


@dataclass
class Merge(MatchSteps, RecordSteps, LinkSteps, AccountSteps):
    """One import's writes. :meth:`resolve_roles`, :meth:`apply_demographics` and :meth:`match` prepare
    (temporary tables only); :meth:`apply` writes, step by step, into :attr:`counts` and :attr:`timings`."""

    async def apply(self) -> None:
        links = (
            ("memberships", GroupPupil, GroupPupil.pupil_id, "PUPIL", "student"),
            ("teaching", GroupTeacher, GroupTeacher.staff_id, "STAFF", "teacher"),
        )
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("terms", self._terms),
            ("groups", self._groups),
            ("staff", lambda: self._people("STAFF")),
            ("pupils", lambda: self._people("PUPIL")),
            ("contacts", lambda: self._people("CONTACT")),
            ("extendedData", self._extended),
            *(
                (name, partial(self._links, link, column, kind, role, name))
                for name, link, column, kind, role in links
            ),
            ("contactLinks", self._contact_links),
            ("groupTerms", self._group_terms),
            ("accounts", self._accounts),
        ]
        # The match table each step adds its new rows to: later steps join it at its real size, so it is
        # analysed again once it has grown (people: after the last of the three kinds).
        grown: dict[str, tuple[Any, tuple[str, ...]]] = {
            "terms": (staging.MATCH_TERMS, ("terms",)),
            "groups": (staging.MATCH_GROUPS, ("groups",)),
            "contacts": (staging.MATCH_PEOPLE, ("staff", "pupils", "contacts")),
        }
        for name, step in steps:
            started = time.perf_counter()
            await step()
            if name in grown:
                table, entities = grown[name]
                if any(self.counts[entity].create for entity in entities):
                    await staging.analyze(self.session, [table], self.routed)
            if name == "extendedData" and self.analyse:
                # The links' writes check their foreign keys against the records just written: planned
                # on tables that know their real size they run several times faster (bench-roster: the
                # memberships 3.7 s -> 1.3 s, the contacts' links 3.9 s -> 0.4 s for 20,000 pupils).
                records = [e for e in RECORD_ENTITIES if self.counts[e].changes]
                await analyze_written(self.session, records)
                self.analysed.update(records)
            self.timings[f"write {name}"] = time.perf_counter() - started
