"""EnvironLog: the dump, its filters, redaction, response logging, cost when off."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable, Iterator
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsgimw._redact import REDACTED
from wsgimw.environlog import EnvironLog
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

LOGGER = "wsgimw.environlog"
SECRET = "hunter2-s3cr3t"


@pytest.fixture
def debug(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    return caplog


def linted_call(
    app: WSGIApp, environlog: EnvironLog, path: str = "/", **options: object
) -> Result:
    outer = Lint(above="the server", below="EnvironLog")
    inner = Lint(above="EnvironLog", below="the app")
    result = call_app(outer(environlog(inner(app))), path, **options)  # type: ignore[arg-type]
    outer.verify()
    inner.verify()
    return result


def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == LOGGER]


def dump_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The ``KEY = value`` lines of the one environ record."""
    (message,) = [
        r.getMessage() for r in records(caplog) if r.getMessage().startswith("environ ")
    ]
    return message.splitlines()[1:]


def keys(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [line.split(" = ")[0].strip() for line in dump_lines(caplog)]


def shown(caplog: pytest.LogCaptureFixture, key: str) -> str:
    for line in dump_lines(caplog):
        name, _, value = line.partition(" = ")
        if name.strip() == key:
            return value
    raise AssertionError(f"{key} is not in the dump")


# -- the dump ------------------------------------------------------------------


def test_one_record_per_request_sorted_with_repr_values(
    debug: pytest.LogCaptureFixture,
) -> None:
    result = linted_call(
        ScriptedApp(), EnvironLog(), path="/search?q=cats", headers={"X-Thing": "a b"}
    )
    assert result.status == "200 OK"
    (record,) = records(debug)
    assert record.levelno == logging.DEBUG
    message = record.getMessage()
    assert message.splitlines()[0].startswith("environ for GET /search?q=cats (")
    assert keys(debug) == sorted(keys(debug))
    assert shown(debug, "PATH_INFO") == "'/search'"
    assert shown(debug, "HTTP_X_THING") == "'a b'"
    assert shown(debug, "wsgi.version") == "(1, 0)"
    assert shown(debug, "wsgi.multithread") in ("0", "False")
    assert shown(debug, "wsgi.input") == "<_io.BytesIO>"
    # Values line up under each other.
    assert len({line.index(" = ") for line in dump_lines(debug)}) == 1


def test_every_key_is_shown_by_default(debug: pytest.LogCaptureFixture) -> None:
    environ = make_environ("/")
    call_app(EnvironLog()(ScriptedApp()), environ)
    assert keys(debug) == sorted(environ)
    assert f"({len(environ)} keys)" in records(debug)[0].getMessage()


def test_objects_are_shown_by_type_only(debug: pytest.LogCaptureFixture) -> None:
    class Database:
        def __repr__(self) -> str:
            raise RuntimeError("repr must not be called")

    environ = make_environ("/")
    environ.update(
        {
            "myapp.db": Database(),
            "myapp.flag": None,
            "myapp.ratio": 0.5,
            "myapp.names": ("ann", "bob"),
            "myapp.raw": b"bytes",
        }
    )
    call_app(EnvironLog()(ScriptedApp()), environ)
    database = shown(debug, "myapp.db")
    assert database.startswith("<")
    assert database.endswith(".test_objects_are_shown_by_type_only.<locals>.Database>")
    assert shown(debug, "myapp.flag") == "None"
    assert shown(debug, "myapp.ratio") == "0.5"
    assert shown(debug, "myapp.names") == "<tuple>"
    assert shown(debug, "myapp.raw") == "<bytes>"


def test_webob_caches_are_not_shown(debug: pytest.LogCaptureFixture) -> None:
    # WebOb keeps (MultiDict, raw query) in the environ: its repr would leak.
    environ = make_environ(f"/?password={SECRET}")
    environ["webob._parsed_query_vars"] = (object(), f"password={SECRET}")
    call_app(EnvironLog()(ScriptedApp()), environ)
    assert shown(debug, "webob._parsed_query_vars") == "<tuple>"
    assert SECRET not in debug.text


def test_control_characters_cannot_forge_log_lines(
    debug: pytest.LogCaptureFixture,
) -> None:
    environ = make_environ(
        "/", headers={"X-Evil": "a\nDEBUG forged"}, PATH_INFO="/x\r\nforged"
    )
    environ["bad\nkey"] = "v"
    call_app(EnvironLog(response=True)(ScriptedApp()), environ)
    for record in records(debug):
        for line in record.getMessage().splitlines():
            assert "forged" not in line or "\\n" in line
    assert shown(debug, "HTTP_X_EVIL") == "'a\\nDEBUG forged'"
    assert "bad\\nkey" in keys(debug)
    assert "environ for GET /x\\r\\nforged (" in debug.text


def test_a_non_str_key_is_shown_not_fatal(debug: pytest.LogCaptureFixture) -> None:
    environ = make_environ("/")
    environ[42] = "answer"  # type: ignore[index]
    call_app(EnvironLog(include=["4*"])(ScriptedApp()), environ)
    assert dump_lines(debug) == ["    42 = 'answer'"]


def test_a_minimal_environ(debug: pytest.LogCaptureFixture) -> None:
    environ: Environ = {"REQUEST_METHOD": 1, "PATH_INFO": None}
    iterable = EnvironLog(response=True)(ScriptedApp(style="list"))(
        environ, lambda status, headers, exc_info=None: lambda data: None
    )
    assert list(iterable) == [b"Hello, ", b"world", b"!"]
    message = records(debug)[0].getMessage()
    assert message.startswith("environ for - / (2 keys)")
    assert "REQUEST_METHOD = 1" in message
    assert records(debug)[1].getMessage().startswith("response to - /: 200 OK")


# -- include / exclude -----------------------------------------------------------


def test_include_exact_keys_and_patterns(debug: pytest.LogCaptureFixture) -> None:
    environ = make_environ("/", headers={"Accept": "*/*", "User-Agent": "curl"})
    call_app(EnvironLog(include=["HTTP_*", "PATH_INFO"])(ScriptedApp()), environ)
    assert keys(debug) == ["HTTP_ACCEPT", "HTTP_HOST", "HTTP_USER_AGENT", "PATH_INFO"]
    assert f"(4 of {len(environ)} keys)" in debug.text


def test_patterns_are_case_sensitive_like_the_environ(
    debug: pytest.LogCaptureFixture,
) -> None:
    call_app(EnvironLog(include=["http_*", "path_info"])(ScriptedApp()))
    assert keys(debug) == []


def test_exclude_wins_over_include(debug: pytest.LogCaptureFixture) -> None:
    call_app(
        EnvironLog(include=["HTTP_*", "wsgi.*"], exclude=["wsgi.*", "HTTP_HOST"])(
            ScriptedApp()
        ),
        headers={"Accept": "*/*"},
    )
    assert keys(debug) == ["HTTP_ACCEPT"]


def test_exclude_alone(debug: pytest.LogCaptureFixture) -> None:
    environ = make_environ("/")
    call_app(EnvironLog(exclude=["wsgi.*", "SERVER_?ORT"])(ScriptedApp()), environ)
    assert keys(debug) == sorted(
        k for k in environ if not k.startswith("wsgi.") and k != "SERVER_PORT"
    )


def test_glob_character_classes(debug: pytest.LogCaptureFixture) -> None:
    call_app(EnvironLog(include=["[PQ]*"])(ScriptedApp()), "/?a=1", headers={"X": "y"})
    assert keys(debug) == ["PATH_INFO", "QUERY_STRING"]


# -- redaction -----------------------------------------------------------------


BUILT_IN_SECRETS = {
    "Authorization": f"Basic {SECRET}",
    "Proxy-Authorization": f"Bearer {SECRET}",
    "Cookie": f"sessionid={SECRET}; theme=dark",
    "X-Api-Key": SECRET,
    "X-Auth-Token": SECRET,
    "X-CSRF-Token": SECRET,
    "X-Upstream-Secret": SECRET,
}


@pytest.mark.parametrize(("header", "value"), BUILT_IN_SECRETS.items())
def test_built_in_secret_headers_are_redacted(
    debug: pytest.LogCaptureFixture, header: str, value: str
) -> None:
    call_app(EnvironLog()(ScriptedApp()), headers={header: value})
    key = "HTTP_" + header.upper().replace("-", "_")
    assert shown(debug, key) == REDACTED
    assert SECRET not in debug.text


@pytest.mark.parametrize(
    "query",
    [
        f"password={SECRET}",
        f"q=cats&access_token={SECRET}&page=2",
        f"user=ann&pass%77ord={SECRET}",
        f"api_key={SECRET}",
        f"code={SECRET}",
        f"client_secret={SECRET}&x=1",
    ],
)
def test_secret_query_values_are_redacted_everywhere(
    debug: pytest.LogCaptureFixture, query: str
) -> None:
    call_app(
        EnvironLog(response=True)(ScriptedApp()),
        f"/login?{query}",
        REQUEST_URI=f"/login?{query}",
        RAW_URI=f"/login?{query}",
        headers={"Referer": f"https://example.com/app?{query}"},
    )
    assert SECRET not in debug.text
    assert REDACTED in shown(debug, "QUERY_STRING")
    assert REDACTED in shown(debug, "REQUEST_URI")
    assert REDACTED in shown(debug, "RAW_URI")
    assert REDACTED in shown(debug, "HTTP_REFERER")
    first_lines = [r.getMessage().splitlines()[0] for r in records(debug)]
    assert all("/login?" in line and REDACTED in line for line in first_lines)


def test_ordinary_query_values_stay_readable(debug: pytest.LogCaptureFixture) -> None:
    call_app(EnvironLog()(ScriptedApp()), "/s?q=cats&page=2", REQUEST_URI="/s?q=cats")
    assert shown(debug, "QUERY_STRING") == "'q=cats&page=2'"
    assert shown(debug, "REQUEST_URI") == "'/s?q=cats'"


def test_query_string_like_values_are_scrubbed(debug: pytest.LogCaptureFixture) -> None:
    call_app(
        EnvironLog()(ScriptedApp()),
        headers={"X-Original-Query": f"a=1&token={SECRET}"},
    )
    assert shown(debug, "HTTP_X_ORIGINAL_QUERY") == f"'a=1&token={REDACTED}'"
    assert SECRET not in debug.text


def test_secret_looking_environ_keys_are_redacted(
    debug: pytest.LogCaptureFixture,
) -> None:
    environ = make_environ("/", DB_PASSWORD=SECRET)
    environ.update({"beaker.session.id": SECRET, "myapp.token": SECRET})
    call_app(EnvironLog()(ScriptedApp()), environ)
    for key in ("DB_PASSWORD", "beaker.session.id", "myapp.token"):
        assert shown(debug, key) == REDACTED
    assert SECRET not in debug.text


def test_include_cannot_unredact(debug: pytest.LogCaptureFixture) -> None:
    call_app(
        EnvironLog(include=["HTTP_AUTHORIZATION"])(ScriptedApp()),
        headers={"Authorization": f"Bearer {SECRET}"},
    )
    assert dump_lines(debug) == [f"    HTTP_AUTHORIZATION = {REDACTED}"]


@pytest.mark.parametrize(
    "name", ["X-Tenant-Key", "x-tenant-key", "HTTP_X_TENANT_KEY", "X_TENANT_KEY"]
)
def test_extra_names_in_any_form(debug: pytest.LogCaptureFixture, name: str) -> None:
    call_app(
        EnvironLog(redact=[name], response=True)(
            _app_with_headers([("X-Tenant-Key", SECRET)])
        ),
        f"/?x_tenant_key={SECRET}&other=1",
        headers={"X-Tenant-Key": SECRET},
    )
    assert shown(debug, "HTTP_X_TENANT_KEY") == REDACTED
    assert shown(debug, "QUERY_STRING") == f"'x_tenant_key={REDACTED}&other=1'"
    assert f"X-Tenant-Key: {REDACTED}" in debug.text
    assert SECRET not in debug.text


def test_extra_names_are_matched_whole(debug: pytest.LogCaptureFixture) -> None:
    environ = make_environ(
        "/?dob=1&dob_hint=2", REMOTE_USER="ann", REMOTE_USER_ID="7", DOB="123"
    )
    call_app(EnvironLog(redact=["dob", "REMOTE_USER"])(ScriptedApp()), environ)
    assert shown(debug, "QUERY_STRING") == f"'dob={REDACTED}&dob_hint=2'"
    assert shown(debug, "REMOTE_USER") == REDACTED
    assert shown(debug, "DOB") == REDACTED
    assert shown(debug, "REMOTE_USER_ID") == "'7'"


def test_without_extra_names_they_are_shown(debug: pytest.LogCaptureFixture) -> None:
    call_app(EnvironLog()(ScriptedApp()), "/?dob=123", headers={"X-Tenant-Id": "t"})
    assert shown(debug, "QUERY_STRING") == "'dob=123'"
    assert shown(debug, "HTTP_X_TENANT_ID") == "'t'"


# -- response logging ------------------------------------------------------------


def _app_with_headers(headers: Headers, status: str = "200 OK") -> WSGIApp:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response(status, [("Content-Type", "text/plain"), *headers])
        return [b"ok"]

    return app


def response_message(caplog: pytest.LogCaptureFixture) -> str:
    messages = [r.getMessage() for r in records(caplog)]
    assert len(messages) == 2
    assert messages[0].startswith("environ for ")
    return messages[1]


def test_response_status_and_headers_are_logged(
    debug: pytest.LogCaptureFixture,
) -> None:
    app = _app_with_headers(
        [("X-Frame-Options", "DENY"), ("Location", f"/next?code={SECRET}&x=1")],
        status="302 Found",
    )
    result = linted_call(app, EnvironLog(response=True), path="/a?b=1")
    assert result.status == "302 Found"
    assert response_message(debug).splitlines() == [
        "response to GET /a?b=1: 302 Found",
        "    Content-Type: 'text/plain'",
        "    X-Frame-Options: 'DENY'",
        f"    Location: '/next?code={REDACTED}&x=1'",
    ]


@pytest.mark.parametrize(
    ("cookie", "logged"),
    [
        (
            f"sessionid={SECRET}; Path=/; HttpOnly; Secure; SameSite=Lax",
            f"sessionid={REDACTED}; Path=/; HttpOnly; Secure; SameSite=Lax",
        ),
        (
            f"id={SECRET}; Max-Age=60; Domain=example.com; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
            f"id={REDACTED}; Max-Age=60; Domain=example.com; Expires=Wed, 21 Oct 2015 07:28:00 GMT",
        ),
        (SECRET, REDACTED),
        (f"a={SECRET};{SECRET}=x; Path=/", f"a={REDACTED}; {REDACTED}; Path=/"),
        ("", REDACTED),
    ],
)
def test_set_cookie_values_are_redacted(
    debug: pytest.LogCaptureFixture, cookie: str, logged: str
) -> None:
    call_app(EnvironLog(response=True)(_app_with_headers([("Set-Cookie", cookie)])))
    assert f"    Set-Cookie: {logged!r}" in response_message(debug).splitlines()
    assert SECRET not in debug.text


@pytest.mark.parametrize(
    "header", ["Authorization", "X-Auth-Token", "X-Session-Id", "set-cookie"]
)
def test_secret_response_headers_are_redacted(
    debug: pytest.LogCaptureFixture, header: str
) -> None:
    call_app(EnvironLog(response=True)(_app_with_headers([(header, SECRET)])))
    assert SECRET not in debug.text
    assert REDACTED in response_message(debug)


def test_the_response_is_sent_untouched(debug: pytest.LogCaptureFixture) -> None:
    headers = [("Set-Cookie", f"sid={SECRET}"), ("X-Api-Key", SECRET)]
    result = call_app(EnvironLog(response=True)(_app_with_headers(headers)))
    assert result.headers == [("Content-Type", "text/plain"), *headers]
    assert result.body == b"ok"


def test_a_malformed_header_list_is_logged_not_fatal(
    debug: pytest.LogCaptureFixture,
) -> None:
    sent: list[object] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response(b"200 OK", [("A", "1"), ["B", "2"], ("C",), (b"D", "4")])  # type: ignore[arg-type, list-item]
        return []

    def start_response(
        status: str, headers: Headers, exc_info: object = None
    ) -> object:
        sent.append(headers)
        return None

    EnvironLog(response=True)(app)(make_environ("/"), start_response)  # type: ignore[arg-type]
    lines = response_message(debug).splitlines()
    assert lines[0] == "response to GET /: <bytes>"
    assert lines[1] == "    A: '1'"
    assert lines[2:] == [
        "    <list> (not a (name, value) tuple of str)",
        "    <tuple> (not a (name, value) tuple of str)",
        "    <tuple> (not a (name, value) tuple of str)",
    ]
    assert len(sent) == 1


def test_lazy_app_response_is_logged_at_first_next(
    debug: pytest.LogCaptureFixture,
) -> None:
    app = ScriptedApp(style="lazy")
    iterable = EnvironLog(response=True)(app)(
        make_environ("/"), lambda status, headers, exc_info=None: lambda data: None
    )
    assert len(records(debug)) == 1
    assert next(iter(iterable)) == b"Hello, "
    assert response_message(debug).startswith("response to GET /: 200 OK")
    iterable.close()  # type: ignore[attr-defined]
    assert app.closes == 1


def test_an_exc_info_recall_is_logged_too(debug: pytest.LogCaptureFixture) -> None:
    result = linted_call(
        ScriptedApp(style="lazy", fail="exc_info", at=0), EnvironLog(response=True)
    )
    assert result.status_code == 500
    messages = [r.getMessage() for r in records(debug)]
    assert [m.splitlines()[0] for m in messages[1:]] == [
        "response to GET /: 200 OK",
        "response to GET /: 500 Internal Server Error",
    ]


def test_without_response_only_the_environ_is_logged(
    debug: pytest.LogCaptureFixture,
) -> None:
    call_app(EnvironLog()(ScriptedApp()))
    assert len(records(debug)) == 1


# -- pass-through and cost when off ------------------------------------------------


@pytest.mark.parametrize("response", [False, True])
def test_off_at_info_nothing_logged_same_iterable(
    caplog: pytest.LogCaptureFixture, response: bool
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    app = ScriptedApp()
    iterable = EnvironLog(response=response)(app)(
        make_environ("/", headers={"Authorization": SECRET}),
        lambda status, headers, exc_info=None: lambda data: None,
    )
    assert iterable is app.last_iterable
    assert not records(caplog)
    assert list(iterable) == [b"Hello, ", b"world", b"!"]


def test_off_even_for_a_lazy_app_no_exchange(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    app = ScriptedApp(style="lazy")
    iterable = EnvironLog(response=True)(app)(
        make_environ("/"), lambda status, headers, exc_info=None: lambda data: None
    )
    assert iterable is app.last_iterable
    assert not records(caplog)
    iterable.close()  # type: ignore[attr-defined]


@pytest.mark.parametrize("style", ["iter", "list", "write", "mixed"])
def test_on_with_response_passes_a_started_apps_iterable_through(
    debug: pytest.LogCaptureFixture, style: str
) -> None:
    app = ScriptedApp(style=style)
    written: list[bytes] = []
    iterable = EnvironLog(response=True)(app)(
        make_environ("/"), lambda status, headers, exc_info=None: written.append
    )
    if style == "list":
        assert iterable == [b"Hello, ", b"world", b"!"]
    else:
        assert iterable is app.last_iterable
    assert b"".join([*written, *iterable]) == b"Hello, world!"
    assert len(records(debug)) == 2


def test_the_level_is_checked_on_every_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrapped = EnvironLog()(ScriptedApp())
    caplog.set_level(logging.INFO, logger=LOGGER)
    call_app(wrapped)
    assert not records(caplog)
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    call_app(wrapped)
    assert len(records(caplog)) == 1
    logging.disable(logging.DEBUG)
    try:
        call_app(wrapped)
    finally:
        logging.disable(logging.NOTSET)
    assert len(records(caplog)) == 1


def test_the_library_adds_no_handler_and_sets_no_level() -> None:
    logger = logging.getLogger(LOGGER)
    before = (list(logger.handlers), logger.level, logger.propagate)
    call_app(EnvironLog(response=True)(ScriptedApp()))
    assert (list(logger.handlers), logger.level, logger.propagate) == before


def test_a_logger_of_your_own(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="myapp.environ")
    mine = logging.getLogger("myapp.environ")
    call_app(EnvironLog(logger=mine)(ScriptedApp()))
    assert [r.name for r in caplog.records] == ["myapp.environ"]


def test_a_logger_adapter(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="myapp.adapted")
    adapter = logging.LoggerAdapter(logging.getLogger("myapp.adapted"), {"tag": "t"})
    call_app(EnvironLog(logger=adapter, response=True)(ScriptedApp()))
    assert [getattr(r, "tag", None) for r in caplog.records] == ["t", "t"]


@pytest.mark.parametrize("raise_exceptions", [False, True])
def test_a_failing_handler_does_not_break_the_request(
    debug: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    raise_exceptions: bool,
) -> None:
    class Broken(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            raise OSError("disk full")

    monkeypatch.setattr(logging, "raiseExceptions", raise_exceptions)
    logger = logging.getLogger(LOGGER)
    handler = Broken()
    logger.addHandler(handler)
    try:
        result = call_app(EnvironLog(response=True)(ScriptedApp()))
    finally:
        logger.removeHandler(handler)
    assert result.body == b"Hello, world!"
    # Reported on stderr as logging reports its own errors, only if asked.
    assert (
        capsys.readouterr().err.count("OSError: disk full") == 2
    ) is raise_exceptions


# -- the shared fault matrix -----------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix(fault: Fault, debug: pytest.LogCaptureFixture) -> None:
    check_fault(EnvironLog(response=True), fault)
    assert records(debug)


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_environ_only(
    fault: Fault, debug: pytest.LogCaptureFixture
) -> None:
    check_fault(EnvironLog(include=["HTTP_*"], exclude=["HTTP_HOST"]), fault)


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_off(fault: Fault, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    check_fault(EnvironLog(response=True), fault)
    assert not records(caplog)


# -- properties ------------------------------------------------------------------

MARKER = "Zq9SeKr1t"
latin1 = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255))
benign = latin1.filter(lambda text: MARKER.lower() not in text.lower())
secret_text = st.builds(
    lambda tail: MARKER + tail,
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=255)),
)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.stream = io.StringIO()

    def emit(self, record: logging.LogRecord) -> None:
        self.stream.write(record.getMessage() + "\n")


def _property_logger() -> tuple[logging.Logger, _Capture]:
    # A logger outside the registry: nothing global changes per example.
    logger = logging.Logger("environlog.property", logging.DEBUG)
    capture = _Capture()
    logger.addHandler(capture)
    return logger, capture


@given(
    headers=st.dictionaries(benign, benign, max_size=8),
    query=benign,
    path=benign.map(lambda p: "/" + p.replace("?", "")),
    secret=secret_text,
    cookie_secret=st.text(
        alphabet=st.characters(
            min_codepoint=0x21, max_codepoint=255, exclude_characters=";"
        ),
    ).map(lambda tail: MARKER + tail),
)
def test_secrets_never_reach_the_log(
    headers: dict[str, str], query: str, path: str, secret: str, cookie_secret: str
) -> None:
    logger, capture = _property_logger()
    encoded = quote(secret, safe="", encoding="latin-1")
    full_query = f"{query}&password={encoded}&access_token={encoded}&x=1"
    environ = make_environ(
        path,
        QUERY_STRING=full_query,
        REQUEST_URI=f"{path}?{full_query}",
        RAW_URI=f"{path}?{full_query}",
    )
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    environ.update(
        HTTP_AUTHORIZATION=f"Bearer {secret}",
        HTTP_PROXY_AUTHORIZATION=secret,
        HTTP_COOKIE=f"sid={secret}",
        HTTP_X_API_KEY=secret,
        HTTP_REFERER=f"https://example.com{path}?token={encoded}",
    )
    response_headers = [
        *((name, value) for name, value in headers.items()),
        ("Set-Cookie", f"sid={cookie_secret}; Path=/"),
        ("X-Auth-Token", secret),
    ]

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", response_headers)
        yield b"body"

    result = call_app(EnvironLog(response=True, logger=logger)(app), environ)
    assert result.body == b"body"
    text = capture.stream.getvalue()
    assert text.count("\n") >= 2
    assert MARKER not in text


@given(name=latin1, value=latin1, key=latin1)
def test_any_text_is_logged_without_error(name: str, value: str, key: str) -> None:
    logger, capture = _property_logger()
    environ = make_environ("/", QUERY_STRING=value)
    environ[key] = value
    environ["HTTP_" + name] = value

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [(name, value), ("Set-Cookie", value)])
        return []

    call_app(
        EnvironLog(response=True, logger=logger, redact=[name or "x"])(app), environ
    )
    assert capture.stream.getvalue().startswith("environ for ")


