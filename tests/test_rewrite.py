"""Rewrite: header hook, per-chunk and buffered body transforms."""

from __future__ import annotations

import itertools
import logging
import sys
from collections.abc import Iterable, Iterator

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsgimw import Rewrite
from wsgimw.testing import (
    FAULTS,
    Fault,
    Lint,
    Result,
    ScriptedApp,
    call_app,
    check_fault,
)
from wsgimw.types import Environ, Headers, StartResponse, Write


def linted_call(app: ScriptedApp, rewrite: Rewrite, **options: object) -> Result:
    lint = Lint(above="the server", below="Rewrite")
    inner = Lint(above="Rewrite", below="the app")
    result = call_app(lint(rewrite(inner(app))), **options)  # type: ignore[arg-type]
    lint.verify()
    inner.verify()
    return result


def reverse_text() -> Rewrite:
    return Rewrite(text=lambda s: s[::-1], buffered=True, content_types=["text/plain"])


# -- headers -------------------------------------------------------------------


def test_header_hook_sees_a_copy_and_changes_the_response() -> None:
    app = ScriptedApp()
    original = list(app.headers)

    def hook(status: str, headers: Headers) -> tuple[str, Headers]:
        headers.append(("X-Frame-Options", "DENY"))
        return "201 Created", headers

    result = call_app(Rewrite(headers=hook)(app))
    assert result.status == "201 Created"
    assert result.header("X-Frame-Options") == "DENY"
    assert app.headers == original


def test_header_only_rewrite_passes_the_iterable_through() -> None:
    app = ScriptedApp()
    wrapped = Rewrite(headers=lambda s, h: (s, h))(app)
    iterable = wrapped(
        {"REQUEST_METHOD": "GET"}, lambda status, headers, exc_info=None: lambda d: None
    )
    assert iterable is app.last_iterable
    assert app.closes == 0


@pytest.mark.parametrize("with_body", [False, True], ids=["headers", "headers+body"])
def test_header_hook_sees_an_error_page_that_replaces_the_response(
    with_body: bool,
) -> None:
    # The app starts, returns its iterable (which Rewrite hands the server
    # untouched: plain text is not what the body transform is for), then
    # fails at the first next() and replaces the response with exc_info: the
    # hook, which sees every response, sees the error page's headers too.
    seen: list[str] = []

    def hook(status: str, headers: Headers) -> tuple[str, Headers]:
        seen.append(status)
        return status, [*headers, ("X-Hooked", "1")]

    def failing_body(start_response: StartResponse) -> Iterator[bytes]:
        try:
            raise RuntimeError("render failed")
        except RuntimeError:
            start_response(
                "500 Internal Server Error",
                [("Content-Type", "text/plain")],
                sys.exc_info(),
            )
        yield b"error page"

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return failing_body(start_response)

    rewrite = (
        Rewrite(headers=hook, body=bytes.upper, content_types=["text/html"])
        if with_body
        else Rewrite(headers=hook)
    )
    lint = Lint(above="the server", below="Rewrite")
    result = call_app(lint(rewrite(app)))
    lint.verify()
    assert seen == ["200 OK", "500 Internal Server Error"]
    assert result.status == "500 Internal Server Error"
    assert result.header("X-Hooked") == "1"
    assert result.body == b"error page"


def test_a_header_hook_and_a_body_transform_both_apply() -> None:
    def hook(status: str, headers: Headers) -> tuple[str, Headers]:
        return status, [*headers, ("X-Upper", "1")]

    result = linted_call(ScriptedApp(), Rewrite(headers=hook, body=bytes.upper))
    assert result.header("X-Upper") == "1"
    assert result.body == b"HELLO, WORLD!"


# -- body, per chunk -------------------------------------------------------------


def test_per_chunk_body_transform_streams_and_drops_content_length() -> None:
    app = ScriptedApp(chunks=[b"ab", b"cd"])
    result = call_app(Rewrite(body=bytes.upper)(app))
    assert result.chunks == [b"AB", b"CD"]
    assert result.header("Content-Length") is None
    assert app.closes == 1


