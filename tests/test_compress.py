"""Compress: negotiation, codings, skips, headers, streaming, fault matrix."""

from __future__ import annotations

import gzip
import http.client
import sys
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from socketserver import ThreadingMixIn
from typing import Literal
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.util import FileWrapper

import brotli
import pytest
import zstandard
from hypothesis import given
from hypothesis import strategies as st

from wsgimw import Compress
from wsgimw.compress import available_encodings, negotiate
from wsgimw.testing import (
    FAULTS,
    Fault,
    Lint,
    Result,
    ScriptedApp,
    call_app,
    check_fault,
    make_environ,
)
from wsgimw.types import Environ, Headers, StartResponse, WSGIApp

Flush = Literal["auto", "always", "never"]
FLUSHES: tuple[Flush, ...] = ("auto", "always", "never")
TEXT = b"The quick brown fox jumps over the lazy dog. " * 40  # 1800 bytes
OFFERS = ("br", "zstd", "gzip")


def decode(result: Result) -> bytes:
    coding = result.header("Content-Encoding")
    if coding is None:
        return result.body
    if coding == "gzip":
        return gzip.decompress(result.body)
    if coding == "br":
        return bytes(brotli.decompress(result.body))
    return zstandard.ZstdDecompressor().decompressobj().decompress(result.body)


def fetch(
    app: WSGIApp, accept: str = "gzip", compress: Compress | None = None
) -> Result:
    """One GET through Compress, with a Lint on each side."""
    outer, inner = Lint(below="Compress"), Lint(above="Compress")
    wrapped = outer((compress or Compress())(inner(app)))
    result = call_app(wrapped, headers={"Accept-Encoding": accept})
    outer.verify()
    inner.verify()
    return result


# -- negotiation ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "coding"),
    [
        ("", None),
        ("gzip", "gzip"),
        ("GZIP", "gzip"),
        ("x-gzip", "gzip"),
        ("gzip, deflate, br, zstd", "br"),  # a browser: the server's preference
        ("gzip;q=1.0, br;q=0.5", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("gzip;q=0", None),
        ("*", "br"),
        ("*;q=0.1, gzip;q=0.5", "gzip"),
        ("*, br;q=0", "zstd"),
        ("identity", None),
        ("gzip;q=0.5, identity", None),  # identity is preferred
        ("gzip, identity;q=0", "gzip"),
        ("gzipx, xgzip, gzip2", None),  # whole tokens only
        ("deflate", None),
        ("gzip;q=2", None),  # an invalid q-value drops the element
        ("gzip;q=0.1234", None),
        ("gzip;q=1.000, br;q=0.999", "gzip"),
        (" gzip ; q=0.8 ,, br ; Q=0.9 ", "br"),
        ("gzip;level=9", "gzip"),
    ],
)
def test_negotiation(header: str, coding: str | None) -> None:
    assert negotiate(header, OFFERS) == coding


def test_server_preference_breaks_ties() -> None:
    assert negotiate("gzip, br", ("gzip", "br")) == "gzip"
    assert negotiate("gzip, br", ("br", "gzip")) == "br"


@given(
    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)
)
def test_negotiation_never_fails(header: str) -> None:
    coding = negotiate(header, OFFERS)
    assert coding is None or coding in OFFERS
    if coding is not None:
        assert coding in header.lower() or "*" in header or "x-gzip" in header.lower()


@given(st.sampled_from(OFFERS), st.sampled_from(["0", "0.0", "0.000"]))
def test_q_zero_refuses(coding: str, zero: str) -> None:
    assert negotiate(f"{coding};q={zero}", OFFERS) is None


# -- every coding decodes with the standard decoders --------------------------------------


