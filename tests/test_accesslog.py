"""AccessLog: truthful lines, parsed back by an independent Apache log parser."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

import apachelogs
import pytest
import servers
from hypothesis import given
from hypothesis import strategies as st

from wsgimw import AccessLog, Rewrite, compose
from wsgimw.accesslog import COMBINED, COMMON, apache_time
from wsgimw.testing import (
    FAULTS,
    AppFault,
    Fault,
    Lint,
    ScriptedApp,
    call_app,
    check_fault,
    make_environ,
)
from wsgimw.types import Environ, StartResponse

ROOT = Path(__file__).resolve().parent.parent
COMBINED_PARSER = apachelogs.LogParser(apachelogs.COMBINED)
COMMON_PARSER = apachelogs.LogParser(apachelogs.COMMON)


def logged(
    app: object, path: str = "/", *, access: AccessLog | None = None, **options: object
) -> tuple[str, object]:
    stream = io.StringIO()
    access = access or AccessLog(stream=stream)
    if access._stream is None:  # a caller-built AccessLog writes elsewhere
        raise AssertionError("logged() needs an AccessLog with stream=")
    lint = Lint(below="AccessLog")
    result = call_app(lint(access(app)), path, catch=True, **options)  # type: ignore[arg-type]
    lint.verify()
    return access._stream.getvalue(), result  # type: ignore[attr-defined]


def one_line(text: str) -> str:
    lines = text.splitlines()
    assert len(lines) == 1, f"expected one line, got {lines!r}"
    return lines[0]


@pytest.fixture
def stream() -> io.StringIO:
    return io.StringIO()


# -- the combined format, parsed back ------------------------------------------------


def test_combined_line_parses_field_for_field(stream: io.StringIO) -> None:
    headers = {"Referer": "http://example.test/from", "User-Agent": "curl/8.5.0"}
    text, _ = logged(
        ScriptedApp(),
        "/a/b?q=1",
        access=AccessLog(stream=stream),
        method="POST",
        headers=headers,
        REMOTE_ADDR="203.0.113.9",
        REMOTE_USER="ann",
        SERVER_PROTOCOL="HTTP/1.1",
    )
    entry = COMBINED_PARSER.parse(one_line(text))
    assert entry.remote_host == "203.0.113.9"
    assert entry.remote_logname is None
    assert entry.remote_user == "ann"
    assert entry.request_line == "POST /a/b?q=1 HTTP/1.1"
    assert entry.final_status == 200
    assert entry.bytes_sent == 13
    assert entry.headers_in["Referer"] == "http://example.test/from"
    assert entry.headers_in["User-Agent"] == "curl/8.5.0"
    assert abs(entry.request_time.timestamp() - time.time()) < 5


def test_common_format(stream: io.StringIO) -> None:
    text, _ = logged(
        ScriptedApp(chunks=()), access=AccessLog(format="common", stream=stream)
    )
    entry = COMMON_PARSER.parse(one_line(text))
    assert entry.bytes_sent is None  # '-' for an empty body, as Apache's %b
    assert entry.final_status == 200


def test_the_count_is_bytes_sent_not_content_length(stream: io.StringIO) -> None:
    # The app claims 13 bytes but the client leaves after the first chunk.
    text, result = logged(ScriptedApp(), access=AccessLog(stream=stream), read=1)
    entry = COMBINED_PARSER.parse(one_line(text))
    assert entry.bytes_sent == len(b"Hello, ") == len(result.body)  # type: ignore[attr-defined]


@pytest.mark.parametrize("style", ["write", "mixed", "lazy", "generator", "list"])
def test_every_app_style_is_counted(style: str, stream: io.StringIO) -> None:
    text, _ = logged(ScriptedApp(style=style), access=AccessLog(stream=stream))
    assert COMBINED_PARSER.parse(one_line(text)).bytes_sent == 13


def test_an_app_error_is_logged_once_with_what_was_sent(stream: io.StringIO) -> None:
    text, result = logged(
        ScriptedApp(fail="chunk", at=2), access=AccessLog(stream=stream)
    )
    assert isinstance(result.error, AppFault)  # type: ignore[attr-defined]
    entry = COMBINED_PARSER.parse(one_line(text))
    assert (entry.final_status, entry.bytes_sent) == (200, 12)


def test_an_error_before_start_logs_a_500(stream: io.StringIO) -> None:
    text, _ = logged(ScriptedApp(fail="call"), access=AccessLog(stream=stream))
    entry = COMBINED_PARSER.parse(one_line(text))
    assert (entry.final_status, entry.bytes_sent) == (500, None)


def test_the_status_after_an_exc_info_replacement(stream: io.StringIO) -> None:
    text, _ = logged(
        ScriptedApp(style="lazy", fail="exc_info"), access=AccessLog(stream=stream)
    )
    assert COMBINED_PARSER.parse(one_line(text)).final_status == 500


def test_the_line_is_written_at_close_and_times_the_whole_body(
    stream: io.StringIO,
) -> None:
    def slow(environ: object, start_response: object) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])  # type: ignore[operator]
        yield b"a"
        time.sleep(0.05)
        yield b"b"

    access = AccessLog(stream=stream, format="{duration_us} {duration_ms}")
    body = access(slow)(make_environ(), lambda s, h, e=None: lambda d: None)
    assert list(body) == [b"a", b"b"]
    assert stream.getvalue() == ""  # not before close()
    body.close()  # type: ignore[attr-defined]
    micros, millis = one_line(stream.getvalue()).split()
    assert int(micros) >= 50_000
    # The same microseconds, in milliseconds: the two fields always agree.
    assert float(millis) == int(micros) / 1000


# -- paths, addresses, times ----------------------------------------------------------


@pytest.mark.parametrize(
    ("path_info", "logged_path"),
    [
        ("/caf\xc3\xa9", "/caf%C3%A9"),  # UTF-8 bytes held as latin-1 (PEP 3333)
        ("/a b", "/a%20b"),
        ("/100%", "/100%25"),
        ("/\xff\x00", "/%FF%00"),
        ('/a"b', "/a%22b"),
    ],
)
def test_the_raw_path_is_logged_percent_encoded(
    path_info: str, logged_path: str, stream: io.StringIO
) -> None:
    text, _ = logged(
        ScriptedApp(),
        access=AccessLog(stream=stream, format="{path}"),
        PATH_INFO=path_info,
    )
    assert one_line(text) == logged_path


def test_a_path_that_is_not_latin1_is_logged_as_utf8(stream: io.StringIO) -> None:
    # PEP 3333 forbids it (Lint would stop it), but a buggy server must not
    # make the access log fail.
    call_app(
        AccessLog(stream=stream, format="{path}")(ScriptedApp()), PATH_INFO="/\u20ac"
    )
    assert one_line(stream.getvalue()) == "/%E2%82%AC"


def test_script_name_is_part_of_the_path(stream: io.StringIO) -> None:
    text, _ = logged(
        ScriptedApp(),
        access=AccessLog(stream=stream, format="{path}"),
        SCRIPT_NAME="/app",
        PATH_INFO="/x",
    )
    assert one_line(text) == "/app/x"


@pytest.mark.parametrize("raw_key", [None, "REQUEST_URI", "RAW_URI"])
def test_the_line_shows_the_request_as_it_arrived(
    raw_key: str | None, stream: io.StringIO
) -> None:
    # PEP 3333 lets an app rewrite its environ: web2py's router writes
    # REQUEST_URI, a method override changes REQUEST_METHOD. The line is
    # written at close() and must still show what the client sent.
    def rewriting_app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        environ["REQUEST_METHOD"] = "PUT"
        environ["SCRIPT_NAME"], environ["PATH_INFO"] = "/routed", "/elsewhere"
        environ["QUERY_STRING"] = "rewritten=1"
        for key in ("REQUEST_URI", "RAW_URI"):
            environ[key] = "/routed/elsewhere?rewritten=1"
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    raw = {raw_key: "/page?q=1"} if raw_key else {}
    text, _ = logged(
        rewriting_app,
        access=AccessLog(stream=stream, format="{method} {path}"),
        PATH_INFO="/page",
        QUERY_STRING="q=1",
        REQUEST_METHOD="POST",
        **raw,
    )
    assert one_line(text) == "POST /page?q=1"


@pytest.mark.parametrize(
    ("trusted", "forwarded", "host"),
    [
        (0, "198.51.100.7", "10.0.0.2"),  # the header is ignored unless trusted
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # a forged first entry is skipped
        (2, "198.51.100.7, 10.0.0.9", "198.51.100.7"),
        (2, "10.0.0.9", "10.0.0.2"),  # fewer hops than proxies: REMOTE_ADDR
        (1, "", "10.0.0.2"),
    ],
)
def test_client_address(
    trusted: int, forwarded: str, host: str, stream: io.StringIO
) -> None:
    access = AccessLog(stream=stream, format="{host}", trusted_proxies=trusted)
    text, _ = logged(
        ScriptedApp(),
        access=access,
        headers={"X-Forwarded-For": forwarded},
        REMOTE_ADDR="10.0.0.2",
    )
    assert one_line(text) == host


@pytest.fixture
def zone() -> Iterator[None]:
    saved = os.environ.get("TZ")
    yield
    if saved is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = saved
    time.tzset()


@pytest.mark.usefixtures("zone")
@pytest.mark.parametrize(
    ("tz", "offset"),
    [
        ("UTC0", "+0000"),
        ("IST-5:30", "+0530"),
        ("NST+3:30", "-0330"),
        ("NPT-5:45", "+0545"),
        ("PST+8", "-0800"),
    ],
)
def test_times_carry_the_local_offset(tz: str, offset: str) -> None:
    os.environ["TZ"] = tz
    time.tzset()
    when = 1_700_000_000.0  # 2023-11-14T22:13:20Z
    stamp = apache_time(when)
    assert stamp.endswith(" " + offset)
    parsed = COMMON_PARSER.parse(f'1.2.3.4 - - [{stamp}] "GET / HTTP/1.1" 200 1')
    assert parsed.request_time.timestamp() == when


# -- secrets and injection ------------------------------------------------------------


def test_secrets_never_reach_the_log(
    stream: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    access = AccessLog(
        stream=stream,
        format=COMBINED
        + " {header[Authorization]} {header[Cookie]} {header[X-Api-Key]} {header[Accept]}",
        redact=["ssn"],
    )
    headers = {
        "Authorization": "Bearer tok-123",
        "Cookie": "sid=cookie-456",
        "X-Api-Key": "key-789",
        "Accept": "*/*",
    }
    text, _ = logged(
        ScriptedApp(),
        "/p?password=hunter2&ssn=000-11&q=ok",
        access=access,
        headers=headers,
    )
    for secret in ("tok-123", "cookie-456", "key-789", "hunter2", "000-11"):
        assert secret not in text
    assert "q=ok" in text
    assert text.count("[redacted]") == 5
    assert one_line(text).endswith(" */*")


def test_missing_and_entity_headers(stream: io.StringIO) -> None:
    access = AccessLog(
        stream=stream, format="{header[X-Missing]} {header[Content-Type]}"
    )
    text, _ = logged(ScriptedApp(), access=access, CONTENT_TYPE="text/x")
    assert one_line(text) == "- text/x"


@given(
    path=st.text(
        alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=40
    ),
    agent=st.text(
        alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=40
    ),
)
def test_any_path_and_header_give_one_parsable_line(path: str, agent: str) -> None:
    stream = io.StringIO()
    access = AccessLog(stream=stream)
    environ_path = "/" + path
    call_app(
        access(ScriptedApp()),
        "/",
        headers={"User-Agent": agent},
        PATH_INFO=environ_path,
        QUERY_STRING="",
    )
    line = one_line(stream.getvalue())
    entry = COMBINED_PARSER.parse(line)
    # The path reads back as the exact bytes that were requested.
    logged_path = entry.request_line.split(" ")[1]
    assert unquote_to_bytes(logged_path) == environ_path.encode("latin-1")


# -- outputs ------------------------------------------------------------------------------


def test_json_lines(stream: io.StringIO) -> None:
    access = AccessLog(format="json", stream=stream)
    text, _ = logged(
        ScriptedApp(),
        "/j?token=abc&x=1",
        access=access,
        headers={"User-Agent": 'a "quoted"\nagent'},
        REMOTE_ADDR="127.0.0.1",
        **{"wsgimw.request_id": "req-1"},
    )
    record = json.loads(one_line(text))
    assert record["path"] == "/j?token=[redacted]&x=1"
    assert record["user_agent"] == 'a "quoted"\nagent'  # JSON escapes it, once
    assert record["status"] == 200
    assert record["bytes"] == 13
    assert record["request_id"] == "req-1"
    assert record["host"] == "127.0.0.1"
    assert isinstance(record["duration_ms"], float)
    assert record["time_iso"][-6] in "+-"


def test_logger_output_carries_the_fields(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wsgimw.accesslog")
    call_app(AccessLog(format=COMMON)(ScriptedApp()), "/x", REMOTE_ADDR="127.0.0.1")
    [record] = caplog.records
    assert record.name == "wsgimw.accesslog"
    assert record.levelno == logging.INFO
    assert COMMON_PARSER.parse(record.getMessage()).final_status == 200
    assert record.wsgimw_access["path"] == "/x"  # type: ignore[attr-defined]


def test_a_given_logger(caplog: pytest.LogCaptureFixture) -> None:
    mine = logging.getLogger("myapp.access")
    caplog.set_level(logging.INFO, logger="myapp.access")
    call_app(AccessLog(logger=mine, format="{method} {path}")(ScriptedApp()), "/y")
    assert [r.getMessage() for r in caplog.records] == ["GET /y"]


def test_library_adds_no_handlers() -> None:
    AccessLog()
    assert logging.getLogger("wsgimw.accesslog").handlers == []


# -- the fault matrix: exactly one line per request -----------------------------------------


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_logs_exactly_once(fault: Fault) -> None:
    stream = io.StringIO()
    check_fault(AccessLog(stream=stream), fault)
    lines = stream.getvalue().splitlines()
    # check_fault also runs a reference request for some rows: each one line.
    assert lines
    for line in lines:
        COMBINED_PARSER.parse(line)
    runs = (
        2
        if fault.name
        in ("list", "generator", "lazy-start", "write", "write-then-iterate")
        else 1
    )
    if fault.name.startswith("exc-info") and "after" not in fault.name:
        runs = 2
    assert len(lines) == runs


def test_composed_with_an_error_handler_logs_the_500(stream: io.StringIO) -> None:
    from wsgimw import ErrorHandler

    logging.getLogger("wsgimw.errors").disabled = True
    try:
        app = compose(AccessLog(stream=stream), ErrorHandler())(
            ScriptedApp(fail="call")
        )
        call_app(app)
    finally:
        logging.getLogger("wsgimw.errors").disabled = False
    entry = COMBINED_PARSER.parse(one_line(stream.getvalue()))
    assert entry.final_status == 500
    assert entry.bytes_sent == len(b"500 Internal Server Error\n")


# -- configuration ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"format": "{nope}"}, ValueError, r"unknown access log field \{nope\}"),
        ({"format": "{header}"}, ValueError, "unknown access log field"),
        ({"format": 3}, TypeError, "format must be a str"),
        (
            {"logger": logging.getLogger("x"), "stream": io.StringIO()},
            ValueError,
            "not both",
        ),
        ({"stream": "access.log"}, TypeError, "write\\(\\) method"),
        ({"trusted_proxies": True}, TypeError, "must be an int"),
        ({"trusted_proxies": -1}, ValueError, ">= 0"),
        ({"redact": "ssn"}, TypeError, "a list of names"),
    ],
)
def test_misconfiguration_fails_at_construction(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        AccessLog(**options)  # type: ignore[arg-type]


def test_repr(stream: io.StringIO) -> None:
    assert repr(AccessLog()) == "AccessLog()"
    assert repr(AccessLog(format="common")) == "AccessLog(format='common')"
    assert (
        repr(AccessLog(format="json", trusted_proxies=1))
        == "AccessLog(format='json', trusted_proxies=1)"
    )
    assert (
        repr(AccessLog(format="{path}", redact=["x"]))
        == "AccessLog(format='{path}', redact=[...])"
    )
    assert "stream=" in repr(AccessLog(stream=stream))


# -- found in review ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "app",
    [
        ScriptedApp(fail="started"),
        ScriptedApp(fail="chunk", at=0),
        ScriptedApp(style="lazy", fail="chunk", at=0),
    ],
    ids=["after-start", "first-chunk", "lazy-first-chunk"],
)
def test_an_error_before_any_body_byte_logs_the_500_the_server_sends(
    app: ScriptedApp, stream: io.StringIO
) -> None:
    text, _ = logged(app, access=AccessLog(stream=stream))
    entry = COMBINED_PARSER.parse(one_line(text))
    assert (entry.final_status, entry.bytes_sent) == (500, None)


def test_request_id_is_escaped_once(stream: io.StringIO) -> None:
    text, _ = logged(
        ScriptedApp(),
        access=AccessLog(stream=stream, format="{request_id} {user_agent}"),
        headers={"User-Agent": 'a"b'},
        **{"wsgimw.request_id": 'a"b'},
    )
    assert one_line(text) == 'a\\"b a\\"b'


@pytest.mark.parametrize(
    ("request_id", "shown"),
    [("caf\u00e9", "caf\\xe9"), ("\u20ac1", "\\xe2\\x82\\xac1"), (42, "42")],
)
def test_a_request_id_that_is_not_ascii_text_is_logged_as_its_bytes(
    stream: io.StringIO, request_id: object, shown: str
) -> None:
    text, _ = logged(
        ScriptedApp(),
        access=AccessLog(stream=stream, format="{request_id}"),
        **{"wsgimw.request_id": request_id},  # type: ignore[arg-type]
    )
    assert one_line(text) == shown


def test_non_ascii_query_bytes_are_percent_encoded(stream: io.StringIO) -> None:
    access = AccessLog(stream=stream, format="json")
    text, _ = logged(ScriptedApp(), "/s?q=caf\u00e9&r=%C3%A9", access=access)
    assert json.loads(one_line(text))["path"] == "/s?q=caf%C3%A9&r=%C3%A9"


def test_secrets_in_the_referer_are_redacted(stream: io.StringIO) -> None:
    referer = "https://shop.example/reset?token=abc123&step=2"
    text, _ = logged(
        ScriptedApp(), access=AccessLog(stream=stream), headers={"Referer": referer}
    )
    assert "abc123" not in text
    assert (
        COMBINED_PARSER.parse(one_line(text)).headers_in["Referer"]
        == "https://shop.example/reset?token=[redacted]&step=2"
    )


def test_duration_ms_is_a_number_in_fields(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wsgimw.accesslog")
    call_app(AccessLog()(ScriptedApp()))
    assert isinstance(caplog.records[0].wsgimw_access["duration_ms"], float)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "field", ["{host.__class__}", "{path[0]}", "{header}", "{header[]}"]
)
def test_format_strings_allow_no_attribute_access(field: str) -> None:
    with pytest.raises(ValueError, match="unknown access log field"):
        AccessLog(format=field)


def test_the_raw_request_uri_is_preferred(stream: io.StringIO) -> None:
    access = AccessLog(stream=stream, format="{path}")
    text, _ = logged(
        ScriptedApp(),
        access=access,
        PATH_INFO="/a/b",
        RAW_URI="/a%2Fb?password=x&\u00e9",
    )
    assert one_line(text) == "/a%2Fb?password=[redacted]&%E9"


def test_header_fields_redact_urls_too(stream: io.StringIO) -> None:
    access = AccessLog(stream=stream, format="{referer} | {header[Referer]}")
    text, _ = logged(
        ScriptedApp(),
        access=access,
        headers={"Referer": "https://a.example/cb?access_token=hunter2;x=1"},
    )
    assert "hunter2" not in text
    assert one_line(text).count("[redacted]") == 2


def test_nothing_is_built_when_the_logger_is_off() -> None:
    quiet = logging.getLogger("test.accesslog.quiet")
    quiet.setLevel(logging.WARNING)
    app = ScriptedApp()
    iterable = AccessLog(logger=quiet)(app)(
        make_environ(), lambda s, h, e=None: lambda d: None
    )
    assert iterable is app.last_iterable  # not even wrapped


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        (
            {"logger": "myapp.access"},
            TypeError,
            "logging.getLogger\\('myapp.access'\\)",
        ),
        (
            {"format": "{bytes_clf:>6d}"},
            ValueError,
            "cannot be used: Unknown format code 'd'",
        ),
        ({"format": "{path!z}"}, ValueError, "cannot be used"),
    ],
)
def test_more_misconfiguration(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        AccessLog(**options)  # type: ignore[arg-type]


def test_number_fields_take_number_specs(stream: io.StringIO) -> None:
    access = AccessLog(
        stream=stream, format="{status:>4} {bytes:06d} {duration_ms:.1f}"
    )
    text, _ = logged(ScriptedApp(), access=access)
    status, size, millis = one_line(text).split()
    assert (status, size) == ("200", "000013")
    assert float(millis) >= 0


# -- the named formats' own builder -----------------------------------------------------


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []
        self.fields: list[dict[str, object]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())
        self.fields.append(record.wsgimw_access)  # type: ignore[attr-defined]


_LATIN1 = st.text(
    alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=30
)


@given(
    path=_LATIN1,
    query=_LATIN1,
    agent=_LATIN1,
    referer=_LATIN1,
    user=st.one_of(st.none(), _LATIN1, st.integers()),
    status=st.sampled_from(["200 OK", "404 Not Found", "oops", "599 X"]),
    sent=st.integers(min_value=0, max_value=10**9),
)
def test_a_stream_gets_the_line_the_format_string_makes(
    path: str,
    query: str,
    agent: str,
    referer: str,
    user: object,
    status: str,
    sent: int,
) -> None:
    # "common" and "combined" lines come from a builder of their own, to a
    # stream or through a logger; any other format from fields() and the
    # format string (a trailing space makes one of the named formats
    # "other"). All must write the same line for any request, and the
    # record the same fields as fields() gives.
    environ = make_environ(
        "/",
        headers={"User-Agent": agent, "Referer": referer},
        PATH_INFO="/" + path,
        QUERY_STRING=query,
        REMOTE_USER=user,
    )
    logger = logging.getLogger("test.accesslog.builder")
    handler = _Lines()
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        for format in ("common", "combined", COMBINED, COMMON):
            stream, generic = io.StringIO(), io.StringIO()
            args = (environ, status, sent, 1_700_000_000.25, 0.001)
            AccessLog(format=format, stream=stream).write(*args)
            access = AccessLog(format=format, logger=logger)
            access.write(*args)
            AccessLog(format=_NAMED[format] + " ", stream=generic).write(*args)
            assert stream.getvalue() == handler.lines.pop() + "\n"
            assert stream.getvalue() == generic.getvalue()[:-2] + "\n"
            assert handler.fields.pop() == access.fields(*args)
    finally:
        logger.handlers.clear()


_NAMED = {"common": COMMON, "combined": COMBINED, COMBINED: COMBINED, COMMON: COMMON}


def test_the_status_is_the_one_sent_when_a_late_replacement_fails(
    stream: io.StringIO,
) -> None:
    # The app re-calls start_response with exc_info after body bytes went
    # out: the server refuses, the connection is aborted, and the line says
    # what the client got: the 200 and the bytes before the error.
    text, result = logged(
        ScriptedApp(fail="exc_info", at=1), access=AccessLog(stream=stream)
    )
    assert isinstance(result.error, AppFault)  # type: ignore[attr-defined]
    entry = COMBINED_PARSER.parse(one_line(text))
    assert (entry.final_status, entry.bytes_sent) == (200, 7)


def test_bytes_held_above_and_dropped_by_an_exc_info_page_are_not_counted() -> None:
    # A buffering layer above AccessLog still holds the first 10 bytes when
    # the app replaces the response through exc_info: they never reach the
    # client, so the line counts only the page.

    def replaced(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"0123456789"
        try:
            raise RuntimeError("half-way")
        except RuntimeError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        yield b"page"

    log = io.StringIO()
    stack = compose(
        Rewrite(body=lambda body: body, buffered=True),
        AccessLog(stream=log, format="{status} {bytes}"),
    )
    result = call_app(stack(replaced))
    assert (result.status, result.body) == ("500 Internal Server Error", b"page")
    assert log.getvalue() == "500 4\n"


# -- records made without logger.info() ------------------------------------------


def _access_record(
    logger: logging.Logger, monkeypatch: pytest.MonkeyPatch
) -> logging.LogRecord:
    """The one record AccessLog gives ``logger`` for a request."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        call_app(AccessLog(logger=logger)(ScriptedApp()), "/x?y=1")
    finally:
        logger.removeHandler(handler)
    assert len(records) == 1
    return records[0]