def test_text_transform_survives_characters_split_across_chunks() -> None:
    data = "héllo wörld ✓".encode()
    chunks = [data[i : i + 1] for i in range(len(data))]  # every byte alone
    app = ScriptedApp(chunks=chunks)
    result = call_app(Rewrite(text=str.upper)(app))
    assert result.body.decode() == "HÉLLO WÖRLD ✓"
    assert len(result.chunks) <= len(chunks)


def test_text_transform_uses_the_declared_charset() -> None:
    body = "café".encode("latin-1")
    app = ScriptedApp(chunks=[body], content_type="text/plain; charset=ISO-8859-1")
    result = call_app(Rewrite(text=str.upper)(app))
    assert result.body == "CAFÉ".encode("latin-1")


def test_text_transform_keeps_undecodable_bytes() -> None:
    app = ScriptedApp(chunks=[b"ok \xff\xfe ok"])
    result = call_app(Rewrite(text=str.upper, buffered=True)(app))
    assert result.body == b"OK \xff\xfe OK"


def test_unknown_charset_is_left_alone(caplog: pytest.LogCaptureFixture) -> None:
    app = ScriptedApp(content_type="text/plain; charset=klingon")
    with caplog.at_level(logging.WARNING, logger="wsgimw.rewrite"):
        result = call_app(Rewrite(text=str.upper)(app))
    assert result.body == b"Hello, world!"
    assert result.header("Content-Length") == "13"
    assert "unknown charset 'klingon'" in caplog.text


@given(
    text=st.text(max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=240), max_size=8),
)
def test_streaming_text_equals_whole_text_for_any_chunking(
    text: str, cuts: list[int]
) -> None:
    data = text.encode()
    points = sorted({min(c, len(data)) for c in cuts} | {0, len(data)})
    chunks = [data[a:b] for a, b in itertools.pairwise(points)]
    app = ScriptedApp(chunks=chunks, content_length=False)
    result = call_app(Rewrite(text=str.swapcase)(app))
    assert result.body == text.swapcase().encode()


# -- body, buffered --------------------------------------------------------------


@pytest.mark.parametrize(
    "style", ["iter", "list", "lazy", "generator", "write", "mixed"]
)
def test_reverse_text_done_right(style: str) -> None:
    app = ScriptedApp(chunks=["héllo ".encode(), "wörld ✓".encode()], style=style)
    result = linted_call(app, reverse_text())
    assert result.body.decode() == "✓ dlröw olléh"
    assert result.header("Content-Length") == str(len(result.body))
    if style not in ("list", "generator"):
        assert app.closes == 1


def test_buffered_over_max_size_passes_unchanged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = ScriptedApp(chunks=[b"x" * 10, b"y" * 10])
    with caplog.at_level(logging.WARNING, logger="wsgimw.rewrite"):
        result = linted_call(app, Rewrite(body=bytes.upper, buffered=True, max_size=15))
    assert result.body == b"x" * 10 + b"y" * 10
    assert "larger than max_size" in caplog.text


# -- what is left alone ----------------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "changed"),
    [
        ("text/plain", True),
        ("TEXT/PLAIN; charset=utf-8", True),
        ("text/html", True),
        ("application/json", True),
        ("application/json+ld", False),
        ("image/png", False),
        ("", False),
    ],
)
def test_content_types_restrict_the_body_transform(
    content_type: str, changed: bool
) -> None:
    app = ScriptedApp(content_type=content_type)
    rewrite = Rewrite(body=bytes.upper, content_types=["text/*", "application/json"])
    wrapped = rewrite(app)
    iterable = wrapped(
        {"REQUEST_METHOD": "GET"}, lambda status, headers, exc_info=None: lambda d: None
    )
    assert (iterable is not app.last_iterable) == changed
    result = call_app(rewrite(ScriptedApp(content_type=content_type)))
    assert (result.body == b"HELLO, WORLD!") == changed