@pytest.mark.parametrize("coding", available_encodings())
@pytest.mark.parametrize(
    "style", ["iter", "list", "lazy", "generator", "write", "mixed"]
)
def test_each_coding_decodes(coding: str, style: str) -> None:
    result = fetch(ScriptedApp(chunks=[TEXT[:700], TEXT[700:]], style=style), coding)
    assert result.header("Content-Encoding") == coding
    assert result.header("Vary") == "Accept-Encoding"
    assert decode(result) == TEXT
    assert len(result.body) < len(TEXT) / 5


@given(
    coding=st.sampled_from(OFFERS),
    chunks=st.lists(st.binary(max_size=300), max_size=12),
    flush=st.sampled_from(FLUSHES),
)
def test_any_chunking_decodes_to_the_same_body(
    coding: str, chunks: list[bytes], flush: Flush
) -> None:
    app = ScriptedApp(chunks=chunks, content_length=False)
    result = fetch(app, coding, Compress(minimum_size=0, flush=flush))
    assert decode(result) == b"".join(chunks)


def test_content_length_is_exact_for_a_body_in_memory() -> None:
    # No Lint inside Compress here: it would hide that the body is a list.
    lint = Lint(below="Compress")
    app = lint(Compress()(ScriptedApp(chunks=[TEXT], style="list")))
    result = call_app(app, headers={"Accept-Encoding": "gzip"})
    lint.verify()
    assert result.header("Content-Length") == str(len(result.body))
    assert decode(result) == TEXT
    streamed = fetch(ScriptedApp(chunks=[TEXT]))
    assert streamed.header("Content-Length") is None


def test_levels_change_the_output() -> None:
    fast = fetch(ScriptedApp(chunks=[TEXT]), "gzip", Compress(gzip_level=1))
    small = fetch(ScriptedApp(chunks=[TEXT]), "gzip", Compress(gzip_level=9))
    assert decode(fast) == decode(small) == TEXT
    assert len(small.body) <= len(fast.body)


# -- what is skipped, untouched -------------------------------------------------------------


def untouched(
    app: ScriptedApp, accept: str = "gzip", environ: Environ | None = None
) -> tuple[Iterable[bytes], list[tuple[str, str]]]:
    """Call through Compress by hand; return the iterable and the headers sent."""
    from wsgimw.testing import make_environ

    sent: list[list[tuple[str, str]]] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], object]:
        sent.append(headers)
        return lambda data: None

    env = make_environ("/", headers={"Accept-Encoding": accept})
    env.update(environ or {})
    iterable = Compress()(app)(env, start_response)
    return iterable, sent[0] if sent else []


@pytest.mark.parametrize(
    ("case", "app", "environ"),
    [
        ("below minimum_size", ScriptedApp(chunks=[b"tiny"]), {}),
        (
            "not a compressible type",
            ScriptedApp(chunks=[TEXT], content_type="image/png"),
            {},
        ),
        ("no content type", ScriptedApp(chunks=[TEXT], content_type=""), {}),
        ("204", ScriptedApp(status="204 No Content", chunks=()), {}),
        ("304", ScriptedApp(status="304 Not Modified", chunks=()), {}),
        ("206", ScriptedApp(status="206 Partial Content", chunks=[TEXT]), {}),
        ("a Range request", ScriptedApp(chunks=[TEXT]), {"HTTP_RANGE": "bytes=0-99"}),
    ],
)
def test_skipped_responses_pass_through_as_the_same_object(
    case: str, app: ScriptedApp, environ: dict[str, object]
) -> None:
    iterable, headers = untouched(app, environ=environ)
    assert iterable is app.last_iterable, case
    assert all(name != "Content-Encoding" for name, _ in headers)
    assert app.closes == 0  # not touched at all


def test_an_empty_content_type_header_is_not_compressed() -> None:
    app = ScriptedApp(chunks=[TEXT])
    app.headers = [("Content-Length", str(len(TEXT)))]  # no Content-Type at all
    iterable, _ = untouched(app)
    assert iterable is app.last_iterable


