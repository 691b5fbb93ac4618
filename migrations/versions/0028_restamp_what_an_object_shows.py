"""A person's or class's change version moves whenever anything its OneRoster object shows changes, not only
its own row (issue 14; docs/adr/0017 "Change feed").

Migrations 0011-0017 stamp ``changed_version`` on a fed row's own insert and update. But a ``users`` object
also shows rows of other tables, and a write to one of those alone left the person's version as it was, so
a partner syncing by the change feed never heard of it:

* its ``username``: the person's account (``accounts``: made, renamed, moved to another person, deleted);
* its ``agents`` and a contact's ``role``: the links (``pupil_contacts``: linked, unlinked, the
  relationship changed) and the other end's sourcedId and status (a pupil's or contact's ``source_id``
  or ``active``: every person linked to it shows it);
* its ``orgs``: the school's org (``roster_sources``), which every person and class shows.

A ``classes`` object shows its ``terms`` (``group_terms``, and a term's ``source_id`` and ``active``) and the
org. Each of those writes now restamps the rows whose objects show it, in the writer's transaction, by
triggers (so no write path can forget, as with the stamp itself): an ``UPDATE`` of the shown row's
``changed_version``, which ``stamp_change_version()`` sets to the writer's version. A row this transaction
already stamped (a person imported with its account and links) is not written again. A linking table's
inserts and deletes are restamped set-wise, once per statement from its transition table (an import
writes thousands of links in one statement; a trigger per row cost 11-16 us a row); its updates, the
other ends' and the org's by row triggers that fire only when something shown changed.

The restamp sets only the version: ``dateLastModified`` is still the row's own ``updated_at`` (the
application's clock), so a consumer filtering ``dateLastModified`` sees a person's own writes and the
change feed sees everything its object shows.

On Citus each trigger fires on the shard of the row written, and its ``UPDATE`` filters the same school, so
it stays within the school's shard group (ADR 19); a linking table's inserts and deletes are restamped by
the row trigger there (Citus cannot plan a transition table in a query of a distributed table).

Revision ID: 0028
Revises: 0027
"""

from collections.abc import Sequence

from alembic import op

from migrations import changes, citus

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PERSONS = ("staff", "pupils", "contacts")

LINKS = (
    ("accounts", ("username",), (("staff", "staff_id"), ("pupils", "pupil_id"), ("contacts", "contact_id"))),
    ("pupil_contacts", ("relationship",), (("pupils", "pupil_id"), ("contacts", "contact_id"))),
    ("group_terms", (), (("groups", "group_id"),)),
)
"""Tables whose rows an object shows through a link: (table, the columns shown besides the links, the
rows it points at: (fed table, link column)). An account shows its person's username; a link between a
pupil and a contact shows in both (and its relationship in the contact's role); a class's term link in
the class."""


def _function(name: str, body: str, version: str, declare: str = "") -> None:
    op.execute(
        f"""
        CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            version bigint := {version};
            {declare}
        BEGIN
            {body}
            RETURN NULL;
        END
        $$"""
    )


def _restamp_set(target: str, column: str) -> str:
    """PL/pgSQL restamping the ``target`` rows that the statement's rows (``changed``) point at by
    ``column``; a row this transaction stamped already is not written again."""
    return (
        f'UPDATE "{target}" AS t SET changed_version = version FROM changed AS c '  # noqa: S608 - own names
        f"WHERE t.school_id = c.school_id AND t.id = c.{column} AND t.changed_version <> version;"
    )


def _restamp_row(target: str, row_id: str, school: str) -> str:
    """PL/pgSQL restamping the ``target`` row of id ``row_id`` (an expression; none when NULL)."""
    return (
        f'UPDATE "{target}" SET changed_version = version '  # noqa: S608 - the migration's own names
        f"WHERE school_id = {school} AND id = {row_id} AND changed_version <> version;"
    )


