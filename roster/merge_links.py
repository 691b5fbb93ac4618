"""Writing an import's links: memberships and teaching assignments (from enrollments), contacts' children
(from agents), classes' terms.

Each kind of link is computed once into PAIRS (roster/staging.py: the distinct pairs of ids the package
states, and in delta the ``ended`` ones it removes), then made so in the school's link table: new pairs
between active rows inserted, and removed what the package no longer states (bulk) or ends (delta).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, exists, func, insert, literal, select
from sqlalchemy.dialects.postgresql import distinct_on
from sqlmodel import col

from models import Contact, Group, Pupil, PupilContact
from models.roster import GroupTerm, Term
from roster import staging
from roster.merge_base import MergeState
from roster.reading import BULK, DELTA
from roster.records import PERSON_MODELS, active_row
from tenants.scoping import restrict, scoped_delete

PEOPLE = staging.PEOPLE
GROUPS = staging.GROUPS
ENROLLMENTS = staging.ENROLLMENTS
MATCH = staging.MATCH_PEOPLE
MATCH_GROUPS = staging.MATCH_GROUPS
MATCH_TERMS = staging.MATCH_TERMS
PAIRS = staging.PAIRS

RELATIONSHIPS = {"parent": "PARENT", "guardian": "GUARDIAN", "relative": "RELATIVE"}


class LinkSteps(MergeState):
    async def _clear_pairs(self) -> None:
        if self.pairs:
            await self._execute(PAIRS.delete())
            self.pairs = 0

    async def _fill_pairs(self, stated: Any, *, ended: bool = False, relationship: Any = None) -> None:
        """Add the distinct (a, b[, relationship]) rows of ``stated`` (a SELECT of two ids) to PAIRS."""
        columns = ["a", "b", "ended", *(["relationship"] if relationship is not None else [])]
        sub = stated.subquery()
        values = [sub.c[0], sub.c[1], literal(ended), *([sub.c[2]] if relationship is not None else [])]
        rows = select(*values).ext(distinct_on(sub.c[0], sub.c[1])).order_by(sub.c[0], sub.c[1], *values[3:])
        self.pairs += await self._rowcount(insert(PAIRS).from_select(columns, rows))

    async def _sync_links(
        self,
        entity: str,
        link: Any,
        a: Any,
        b: Any,
        models: tuple[Any, Any],
        *,
        snapshot: Any | None,
        relationship: bool = False,
    ) -> None:
        """Make the links ``link(a, b)`` what PAIRS says (filled by the caller; ``ended`` rows: delta removals).

        New pairs between active rows are inserted; in bulk (``snapshot``: which existing links the package
        speaks for) links it no longer states are deleted; in delta the ``ended`` pairs are.
        """
        counts, school = self.counts[entity], self.school_id
        await staging.analyze(self.session, [PAIRS] if self.pairs else [], self.routed)
        live = self._live_pairs(models)
        # Removals first: they then scan only the links there were, not the ones this step adds.
        if snapshot is not None:
            gone = and_(snapshot, ~exists().where(~PAIRS.c.ended, PAIRS.c.a == a, PAIRS.c.b == b))
        else:
            gone = exists().where(PAIRS.c.ended, PAIRS.c.a == a, PAIRS.c.b == b)
        counts.deactivate = await self._rowcount(scoped_delete(link, school).where(gone))
        present = exists(restrict(select(a).where(a == live.c.a, b == live.c.b), link, school))
        columns = ["school_id", a.key, b.key, *(["relationship"] if relationship else [])]
        values = [literal(school), live.c.a, live.c.b, *([live.c.relationship] if relationship else [])]
        if "created_at" in link.model_fields:
            columns.append("created_at")
            values.append(literal(self.now))
        # In primary-key order: the index (and the foreign keys' lookups) are written and read in sequence.
        key_order = [c.name for c in link.__table__.primary_key.columns if c.name != "school_id"]
        order = [live.c.a if name == a.key else live.c.b for name in key_order]
        # A plain INSERT (no ON CONFLICT: its speculative insertion costs per row): NOT EXISTS already leaves
        # out the links there are, and a concurrent import of the same school would fail this one whole. The
        # statement also counts the stated links (live is computed once: a CTE used twice is materialised).
        inserted = (
            insert(link)
            .from_select(columns, select(*values).where(~present).order_by(*order))
            .returning(a)
            .cte("inserted")
        )
        created, stated = (
            await self._execute(
                select(
                    select(func.count()).select_from(inserted).scalar_subquery(),
                    select(func.count()).select_from(live).scalar_subquery(),
                )
            )
        ).one()
        counts.create, counts.unchanged = int(created), int(stated) - int(created)

    def _live_pairs(self, models: tuple[Any, Any]) -> Any:
        """The stated (not ended) pairs of PAIRS whose two rows are active at this school, as a CTE."""
        a_model, b_model = models
        stated = select(PAIRS.c.a, PAIRS.c.b, PAIRS.c.relationship).where(
            ~PAIRS.c.ended,
            a_model.id == PAIRS.c.a,
            a_model.active,
            b_model.id == PAIRS.c.b,
            b_model.active,
        )
        return restrict(restrict(stated, a_model, self.school_id), b_model, self.school_id).cte("live")

    async def _links(self, link: Any, person_column: Any, kind: str, role: str, entity: str) -> None:
        """Memberships (pupils) or teaching assignments (staff) from enrollments."""
        mode = self.modes.enrollments
        if mode == "absent":
            return
        await self._clear_pairs()
        e, groups, people = ENROLLMENTS.c, MATCH_GROUPS.alias("mg"), MATCH.alias("mp")

        def pairs(*conditions: Any) -> Any:
            return select(groups.c.id, people.c.id).where(
                groups.c.sourced_id == e.group_sid,
                people.c.kind == kind,
                people.c.sourced_id == e.person_sid,
                e.role == role,
                *conditions,
            )

        await self._fill_pairs(pairs(active_row(ENROLLMENTS)))
        snapshot = None
        if mode == DELTA:
            await self._fill_pairs(pairs(e.status == "tobedeleted"), ended=True)
        else:
            groups_in_file = select(MATCH_GROUPS.c.id).where(MATCH_GROUPS.c.staged, MATCH_GROUPS.c.active_row)
            if self.modes.groups == "absent":
                groups_in_file = select(MATCH_GROUPS.c.id)
            people_in_file = select(MATCH.c.id).where(
                MATCH.c.kind == kind, MATCH.c.staged, MATCH.c.active_row
            )
            snapshot = and_(col(link.group_id).in_(groups_in_file), col(person_column).in_(people_in_file))
        await self._sync_links(
            entity, link, link.group_id, person_column, (Group, PERSON_MODELS[kind]), snapshot=snapshot
        )

    async def _contact_links(self) -> None:
        mode = self.modes.people["CONTACT"]
        if mode == "absent":
            return
        await self._clear_pairs()
        stated, relationship = _stated_contact_links()
        await self._fill_pairs(stated, relationship=relationship)
        snapshot = None
        if mode == BULK:
            contacts = select(MATCH.c.id).where(MATCH.c.kind == "CONTACT", MATCH.c.staged, MATCH.c.active_row)
            pupils = select(MATCH.c.id).where(MATCH.c.kind == "PUPIL", MATCH.c.staged, MATCH.c.active_row)
            snapshot = and_(
                col(PupilContact.contact_id).in_(contacts), col(PupilContact.pupil_id).in_(pupils)
            )
        await self._sync_links(
            "contactLinks",
            PupilContact,
            PupilContact.contact_id,
            PupilContact.pupil_id,
            (Contact, Pupil),
            snapshot=snapshot,
            relationship=True,
        )

    async def _group_terms(self) -> None:
        if self.modes.groups == "absent":
            return
        await self._clear_pairs()
        listed = (
            select(GROUPS.c.sourced_id, func.unnest(GROUPS.c.term_ids).label("term"))
            .where(active_row(GROUPS))
            .subquery("listed")
        )
        await self._fill_pairs(
            select(MATCH_GROUPS.c.id, MATCH_TERMS.c.id).where(
                MATCH_GROUPS.c.sourced_id == listed.c.sourced_id, MATCH_TERMS.c.sourced_id == listed.c.term
            )
        )
        snapshot = None
        if self.modes.groups == BULK:
            snapshot = col(GroupTerm.group_id).in_(
                select(MATCH_GROUPS.c.id).where(MATCH_GROUPS.c.staged, MATCH_GROUPS.c.active_row)
            )
        await self._sync_links(
            "groupTerms", GroupTerm, GroupTerm.group_id, GroupTerm.term_id, (Group, Term), snapshot=snapshot
        )


def _stated_contact_links() -> tuple[Any, Any]:
    """The (contact id, pupil id, relationship) links the package states, from either side's agents (a
    pupil's agents are its contacts, a contact's its children), and the relationship expression."""
    agents = (
        select(
            PEOPLE.c.kind,
            PEOPLE.c.sourced_id,
            PEOPLE.c.role,
            func.unnest(PEOPLE.c.agent_ids).label("agent"),
        )
        .where(PEOPLE.c.in_school, active_row(PEOPLE), PEOPLE.c.kind.in_(["PUPIL", "CONTACT"]))
        .subquery("agents")
    )
    owner, other = MATCH.alias("owner"), MATCH.alias("other")
    contact_row = PEOPLE.alias("contact_row")
    contact_role = func.coalesce(case((agents.c.kind == "CONTACT", agents.c.role)), contact_row.c.role)
    relationship = case(*((contact_role == r, v) for r, v in RELATIONSHIPS.items()), else_="PARENT")
    joined = (
        agents.join(owner, and_(owner.c.kind == agents.c.kind, owner.c.sourced_id == agents.c.sourced_id))
        .join(
            other,
            and_(
                other.c.sourced_id == agents.c.agent,
                other.c.kind == case((agents.c.kind == "CONTACT", "PUPIL"), else_="CONTACT"),
            ),
        )
        .outerjoin(
            contact_row,
            and_(
                agents.c.kind == "PUPIL",
                contact_row.c.kind == "CONTACT",
                contact_row.c.sourced_id == agents.c.agent,
                contact_row.c.in_school,
            ),
        )
    )
    stated = select(
        case((agents.c.kind == "CONTACT", owner.c.id), else_=other.c.id).label("contact_id"),
        case((agents.c.kind == "PUPIL", owner.c.id), else_=other.c.id).label("pupil_id"),
        relationship.label("relationship"),
    ).select_from(joined)
    return stated, relationship