@pytest.mark.parametrize(
    "header", [("Content-Encoding", "br"), ("Cache-Control", "public, no-transform")]
)
def test_already_encoded_or_no_transform(header: tuple[str, str]) -> None:
    app = ScriptedApp(chunks=[TEXT])
    app.headers.append(header)
    iterable, headers = untouched(app)
    assert iterable is app.last_iterable
    assert header in headers
    assert ("Vary", "Accept-Encoding") not in headers


def test_file_wrapper_keeps_sendfile_unless_configured(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "big.txt"
    path.write_bytes(TEXT)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response(
            "200 OK",
            [("Content-Type", "text/plain"), ("Content-Length", str(len(TEXT)))],
        )
        return environ["wsgi.file_wrapper"](path.open("rb"))  # type: ignore[no-any-return]

    from wsgimw.testing import make_environ

    def start(
        status: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], object]:
        return lambda data: None

    for file_wrapper, expect_wrapper in ((False, True), (True, False)):
        env = make_environ("/", headers={"Accept-Encoding": "gzip"})
        env["wsgi.file_wrapper"] = FileWrapper
        iterable = Compress(file_wrapper=file_wrapper)(app)(env, start)
        assert isinstance(iterable, FileWrapper) is expect_wrapper
        body = b"".join(iterable)
        iterable.close()  # type: ignore[attr-defined]
        assert (body == TEXT) is expect_wrapper
        if not expect_wrapper:
            assert gzip.decompress(body) == TEXT


def test_a_client_that_accepts_nothing_gets_the_body_and_vary() -> None:
    app = ScriptedApp(chunks=[TEXT])
    iterable, headers = untouched(app, accept="identity")
    assert iterable is app.last_iterable
    assert ("Vary", "Accept-Encoding") in headers
    image = ScriptedApp(chunks=[TEXT], content_type="image/png")
    _, image_headers = untouched(image, accept="")
    assert ("Vary", "Accept-Encoding") not in image_headers


def test_small_list_bodies_pass_through() -> None:
    app = ScriptedApp(chunks=[b"tiny"], style="list", content_length=False)
    iterable, headers = untouched(app)
    assert iterable is app.last_iterable
    assert ("Vary", "Accept-Encoding") in headers


# -- headers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("vary", "expected"),
    [
        ("Cookie", "Cookie, Accept-Encoding"),
        ("accept-encoding", "accept-encoding"),
        ("Cookie, Accept-Encoding", "Cookie, Accept-Encoding"),
        ("*", "*"),
        ("", "Accept-Encoding"),
    ],
)
def test_vary_is_merged_never_duplicated(vary: str, expected: str) -> None:
    app = ScriptedApp(chunks=[TEXT])
    app.headers.append(("Vary", vary))
    result = fetch(app)
    assert [v for k, v in result.headers if k == "Vary"] == [expected]
    assert decode(result) == TEXT


@pytest.mark.parametrize(
    ("etag", "mode", "expected"),
    [
        ('"abc"', "weaken", 'W/"abc"'),
        ('"abc"', "suffix", '"abc-gzip"'),
        ('W/"abc"', "weaken", 'W/"abc"'),
        ('W/"abc"', "suffix", 'W/"abc"'),
    ],
)
def test_strong_etags_change(
    etag: str, mode: Literal["weaken", "suffix"], expected: str
) -> None:
    app = ScriptedApp(chunks=[TEXT])
    app.headers.append(("ETag", etag))
    result = fetch(app, compress=Compress(etag=mode))
    assert [v for k, v in result.headers if k == "ETag"] == [expected]


# -- flushing and streaming ---------------------------------------------------------------------


def first_piece(
    content_type: str, flush: Flush = "auto", extra: tuple[str, str] | None = None
) -> bytes:
    chunks = [b"data: one\n\n", b"data: two\n\n"]
    app = ScriptedApp(chunks=chunks, content_type=content_type, content_length=False)
    if extra:
        app.headers.append(extra)
    from wsgimw.testing import make_environ

    env = make_environ("/", headers={"Accept-Encoding": "gzip"})
    body = Compress(minimum_size=0, flush=flush)(app)(
        env, lambda s, h, e=None: lambda d: None
    )
    piece = next(iter(body))
    body.close()  # type: ignore[attr-defined]
    return zlib.decompressobj(31).decompress(piece)


