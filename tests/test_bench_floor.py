"""The measuring stick of issue 12: the hand-fused floor (bench.fused)
answers the default request as the default stack does. (bench.compiled's
tests are in test_bench_compiled.py.)"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bench import apps, cases, fused, stacks
from wsgimw import ErrorHandler, compose
from wsgimw.testing import Lint, call_app
from wsgimw.types import Environ, StartResponse, WSGIApp

TIME = re.compile(r"\[[^]]+\]")


class Kept(logging.Handler):
    """Keeps every record, formatted."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.lines.append(self.format(record))


@pytest.fixture
def kept() -> Iterator[tuple[logging.Logger, Kept]]:
    logger = logging.getLogger("tests.bench_floor")
    handler = Kept()
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield logger, handler
    logger.handlers[:] = []


@pytest.fixture
def error_records() -> Iterator[list[logging.LogRecord]]:
    """What wsgimw.errors logs during the test (the floor logs there too)."""
    logger = logging.getLogger("wsgimw.errors")
    handler = Kept()
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)


def floor(
    app: WSGIApp, logger: logging.Logger, htpasswd: Path = stacks.HTPASSWD
) -> WSGIApp:
    """The floor between two Lints: it must keep PEP 3333 on both sides."""
    return Lint()(fused.fused_stack(Lint()(app), logger=logger, htpasswd=htpasswd))


def default(app: WSGIApp, logger: logging.Logger) -> WSGIApp:
    """The default stack, logging to ``logger``."""
    from wsgimw import AccessLog, BasicAuth, Compress, QueryParser

    return compose(
        ErrorHandler(),
        AccessLog(format="combined", logger=logger),
        Compress(minimum_size=500),
        BasicAuth(htpasswd=stacks.HTPASSWD, realm="app", protect=[stacks.PROTECTED]),
        QueryParser(),
    )(app)


def environ(**changes: Any) -> Environ:
    """The default request, with ``changes`` (None removes a key)."""
    made = stacks.make_default_environ()
    for key, value in changes.items():
        if value is None:
            made.pop(key, None)
        else:
            made[key] = value
    return made


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def both(
    app: WSGIApp, kept: tuple[logging.Logger, Kept], **changes: Any
) -> tuple[Any, Any, str, str]:
    """The default stack's and the floor's answers to one request, and the
    line each logged (its time left out)."""
    logger, handler = kept
    ours = call_app(default(app, logger), environ(**changes), catch=True)
    line = TIME.sub("[]", handler.lines[-1])
    theirs = call_app(floor(app, logger), environ(**changes), catch=True)
    fused_line = TIME.sub("[]", handler.lines[-1])
    return ours, theirs, line, fused_line


# -- the floor answers as the default stack does ----------------------------------


def test_default_request_answers_and_logs_as_the_default_stack(kept: Any) -> None:
    ours, theirs, line, fused_line = both(stacks.query_app, kept)
    assert theirs.status == ours.status == "200 OK"
    assert theirs.headers == ours.headers
    assert theirs.body == ours.body == apps.BODY
    assert fused_line == line
    assert line.startswith('127.0.0.1 - alice [] "GET /admin/hello?q=hello+world')


def test_the_record_is_handled_with_the_same_fields(kept: Any) -> None:
    logger, handler = kept
    call_app(default(stacks.query_app, logger), environ())
    call_app(floor(stacks.query_app, logger), environ())
    stack_record, fused_record = handler.records
    assert fused_record.levelno == logging.INFO
    assert fused_record.name == stack_record.name
    assert fused_record.getMessage() == handler.lines[1]
    theirs = dict(stack_record.wsgimw_access)
    ours = dict(fused_record.wsgimw_access)
    for key in ("duration_us", "duration_ms", "time_iso", "time"):
        assert type(ours.pop(key)) is type(theirs.pop(key))
    assert ours == theirs
    for name in ("thread", "threadName", "process", "pathname", "funcName"):
        assert getattr(fused_record, name) == getattr(stack_record, name)


def test_the_bench_row_checks_its_line() -> None:
    case = next(case for case in cases.CASES if case.key == "fused_floor")
    assert case.peer == "paste_default"
    assert case.baseline == "bare_default"
    app = case.wrap(case.app)
    cases.check(case, app, cases.template_environ(case.environ))
    fused.FUSED_LOG_HANDLER.last = "not a line"
    assert case.verify is not None
    with pytest.raises(RuntimeError, match="unexpected log line"):
        case.verify()


