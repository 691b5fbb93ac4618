"""Building a request's DataLoaders: one batch call behind every nested list, within the caller's row scope.

Each domain declares its loaders in its own ``loaders.py`` as a small class made from the request's
session and caller (see :class:`graph.school.loaders.Loaders`, which owns them for one request). The
helpers here are the one way those classes make a loader, so every loader answers an anonymous caller
the same way: without a statement, with ``missing`` for every key.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from auth.principal import Principal

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Batch = Callable[[AsyncSession, Principal, Sequence[K]], Awaitable[Sequence[V]]]
"""A domain's batch read: one value per key, in the keys' order."""

Lookup = Callable[[AsyncSession, Principal, Sequence[K]], Awaitable[dict[K, V]]]
"""A domain's read by id: the rows found (within the caller's scope), keyed by id."""


def batch_loader(
    session: AsyncSession, principal: Principal | None, batch: Batch[K, V], *, missing: Callable[[], Any]
) -> DataLoader[K, Any]:
    """A loader over ``batch``; an anonymous caller gets ``missing()`` for each key and no statement."""

    async def load(keys: list[K]) -> Sequence[Any]:
        if principal is None:
            return [missing() for _ in keys]
        return await batch(session, principal, keys)

    return DataLoader(load_fn=load)


def lookup_loader(
    session: AsyncSession, principal: Principal | None, lookup: Lookup[K, V]
) -> DataLoader[K, V | None]:
    """A loader over ``lookup``: None for a key not found (or out of the caller's scope, or anonymous)."""

    async def load(keys: list[K]) -> list[V | None]:
        if principal is None:
            return [None for _ in keys]
        found = await lookup(session, principal, keys)
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)
