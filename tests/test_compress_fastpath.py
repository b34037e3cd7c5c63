"""Compress's fast path for a client that accepts a coding: a response is
decided from its headers without an Exchange, and handed to one only when
it may be compressed or the app does something unusual. Every app here runs
both through Compress and through the exchange alone (what Compress did
for every such response before), and the server must see the same."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from wsgimw import Compress
from wsgimw import compress as compress_module
from wsgimw._response import BodyFilter
from wsgimw.compress import _Compressing
from wsgimw.testing import make_environ
from wsgimw.types import Environ, ExcInfo, Headers, StartResponse, WSGIApp

# The responses an app may start, by number.
RESPONSES: list[tuple[str, Headers]] = [
    ("200 OK", [("Content-Type", "text/html")]),  # may be compressed
    ("200 OK", [("Content-Type", "text/html"), ("Content-Length", "13")]),  # short
    ("200 OK", [("Content-Type", "image/png")]),
    ("304 Not Modified", [("ETag", '"abc"')]),
    ("500 Internal Server Error", [("Content-Type", "text/html"), ("Vary", "Origin")]),
    ("200 OK", [("content-type", "text/plain"), ("Content-Length", "0600")]),
    ("200 OK", [("Content-Type", "text/css"), ("Vary", "Origin"), ("vary", "Cookie")]),
]
CHUNK = b"<p>a body that is long enough to be worth compressing</p>" * 12

# What an app does: ("start", response, with exc_info), ("write", data),
# ("raise",). In the call, or at the first next() of a generator body.
Step = tuple[Any, ...]


def _run_steps(steps: list[Step], start_response: StartResponse) -> None:
    for step in steps:
        if step[0] == "start":
            status, headers = RESPONSES[step[1]]
            if step[2]:
                try:
                    raise RuntimeError("replaced")
                except RuntimeError:
                    start_response(status, list(headers), sys.exc_info())
            else:
                start_response(status, list(headers))
        elif step[0] == "write":
            # The write() of the latest start_response: call it again.
            start_response.__self__.writes(step[1])  # type: ignore[attr-defined]
        elif step[0] == "write with the first":
            # The write() of the first start_response, kept by the app.
            start_response.__self__.writes(step[1], first=True)  # type: ignore[attr-defined]
        else:
            raise RuntimeError("the app failed")


class _App:
    """A scripted app: steps in the call, then a list or a generator body."""

    def __init__(
        self, call: list[Step], lazy: list[Step], style: str, chunks: int
    ) -> None:
        self.call, self.lazy, self.style, self.chunks = call, lazy, style, chunks
        self.returned: object = None

    def __call__(self, environ: Environ, start_response: StartResponse) -> Any:
        recorder = _Writes(start_response)
        _run_steps(self.call, recorder.start_response)
        body: Iterable[bytes]
        if self.style == "list":
            body = [CHUNK] * self.chunks
        else:
            body = self._generate(recorder)
        self.returned = body
        return body

    def _generate(self, recorder: _Writes) -> Iterator[bytes]:
        _run_steps(self.lazy, recorder.start_response)
        for _ in range(self.chunks):
            yield CHUNK


class _Writes:
    """Keeps the write() each start_response returned, for write steps."""

    def __init__(self, start_response: StartResponse) -> None:
        self._start_response = start_response
        self._write: Callable[[bytes], object] | None = None
        self._first: Callable[[bytes], object] | None = None

    def start_response(
        self, status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        if exc_info is None:
            self._write = self._start_response(status, headers)
        else:
            self._write = self._start_response(status, headers, exc_info)
        self._first = self._first or self._write
        return self._write

    def writes(self, data: bytes, first: bool = False) -> None:
        write = self._first if first else self._write
        if write is not None:
            write(data)


def _serve(app: WSGIApp, script: _App, environ: Environ) -> list[object]:
    """Play a strict server; return everything it saw, in order."""
    seen: list[object] = []
    sent = False

    def write(data: bytes) -> None:
        nonlocal sent
        sent = sent or bool(data)
        seen.append(("write", data))

    def start_response(
        status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        seen.append(("start", status, list(headers), exc_info is not None))
        if exc_info is not None and sent:
            raise exc_info[1].with_traceback(None)  # type: ignore[union-attr]
        return write

    try:
        body = app(environ, start_response)
    except Exception as error:
        seen.append(("raised", type(error).__name__, str(error)))
        return seen
    seen.append(("own iterable", body is script.returned))
    try:
        for chunk in body:
            sent = sent or bool(chunk)
            seen.append(("chunk", chunk))
    except Exception as error:
        seen.append(("raised in body", type(error).__name__, str(error)))
    close = getattr(body, "close", None)
    if close is not None:
        close()
    return seen


class _DecidingEarly(_Compressing):
    """The exchange as Compress used it for every request with a coding,
    before `_Deciding`: it settled what the headers settle in
    on_start_early."""

    def on_start_early(
        self, status: str, headers: Headers
    ) -> tuple[str, Headers, BodyFilter | None] | None:
        compress = self._compress
        if compress.eligible(status, headers):
            return None
        headers = compress.not_modified(status, headers, self._coding, self._validator)
        return status, headers, None


def _through_the_exchange(compress: Compress, app: WSGIApp) -> WSGIApp:
    """What Compress did for every request with a coding: an Exchange."""

    def exchange_app(environ: Environ, start_response: StartResponse) -> Any:
        validator = environ.get("HTTP_IF_NONE_MATCH", "")
        return _DecidingEarly(
            environ, start_response, compress, "gzip", validator
        ).respond(app)

    return exchange_app


def _same_as_the_exchange(
    call: list[Step],
    lazy: list[Step],
    style: str,
    chunks: int,
    method: str,
    if_none_match: str | None,
) -> list[object]:
    headers = {"Accept-Encoding": "gzip"}
    if if_none_match is not None:
        headers["If-None-Match"] = if_none_match
    compress = Compress()
    seen = []
    for wrap in (compress, lambda app: _through_the_exchange(compress, app)):
        script = _App(call, lazy, style, chunks)
        environ = make_environ(method=method, headers=headers)
        seen.append(_serve(wrap(script), script, environ))
    assert seen[0] == seen[1]
    return seen[0]


_STEP = st.one_of(
    st.tuples(st.just("start"), st.integers(0, len(RESPONSES) - 1), st.booleans()),
    st.tuples(
        st.sampled_from(["write", "write with the first"]),
        st.sampled_from([b"", CHUNK]),
    ),
    st.tuples(st.just("raise")),
)


@settings(max_examples=400, deadline=None)
@given(
    call=st.lists(_STEP, max_size=4),
    lazy=st.lists(_STEP, max_size=3),
    style=st.sampled_from(["list", "generator"]),
    chunks=st.integers(0, 2),
    method=st.sampled_from(["GET", "HEAD"]),
    if_none_match=st.sampled_from([None, 'W/"abc"', '"abc"']),
)
@example([("start", 2, False)], [], "list", 1, "GET", None)  # left alone
@example([("start", 0, False)], [], "list", 1, "GET", None)  # compressed
@example([], [("start", 0, False)], "generator", 2, "GET", None)  # lazy
@example([("start", 0, False), ("write", CHUNK)], [], "list", 1, "GET", None)
@example([("start", 0, False), ("write", b"")], [], "list", 0, "GET", None)
@example([("start", 2, False), ("write", CHUNK)], [], "list", 0, "GET", None)
@example([("start", 2, False), ("write", b"")], [], "list", 0, "GET", None)
@example([("start", 2, False), ("start", 0, True)], [], "list", 1, "GET", None)
@example([("start", 2, False), ("start", 2, True)], [], "list", 1, "GET", None)
@example([("start", 2, False), ("start", 0, True)], [], "list", 1, "HEAD", None)
@example(
    [("start", 2, False), ("start", 1, True), ("start", 0, True)],
    [],
    "list",
    1,
    "GET",
    None,
)
@example([("start", 0, False), ("start", 2, True)], [], "list", 1, "GET", None)
@example([("start", 0, False), ("start", 0, True)], [], "list", 1, "GET", None)
@example([("start", 2, False)], [("start", 0, True)], "generator", 1, "GET", None)
@example([("start", 2, False)], [("start", 0, False)], "generator", 1, "GET", None)
@example([("start", 0, False), ("start", 2, False)], [], "list", 1, "GET", None)
@example([("start", 2, False), ("start", 2, False)], [], "list", 1, "GET", None)
@example([("start", 3, False)], [], "list", 0, "GET", '"abc"')  # our 304
@example([("start", 3, False)], [], "list", 0, "GET", 'W/"abc"')
@example([("start", 0, False), ("raise",)], [], "list", 1, "GET", None)
@example([("start", 2, False), ("raise",)], [], "list", 1, "GET", None)
@example(
    [("start", 2, False), ("write", CHUNK), ("start", 0, True)],
    [],
    "list",
    1,
    "GET",
    None,
)
@example([("start", 5, False)], [], "list", 1, "GET", None)  # leading zero
@example([("start", 6, False)], [], "list", 1, "GET", None)  # two Vary headers
@example(  # the first write() kept, after a replacement the exchange passed on
    [("start", 2, False), ("start", 2, True)],
    [("start", 0, True), ("write with the first", b"")],
    "generator",
    0,
    "GET",
    None,
)
@example(  # a replacement once the server has the app's iterable
    [("start", 1, False)],
    [("start", 0, True), ("write", b"")],
    "generator",
    0,
    "GET",
    None,
)
def test_the_server_sees_what_the_exchange_alone_gives(
    call: list[Step],
    lazy: list[Step],
    style: str,
    chunks: int,
    method: str,
    if_none_match: str | None,
) -> None:
    _same_as_the_exchange(call, lazy, style, chunks, method, if_none_match)


def test_a_response_left_alone_makes_no_exchange(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object) -> None:
        raise AssertionError("an exchange was made")

    monkeypatch.setattr(_Compressing, "__init__", refuse)
    script = _App([("start", 2, False), ("write", CHUNK)], [], "list", 1)
    environ = make_environ(headers={"Accept-Encoding": "gzip"})
    seen = _serve(Compress()(script), script, environ)
    assert seen[:3] == [
        ("start", "200 OK", [("Content-Type", "image/png")], False),
        ("write", CHUNK),
        ("own iterable", True),
    ]


def test_a_second_replacement_after_a_handed_over_one_reaches_the_server() -> None:
    seen = _same_as_the_exchange(
        [("start", 2, False), ("start", 2, True), ("start", 1, True)],
        [],
        "list",
        1,
        "GET",
        None,
    )
    starts = [
        event for event in seen if isinstance(event, tuple) and event[0] == "start"
    ]
    assert [event[1] for event in starts] == [
        "200 OK",
        "200 OK",
        "200 OK",
    ]


# -- the header scan --------------------------------------------------------------


def _eligible_as_written_before(
    compress: Compress, minimum_size: int, status: str, headers: Headers
) -> bool:
    """Compress.eligible as it was written before the scan was cached."""
    code = status[:3]
    if code[0] in "13" or code in ("204", "206"):
        return False
    content_type = None
    for name, value in headers:
        lower = name.lower()
        if lower == "content-type":
            content_type = value
        elif lower == "content-encoding":
            return False
        elif lower == "content-length":
            if value.isascii() and value.isdigit() and int(value) < minimum_size:
                return False
        elif lower == "cache-control" and "no-transform" in value.lower():
            return False
    return content_type is not None and compress._type_matches(
        content_type.partition(";")[0].strip().lower()
    )


_LENGTHS = st.one_of(
    st.integers(0, 3000).map(str),
    st.integers(0, 3000).map(lambda n: f"00{n}"),
    st.sampled_from(["", "+12", "-1", "1e3", " 12", "١٣", "12a", "0", "00"]),
)


@given(
    status=st.sampled_from(
        [
            "200 OK",
            "204 No Content",
            "206 Partial",
            "304 Not Modified",
            "404 X",
            "101 S",
        ]
    ),
    content_type=st.sampled_from(["text/html", "image/png", "TEXT/CSS; x=y", ""]),
    name=st.sampled_from(["Content-Length", "content-length", "CONTENT-LENGTH"]),
    length=_LENGTHS,
    minimum_size=st.sampled_from([0, 1, 20, 500, 1024, 1025, 5000]),
)
def test_the_scan_decides_as_before(
    status: str, content_type: str, name: str, length: str, minimum_size: int
) -> None:
    compress = Compress(minimum_size=minimum_size)
    headers = [("Content-Type", content_type), (name, length)]
    assert compress.eligible(status, headers) == _eligible_as_written_before(
        compress, minimum_size, status, headers
    )


def test_the_caches_stop_growing_at_their_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(compress_module, "_CACHE_BOUND", 3)
    monkeypatch.setattr(compress_module, "_status_allows", {})
    monkeypatch.setattr(compress_module, "_deciding_name", {})
    compress = Compress(minimum_size=0)
    for number in range(10):
        headers = [(f"X-Name-{number}", "1"), ("Content-Type", f"text/x-{number}")]
        assert compress.eligible(f"20{number} Fine", headers) == (number not in (4, 6))
    assert len(compress_module._status_allows) == 3
    assert len(compress_module._deciding_name) == 3
    assert len(compress._wanted_types) == 3


def test_negotiated_codings_are_kept_for_short_values_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked = []

    def negotiate(accept: str, offers: tuple[str, ...]) -> str | None:
        asked.append(accept)
        return compress_module._negotiate(accept, offers)

    def server(status: str, headers: Headers, exc_info: object = None) -> Any:
        return lambda data: None

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "image/png")])
        return []

    monkeypatch.setattr(compress_module, "negotiate", negotiate)
    monkeypatch.setattr(compress_module, "_CACHED_VALUES", 2)
    compressed = Compress()(app)
    long_value = "gzip, " + "x" * 200
    values = ["gzip", "identity", "br", long_value]
    for accept in values + values:
        compressed(make_environ(headers={"Accept-Encoding": accept}), server)
    # Two kept (the bound), the long one never: it could fill memory.
    assert asked == ["gzip", "identity", "br", long_value, "br", long_value]
