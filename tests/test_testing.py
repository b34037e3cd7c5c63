"""wsgimw.testing: every Lint rule is caught, call_app behaves as a server."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Iterator

import pytest

from wsgimw.testing import (
    ERROR_PAGE,
    FAULTS,
    AppFault,
    Lint,
    LintError,
    ScriptedApp,
    call_app,
    check_fault,
    make_environ,
)
from wsgimw.types import Environ, Headers, StartResponse, WSGIApp

Respond = Callable[[StartResponse], Iterable[bytes]]


def app_doing(respond: Respond) -> WSGIApp:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return respond(start_response)

    return app


def ok(headers: Headers | None = None, status: str = "200 OK") -> Respond:
    def respond(start_response: StartResponse) -> Iterable[bytes]:
        start_response(
            status, headers if headers is not None else [("Content-Type", "text/plain")]
        )
        return [b"body"]

    return respond


def caught(app: WSGIApp, **options: object) -> LintError:
    """Run ``app`` under a Lint; return the violation it recorded."""
    lint = Lint(above="the test server", below="the broken app")
    call_app(lint(app), catch=True, **options)  # type: ignore[arg-type]
    with pytest.raises(LintError) as info:
        lint.verify()
    return info.value


def yields_before_start(start_response: StartResponse) -> Iterator[bytes]:
    yield b"too early"
    start_response("200 OK", [])  # pragma: no cover - Lint stops it first


def restarts_without_exc_info(start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [])
    start_response("500 Oops", [])
    return []


def malformed_exc_info(start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [], ("not", "exc", "info", "tuple"))  # type: ignore[arg-type]
    return []


def yields_str(start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return ["text"]  # type: ignore[list-item]


def writes_str(start_response: StartResponse) -> Iterable[bytes]:
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write("text")  # type: ignore[arg-type]
    return []


def returns_bytes(start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [])
    return b"bytes are iterable, but of ints"  # type: ignore[return-value]


def sized(length: str, body: bytes, status: str = "200 OK") -> Respond:
    def respond(start_response: StartResponse) -> Iterable[bytes]:
        start_response(
            status, [("Content-Type", "text/plain"), ("Content-Length", length)]
        )
        return [body]

    return respond


def never_starts(start_response: StartResponse) -> Iterable[bytes]:
    return []


RULES: dict[str, tuple[str, WSGIApp, dict[str, object]]] = {
    "status not a str": ("status", app_doing(ok(status=b"200 OK")), {}),  # type: ignore[arg-type]
    "status without reason": ("status", app_doing(ok(status="200")), {}),
    "status code 099": ("status", app_doing(ok(status="099 Low")), {}),
    "status not latin-1": ("latin-1", app_doing(ok(status="200 ✓")), {}),
    "headers a tuple": ("headers", app_doing(ok(headers=(("A", "b"),))), {}),  # type: ignore[arg-type]
    "header a list": ("headers", app_doing(ok(headers=[["A", "b"]])), {}),  # type: ignore[list-item]
    "header value bytes": ("headers", app_doing(ok(headers=[("A", b"b")])), {}),  # type: ignore[list-item]
    "header name with space": (
        "headers",
        app_doing(ok(headers=[("Bad Name", "x")])),
        {},
    ),
    "Status header": ("headers", app_doing(ok(headers=[("Status", "200")])), {}),
    "newline in value": (
        "headers",
        app_doing(ok(headers=[("X-A", "a\r\nSet-Cookie: x")])),
        {},
    ),
    "header not latin-1": ("latin-1", app_doing(ok(headers=[("X-A", "✓")])), {}),
    "Connection header": (
        "hop-by-hop",
        app_doing(ok(headers=[("Connection", "close")])),
        {},
    ),
    "Transfer-Encoding header": (
        "hop-by-hop",
        app_doing(ok(headers=[("Transfer-Encoding", "chunked")])),
        {},
    ),
    "body before start": ("start-before-body", app_doing(yields_before_start), {}),
    "never started": ("start-before-body", app_doing(never_starts), {}),
    "second start without exc_info": (
        "exc-info",
        app_doing(restarts_without_exc_info),
        {},
    ),
    "malformed exc_info": ("exc-info", app_doing(malformed_exc_info), {}),
    "str chunk": ("bytes", app_doing(yields_str), {}),
    "str write": ("bytes", app_doing(writes_str), {}),
    "bytes returned": ("iterable", app_doing(returns_bytes), {}),
    "body on HEAD": ("no-body", app_doing(ok()), {"method": "HEAD"}),
    "body on 204": ("no-body", app_doing(ok(status="204 No Content", headers=[])), {}),
    "body on 304": (
        "no-body",
        app_doing(ok(status="304 Not Modified", headers=[])),
        {},
    ),
    "more than Content-Length": ("content-length", app_doing(sized("2", b"abc")), {}),
    "less than Content-Length": ("content-length", app_doing(sized("9", b"abc")), {}),
    "Content-Length not a number": (
        "content-length",
        app_doing(sized("3x", b"abc")),
        {},
    ),
    "Content-Length on 204": (
        "content-length",
        app_doing(sized("0", b"", "204 No Content")),
        {},
    ),
}


@pytest.mark.parametrize("case", RULES)
def test_lint_catches_each_broken_rule(case: str) -> None:
    rule, app, options = RULES[case]
    error = caught(app, **options)
    assert error.rule == rule
    assert f"[{rule}]" in str(error)
    assert "broken by the broken app" in str(error)


def test_two_different_content_lengths() -> None:
    headers = [("Content-Length", "1"), ("Content-Length", "2")]
    assert caught(app_doing(ok(headers=headers))).rule == "content-length"


def test_lint_records_violations_a_middleware_swallows() -> None:
    lint = Lint()
    inner = lint(app_doing(ok(headers=[("Connection", "close")])))

    def swallowing(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        try:
            return inner(environ, start_response)
        except Exception:
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"all fine, honest"]

    result = call_app(swallowing)
    assert result.body == b"all fine, honest"
    with pytest.raises(LintError, match="hop-by-hop"):
        lint.verify()


# -- the server side -------------------------------------------------------------


def test_close_twice_is_blamed_on_the_layer_above() -> None:
    lint = Lint(above="a careless server")
    iterable = lint(ScriptedApp())(make_environ(), lambda s, h, e=None: lambda d: None)
    iterable.close()  # type: ignore[attr-defined]
    with pytest.raises(LintError, match=r"\[close-once\].*broken by a careless server"):
        iterable.close()  # type: ignore[attr-defined]


def test_next_after_close() -> None:
    lint = Lint()
    iterable = lint(ScriptedApp())(make_environ(), lambda s, h, e=None: lambda d: None)
    iterable.close()  # type: ignore[attr-defined]
    with pytest.raises(LintError, match="next\\(\\) called after close"):
        next(iter(iterable))


def test_never_closed_is_found_by_verify() -> None:
    lint = Lint()
    iterable = lint(ScriptedApp())(make_environ(), lambda s, h, e=None: lambda d: None)
    assert list(iterable) == [b"Hello, ", b"world", b"!"]
    with pytest.raises(LintError, match="closed 0 times"):
        lint.verify()


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ([("REQUEST_METHOD", "GET")], "must be a dict"),
        ({"REQUEST_METHOD": "GET"}, "environ lacks SERVER_NAME"),
        ({**make_environ(), "PATH_INFO": b"/"}, "PATH_INFO.*native str"),
        (dict([*make_environ().items(), (1, "x")]), "key 1 is not a str"),
        ({**make_environ(), "QUERY_STRING": "q=\u20ac"}, "is not latin-1"),
    ],
)
def test_environ_is_checked(environ: object, message: str) -> None:
    lint = Lint(above="a sloppy server")
    with pytest.raises(LintError, match=message):
        lint(ScriptedApp())(environ, lambda s, h, e=None: lambda d: None)  # type: ignore[arg-type]


def test_good_app_passes() -> None:
    lint = Lint()
    result = call_app(lint(ScriptedApp(style="mixed")))
    lint.verify()
    assert result.body == b"Hello, world!"
    assert repr(lint) == "Lint(above='the server', below='the app')"


# -- call_app, the strict server ---------------------------------------------------


def test_call_app_read_zero_closes_before_the_first_next() -> None:
    app = ScriptedApp(fail="chunk", at=0)
    result = call_app(app, read=0)
    assert result.error is None
    assert app.closes == 1


def test_call_app_raises_exc_info_once_headers_are_sent() -> None:
    app = ScriptedApp(fail="exc_info", at=1)
    with pytest.raises(AppFault, match="while streaming"):
        call_app(app)
    assert app.closes == 1


def test_call_app_lets_exc_info_replace_an_unsent_response() -> None:
    result = call_app(ScriptedApp(style="lazy", fail="exc_info", at=0))
    assert result.status_code == 500
    assert result.body == ERROR_PAGE


def test_call_app_refuses_a_second_start_without_exc_info() -> None:
    with pytest.raises(AssertionError, match="twice without exc_info"):
        call_app(app_doing(restarts_without_exc_info))


def test_call_app_refuses_a_body_before_start() -> None:
    with pytest.raises(AssertionError, match="body before start_response"):
        call_app(app_doing(yields_before_start))


def test_make_environ_encodes_the_target_as_a_server_sees_it() -> None:
    environ = make_environ("/caf\u00e9/%2Fx%20y?q=\u00e9&r=%C3%A9")
    assert environ["PATH_INFO"] == "/caf\xc3\xa9//x y"  # UTF-8 bytes, decoded %
    assert environ["QUERY_STRING"] == "q=\xc3\xa9&r=%C3%A9"  # kept as sent
    raw = make_environ("/", PATH_INFO="/\xff", QUERY_STRING="a=\xff")
    assert (raw["PATH_INFO"], raw["QUERY_STRING"]) == ("/\xff", "a=\xff")


def test_make_environ_builds_headers_and_query() -> None:
    environ = make_environ(
        "/p?q=1",
        method="POST",
        headers={"Content-Type": "text/plain", "X-Forwarded-For": "1.2.3.4"},
        body=b"abc",
    )
    assert environ["PATH_INFO"] == "/p"
    assert environ["QUERY_STRING"] == "q=1"
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert environ["CONTENT_LENGTH"] == "3"
    assert environ["HTTP_X_FORWARDED_FOR"] == "1.2.3.4"
    assert environ["wsgi.input"].read() == b"abc"


# -- the fault matrix judges middleware ------------------------------------------------


class ClosesTwice:
    def __init__(self, iterable: Iterable[bytes]) -> None:
        self.iterable = iterable

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.iterable)

    def close(self) -> None:
        self.iterable.close()  # type: ignore[attr-defined]
        self.iterable.close()  # type: ignore[attr-defined]


def closes_twice(app: WSGIApp) -> WSGIApp:
    """A broken middleware: closes the app iterable twice."""

    def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        return ClosesTwice(app(environ, start_response))

    return wrapped


def drops_close(app: WSGIApp) -> WSGIApp:
    """A broken middleware: wraps the body in a generator and forgets close()."""

    def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        iterable = app(environ, start_response)
        return (chunk for chunk in iterable)

    return wrapped


def swallows_errors(app: WSGIApp) -> WSGIApp:
    def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        iterable = app(environ, start_response)
        try:
            return list(iterable)
        except AppFault:
            start_response("200 OK", [("Content-Type", "text/plain")], sys.exc_info())
            return [b"fine"]
        finally:
            getattr(iterable, "close", lambda: None)()

    return wrapped


def test_fault_matrix_catches_a_middleware_that_forgets_close() -> None:
    with pytest.raises(AssertionError, match="closed 0 times"):
        check_fault(drops_close, "iterable", validate=False)


def test_fault_matrix_catches_a_middleware_that_swallows_errors() -> None:
    with pytest.raises(AssertionError, match="swallowed"):
        check_fault(swallows_errors, "raise-mid-stream", validate=False)


def test_fault_matrix_catches_a_middleware_that_closes_twice() -> None:
    with pytest.raises(LintError, match="close-once"):
        check_fault(closes_twice, "server-closes-mid-stream")


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_accepts_no_middleware(fault: object) -> None:
    def identity(app: WSGIApp) -> WSGIApp:
        return app

    check_fault(identity, fault)  # type: ignore[arg-type]


def passes_none(start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")], None)
    return [b"x"]


def test_an_explicit_exc_info_none_is_caught() -> None:
    error = caught(app_doing(passes_none))
    assert error.rule == "exc-info"
    assert "omit the argument" in str(error)


def test_an_explicit_exc_info_none_can_be_allowed() -> None:
    lint = Lint(below="Bottle", allow_exc_info_none=True)
    result = call_app(lint(app_doing(passes_none)))
    lint.verify()
    assert result.body == b"x"
    second = Lint(allow_exc_info_none=True)  # a second call still needs exc_info

    def restarts(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")], None)
        start_response("500 Internal Server Error", [], None)
        return [b""]

    with pytest.raises(LintError, match="a second time without exc_info"):
        call_app(second(restarts))


def test_lint_hands_a_list_body_on_as_it_is_after_checking_it() -> None:
    app = ScriptedApp(style="list")
    lint = Lint()
    iterable = lint(app)(make_environ(), lambda s, h, e=None: lambda d: None)
    assert iterable is app.last_iterable
    lint.verify()  # nothing to close, nothing broken
    broken = caught(app_doing(sized("2", b"abc")))  # a list still has its CL checked
    assert broken.rule == "content-length"


def swallows_recall(app: WSGIApp) -> WSGIApp:
    """A broken middleware: ignores an exc_info re-call, keeps the first status."""

    def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        first: list[bool] = []

        def start(status: str, headers: Headers, exc_info: object = None) -> object:
            if first:
                return lambda data: None
            first.append(True)
            return start_response(
                status, [h for h in headers if h[0] != "Content-Length"]
            )

        return app(environ, start)  # type: ignore[arg-type]

    return wrapped


def test_fault_matrix_catches_a_swallowed_replacement() -> None:
    with pytest.raises(AssertionError, match="replaced its response with a 500"):
        check_fault(swallows_recall, "exc-info-before-body")


def test_call_app_refuses_chunks_that_are_not_bytes() -> None:
    with pytest.raises(AssertionError, match="must be bytes"):
        call_app(app_doing(yields_str))