def test_a_record_is_the_one_logger_info_makes_without_a_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Field for field what logging.LogRecord makes for logger.info(line)
    when logging looks for no caller (logging._srcfile = None), at the
    same instant; type, time, thread and process included."""
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.123456)
    # Python 3.13's LogRecord reads the clock in nanoseconds.
    monkeypatch.setattr(time, "time_ns", lambda: 1_800_000_000_123_456_000)
    record = _access_record(logging.getLogger("test.accesslog.exact"), monkeypatch)
    expected = logging.LogRecord(
        "test.accesslog.exact",
        logging.INFO,
        "(unknown file)",
        0,
        record.msg,
        (),
        None,
        "(unknown function)",
        None,
    )
    assert type(record) is logging.LogRecord
    fields = vars(record).pop("wsgimw_access")
    assert vars(record) == vars(expected)
    assert record.getMessage() == expected.getMessage()
    assert fields["path"] == "/x?y=1"


def test_a_record_factory_makes_the_records(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    factory = logging.getLogRecordFactory()

    def tagging_factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        made.append(record.getMessage())
        return record

    monkeypatch.setattr(logging, "_logRecordFactory", tagging_factory)
    record = _access_record(logging.getLogger("test.accesslog.factory"), monkeypatch)
    assert made == [record.getMessage()]
    assert (record.pathname, record.lineno) == ("(unknown file)", 0)
    assert record.wsgimw_access["path"] == "/x?y=1"  # type: ignore[attr-defined]


def test_a_logger_subclass_logs_through_its_own_info(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    class Counting(logging.Logger):
        def info(self, msg: object, *args: object, **kwargs: object) -> None:
            calls.append(str(msg))
            super().info(msg, *args, **kwargs)  # type: ignore[arg-type]

    record = _access_record(Counting("test.accesslog.subclass"), monkeypatch)
    assert calls == [record.getMessage()]
    assert record.wsgimw_access["status"] == 200  # type: ignore[attr-defined]


def test_the_fields_are_those_of_fields(caplog: pytest.LogCaptureFixture) -> None:
    """The record's fields and the line are what fields() and the format
    string make, for a request with values to escape and to redact."""
    caplog.set_level(logging.INFO, logger="wsgimw.accesslog")
    environ = make_environ(
        "/caf\xc3\xa9",
        QUERY_STRING="token=abc&q=%22x%22",
        HTTP_REFERER='https://a.example/?password=1&x="',
        HTTP_USER_AGENT="agent\x1b[31m",
        REMOTE_USER="b\xc3\xb8b",
        HTTP_X_REQUEST_ID="r-1",
    )
    access = AccessLog()
    access.write(environ, "404 Not Found", 0, time.time(), 0.25)
    (record,) = caplog.records
    fields = record.wsgimw_access  # type: ignore[attr-defined]
    expected = access.fields(environ, "404 Not Found", 0, record.created, 0.25)
    assert {k: v for k, v in fields.items() if k not in ("time", "time_iso")} == {
        k: v for k, v in expected.items() if k not in ("time", "time_iso")
    }
    line = record.getMessage()
    entry = COMBINED_PARSER.parse(line)  # a valid combined line
    assert (entry.remote_user, entry.final_status) == (fields["user"], 404)
    assert " - b\\xc3\\xb8b [" in line  # escaped as Apache does
    assert line.endswith('=[redacted]&x=\\"" "agent\\x1b[31m"')
    assert "abc" not in line
    assert "password=1" not in line


# -- saying when the lines go nowhere --------------------------------------------

_SCRIPT = """
import logging, sys
from wsgimw import AccessLog
from wsgimw.testing import call_app