def test_streaming_types_flush_every_chunk() -> None:
    assert first_piece("text/event-stream") == b"data: one\n\n"
    assert (
        first_piece("text/plain", extra=("X-Accel-Buffering", "no")) == b"data: one\n\n"
    )
    assert first_piece("text/plain", flush="always") == b"data: one\n\n"


def test_bulk_bodies_are_not_flushed() -> None:
    assert first_piece("text/plain") == b""
    assert first_piece("text/event-stream", flush="never") == b""


class _Threading(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


def test_each_event_reaches_the_client_before_the_next_is_made() -> None:
    """A real server: the app makes event n+1 only after the client decoded n."""
    received = [threading.Event() for _ in range(4)]

    def events(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        for n in range(4):
            if n:
                assert received[n - 1].wait(5), (
                    f"event {n - 1} never reached the client"
                )
            yield f"data: event {n}\n\n".encode()

    server = make_server(
        "127.0.0.1",
        0,
        Compress()(events),
        server_class=_Threading,
        handler_class=_Quiet,
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    connection = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=10)
    try:
        connection.request("GET", "/", headers={"Accept-Encoding": "gzip"})
        response = connection.getresponse()
        assert response.getheader("Content-Encoding") == "gzip"
        decoder = zlib.decompressobj(31)
        text = b""
        for n in range(4):
            while f"event {n}".encode() not in text:
                piece = response.read1(65536)
                assert piece, f"the stream ended before event {n}"
                text += decoder.decompress(piece)
            received[n].set()
        response.read()
    finally:
        connection.close()
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert text == b"".join(f"data: event {n}\n\n".encode() for n in range(4))


# -- the shared fault matrix -----------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS, ids=str)
@pytest.mark.parametrize("coding", available_encodings())
def test_fault_matrix(coding: str, fault: Fault) -> None:
    check_fault(
        Compress(minimum_size=0),
        fault,
        decode=decode,
        headers={"Accept-Encoding": coding},
    )


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_streaming(fault: Fault) -> None:
    check_fault(
        Compress(minimum_size=0, flush="always"),
        fault,
        decode=decode,
        headers={"Accept-Encoding": "gzip"},
    )


# -- configuration ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"minimum_size": -1}, ValueError, "minimum_size must be >= 0"),
        ({"minimum_size": "500"}, TypeError, "minimum_size must be an int"),
        ({"encodings": "gzip"}, TypeError, "encodings takes a list"),
        ({"encodings": ["deflate"]}, ValueError, "unknown coding 'deflate'"),
        ({"encodings": []}, ValueError, "encodings is empty"),
        ({"encodings": ["gzip", "GZIP"]}, ValueError, "lists a coding twice"),
        ({"gzip_level": 0}, ValueError, "gzip_level must be from 1 to 9"),
        ({"brotli_quality": 12}, ValueError, "brotli_quality must be from 0 to 11"),
        ({"zstd_level": True}, TypeError, "zstd_level must be an int"),
        ({"flush": "sometimes"}, ValueError, "flush must be"),
        ({"etag": "drop"}, ValueError, "etag must be"),
        ({"content_types": "text/html"}, TypeError, "a list of media types"),
        ({"content_types": ["html"]}, ValueError, "look like 'text/html'"),
        ({"content_types": ["*/*"]}, ValueError, "no '\\*/\\*'"),
        ({"content_types": ["text/html; charset=utf-8"]}, ValueError, "no parameters"),
        ({"content_types": [3]}, ValueError, "look like 'text/html'"),
    ],
)
def test_misconfiguration_fails_at_construction(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Compress(**options)  # type: ignore[arg-type]


def test_a_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import wsgimw.compress as module

    monkeypatch.setattr(module, "brotli", None)
    assert "br" not in available_encodings()
    with pytest.raises(ValueError, match=r"pip install wsgimw\[brotli\]"):
        Compress(encodings=["br"])
    monkeypatch.setattr(module, "zstandard", None)
    with pytest.raises(ValueError, match=r"pip install wsgimw\[zstd\]"):
        Compress(encodings=["zstd"])
    assert Compress()._encodings == ("gzip",)


def test_repr() -> None:
    assert repr(Compress()) == "Compress()"
    assert repr(Compress(minimum_size=0, encodings=["gzip"], flush="always")) == (
        "Compress(minimum_size=0, flush='always', encodings=['gzip'])"
    )


# -- BREACH length hiding ---------------------------------------------------------------------


def test_breach_padding_varies_the_length_and_decodes() -> None:
    padded = Compress(breach_padding=64)
    lengths = set()
    for _ in range(30):
        result = fetch(ScriptedApp(chunks=[TEXT]), "br, zstd, gzip", padded)
        assert result.header("Content-Encoding") == "gzip"  # the only padded coding
        assert gzip.decompress(result.body) == TEXT
        assert zlib.decompressobj(31).decompress(result.body) == TEXT
        lengths.add(len(result.body))
    assert len(lengths) > 5


def test_breach_padding_streams_and_flushes() -> None:
    app = ScriptedApp(
        chunks=[b"data: one\n\n", b"data: two\n\n"],
        content_type="text/event-stream",
        content_length=False,
    )
    from wsgimw.testing import make_environ

    env = make_environ("/", headers={"Accept-Encoding": "gzip"})
    body = Compress(minimum_size=0, breach_padding=16)(app)(
        env, lambda s, h, e=None: lambda d: None
    )
    decoder = zlib.decompressobj(31)
    pieces = [decoder.decompress(piece) for piece in body]
    body.close()  # type: ignore[attr-defined]
    assert pieces[0] == b"data: one\n\n"
    assert b"".join(pieces) == b"data: one\n\ndata: two\n\n"
    assert decoder.eof


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_breach_padding(fault: Fault) -> None:
    check_fault(
        Compress(minimum_size=0, breach_padding=8),
        fault,
        decode=decode,
        headers={"Accept-Encoding": "gzip"},
    )


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"breach_padding": -1}, ValueError, "from 0 \\(off\\) to 1024"),
        ({"breach_padding": 2000}, ValueError, "from 0 \\(off\\) to 1024"),
        ({"breach_padding": 1.5}, TypeError, "breach_padding must be an int"),
        ({"breach_padding": 8, "encodings": ["br"]}, ValueError, "pads gzip only"),
    ],
)
def test_breach_padding_misconfiguration(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        Compress(**options)  # type: ignore[arg-type]


# -- found in review: HEAD, 304, Vary ----------------------------------------------------------


def test_head_gets_the_headers_a_get_would_and_no_body() -> None:
    app = ScriptedApp(chunks=[TEXT])
    iterable, headers = untouched(app, environ={"REQUEST_METHOD": "HEAD"})
    assert iterable is app.last_iterable
    assert ("Content-Encoding", "gzip") in headers
    assert ("Vary", "Accept-Encoding") in headers
    assert all(name != "Content-Length" for name, _ in headers)
    image = ScriptedApp(chunks=[TEXT], content_type="image/png")
    _, image_headers = untouched(image, environ={"REQUEST_METHOD": "HEAD"})
    assert all(name != "Content-Encoding" for name, _ in image_headers)


@pytest.mark.parametrize(
    ("mode", "sent", "validator"),
    [("weaken", 'W/"v1"', 'W/"v1"'), ("suffix", '"v1-gzip"', '"v1-gzip"')],
)
def test_revalidation_of_a_compressed_response(
    mode: Literal["weaken", "suffix"], sent: str, validator: str
) -> None:
    seen: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(environ.get("HTTP_IF_NONE_MATCH", ""))
        if environ.get("HTTP_IF_NONE_MATCH") in (
            '"v1"',
            'W/"v1"',
        ):  # the app's own comparison
            start_response("304 Not Modified", [("ETag", '"v1"')])
            return []
        start_response("200 OK", [("Content-Type", "text/plain"), ("ETag", '"v1"')])
        return [TEXT]

    compress = Compress(etag=mode)
    first = call_app(compress(app), headers={"Accept-Encoding": "gzip"})
    assert first.header("ETag") == sent
    again = call_app(
        compress(app), headers={"Accept-Encoding": "gzip", "If-None-Match": validator}
    )
    assert again.status == "304 Not Modified"
    assert again.header("ETag") == sent  # the same validator the 200 had
    assert again.header("Vary") == "Accept-Encoding"
    if mode == "suffix":
        assert seen[-1] == '"v1"'  # the app compared against its own ETag


def test_a_304_for_an_uncompressed_representation_is_left_alone() -> None:
    app = ScriptedApp(status="304 Not Modified", chunks=())
    app.headers.append(("ETag", '"img"'))
    _, headers = untouched(app, environ={"HTTP_IF_NONE_MATCH": '"img"'})
    assert ("ETag", '"img"') in headers
    assert ("Vary", "Accept-Encoding") not in headers


def test_vary_is_not_duplicated_across_several_headers() -> None:
    app = ScriptedApp(chunks=[TEXT])
    app.headers += [("Vary", "Cookie"), ("Vary", "Accept-Encoding")]
    result = fetch(app)
    assert [v for k, v in result.headers if k == "Vary"] == [
        "Cookie",
        "Accept-Encoding",
    ]


def test_a_non_ascii_digit_in_content_length_is_not_a_crash() -> None:
    app = ScriptedApp(chunks=[TEXT], content_length=False)
    app.headers.append(("Content-Length", "\u00b2"))
    _, headers = untouched(app)
    assert ("Content-Encoding", "gzip") in headers


# -- the paths that never compress: the headers only, nothing held -----------------------


@pytest.mark.parametrize("fault", FAULTS, ids=str)
@pytest.mark.parametrize("accept", [None, "identity"])
def test_fault_matrix_without_a_coding(accept: str | None, fault: Fault) -> None:
    headers = {} if accept is None else {"Accept-Encoding": accept}
    outcome = check_fault(Compress(minimum_size=0), fault, headers=headers)
    assert outcome.header("Content-Encoding") is None
    if outcome.status_code == 200 and fault.method == "GET":
        assert outcome.header("Vary") == "Accept-Encoding"


def test_head_replaced_by_an_error_page_gets_a_gets_headers() -> None:
    # exc_info before any body: the error page's headers are what a GET
    # would get for it, compressed.
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "image/png")])
        try:
            raise RuntimeError("render failed")
        except RuntimeError:
            start_response(
                "500 Internal Server Error",
                [("Content-Type", "text/html")],
                sys.exc_info(),
            )
        return []

    outer, inner = Lint(below="Compress"), Lint(above="Compress")
    wrapped = outer(Compress()(inner(app)))
    result = call_app(wrapped, method="HEAD", headers={"Accept-Encoding": "gzip"})
    outer.verify()
    inner.verify()
    assert result.status == "500 Internal Server Error"
    assert result.body == b""
    assert result.header("Content-Encoding") == "gzip"
    assert result.header("Vary") == "Accept-Encoding"


