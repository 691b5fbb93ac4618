"""The request body's nesting limit: a body with no more opening brackets than the limit is not walked
(``server.body.parse_json``), which must never let a value nested deeper through, nor refuse one that is
not (the limit itself is tested over HTTP in tests/test_hostile_input.py)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.body import check_depth, parse_json
from server.errors import RequestError

_LEAVES = st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(alphabet='{[]}ab"\\', max_size=4)
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet="{[ab", max_size=3), inner, max_size=3)
    ),
    max_leaves=12,
)


def _refused(call: Any) -> bool:
    try:
        call()
    except RequestError as error:
        assert error.code == "JSON_TOO_DEEP"
        return True
    return False


@settings(max_examples=400, deadline=None)
@given(value=_VALUES, max_depth=st.integers(min_value=1, max_value=6), as_text=st.booleans())
def test_a_body_is_refused_exactly_when_it_nests_deeper_than_the_limit(
    value: Any, max_depth: int, as_text: bool
) -> None:
    body = orjson.dumps(value)
    walked = _refused(lambda: check_depth(value, max_depth, "The body"))
    parsed = _refused(lambda: parse_json(body.decode() if as_text else body, max_depth, "The body"))
    assert parsed == walked


@pytest.mark.parametrize("depth", [3, 4, 5])
def test_the_limit_is_the_depth_itself(depth: int) -> None:
    body = b"[" * 4 + b"]" * 4
    assert _refused(lambda: parse_json(body, depth, "The body")) == (depth < 4)