def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hi"]

{setup}
app = {access}(hello)
for _ in range(3):
    call_app(app, "/")
print("served", file=sys.stderr)
"""
_HINT = "wsgimw AccessLog: no access lines will appear"


def _run(setup: str, access: str = "AccessLog()") -> str:
    result = subprocess.run(
        [sys.executable, "-c", _SCRIPT.format(setup=setup, access=access)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    return result.stderr


@pytest.mark.parametrize(
    ("setup", "why"),
    [
        ("", "effective level is WARNING"),
        (
            "logging.getLogger().setLevel(logging.INFO)",
            "no handler is configured for the 'wsgimw.accesslog' logger or its "
            "parents, and Python's last resort drops INFO records",
        ),
        (
            "logging.basicConfig(level=logging.INFO)\n"
            "logging.getLogger().handlers[0].setLevel(logging.WARNING)",
            "every handler of the 'wsgimw.accesslog' logger is above INFO",
        ),
        (
            "import logging.config\n"
            "logging.getLogger('wsgimw.accesslog')\n"
            "logging.config.dictConfig({'version': 1, 'root': {'level': 'INFO', "
            "'handlers': ['h']}, 'handlers': {'h': {'class': "
            "'logging.StreamHandler'}}})",
            "the 'wsgimw.accesslog' logger is disabled",
        ),
        ("logging.basicConfig(level=logging.INFO)\nlogging.disable()", "disable"),
    ],
    ids=["bare", "no-handler", "handler-above-info", "disabled", "disable"],
)
def test_lines_that_go_nowhere_are_said_once_on_stderr(setup: str, why: str) -> None:
    stderr = _run(setup)
    assert stderr.count(_HINT) == 1, stderr
    hint = stderr.splitlines()[0]
    assert why in hint
    for fix in (
        "logging.basicConfig(level=logging.INFO)",
        "--log-config",
        "logconfig_dict",
        "AccessLog(stream=sys.stderr)",
    ):
        assert fix in hint
    assert stderr.splitlines()[1:] == ["served"]  # nothing else, no line


@pytest.mark.parametrize(
    ("setup", "access"),
    [
        ("logging.basicConfig(level=logging.INFO)", "AccessLog()"),
        (
            "logging.getLogger('wsgimw').addHandler(logging.StreamHandler())\n"
            "logging.getLogger('wsgimw').setLevel(logging.INFO)",
            "AccessLog()",
        ),
        ("", "AccessLog(stream=sys.stderr)"),
        (
            "mine = logging.getLogger('mine')\n"
            "mine.addHandler(logging.StreamHandler())\n"
            "mine.setLevel(logging.INFO)",
            "AccessLog(logger=logging.LoggerAdapter(mine, {}))",
        ),
    ],
    ids=["basicConfig", "parent-handler", "stream", "adapter"],
)
def test_lines_that_go_somewhere_are_not_hinted_at(setup: str, access: str) -> None:
    stderr = _run(setup, access)
    assert _HINT not in stderr
    assert stderr.count('"GET / HTTP/1.0" 200 2') == 3, stderr


def test_the_hint_is_said_once_per_logger_and_adds_nothing() -> None:
    stderr = _run(
        "other = AccessLog(logger=logging.getLogger('other'))(hello)\n"
        "for _ in range(2):\n"
        "    call_app(AccessLog()(hello), '/')\n"
        "    call_app(other, '/')\n"
        "root = logging.getLogger()\n"
        "assert (root.handlers, root.level) == ([], logging.WARNING)\n"
        "assert logging.getLogger('wsgimw.accesslog').handlers == []"
    )
    assert stderr.count(_HINT) == 2, stderr
    assert "'other' logger" in stderr


_GUNICORN_APP = """
from wsgimw import AccessLog

