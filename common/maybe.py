"""Partial updates: :data:`UNSET` means "not given", ``None`` means "clear it"."""

from __future__ import annotations

from enum import Enum
from typing import Final, TypeAlias, TypeVar

T = TypeVar("T")


class Unset(Enum):
    """The type of :data:`UNSET`: an update field that was not given (as opposed to given as null)."""

    UNSET = "UNSET"


UNSET: Final = Unset.UNSET
Maybe: TypeAlias = T | Unset