@pytest.mark.parametrize(
    ("method", "status"),
    [("HEAD", "200 OK"), ("GET", "204 No Content"), ("GET", "304 Not Modified")],
)
def test_bodiless_responses_are_not_transformed(method: str, status: str) -> None:
    app = ScriptedApp(
        status=status, chunks=() if status[0] != "2" or "204" in status else (b"x",)
    )
    result = linted_call(
        app, Rewrite(body=lambda b: b + b"!", buffered=True), method=method
    )
    assert result.body == b""


def test_write_callable_apps_are_transformed_too() -> None:
    written: list[bytes] = []

    def legacy(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write: Write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"abc")
        write(b"def")
        return []

    wrapped = Rewrite(body=bytes.upper)(legacy)
    body = wrapped(
        {"REQUEST_METHOD": "GET"},
        lambda status, headers, exc_info=None: written.append,
    )
    assert list(body) == []
    assert written == [b"ABC", b"DEF"]


# -- the shared fault matrix -------------------------------------------------------


CONFIGURATIONS = {
    "headers": lambda: Rewrite(headers=lambda s, h: (s, [*h, ("X-A", "1")])),
    "chunks": lambda: Rewrite(body=bytes.upper),
    "text": lambda: Rewrite(text=str.upper),
    "buffered": lambda: Rewrite(body=lambda b: b[::-1], buffered=True),
    "buffered-small": lambda: Rewrite(body=bytes.upper, buffered=True, max_size=4),
    "reverse-text": reverse_text,
}


@pytest.mark.parametrize("fault", FAULTS, ids=str)
@pytest.mark.parametrize("configuration", CONFIGURATIONS)
def test_fault_matrix(configuration: str, fault: Fault) -> None:
    check_fault(CONFIGURATIONS[configuration](), fault)