def test_a_response_left_alone_goes_out_before_the_app_returns() -> None:
    # Decided from the headers (an image): nothing is held back, and the
    # server gets the app's own list.
    from wsgimw.testing import make_environ

    seen: list[str] = []
    body = [TEXT]

    def server(
        status: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], object]:
        seen.append(status)
        return lambda data: None

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "image/png")])
        seen.append("app returns")
        return body

    env = make_environ("/", headers={"Accept-Encoding": "gzip"})
    assert Compress()(app)(env, server) is body
    assert seen == ["200 OK", "app returns"]
    # A response it may compress waits for the iterable, to see its size.
    seen.clear()
    text = ScriptedApp(chunks=[TEXT], style="list")

    def text_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        iterable = text(environ, start_response)
        seen.append("app returns")
        return iterable

    Compress()(text_app)(make_environ("/", headers={"Accept-Encoding": "gzip"}), server)
    assert seen == ["app returns", "200 OK"]


def test_cache_control_without_no_transform_allows_compression() -> None:
    app = ScriptedApp(chunks=[TEXT], content_type="text/html")
    app.headers.append(("Cache-Control", "public, max-age=60"))
    result = fetch(app)
    assert result.header("Content-Encoding") == "gzip"
    assert decode(result) == TEXT


def test_a_replacement_page_that_is_not_compressible_goes_out_as_it_is() -> None:
    # The app's text response is held (it may be compressed); before any
    # body byte it is replaced, through exc_info, by a PNG error page.
    app = ScriptedApp(chunks=[TEXT], fail="exc_info", at=0, error_type="image/png")
    result = fetch(app)
    assert result.status == "500 Internal Server Error"
    assert result.header("Content-Type") == "image/png"
    assert result.header("Content-Encoding") is None
    assert result.body == b"scripted error page"


