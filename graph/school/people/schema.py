"""The people domain's part of the school schema: its queries, and its mutations from each module."""

from __future__ import annotations

import strawberry

from graph.school.people.mutations.contacts import ContactMutation
from graph.school.people.mutations.groups import GroupMutation
from graph.school.people.mutations.pupils import PupilMutation
from graph.school.people.mutations.staff import StaffMutation
from graph.school.people.queries import Query as PeopleQuery


@strawberry.type
class PeopleMutation(StaffMutation, PupilMutation, GroupMutation, ContactMutation):
    """School-admin mutations on people (LL 4.3, LL 11.1, LL-S1). Fields in the order of the bases: staff,
    pupils, groups, contacts.

    Thin: each resolver hands :func:`graph.core.mutations.mutate` the input's global ids and a call of
    :mod:`people.service` (run in a savepoint: a refused input writes nothing), and wraps the row it
    returns. In update inputs a field left out is not changed; a nullable field given as null is cleared.
    """


__all__ = ["PeopleMutation", "PeopleQuery"]
