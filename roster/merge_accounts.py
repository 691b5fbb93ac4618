"""The last step of an import: accounts. Leavers' accounts disabled with their sessions revoked at once
(LL 11.1); joiners' accounts created PENDING, without a password, for a school admin to activate (LL 11.3).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import exists, false, func, literal, select
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlmodel import col

from auth.service import set_account_status
from models import Account, Contact, Pupil, Staff
from roster import staging
from roster.merge_base import MergeState
from roster.records import ACCOUNT_PERSON, PERSON_MODELS, active_row
from tenants.scoping import restrict

PEOPLE = staging.PEOPLE
MATCH = staging.MATCH_PEOPLE
LEFT = staging.LEFT

ACCOUNT_ROLES = {"PUPIL": "PUPIL", "STAFF": "STAFF", "CONTACT": "PARENT"}
CHUNK = 5000
"""Accounts disabled per call (each call revokes their sessions too)."""


class AccountSteps(MergeState):
    async def _accounts(self) -> None:
        """Leavers' accounts disabled, sessions revoked (LL 11.1); joiners' accounts created PENDING (LL 11.3)."""
        counts = self.counts["accounts"]
        leavers = await self._leaver_accounts()
        for start in range(0, len(leavers), CHUNK):
            await set_account_status(
                self.session,
                self.school_id,
                leavers[start : start + CHUNK],
                status="DISABLED",
                reason=f"Left the school (roster import, {self.today}).",
                now=self.now,
            )
        counts.deactivate = len(leavers)
        for kind in PERSON_MODELS:
            counts.create += await self._rowcount(self._new_accounts(kind))

    async def _leaver_accounts(self) -> list[uuid.UUID]:
        """Accounts not yet disabled of the people this import touched who are now inactive (one join per
        kind of person)."""
        school = self.school_id
        touched = select(LEFT.c.id).union(select(MATCH.c.id).where(MATCH.c.staged)).subquery("touched")
        accounts: list[uuid.UUID] = []
        for column, model in (
            (Account.staff_id, Staff),
            (Account.pupil_id, Pupil),
            (Account.contact_id, Contact),
        ):
            stmt = select(Account.id).where(
                Account.status != "DISABLED",
                column == model.id,
                ~model.active,
                col(model.id).in_(select(touched.c.id)),
            )
            accounts.extend(
                (await self._execute(restrict(restrict(stmt, model, school), Account, school))).scalars()
            )
        return accounts

    def _new_accounts(self, kind: str) -> Any:
        """INSERT a PENDING account for each active person of this kind in the package that has a username
        and no account yet."""
        school, model, column = self.school_id, PERSON_MODELS[kind], ACCOUNT_PERSON[kind]
        has_account = exists(restrict(select(Account.id).where(column == MATCH.c.id), Account, school))
        values = {
            "school_id": literal(school),
            "id": func.gen_random_uuid(),
            "username": PEOPLE.c.username,
            "role": literal(ACCOUNT_ROLES[kind]),
            "status": literal("PENDING"),
            column.key: MATCH.c.id,
            "created_by": literal(self.importer_account_id, type_=UUID(as_uuid=True)),
            "created_at": literal(self.now),
            "must_change_password": false(),
            "failed_logins": literal(0),
        }
        rows = select(*values.values()).where(
            PEOPLE.c.in_school,
            PEOPLE.c.kind == kind,
            active_row(PEOPLE),
            PEOPLE.c.username.is_not(None),
            MATCH.c.kind == kind,
            MATCH.c.sourced_id == PEOPLE.c.sourced_id,
            model.id == MATCH.c.id,
            model.active,
            ~has_account,
        )
        return pg_insert(Account).from_select(list(values), restrict(rows, model, school))
