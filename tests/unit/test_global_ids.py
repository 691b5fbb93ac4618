"""Global ids: ``to_global_id`` and ``from_global_id`` invert each other, and anything else decodes to
None, never an error, whether it is met for the first time or again (decoded ids are remembered)."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from graph.core.relay import from_global_id, to_global_id

_TYPES = st.sampled_from(["Pupil", "Group", "Ladder", "Rung", "PolicyDocument"])


@settings(max_examples=200, deadline=None)
@given(type_name=_TYPES, value=st.uuids())
def test_an_id_decodes_to_its_type_and_uuid_every_time(type_name: str, value: uuid.UUID) -> None:
    global_id = to_global_id(type_name, value)
    assert from_global_id(global_id) == (type_name, value)
    assert from_global_id(str(global_id)) == (type_name, value)  # again, and as a plain str


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=60))
def test_any_other_text_is_none_or_names_a_uuid(text: str) -> None:
    for _ in range(2):  # the first time and from memory
        decoded = from_global_id(text)
        assert decoded is None or isinstance(decoded[1], uuid.UUID)


def test_what_is_not_an_id_is_none() -> None:
    not_a_uuid = base64.urlsafe_b64encode(b"Pupil:not-a-uuid").decode().rstrip("=")
    unhashable: Any = ["Pupil"]
    for value in (not_a_uuid, "", "%%%", unhashable, None, 7):
        assert from_global_id(value) is None
        assert from_global_id(value) is None
