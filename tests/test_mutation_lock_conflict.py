"""A mutation that PostgreSQL undoes for a deadlock with another transaction runs once more and succeeds
(graph.core.mutations.attempt). The case ADR 17 names: an admin links a parent to a pupil while another
transaction (an import deactivating that parent) holds the parent's row and then wants the pupil's. The
link's restamp trigger (migration 0028) has locked the pupil and waits for the parent: a deadlock, in which
PostgreSQL fails the mutation's statement. The admin's request must not fail for it."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from graph.core.relay import to_global_id
from tests.factories.schools import SchoolFactory, gql, login

LINK = (
    "mutation($i: LinkContactInput!) { linkContact(input: $i) "
    "{ pupil { contacts { id } } errors { code message } } }"
)

pytestmark = pytest.mark.plain_only(
    reason="Citus finds a deadlock between its nodes with its own detector, on its own timer"
)


async def _count(owner_engine: AsyncEngine, query: str) -> int:
    async with owner_engine.connect() as connection:
        return int(await connection.scalar(text(query)) or 0)


DEADLOCKS = "SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()"
LOCK_WAITERS = (
    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
)


async def test_a_link_chosen_as_a_deadlocks_victim_is_run_again_and_succeeds(
    factory: SchoolFactory, client: httpx.AsyncClient, owner_engine: AsyncEngine
) -> None:
    school = await factory.school()
    pupil, contact = school.pupils["pupil2"], school.contacts["parent1"]
    token = await login(client, school.slug, "admin")
    link = {"contactId": to_global_id("Contact", contact.id), "pupilId": to_global_id("Pupil", pupil.id)}
    deadlocks_before = await _count(owner_engine, DEADLOCKS)

    async with owner_engine.connect() as other:
        other_tx = await other.begin()
        # The other transaction waits longer than the server's default second before looking for a
        # deadlock, so that the mutation's backend finds it and is the one PostgreSQL fails.
        await other.execute(text("SET LOCAL deadlock_timeout = '20s'"))
        # It holds the parent's row, as an import deactivating that parent does...
        await other.execute(text("SELECT FROM contacts WHERE id = :id FOR NO KEY UPDATE"), {"id": contact.id})
        linking = asyncio.create_task(gql(client, school.slug, LINK, {"i": link}, token=token))
        for _ in range(200):  # ...until the link's trigger has locked the pupil and waits for the parent
            if await _count(owner_engine, LOCK_WAITERS) or linking.done():
                break
            await asyncio.sleep(0.05)
        assert not linking.done(), linking.result()
        # ...and then wants the pupil's row: each transaction now waits for the other.
        await other.execute(text("SELECT FROM pupils WHERE id = :id FOR NO KEY UPDATE"), {"id": pupil.id})
        # The mutation's statement failed and its savepoint let go of the pupil: the other transaction got
        # its row and ends; the mutation's second run then takes both rows.
        await other_tx.commit()
        body = await asyncio.wait_for(linking, 30)

    assert await _count(owner_engine, DEADLOCKS) == deadlocks_before + 1, (
        "the scenario must be a real deadlock"
    )
    assert "errors" not in body, body  # without the second run: INTERNAL_SERVER_ERROR, nothing linked
    payload = body["data"]["linkContact"]
    assert payload["errors"] == [], body
    assert to_global_id("Contact", contact.id) in [c["id"] for c in payload["pupil"]["contacts"]]