@pytest.mark.parametrize(
    "changes",
    [
        {"HTTP_AUTHORIZATION": None},
        {"HTTP_AUTHORIZATION": basic("alice", "wrong")},
        {"HTTP_AUTHORIZATION": basic("bob", "correct horse battery staple")},
        {"HTTP_AUTHORIZATION": "Bearer abc"},
        {"PATH_INFO": "/ADMIN", "HTTP_AUTHORIZATION": None},
        {"PATH_INFO": "/hello", "SCRIPT_NAME": "/admin", "HTTP_AUTHORIZATION": None},
    ],
)
def test_refused_like_the_default_stack(kept: Any, changes: dict[str, Any]) -> None:
    ours, theirs, line, fused_line = both(stacks.query_app, kept, **changes)
    assert ours.status == theirs.status == "401 Unauthorized"
    assert theirs.headers == ours.headers
    assert theirs.body == ours.body
    assert fused_line == line


@pytest.mark.parametrize(
    "header",
    [
        # BasicAuth answers these 400; the floor, 401.
        "Basic !!!!",  # not base64
        "Basic " + base64.b64encode(b"alice").decode(),  # no colon
        "Basic " + base64.b64encode(b"\xff:x").decode(),  # not UTF-8
        "Basic " + base64.b64encode(b"alice:a\x01b").decode(),  # a control character
    ],
)
def test_malformed_credentials_are_refused(kept: Any, header: object) -> None:
    result = call_app(
        floor(stacks.query_app, kept[0]), environ(HTTP_AUTHORIZATION=header)
    )
    assert result.status == "401 Unauthorized"


def test_only_a_str_header_is_read() -> None:
    assert fused._user(12, {"alice": b""}) is None


@pytest.mark.parametrize(
    "path", ["/admin/../x", "/x/./admin", "//admin", "/x/..", "/x\\y", "/caf\u00e9"]
)
def test_odd_paths_are_checked(kept: Any, path: str) -> None:
    result = call_app(
        floor(apps.hello_app, kept[0]),
        environ(PATH_INFO=path, HTTP_AUTHORIZATION=None),
    )
    assert result.status == "401 Unauthorized"


def test_public_paths_are_not_checked(kept: Any) -> None:
    ours, theirs, line, fused_line = both(
        stacks.query_app, kept, PATH_INFO="/administrator", HTTP_AUTHORIZATION=None
    )
    assert ours.status == theirs.status == "200 OK"
    assert fused_line == line
    assert " - - [] " in line


def test_the_user_is_published(kept: Any, tmp_path: Path) -> None:
    import hashlib

    digest = base64.b64encode(hashlib.sha1(b"secret").digest()).decode()
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(f"# users\nj\u00f6rg:{{SHA}}{digest}\n", encoding="utf-8")
    seen: list[Environ] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(dict(environ))
        return apps.hello_app(environ, start_response)

    result = call_app(
        floor(app, kept[0], htpasswd),
        environ(HTTP_AUTHORIZATION=basic("j\u00f6rg", "secret")),
    )
    assert result.status == "200 OK"
    assert seen[0]["REMOTE_USER"] == "j\u00f6rg".encode().decode("latin-1")
    assert seen[0]["wsgimw.user"] == "j\u00f6rg"
    assert seen[0]["AUTH_TYPE"] == "Basic"


def test_a_changed_htpasswd_file_is_read_again(kept: Any, tmp_path: Path) -> None:
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_text(stacks.HTPASSWD.read_text(encoding="utf-8"), encoding="utf-8")
    users = fused._Users(htpasswd)
    assert set(users.current()) == {"alice"}
    htpasswd.write_text("bob:{SHA}q/eq1kOINtvlJqojGr3i0O73TUI=\n", encoding="utf-8")
    assert set(users.current()) == {"alice"}  # not looked at within a second
    users._next_check = 0.0
    assert set(users.current()) == {"bob"}
    users._next_check = 0.0
    assert set(users.current()) == {"bob"}  # unchanged: not read again


# -- Vary, as Compress adds it ---------------------------------------------------------


def answering(status: str, headers: list[tuple[str, str]], body: bytes) -> WSGIApp:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, headers)
        return [body]

    return app


