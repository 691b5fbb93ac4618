"""The OneRoster provider's Link header (server.oneroster_http._links): each URL is the request's own
without its query, then the request's parameters with ``limit`` and ``offset`` set, exactly as
``urlencode`` writes them (built with each other pair encoded once per page, not once per link)."""

from __future__ import annotations

from urllib.parse import urlencode

from hypothesis import given
from hypothesis import strategies as st
from starlette.requests import Request

from server.oneroster_http import _links

NAMES = st.sampled_from(["limit", "offset", "filter", "sort", "fields", "orderBy", "a b", "x&y=z"])
VALUES = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=12)


def _request(path: str, params: dict[str, str]) -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "scheme": "http",
        "server": ("bench", 80),
        "path": path,
        "raw_path": path.encode(),
        "query_string": urlencode(params).encode(),
        "headers": [(b"host", b"bench")],
    }
    return Request(scope)


def _expected(path: str, params: dict[str, str], offset: int, limit: int, total: int) -> str:
    def url(at: int) -> str:
        return f"http://bench{path}?{urlencode({**params, 'limit': str(limit), 'offset': str(at)})}"

    last = max(0, ((total - 1) // limit) * limit) if total else 0
    links = [f'<{url(offset + limit)}>; rel="next"'] if offset + limit < total else []
    if offset > 0:
        links.append(f'<{url(max(0, offset - limit))}>; rel="prev"')
    return ", ".join([*links, f'<{url(0)}>; rel="first"', f'<{url(last)}>; rel="last"'])


@given(
    params=st.dictionaries(NAMES, VALUES, max_size=5),
    offset=st.integers(0, 5000),
    limit=st.integers(1, 1000),
    total=st.integers(0, 10000),
)
def test_links_are_the_request_url_with_limit_and_offset_urlencoded(
    params: dict[str, str], offset: int, limit: int, total: int
) -> None:
    path = "/schools/oakfield-primary/ims/oneroster/v1p1/users"
    request = _request(path, params)
    assert _links(request, dict(request.query_params), offset, limit, total) == _expected(
        path, dict(request.query_params), offset, limit, total
    )