# -- construction ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"include": "HTTP_*"}, r"include=\['HTTP_\*'\].*wrap it in a list"),
        ({"exclude": "wsgi.*"}, r"exclude=\['wsgi.\*'\].*wrap it in a list"),
        ({"exclude": b"wsgi.*"}, "not the single string"),
        ({"redact": "ssn"}, r"redact=\['X-Tenant-Key'\].*not the single string 'ssn'"),
        ({"include": 3}, "include takes a list of strings"),
        ({"redact": None}, "redact takes a list of strings"),
        ({"exclude": ["wsgi.*", 1]}, "exclude entries must be strings.*got 1"),
        ({"logger": "myapp"}, r"logger must be a logging.Logger.*getLogger"),
    ],
)
def test_bad_types(options: dict[str, object], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        EnvironLog(**options)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"include": []}, "include is empty.*include=None"),
        ({"exclude": [""]}, "exclude holds an empty string"),
        ({"redact": ["ssn", ""]}, "redact holds an empty string"),
    ],
)
def test_bad_values(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        EnvironLog(**options)  # type: ignore[arg-type]


def test_options_accept_any_iterable() -> None:
    environlog = EnvironLog(
        include=(k for k in ["HTTP_*"]), exclude={"HTTP_HOST"}, redact=("ssn",)
    )
    assert repr(environlog) == (
        "EnvironLog(include=['HTTP_*'], exclude=['HTTP_HOST'], redact=['ssn'])"
    )


def test_repr() -> None:
    assert repr(EnvironLog()) == "EnvironLog()"
    assert (
        repr(EnvironLog(response=True, logger=logging.getLogger("myapp")))
        == "EnvironLog(response=True, logger='myapp')"
    )
    assert repr(EnvironLog(logger=logging.getLogger(LOGGER))) == "EnvironLog()"


def test_no_state_on_the_instance() -> None:
    environlog = EnvironLog()
    assert not hasattr(environlog, "__dict__")
    with pytest.raises(AttributeError):
        environlog.extra = 1  # type: ignore[attr-defined]


# -- issue 17: found under attack ------------------------------------------------------------


def test_a_query_holding_a_question_mark_is_redacted(
    debug: pytest.LogCaptureFixture,
) -> None:
    # Was: QUERY_STRING went through the URL redactor, which split at its '?'.
    query = "token=SECRET-VALUE&next=/dashboard?tab=2"
    linted_call(ScriptedApp(), EnvironLog(), QUERY_STRING=query)
    text = "\n".join(r.getMessage() for r in records(debug))
    assert "SECRET-VALUE" not in text
    assert "QUERY_STRING      = 'token=[redacted]&next=/dashboard?tab=2'" in text