def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hi"]

application = AccessLog()(hello)
"""


@pytest.mark.parametrize("configured", [False, True], ids=["bare", "log-config-json"])
def test_under_gunicorn_the_hint_or_the_lines(tmp_path: Path, configured: bool) -> None:
    """gunicorn configures its own loggers only: with no logging set-up the
    hint comes once, at the first request; with a --log-config-json (any
    dictConfig through gunicorn gives the root logger its console handler
    at INFO) the lines come and the hint does not."""
    (tmp_path / "hello.py").write_text(_GUNICORN_APP, encoding="utf-8")
    args = ["-m", "gunicorn", "--threads", "2", "--bind", "127.0.0.1:{port}"]
    if configured:
        (tmp_path / "logging.json").write_text('{"version": 1}', encoding="utf-8")
        args += ["--log-config-json", str(tmp_path / "logging.json")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)])}
    with servers.running([*args, "hello:application"], cwd=tmp_path, env=env) as server:
        for _ in range(2):
            with urllib.request.urlopen(server.url + "/hi", timeout=10) as response:
                assert response.read() == b"hi"
        expected = '"GET /hi HTTP/1.1" 200 2' if configured else _HINT
        wanted = 2 if configured else 1
        log = server.wait_for_log(lambda text: text.count(expected) >= wanted)
    if configured:
        assert _HINT not in log, log
        # gunicorn's default dictConfig also lets its own loggers propagate
        # to the root's handler, which may print a line twice: at least both.
        assert log.count('"GET /hi HTTP/1.1" 200 2') >= 2, log
    else:
        assert log.count(_HINT) == 1, log
        assert "GET /hi" not in log


def test_request_targets_are_remembered_bounded_and_per_instance(
    stream: io.StringIO,
) -> None:
    from wsgimw import accesslog

    access = AccessLog(stream=stream, format="{path}")
    strict = AccessLog(stream=stream, format="{path}", redact=["q"])
    app, other = access(ScriptedApp()), strict(ScriptedApp())
    for number in range(accesslog._TARGET_MEMO_SIZE + 44):
        call_app(app, "/", QUERY_STRING=f"n={number}&token=t{number}")
        assert len(access._targets) <= accesslog._TARGET_MEMO_SIZE
    call_app(app, "/", QUERY_STRING="q=1")
    call_app(app, "/", QUERY_STRING="q=1")
    call_app(other, "/", QUERY_STRING="q=1")  # the same query, its own redaction
    call_app(app, "/a b", QUERY_STRING="q=1")  # another path, the same query
    call_app(app, "/", QUERY_STRING="q=1", RAW_URI="/%2F?q=1&token=t")
    call_app(app, "/", QUERY_STRING="q=1", RAW_URI="/%2F?q=1&token=t")
    long = "a=" + "x" * accesslog._TARGET_MEMO_LENGTH
    call_app(app, "/", QUERY_STRING=long)
    lines = stream.getvalue().splitlines()
    assert lines[0] == "/?n=0&token=[redacted]"
    assert lines[-8] == f"/?n={number}&token=[redacted]"
    assert lines[-7:] == [
        "/?q=1",
        "/?q=1",
        "/?q=[redacted]",
        "/a%20b?q=1",
        "/%2F?q=1&token=[redacted]",
        "/%2F?q=1&token=[redacted]",
        "/?" + long,
    ]
    assert ("", "/", long) not in access._targets
    assert ("", "/", "q=1") in access._targets
    assert "/%2F?q=1&token=t" in access._targets


def test_client_headers_are_remembered_bounded_escaped_and_never_with_secrets(
    stream: io.StringIO,
) -> None:
    from wsgimw import accesslog

    access = AccessLog(stream=stream)
    app = access(ScriptedApp())
    for number in range(accesslog._TARGET_MEMO_SIZE + 44):
        call_app(app, "/", HTTP_USER_AGENT=f"agent/{number}")
        assert len(access._agents) <= accesslog._TARGET_MEMO_SIZE
    hostile = 'evil"\x1b[31m'
    secret = "https://example.com/?token=s3cret&page=2"
    long = "a" * (accesslog._TARGET_MEMO_LENGTH + 1)
    for _ in range(2):  # the second time from the memo, where there is one
        call_app(app, "/", HTTP_USER_AGENT=hostile, HTTP_REFERER="https://a.example/")
        call_app(app, "/", HTTP_USER_AGENT=long, HTTP_REFERER=secret)
    lines = stream.getvalue().splitlines()
    assert lines[-4].endswith('"https://a.example/" "evil\\"\\x1b[31m"')
    assert lines[-2] == lines[-4]
    assert lines[-3].endswith(
        f'"https://example.com/?token=[redacted]&page=2" "{long}"'
    )
    assert lines[-1] == lines[-3]
    assert access._agents[hostile] == (hostile, 'evil\\"\\x1b[31m')
    assert long not in access._agents
    assert secret not in access._referers  # no secret kept past its request
    assert "https://a.example/" in access._referers


def _above_info(logger: logging.Logger) -> None:
    logger.setLevel(logging.INFO)
    logger.addHandler(logging.NullHandler(logging.ERROR))
    logger.propagate = False


def _disabled(logger: logging.Logger) -> None:
    logger.disabled = True


def _emits(logger: logging.Logger) -> None:
    logger.setLevel(logging.INFO)
    logger.addHandler(logging.NullHandler())


@pytest.mark.parametrize(
    ("configure", "why"),
    [
        (lambda logger: None, "effective level is WARNING"),
        (lambda logger: logger.setLevel(logging.INFO), "last resort drops INFO"),
        (_above_info, "every handler"),
        (_disabled, "is disabled"),
        (_emits, None),
    ],
    ids=["level", "no-handler", "above-info", "disabled", "emits"],
)
def test_why_lines_go_nowhere_in_process(
    configure: Any, why: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    from wsgimw import accesslog

    logger = logging.Logger(f"test.nowhere.{why}")  # no parent: root's set-up aside
    configure(logger)
    reason = accesslog._nowhere(logger)
    assert (reason is None) == (why is None)
    if why is not None:
        assert reason is not None
        assert why in reason
    accesslog._hint_if_nowhere(logging.LoggerAdapter(logger, {}))
    accesslog._hint_if_nowhere(logger)
    said = capsys.readouterr().err
    assert said.count("no access lines will appear") == (0 if why is None else 1)


def test_logging_disable_and_a_broken_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    from wsgimw import accesslog

    logger = logging.getLogger("test.nowhere.disable")
    logger.addHandler(logging.NullHandler())
    logger.setLevel(logging.INFO)
    monkeypatch.setattr(logger.manager, "disable", logging.CRITICAL)
    assert "logging.disable(CRITICAL)" in (accesslog._nowhere(logger) or "")

    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError("stderr is gone")

    monkeypatch.setattr(sys, "stderr", Broken())
    accesslog._hint_if_nowhere(logger)  # says nothing, raises nothing
    assert "test.nowhere.disable" in accesslog._HINTED


def test_a_record_names_the_process_multiprocessing_names(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import multiprocessing

    from wsgimw import accesslog

    monkeypatch.setattr(multiprocessing.current_process(), "name", "Worker-7")
    record = accesslog._make_record(logging.getLogger("test.process"), "line")
    assert record.processName == "Worker-7"
    monkeypatch.delitem(sys.modules, "multiprocessing")
    record = accesslog._make_record(logging.getLogger("test.process"), "line")
    assert record.processName == "MainProcess"