# -- configuration ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({}, ValueError, "needs something to do"),
        ({"body": bytes.upper, "text": str.upper}, ValueError, "not both"),
        ({"body": "upper"}, TypeError, "body must be a callable"),
        ({"text": str.upper, "max_size": True}, TypeError, "max_size must be an int"),
        ({"text": str.upper, "max_size": -1}, ValueError, "max_size must be >= 0"),
        (
            {"text": str.upper, "content_types": "text/plain"},
            TypeError,
            "a list of media types",
        ),
        (
            {"text": str.upper, "content_types": ["html"]},
            ValueError,
            "look like 'text/html'",
        ),
        (
            {"text": str.upper, "content_types": []},
            ValueError,
            "content_types is empty",
        ),
    ],
)
def test_misconfiguration_fails_at_construction(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Rewrite(**options)  # type: ignore[arg-type]


def test_repr() -> None:
    assert repr(reverse_text()) == (
        "Rewrite(text=reverse_text.<locals>.<lambda>, "
        "buffered=True, max_size=1048576, content_types=['text/plain'])"
    )
    assert repr(Rewrite(body=bytes.upper)) == "Rewrite(body=bytes.upper)"


# -- found in review ---------------------------------------------------------------


@pytest.mark.parametrize("charset", ["utf-16", "utf-8-sig"])
def test_stateful_charsets_stream_without_a_bom_per_chunk(charset: str) -> None:
    text = "héllo wörld again"
    data = text.encode(charset)
    chunks = [data[:7], data[7:15], data[15:]]
    app = ScriptedApp(
        chunks=chunks,
        content_type=f"text/plain; charset={charset}",
        content_length=False,
    )
    result = call_app(Rewrite(text=str.upper)(app))
    assert result.body.decode(charset) == text.upper()


@pytest.mark.parametrize(
    ("status", "header"),
    [
        ("200 OK", ("Content-Encoding", "gzip")),
        ("206 Partial Content", ("Content-Range", "bytes 0-3/10")),
    ],
)
def test_encoded_bodies_and_ranges_are_left_alone(
    status: str, header: tuple[str, str]
) -> None:
    app = ScriptedApp(status=status)
    app.headers.append(header)
    wrapped = Rewrite(body=bytes.upper)(app)
    iterable = wrapped({"REQUEST_METHOD": "GET"}, lambda s, h, e=None: lambda d: None)
    assert iterable is app.last_iterable


def test_identity_encoding_is_still_rewritten() -> None:
    app = ScriptedApp()
    app.headers.append(("Content-Encoding", "identity"))
    assert call_app(Rewrite(body=bytes.upper)(app)).body == b"HELLO, WORLD!"


@pytest.mark.parametrize(
    ("etag", "expected"), [('"v1"', 'W/"v1"'), ('W/"v1"', 'W/"v1"')]
)
def test_a_changed_body_has_only_a_weak_etag(etag: str, expected: str) -> None:
    app = ScriptedApp()
    app.headers.append(("ETag", etag))
    result = call_app(Rewrite(body=bytes.upper)(app))
    assert [v for k, v in result.headers if k == "ETag"] == [expected]


# -- issue 17: found under attack ------------------------------------------------------------


def test_the_max_size_warning_escapes_the_path(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Was: PATH_INFO raw, so %0A started a forged line and %1B an ANSI escape.
    app = ScriptedApp(chunks=[b"0123456789"] * 3)
    rewrite = Rewrite(body=bytes.upper, buffered=True, max_size=15)
    path = "/x%0A2026-01-01 INFO admin logged in%1B[31m"
    with caplog.at_level(logging.WARNING, logger="wsgimw.rewrite"):
        result = call_app(rewrite(app), path)
    assert result.body == b"0123456789" * 3
    (record,) = caplog.records
    message = record.getMessage()
    assert "\n" not in message
    assert "\x1b" not in message
    assert "/x\\n2026-01-01 INFO admin logged in\\x1b[31m" in message


def _hello_then_again(
    environ: Environ, start_response: StartResponse
) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return iter([b"hello"])


@pytest.mark.parametrize("buffered", [True, False])
def test_a_second_start_response_without_exc_info_is_refused(buffered: bool) -> None:
    # PEP 3333: a fatal error. Was: buffered, the second call replaced the first.
    rewrite = Rewrite(body=bytes.upper, buffered=buffered)
    with pytest.raises(AssertionError, match="without exc_info"):
        call_app(rewrite(_hello_then_again))


def test_buffered_memory_is_bounded_by_max_size_whatever_the_chunks() -> None:
    # Was: a list of chunks, then a join: 93 MB traced for 1 MiB in 1-byte
    # chunks. Two-byte chunks here (one-byte ones are shared singletons).
    import gc
    import tracemalloc

    size = 128 * 1024
    body = bytes(range(256)) * (size // 256)

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "application/octet-stream")])
        for start in range(0, size, 2):
            yield body[start : start + 2]

    rewrite = Rewrite(body=lambda data: data, buffered=True, max_size=size)
    gc.collect()
    tracemalloc.start()
    try:
        result = call_app(rewrite(app))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert result.body == body
    assert peak < 4 * size  # was about 30 times the body


def test_an_error_page_with_no_body_after_a_held_one_ends_the_response() -> None:
    # The app replaced a held (buffered) response by one Rewrite leaves
    # alone, and ended without a chunk: the new headers go out, no body.
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"held back"
        try:
            raise RuntimeError("late failure")
        except RuntimeError:
            start_response(
                "500 Internal Server Error",
                [("Content-Type", "image/png"), ("Content-Length", "0")],
                sys.exc_info(),
            )

    rewrite = Rewrite(body=bytes.upper, buffered=True, content_types=["text/plain"])
    result = call_app(rewrite(app))
    assert result.status == "500 Internal Server Error"
    assert result.body == b""


def test_the_charset_is_found_among_other_parameters() -> None:
    app = ScriptedApp(
        chunks=["é".encode("latin-1")],
        content_type="text/plain; format=flowed; charset=latin-1",
    )
    result = call_app(Rewrite(text=str.upper)(app))
    assert result.body == "É".encode("latin-1")