PAGE = apps.PAGE
_LENGTH = str(len(PAGE))


@pytest.mark.parametrize(
    ("status", "headers"),
    [
        ("200 OK", [("Content-Type", "text/html"), ("Content-Length", _LENGTH)]),
        ("200 OK", [("Content-Type", "application/json")]),
        ("200 OK", [("Content-Type", "text/html"), ("Vary", "Cookie")]),
        ("200 OK", [("Content-Type", "text/html"), ("Vary", " ")]),
        ("200 OK", [("Content-Type", "text/html"), ("Vary", "accept-encoding")]),
        ("200 OK", [("Content-Type", "text/html"), ("Vary", "*")]),
        ("200 OK", [("Content-Type", "image/png")]),
        ("200 OK", [("Content-Type", "text/html"), ("Content-Length", "13")]),
        ("200 OK", [("Content-Type", "text/html"), ("Content-Encoding", "br")]),
        ("200 OK", [("Content-Type", "text/html"), ("Cache-Control", "no-transform")]),
        ("200 OK", [("Content-Type", "text/html"), ("Cache-Control", "no-cache")]),
        ("200 OK", [("X-Other", "1")]),
        ("204 No Content", [("Content-Type", "text/html")]),
        ("304 Not Modified", [("Content-Type", "text/html")]),
    ],
)
def test_vary_as_compress_adds_it(
    kept: Any, status: str, headers: list[tuple[str, str]]
) -> None:
    length = dict(headers).get("Content-Length", _LENGTH)
    body = b"" if status[:3] in ("204", "304") else PAGE[: int(length)]
    # No Accept-Encoding: Compress decides without compressing, as the floor.
    ours, theirs, _, _ = both(
        answering(status, headers, body), kept, HTTP_ACCEPT_ENCODING=None
    )
    assert theirs.status == ours.status
    assert theirs.headers == ours.headers
    assert theirs.body == ours.body


def test_the_default_response_gets_no_vary(kept: Any) -> None:
    ours, theirs, _, _ = both(stacks.query_app, kept)
    assert theirs.header("Vary") is None
    assert ours.header("Vary") is None


# -- the query ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        "tag=a&tag=b",
        "q=hello+world&&tag=%41%zz&tag",
        "tag=%C3%A9&tag=%ff",
        "tag=caf\u00e9",
        "tag=\u20ac",  # not latin-1: a server that decoded the bytes as UTF-8
    ],
)
def test_the_query_reads_as_queryparser_reads_it(query: str) -> None:
    from wsgimw.query import QueryParser

    got: list[list[str]] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        got.append(environ["wsgimw.query"].getall("tag"))
        got.append(environ["wsgimw.query"].getall("q"))
        return apps.hello_app(environ, start_response)

    call_app(QueryParser()(app), environ(QUERY_STRING=query))
    call_app(
        fused.fused_stack(app, logger=fused.FUSED_LOG, htpasswd=stacks.HTPASSWD),
        environ(QUERY_STRING=query),
    )
    assert got[2:] == got[:2]


def test_a_long_query_is_refused(kept: Any) -> None:
    ours, theirs, _, _ = both(stacks.query_app, kept, QUERY_STRING="a=1&" * 2100)
    assert ours.status == theirs.status == "414 URI Too Long"
    assert theirs.headers == ours.headers
    assert theirs.body == ours.body


def test_head_gets_no_body(kept: Any) -> None:
    result = call_app(
        floor(stacks.query_app, kept[0]),
        environ(REQUEST_METHOD="HEAD", HTTP_AUTHORIZATION=None),
    )
    assert result.status == "401 Unauthorized"
    assert result.body == b""


# -- the access line ----------------------------------------------------------------