# -- zstd contexts are pooled ------------------------------------------------------


def _zstd_body(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    for n in range(20):
        yield f"line {n} of a body worth compressing\n".encode() * 10


def _ignore_start(
    status: str, headers: list[tuple[str, str]], exc_info: object = None
) -> Callable[[bytes], None]:
    return lambda data: None


def _unzstd(data: bytes) -> bytes:
    return zstandard.ZstdDecompressor().decompressobj().decompress(data)


def test_zstd_streams_in_turn_and_interleaved_all_decode() -> None:
    compress = Compress(encodings=["zstd"])
    app = compress(_zstd_body)
    plain = b"".join(_zstd_body(make_environ(), lambda s, h, e=None: lambda d: None))
    zstd = {"Accept-Encoding": "zstd"}
    for _ in range(3):  # one after the other: the context is reused
        assert _unzstd(call_app(app, headers=zstd).body) == plain
    assert compress._zstd_pool.qsize() == 1
    # 20 at once, chunk by chunk in turn: each needs a context of its own.
    streams = [iter(app(make_environ(headers=zstd), _ignore_start)) for _ in range(20)]
    outputs = [b""] * 20
    for _ in range(30):
        for index, stream in enumerate(streams):
            outputs[index] += next(stream, b"")
    for stream in streams:
        stream.close()  # type: ignore[attr-defined]
    assert all(_unzstd(output) == plain for output in outputs)
    assert compress._zstd_pool.qsize() == 16  # kept: at most 16 idle ones


def test_a_zstd_stream_cut_short_does_not_return_its_context() -> None:
    compress = Compress(encodings=["zstd"])
    app = compress(_zstd_body)
    zstd = {"Accept-Encoding": "zstd"}
    body = iter(app(make_environ(headers=zstd), _ignore_start))
    next(body)
    next(body)
    body.close()  # type: ignore[attr-defined]  # the client left mid-frame
    assert compress._zstd_pool.qsize() == 0
    full = call_app(app, headers=zstd)
    assert _unzstd(full.body).startswith(b"line 0 of a body")


# -- issue 17: found under attack ------------------------------------------------------------


def _retained_after(calls: Callable[[], object]) -> int:
    """Bytes still allocated (traced) once ``calls`` has run."""
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        calls()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_long_accept_encoding_values_are_not_kept() -> None:
    # Was: up to 1,024 values of any length cached for good (279 MB RSS
    # under waitress after 1,100 distinct values of 250 KB).
    app = Compress()(ScriptedApp(chunks=[TEXT]))

    def hostile() -> None:
        for number in range(200):
            accept = f"gzip, x-{number}-" + "a" * 900  # distinct, under the cap
            assert call_app(app, headers={"Accept-Encoding": accept}).status_code == 200

    assert _retained_after(hostile) < 100_000  # was 200 x 900 bytes and more


@pytest.mark.parametrize(
    "header",
    [
        "gzip, " + "x" * 1100,  # longer than MAX_ACCEPT_ENCODING_LENGTH
        "a, " * 64 + "gzip",  # more members than MAX_ACCEPT_ENCODING_MEMBERS
        "gzip;q=0.5, " * 100_000,  # 1.2 MB: was 0.1 s of CPU per request
    ],
)
def test_a_hostile_accept_encoding_is_not_parsed(header: str) -> None:
    assert negotiate(header, OFFERS) is None
    result = fetch(ScriptedApp(chunks=[TEXT]), accept=header)
    assert result.status_code == 200
    assert result.header("Content-Encoding") is None
    assert result.header("Vary") == "Accept-Encoding"
    assert result.body == TEXT


def test_a_long_but_bounded_accept_encoding_is_parsed_uncached() -> None:
    header = "x-made-up;q=0.1, " * 40 + "gzip"  # 684 characters, 41 members
    assert negotiate(header, OFFERS) == "gzip"
    assert negotiate(header, OFFERS) == "gzip"


def _head_and_get(app: WSGIApp, environ: dict[str, object]) -> list[Headers]:
    """The headers of a GET and a HEAD, Content-Length aside (a HEAD may
    leave it out). No Lint: these apps give their body for HEAD too, as
    many do (PEP 3333 servers drop it)."""
    seen = []
    for method in ("GET", "HEAD"):
        env = make_environ(method=method, headers={"Accept-Encoding": "gzip"})
        env.update(environ)
        result = call_app(Compress()(app), env)
        seen.append(sorted(h for h in result.headers if h[0] != "Content-Length"))
    return seen


def test_head_tells_the_truth_about_a_file_wrapper_get(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "page.txt"
    path.write_bytes(TEXT)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](path.open("rb"))  # type: ignore[no-any-return]

    get, head = _head_and_get(app, {"wsgi.file_wrapper": FileWrapper})
    assert ("Content-Encoding", "gzip") not in get  # sendfile kept
    assert head == get  # was: HEAD said gzip


def test_head_tells_the_truth_about_a_short_list_get() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"short"]  # for HEAD too: the server drops it

    get, head = _head_and_get(app, {})
    assert ("Content-Encoding", "gzip") not in get  # under minimum_size
    assert head == get  # was: HEAD said gzip


@pytest.mark.parametrize("method_body", ["same", "empty"])
def test_head_of_a_long_list_body_says_gzip(method_body: str) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        if method_body == "empty" and environ["REQUEST_METHOD"] == "HEAD":
            return []  # no body to go by: the headers decide
        return [TEXT]

    get, head = _head_and_get(app, {})
    assert ("Content-Encoding", "gzip") in get
    assert head == get


def _starts_twice(style: str) -> WSGIApp:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [TEXT] if style == "list" else iter([TEXT])

    return app


@pytest.mark.parametrize("accept", ["gzip", "identity"])
@pytest.mark.parametrize("style", ["list", "iter"])
def test_a_second_start_response_without_exc_info_is_refused(
    accept: str, style: str
) -> None:
    # PEP 3333: a fatal error. Was: with a coding chosen, the second call
    # silently replaced the first (under gunicorn 500 or 200 depending on
    # Accept-Encoding).
    with pytest.raises(AssertionError, match="without exc_info"):
        call_app(Compress()(_starts_twice(style)), headers={"Accept-Encoding": accept})
