"""Fast paths written out for speed (issue 12) decide exactly as the general
code they shortcut: each is checked against it on generated input."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from wsgimw import Compress
from wsgimw.compress import _merge_vary
from wsgimw.types import Headers

_NAMES = st.sampled_from(
    [
        "Content-Type",
        "content-type",
        "Content-Length",
        "Content-Encoding",
        "Cache-Control",
        "Vary",
        "VARY",
        "ETag",
        "X-Other",
    ]
)
_VALUES = st.sampled_from(
    [
        "text/html; charset=utf-8",
        "image/png",
        "application/json",
        "12",
        "5000",
        "gzip",
        "no-transform",
        "public, max-age=60",
        "Accept-Encoding",
        "Origin",
        "*",
        "",
        "accept-encoding, cookie",
    ]
)
_STATUSES = st.sampled_from(
    [
        "200 OK",
        "404 Not Found",
        "204 No Content",
        "206 Partial Content",
        "304 Not Modified",
        "101 Switching Protocols",
        "500 Internal Server Error",
    ]
)


@given(
    status=_STATUSES,
    headers=st.lists(st.tuples(_NAMES, _VALUES), max_size=6),
    minimum_size=st.sampled_from([0, 20, 500]),
)
@example("200 OK", [("Content-Type", "text/html"), ("Content-Length", "12")], 500)
@example("200 OK", [("Content-Type", "text/html"), ("Vary", "Origin")], 0)
@example(
    "200 OK", [("Content-Type", "text/html"), ("Cache-Control", "no-transform")], 0
)
@example("200 OK", [("Content-Type", "text/html"), ("Content-Encoding", "br")], 0)
@example("200 OK", [("Content-Type", "image/png")], 0)
@example("200 OK", [("Content-Type", "text/html"), ("X-Other", "")], 0)
def test_compress_not_compressing_adds_vary_as_eligible_and_merge_vary_do(
    status: str, headers: Headers, minimum_size: int
) -> None:
    compress = Compress(minimum_size=minimum_size)
    expected = _merge_vary(headers) if compress.eligible(status, headers) else headers
    assert compress._vary_if_eligible(status, list(headers)) == (status, expected)