def _links(version: str) -> None:
    """Per linking table: the rows its inserts and deletes point at, restamped set-wise once per statement
    (an import writes thousands in one; a transition table cannot be given to a trigger of two events),
    and those its updates point at, before and after, by a row trigger that fires only when a link or a
    shown column changed. On Citus, whose planner cannot read a transition table in a query of a
    distributed table ("unrecognized RTE kind"), inserts and deletes by the row trigger too."""
    for table, shown, targets in LINKS:
        _function(
            f"restamp_from_{table}_row",
            "".join(
                _restamp_row(target, f"{row}.{column}", f"{row}.school_id")
                for row in ("OLD", "NEW")  # NULL in an insert's and a delete's trigger respectively
                for target, column in targets
            ),
            version,
        )
        set_wise = not citus.installed()
        if set_wise:
            _function(
                f"restamp_from_{table}",
                "".join(_restamp_set(target, column) for target, column in targets),
                version,
            )
        for event, transition in (("INSERT", "NEW"), ("DELETE", "OLD")):
            each = (
                f"REFERENCING {transition} TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION restamp_from_{table}()"
                if set_wise
                else f"FOR EACH ROW EXECUTE FUNCTION restamp_from_{table}_row()"
            )
            op.execute(f'CREATE TRIGGER restamp_on_{event.lower()} AFTER {event} ON "{table}" {each}')
        columns = [*shown, *(column for _, column in targets)]
        old, new = (", ".join(f"{row}.{c}" for c in columns) for row in ("OLD", "NEW"))
        op.execute(
            f'CREATE TRIGGER restamp_on_update AFTER UPDATE OF {", ".join(columns)} ON "{table}" '
            f"FOR EACH ROW WHEN (({old}) IS DISTINCT FROM ({new})) "
            f"EXECUTE FUNCTION restamp_from_{table}_row()"
        )


def upgrade() -> None:
    citus.allow_triggers()
    version = changes.current_version_sql()
    _links(version)

    # A pupil's or contact's sourcedId or status -> every person linked to it (their agents show it).
    for table, own, other, other_table in (
        ("pupils", "pupil_id", "contact_id", "contacts"),
        ("contacts", "contact_id", "pupil_id", "pupils"),
    ):
        _function(
            f"restamp_{other_table}_linked",
            f"""
            UPDATE "{other_table}" AS o SET changed_version = version
            FROM pupil_contacts AS l
            WHERE l.school_id = NEW.school_id AND l.{own} = NEW.id
              AND o.school_id = NEW.school_id AND o.id = l.{other} AND o.changed_version <> version;""",  # noqa: S608
            version,
        )
        op.execute(
            f'CREATE TRIGGER restamp_linked AFTER UPDATE OF source_id, active ON "{table}" FOR EACH ROW '
            "WHEN ((OLD.source_id, OLD.active) IS DISTINCT FROM (NEW.source_id, NEW.active)) "
            f"EXECUTE FUNCTION restamp_{other_table}_linked()"
        )

    # A term's sourcedId or status -> every class in it.
    _function(
        "restamp_term_classes",
        """
            UPDATE groups AS g SET changed_version = version
            FROM group_terms AS t
            WHERE t.school_id = NEW.school_id AND t.term_id = NEW.id
              AND g.school_id = NEW.school_id AND g.id = t.group_id AND g.changed_version <> version;""",
        version,
    )
    op.execute(
        "CREATE TRIGGER restamp_classes AFTER UPDATE OF source_id, active ON terms FOR EACH ROW "
        "WHEN ((OLD.source_id, OLD.active) IS DISTINCT FROM (NEW.source_id, NEW.active)) "
        "EXECUTE FUNCTION restamp_term_classes()"
    )

    # roster_sources -> every person and class of the school (their org).
    _function(
        "restamp_school_rows",
        "".join(
            f'UPDATE "{table}" SET changed_version = version '  # noqa: S608 - the migration's own names
            "WHERE school_id = school AND changed_version <> version;"
            for table in (*PERSONS, "groups")
        ),
        version,
        "school uuid := CASE WHEN TG_OP = 'DELETE' THEN OLD.school_id ELSE NEW.school_id END;",
    )
    for event, when in (
        ("INSERT OR DELETE", ""),
        ("UPDATE OF org_sourced_id", "WHEN (OLD.org_sourced_id IS DISTINCT FROM NEW.org_sourced_id) "),
    ):
        op.execute(
            f"CREATE TRIGGER restamp_school_{event.split()[0].lower()} AFTER {event} ON roster_sources "
            f"FOR EACH ROW {when}EXECUTE FUNCTION restamp_school_rows()"
        )


TRIGGERS = (
    *(
        (trigger, table)
        for table, _, _ in LINKS
        for trigger in ("restamp_on_insert", "restamp_on_delete", "restamp_on_update")
    ),
    ("restamp_linked", "pupils"),
    ("restamp_linked", "contacts"),
    ("restamp_classes", "terms"),
    ("restamp_school_insert", "roster_sources"),
    ("restamp_school_update", "roster_sources"),
)
FUNCTIONS = (
    *(f"restamp_from_{table}{row}" for table, _, _ in LINKS for row in ("", "_row")),
    "restamp_contacts_linked",
    "restamp_pupils_linked",
    "restamp_term_classes",
    "restamp_school_rows",
)


def downgrade() -> None:
    citus.allow_triggers()
    for trigger, table in TRIGGERS:
        op.execute(f'DROP TRIGGER {trigger} ON "{table}"')
    for function in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {function}()")  # (the set-wise ones: not on Citus)
