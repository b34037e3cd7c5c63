"""ErrorHandler: phase-accurate handling, negotiation, logging, hooks."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webob.exc import HTTPForbidden, HTTPNotFound  # type: ignore[import-untyped]

from wsgimw import ErrorHandler, compose
from wsgimw._response import ClosingIterator
from wsgimw.testing import (
    FAULTS,
    AppFault,
    Fault,
    Lint,
    Result,
    ScriptedApp,
    call_app,
    check_fault,
    make_environ,
)
from wsgimw.types import Environ, ExcInfo, Headers, StartResponse, Write, WSGIApp

SECRET = "s3cr3t-in-the-message"


def raising(error: BaseException, *, after_start: bool = False) -> WSGIApp:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if after_start:
            start_response("200 OK", [("Content-Type", "text/plain")])
        raise error

    return app


def linted(
    app: WSGIApp, handler: ErrorHandler | None = None, **options: object
) -> Result:
    outer, inner = Lint(below="ErrorHandler"), Lint(above="ErrorHandler")
    result = call_app(outer((handler or ErrorHandler())(inner(app))), **options)  # type: ignore[arg-type]
    outer.verify()
    return result


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="wsgimw.errors")


# -- phases ----------------------------------------------------------------------


@pytest.mark.parametrize("after_start", [False, True])
def test_error_before_the_body_becomes_a_500(after_start: bool) -> None:
    result = linted(raising(ValueError(SECRET), after_start=after_start))
    assert result.status == "500 Internal Server Error"
    assert result.body == b"500 Internal Server Error\n"
    assert result.header("Cache-Control") == "no-store"
    assert result.header("Content-Length") == str(len(result.body))


def test_the_500_is_sent_with_exc_info() -> None:
    received: list[ExcInfo | None] = []

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: ExcInfo | None = None
    ) -> Write:
        received.append(exc_info)
        return lambda data: None

    body = ErrorHandler()(raising(ValueError("x"), after_start=True))(
        {"REQUEST_METHOD": "GET"}, start_response
    )
    assert list(body) == [b"500 Internal Server Error\n"]
    assert received[0] is None
    assert received[1] is not None
    assert isinstance(received[1][1], ValueError)


def test_error_after_body_bytes_is_logged_and_re_raised(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = ScriptedApp(fail="chunk", at=2)
    result = call_app(ErrorHandler()(app), catch=True)
    assert isinstance(result.error, AppFault)
    assert result.body == b"Hello, world"  # never an error page spliced in
    assert app.closes == 1
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert "after the response began" in errors[0].getMessage()
    assert errors[0].exc_info is not None


def test_error_in_close_is_logged_and_other_cleanups_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = ScriptedApp(fail="close")
    cleaned: list[str] = []

    def outer_layer(inner: WSGIApp) -> WSGIApp:
        def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            return ClosingIterator(
                inner(environ, start_response), lambda: cleaned.append("outer")
            )

        return wrapped

    result = call_app(compose(outer_layer, ErrorHandler())(app))
    assert result.status == "200 OK"
    assert result.body == b"Hello, world!"
    assert app.closes == 1
    assert cleaned == ["outer"]
    assert "raised in close()" in caplog.text


@pytest.mark.parametrize("error", [KeyboardInterrupt(), SystemExit(3), GeneratorExit()])
def test_base_exceptions_pass_untouched(
    error: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(type(error)):
        call_app(ErrorHandler()(raising(error)))
    assert not caplog.records


def test_base_exception_while_iterating_passes() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        raise KeyboardInterrupt
        yield b""  # pragma: no cover

    with pytest.raises(KeyboardInterrupt):
        call_app(ErrorHandler()(app))


def test_an_empty_chunk_does_not_count_as_sent() -> None:
    app = ScriptedApp(chunks=[b"", b"never"], fail="chunk", at=1, content_length=False)
    result = linted(app)
    assert result.status_code == 500
    assert app.closes == 1


def test_head_gets_a_500_without_body() -> None:
    result = linted(raising(ValueError("x")), method="HEAD")
    assert result.status_code == 500
    assert result.body == b""


# -- what the page says ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        ("", "text/plain; charset=utf-8"),
        ("*/*", "text/plain; charset=utf-8"),
        (
            "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "text/html; charset=utf-8",
        ),
        ("application/json", "application/json"),
        ("application/problem+json;q=0, application/json", "application/json"),
        ("application/problem+json", "application/problem+json"),
        ("application/json, text/plain, */*", "application/problem+json"),
        ("text/html, application/json", "text/html; charset=utf-8"),
        ("text/html;q=0, */*;q=0.1", "text/plain; charset=utf-8"),
        ("image/png", "text/plain; charset=utf-8"),
        ("text/html;q=nonsense,,;;", "text/plain; charset=utf-8"),
    ],
)
def test_the_page_is_negotiated(accept: str, content_type: str) -> None:
    result = linted(raising(ValueError(SECRET)), headers={"Accept": accept})
    assert result.header("Content-Type") == content_type
    assert SECRET.encode() not in result.body
    assert b"Traceback" not in result.body
    assert b"PATH_INFO" not in result.body


def test_json_problem_details() -> None:
    result = linted(raising(ValueError(SECRET)), headers={"Accept": "application/json"})
    assert json.loads(result.body) == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
    }


def test_debug_shows_traceback_and_redacted_escaped_environ() -> None:
    handler = ErrorHandler(debug=True)
    headers = {
        "Accept": "text/html",
        "Authorization": "Basic dXNlcjpwYXNz",
        "Cookie": "session=abc123",
        "X-Note": "<script>alert(1)</script>",
    }
    result = linted(
        raising(ValueError("<b>bad</b>")),
        handler,
        headers=headers,
        QUERY_STRING="q=1&password=hunter2",
    )
    body = result.body.decode()
    assert "Traceback" in body
    assert "ValueError: &lt;b&gt;bad&lt;/b&gt;" in body
    assert "&lt;script&gt;" in body
    assert "<script>" not in body
    assert "dXNlcjpwYXNz" not in body
    assert "abc123" not in body
    assert "[redacted]" in body
    assert "hunter2" not in body
    assert "q=1&amp;password=[redacted]" in body


def test_debug_json_and_text() -> None:
    handler = ErrorHandler(debug=True)
    as_json = json.loads(
        linted(
            raising(ValueError("oops")), handler, headers={"Accept": "application/json"}
        ).body
    )
    assert as_json["traceback"][-1] == "ValueError: oops"
    assert "PATH_INFO" in as_json["environ"]
    text = linted(
        raising(ValueError("oops")), handler, headers={"Cookie": "c=1"}
    ).body.decode()
    assert text.startswith("500 Internal Server Error\nTraceback")
    assert "  PATH_INFO = '/'" in text
    assert "  HTTP_COOKIE = [redacted]" in text


# -- logging and hooks --------------------------------------------------------------------


def test_each_error_is_logged_once_with_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    call_app(ErrorHandler()(raising(ValueError("x"))), "/some/path", method="POST")
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].getMessage() == "error in POST /some/path"
    assert errors[0].name == "wsgimw.errors"
    assert errors[0].exc_info is not None


def test_nested_handlers_do_not_double_log(caplog: pytest.LogCaptureFixture) -> None:
    reported: list[object] = []
    app = ScriptedApp(fail="chunk", at=2)
    stack = compose(
        ErrorHandler(on_error=lambda e, x: reported.append("outer")),
        ErrorHandler(on_error=lambda e, x: reported.append("inner")),
    )
    result = call_app(stack(app), catch=True)
    assert isinstance(result.error, AppFault)
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1
    assert reported == ["inner"]


def test_on_error_hook_gets_environ_and_exc_info() -> None:
    seen: list[tuple[str, type[BaseException] | None]] = []
    handler = ErrorHandler(
        on_error=lambda environ, exc_info: seen.append(
            (environ["PATH_INFO"], exc_info[0])
        )
    )
    call_app(handler(raising(ValueError("x"))), "/p")
    assert seen == [("/p", ValueError)]


def test_a_failing_hook_never_masks_the_error(caplog: pytest.LogCaptureFixture) -> None:
    def broken_hook(environ: Environ, exc_info: ExcInfo) -> None:
        raise RuntimeError("hook down")

    result = call_app(ErrorHandler(on_error=broken_hook)(raising(ValueError("x"))))
    assert result.status_code == 500
    assert "the on_error hook failed" in caplog.text
    assert "hook down" in caplog.text


# -- mapping exceptions to statuses ----------------------------------------------------------


def test_statuses_map_exception_classes(caplog: pytest.LogCaptureFixture) -> None:
    handler = ErrorHandler(statuses={PermissionError: 403, LookupError: 404})
    assert linted(raising(PermissionError("no")), handler).status == "403 Forbidden"
    assert linted(raising(KeyError("k")), handler).status == "404 Not Found"
    assert linted(raising(ValueError("v")), handler).status_code == 500
    assert not [
        r
        for r in caplog.records
        if r.levelno == logging.ERROR and "403" in r.getMessage()
    ]
    assert "answered 403" in caplog.text


def test_the_same_exception_object_is_reported_on_every_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shared = ValueError("raised again and again")
    seen: list[str] = []
    handler = ErrorHandler(
        on_error=lambda environ, exc_info: seen.append(environ["PATH_INFO"])
    )
    for path in ("/one", "/two"):
        assert call_app(handler(raising(shared)), path).status_code == 500
    assert seen == ["/one", "/two"]
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 2


def test_close_errors_are_logged_as_such(caplog: pytest.LogCaptureFixture) -> None:
    call_app(ErrorHandler()(ScriptedApp(fail="close")), "/c")
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert (
        record.getMessage() == "error in close() of GET /c; the response was complete"
    )


def test_http_exception_errors_use_our_page_and_keep_their_headers() -> None:
    from webob.exc import HTTPMethodNotAllowed, HTTPSeeOther

    not_allowed = HTTPMethodNotAllowed(headers=[("Allow", "GET")])
    result = linted(raising(not_allowed), headers={"Accept": "application/json"})
    assert result.status == "405 Method Not Allowed"
    assert result.header("Allow") == "GET"
    assert result.header("Content-Type") == "application/json"
    assert result.header("Cache-Control") == "no-store"
    assert json.loads(result.body)["status"] == 405
    redirect = linted(raising(HTTPSeeOther(location="/elsewhere")))
    assert redirect.status == "303 See Other"
    assert redirect.header("Location") == "http://127.0.0.1/elsewhere"


def test_webob_http_exceptions_are_responses(caplog: pytest.LogCaptureFixture) -> None:
    result = linted(raising(HTTPNotFound()))
    assert result.status == "404 Not Found"
    assert b"404 Not Found" in result.body
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert linted(raising(HTTPForbidden()), method="HEAD").body == b""
    plain = linted(raising(HTTPNotFound()), ErrorHandler(http_exceptions=False))
    assert plain.status_code == 500


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"on_error": "report"}, TypeError, "on_error must be a callable"),
        (
            {"statuses": {"ValueError": 400}},
            TypeError,
            "keys must be Exception classes",
        ),
        (
            {"statuses": {KeyboardInterrupt: 400}},
            TypeError,
            "keys must be Exception classes",
        ),
        ({"statuses": {ValueError: 200}}, ValueError, "from 400 to 599"),
        ({"statuses": {ValueError: True}}, ValueError, "from 400 to 599"),
    ],
)
def test_misconfiguration_fails_at_construction(
    options: dict[str, object], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        ErrorHandler(**options)  # type: ignore[arg-type]


def test_repr() -> None:
    assert repr(ErrorHandler()) == "ErrorHandler()"

    def report(environ: Environ, exc_info: ExcInfo) -> None:
        pass

    handler = ErrorHandler(
        debug=True, on_error=report, statuses={ValueError: 400}, http_exceptions=False
    )
    assert repr(handler) == (
        "ErrorHandler(debug=True, on_error=test_repr.<locals>.report, "
        "statuses={ValueError: 400}, http_exceptions=False)"
    )


def test_unknown_status_codes_get_a_generic_phrase() -> None:
    result = linted(raising(ValueError("x")), ErrorHandler(statuses={ValueError: 599}))
    assert result.status == "599 Error"


# -- the shared fault matrix and properties ---------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix(fault: Fault) -> None:
    check_fault(ErrorHandler(), fault, handles_errors=True)


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_nested_and_debug(fault: Fault) -> None:
    check_fault(
        compose(ErrorHandler(), ErrorHandler(debug=True)), fault, handles_errors=True
    )


EXCEPTIONS = st.sampled_from(
    [
        ValueError,
        KeyError,
        RuntimeError,
        OSError,
        UnicodeError,
        ZeroDivisionError,
        Exception,
    ]
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    cls=EXCEPTIONS,
    message=st.text(min_size=4),
    accept=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255)),
)
def test_any_exception_and_accept_header_gives_a_clean_500(
    cls: type[Exception], message: str, accept: str
) -> None:
    marker = "MARK" + message
    result = linted(raising(cls(marker)), headers={"Accept": accept})
    assert result.status == "500 Internal Server Error"
    assert marker.encode("utf-8", "surrogatepass") not in result.body
    assert result.header("Content-Length") == str(len(result.body))


def test_a_list_body_passes_through_untouched() -> None:
    app = ScriptedApp(style="list")
    iterable = ErrorHandler()(app)(
        {"REQUEST_METHOD": "GET"}, lambda status, headers, exc_info=None: lambda d: None
    )
    assert iterable is app.last_iterable


def test_write_then_raise_is_an_error_after_the_body(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Nothing watches write(): the server's start_response(exc_info) raises
    # because headers went out, and that tells the handler it is too late.
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"partial")
        raise ValueError("after write()")

    result = call_app(ErrorHandler()(app), catch=True)
    assert isinstance(result.error, ValueError)
    assert result.body == b"partial"
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "after the response began" in record.getMessage()


# -- found in review ------------------------------------------------------------------


def test_a_file_wrapper_keeps_sendfile(tmp_path: object) -> None:
    from pathlib import Path
    from wsgiref.util import FileWrapper

    from wsgimw.testing import make_environ

    path = Path(str(tmp_path)) / "f.txt"
    path.write_bytes(b"file body")

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return environ["wsgi.file_wrapper"](path.open("rb"))  # type: ignore[no-any-return]

    environ = make_environ()
    environ["wsgi.file_wrapper"] = FileWrapper
    iterable = ErrorHandler()(app)(environ, lambda s, h, e=None: lambda d: None)
    assert isinstance(iterable, FileWrapper)
    assert b"".join(iterable) == b"file body"
    iterable.close()


def test_a_replacement_page_is_sent_once() -> None:
    result = linted(ScriptedApp(style="lazy", fail="chunk", at=0))
    assert result.status_code == 500
    assert result.chunks == [b"500 Internal Server Error\n"]


def test_a_client_cannot_forge_error_log_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    call_app(ErrorHandler()(raising(ValueError("x"))), PATH_INFO="/x\n\x1b[2JFORGED")
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "\n" not in record.getMessage()
    assert "\x1b" not in record.getMessage()


def test_webobs_base_http_exception_is_handled() -> None:
    from webob.exc import HTTPException

    result = linted(raising(HTTPException("maintenance", None)))
    assert result.status_code == 500


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"debug": "false"}, "debug must be True or False"),
        ({"http_exceptions": 1}, "http_exceptions must be True or False"),
        ({"logger": "myapp.errors"}, "logging.getLogger\\('myapp.errors'\\)"),
        ({"statuses": [(ValueError, 400)]}, "statuses must be a mapping"),
    ],
)
def test_options_of_the_wrong_kind_are_refused(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        ErrorHandler(**options)  # type: ignore[arg-type]


# -- servers that raise while accepting the page --------------------------------


class UwsgiLikeServer:
    """uWSGI 2.0's start_response: given exc_info before anything is sent, it
    takes the headers, but leaves exc_info set as the current exception, so
    Python raises SystemError from it; once headers are sent, OSError."""

    def __init__(self) -> None:
        self.statuses: list[str] = []
        self.sent = False

    def start_response(
        self, status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            if self.sent:
                raise OSError("headers already sent")
            self.statuses.append(status)
            raise SystemError("returned a result with an exception set") from exc_info[
                1
            ]
        self.statuses.append(status)
        return lambda data: None


def test_a_page_the_server_took_while_raising_is_sent() -> None:
    def fails(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        raise ValueError("broken")

    server = UwsgiLikeServer()
    body = ErrorHandler()(fails)(make_environ(), server.start_response)
    assert b"".join(body) == b"500 Internal Server Error\n"
    assert server.statuses == ["200 OK", "500 Internal Server Error"]


def test_another_system_error_still_means_too_late() -> None:
    def fails(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raise ValueError("broken")

    def refuses(
        status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], None]:
        raise SystemError("not caused by the app's error")

    with pytest.raises(ValueError, match="broken"):
        ErrorHandler()(fails)(make_environ(), refuses)


# -- issue 17: found under attack ------------------------------------------------------------

QUERY_WITH_A_MARK = "token=SECRET-VALUE&next=/dashboard?tab=2"


@pytest.mark.parametrize("accept", ["text/plain", "text/html", "application/json"])
def test_debug_pages_redact_a_query_holding_a_question_mark(accept: str) -> None:
    # Was: the query went through the URL redactor, which split at its '?'.
    result = linted(
        raising(ValueError("oops")),
        ErrorHandler(debug=True),
        headers={"Accept": accept},
        QUERY_STRING=QUERY_WITH_A_MARK,
    )
    body = result.body.decode()
    assert "SECRET-VALUE" not in body
    assert "token=[redacted]" in body
    assert "next=/dashboard?tab=2" in body


def test_long_accept_values_are_not_kept() -> None:
    # Was: 256 Accept values of any length cached for good.
    import gc
    import tracemalloc

    quiet = logging.getLogger("tests.errors.quiet")
    quiet.disabled = True  # a captured record would keep its traceback

    def fresh_error(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raise ValueError("oops")  # a new one: a re-raised one grows its traceback

    app = ErrorHandler(logger=quiet)(fresh_error)
    call_app(app, headers={"Accept": "text/x-warm, " + "text/plain;q=0.5, " * 50})
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(100):
            accept = f"text/x-{number}, " + "text/plain;q=0.5, " * 50
            assert call_app(app, headers={"Accept": accept}).status_code == 500
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert retained < 50_000  # was 100 x 900 bytes and more


@pytest.mark.parametrize(
    "accept",
    [
        "application/json, " + "x" * 1100,  # longer than MAX_ACCEPT_LENGTH
        "a/b, " * 64 + "application/json",  # more than MAX_ACCEPT_MEMBERS
        "application/json;q=0.5, " * 40_000,  # 960 KB
    ],
)
def test_a_hostile_accept_is_not_parsed(accept: str) -> None:
    result = linted(raising(ValueError("oops")), headers={"Accept": accept})
    assert result.status_code == 500
    assert result.header("Content-Type") == "text/plain; charset=utf-8"


def test_a_long_but_bounded_accept_is_parsed() -> None:
    accept = "text/x-made-up;q=0.1, " * 30 + "application/json"  # 676 characters
    result = linted(raising(ValueError("oops")), headers={"Accept": accept})
    assert result.header("Content-Type") == "application/json"