@pytest.mark.parametrize(
    "changes",
    [
        {"HTTP_USER_AGENT": 'say "hi"\\\x01'},
        {"PATH_INFO": '/a b/c"d%', "HTTP_AUTHORIZATION": None},
        {"PATH_INFO": "/admin/caf\u00e9"},
        {"PATH_INFO": "", "SCRIPT_NAME": "", "HTTP_AUTHORIZATION": None},
        {"QUERY_STRING": "password=hunter2&x=1"},
        {"QUERY_STRING": "x=a b\u00e9"},
        {"QUERY_STRING": ""},
        {"HTTP_REFERER": "http://example.com/", "REMOTE_ADDR": ""},
        {"HTTP_REFERER": "http://u:pw@example.com/?token=abc&x=1"},
        {"QUERY_STRING": 'x="y"\\'},
        {"REMOTE_ADDR": "10.0.0.\x01"},
    ],
)
def test_the_line_is_the_default_stacks(kept: Any, changes: dict[str, Any]) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return apps.hello_app(environ, start_response)

    _, _, line, fused_line = both(app, kept, **changes)
    assert fused_line == line
    theirs, ours = (dict(r.wsgimw_access) for r in kept[1].records[-2:])
    for key in ("duration_us", "duration_ms", "time_iso"):
        del theirs[key], ours[key]
    assert ours == theirs


def test_many_queries_and_agents_are_remembered_within_bounds(kept: Any) -> None:
    app = fused.fused_stack(apps.hello_app, logger=kept[0], htpasswd=stacks.HTPASSWD)
    for number in range(300):
        call_app(
            app,
            environ(
                QUERY_STRING=f"n={number}",
                HTTP_USER_AGENT=f"agent {number}",
                HTTP_REFERER=f"http://x/{number}",
            ),
        )
    assert kept[1].lines[-1].split('"')[1].endswith("?n=299 HTTP/1.1")
    assert kept[1].lines[-1].endswith('"http://x/299" "agent 299"')


def test_no_line_when_the_logger_is_off(kept: Any) -> None:
    logger, handler = kept
    logger.setLevel(logging.WARNING)
    call_app(floor(stacks.query_app, logger), environ())
    assert handler.lines == []


def test_the_time_is_formatted_once_a_second() -> None:
    first = fused._second(1_000_000.25)
    assert fused._second(1_000_000.75) is first
    assert fused._second(1_000_001.0) is not first
    assert fused._iso_time(1_000_000.25, first) is fused._iso_time(
        1_000_000.2501, first
    )
    assert fused._iso_time(1_000_000.25, first).endswith(".250+00:00") == (
        first[3] == "+00:00"
    )
    assert fused._offset(-3600) == "-0100"
    assert fused._offset(19800) == "+0530"


# -- errors, as ErrorHandler answers them -------------------------------------------


def raising(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    raise ValueError("the app failed")


def raising_late(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    raise ValueError("the app failed")
    yield b""  # pragma: no cover - a generator


@pytest.mark.parametrize("app", [raising, raising_late])
@pytest.mark.parametrize("accept", ["text/html", "text/plain"])
def test_an_app_error_gets_the_500_page(
    kept: Any, error_records: list[logging.LogRecord], app: WSGIApp, accept: str
) -> None:
    ours, theirs, _, fused_line = both(app, kept, HTTP_ACCEPT=accept)
    assert ours.status == theirs.status == "500 Internal Server Error"
    assert theirs.headers == ours.headers
    assert theirs.body == ours.body
    assert '" 500 ' in fused_line
    messages = [record.getMessage() for record in error_records]
    assert messages == ["error in GET /admin/hello"] * 2


def test_head_error_page_has_no_body(kept: Any) -> None:
    result = call_app(floor(raising, kept[0]), environ(REQUEST_METHOD="HEAD"))
    assert result.status == "500 Internal Server Error"
    assert result.body == b""


def test_an_error_after_the_body_began_is_raised(
    kept: Any, error_records: list[logging.LogRecord]
) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"half"
        raise ValueError("late")

    result = call_app(
        fused.fused_stack(app, logger=kept[0], htpasswd=stacks.HTPASSWD),
        environ(),
        catch=True,
    )
    assert isinstance(result.error, ValueError)
    assert result.body == b"half"
    assert "after the response began" in error_records[0].getMessage()
    assert '" 200 4 ' in kept[1].lines[-1]


def test_an_error_in_close_is_logged_and_the_response_stands(
    kept: Any, error_records: list[logging.LogRecord]
) -> None:
    class Body:
        def __iter__(self) -> Iterator[bytes]:
            return iter([b"ok"])

        def close(self) -> None:
            raise ValueError("close failed")

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body()

    result = call_app(floor(app, kept[0]), environ())
    assert (result.status, result.body) == ("200 OK", b"ok")
    assert "error in close()" in error_records[0].getMessage()
    assert '" 200 2 ' in kept[1].lines[-1]
