"""wsgimw.pastedeploy: each .ini option behaves as its Python keyword, unknown
options and bad values fail with a message that says what to write, and a
real PasteDeploy pipeline built from every ``egg:wsgimw#...`` entry point
serves requests."""

from __future__ import annotations

import base64
import gzip
import importlib.metadata
import inspect
import logging
import random
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from io import BytesIO
from pathlib import Path
from typing import Any
from wsgiref.util import FileWrapper

import bcrypt
import pytest
from paste.deploy import loadapp
from webob.exc import HTTPNotFound  # type: ignore[import-untyped]

from wsgimw import (
    AccessLog,
    BasicAuth,
    BearerAuth,
    Compress,
    EnvironLog,
    ErrorHandler,
    QueryParser,
    Rewrite,
    pastedeploy,
)
from wsgimw.testing import Lint, call_app, make_environ
from wsgimw.types import Environ, Headers, StartResponse, WSGIApp

# -- an app with a route for every option to act on ---------------------------------

_rng = random.Random(7)
_WORDS = ["alpha", "beta", "gamma", "delta", "omega", "sigma", "kappa", "lambda"]
#: Text that compresses, but differently at each level (not one repeated line).
PAGE = (" ".join(_rng.choice(_WORDS) for _ in range(2000)) + "\n").encode()
HASH = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode()
TOKEN = "tok-0123456789abcdefXYZ"
OTHER_TOKEN = "tok-zyxwvutsrqponmlkjih"
HOOK_CALLS: list[str] = []


def _respond(
    start_response: StartResponse, content_type: str, body: bytes, *extra: str
) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    headers += [(name, value) for name, _, value in (h.partition(": ") for h in extra)]
    start_response("200 OK", headers)
    return [body]


def site(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/boom":
        raise RuntimeError("boom")
    if path == "/forbidden":
        raise PermissionError("no")
    if path == "/missing":
        raise LookupError("gone")
    if path == "/http404":
        raise HTTPNotFound()
    if path == "/query":
        pairs = list(environ["wsgimw.query"].items())
        return _respond(start_response, "text/plain", repr(pairs).encode())
    if path == "/user":
        user = environ.get("REMOTE_USER", "-")
        return _respond(start_response, "text/plain; charset=utf-8", user.encode())
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return iter([PAGE[:3000], PAGE[3000:6000], PAGE[6000:]])
    if path == "/events":
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        return iter([b"data: %d\n\n" % n * 40 for n in range(3)])
    if path == "/file":
        start_response("200 OK", [("Content-Type", "text/plain")])
        wrapper = environ["wsgi.file_wrapper"]
        return wrapper(BytesIO(PAGE), 4096)  # type: ignore[no-any-return]
    if path == "/json":
        return _respond(start_response, "application/json", b'["%s"]' % PAGE[:-1])
    return _respond(start_response, "text/html; charset=utf-8", PAGE, 'ETag: "v1"')


def make_app(global_conf: Mapping[str, str], **settings: str) -> WSGIApp:
    """The app for ``use = call:test_pastedeploy:make_app``."""
    return site


# Hooks the .ini names as test_pastedeploy:NAME.


def remember_error(environ: Environ, exc_info: Any) -> None:
    HOOK_CALLS.append(f"on_error {exc_info[0].__name__}")


def check_password(user: str, password: str) -> bool:
    HOOK_CALLS.append(f"check {user}")
    return (user, password) == ("carol", "open sesame")


def verify_token(token: str) -> Mapping[str, object] | None:
    return {"sub": "ada", "scope": "read"} if token == TOKEN else None


def add_header(status: str, headers: Headers) -> tuple[str, Headers]:
    return status, [*headers, ("X-Rewritten", "yes")]


def keep_headers(status: str, headers: Headers) -> tuple[str, Headers]:
    return status, headers


NOT_CALLABLE = 42


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- observing what a middleware does ------------------------------------------------


@dataclass(frozen=True)
class Request:
    path: str = "/page"
    headers: Mapping[str, str] = field(default_factory=dict)
    method: str = "GET"


@dataclass
class Seen:
    """Everything a middleware did to a request that can be seen outside it."""

    status: str
    headers: Headers
    chunks: list[bytes]
    records: list[tuple[str, int, str]]
    hooks: list[str]


def observe(
    middleware: Callable[[WSGIApp], WSGIApp],
    requests: Iterable[Request],
    caplog: pytest.LogCaptureFixture,
) -> list[Seen]:
    seen = []
    for request in requests:
        caplog.clear()
        HOOK_CALLS.clear()
        environ = make_environ(
            request.path, method=request.method, headers=dict(request.headers)
        )
        environ["wsgi.file_wrapper"] = FileWrapper
        outer = Lint()
        result = call_app(outer(middleware(site)), environ)
        outer.verify()
        seen.append(
            Seen(
                result.status,
                result.headers,
                result.chunks,
                [(r.name, r.levelno, r.getMessage()) for r in caplog.records],
                list(HOOK_CALLS),
            )
        )
    return seen


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record of wsgimw and of the loggers the cases name, DEBUG and up."""
    caplog.set_level(logging.DEBUG, logger="wsgimw")
    caplog.set_level(logging.DEBUG, logger="pastedeploy_test")
    return caplog


FACTORIES: dict[str, tuple[Callable[..., Any], type]] = {
    "errors": (pastedeploy.errors, ErrorHandler),
    "query": (pastedeploy.query, QueryParser),
    "accesslog": (pastedeploy.accesslog, AccessLog),
    "environlog": (pastedeploy.environlog, EnvironLog),
    "compress": (pastedeploy.compress, Compress),
    "basic_auth": (pastedeploy.basic_auth, BasicAuth),
    "bearer_auth": (pastedeploy.bearer_auth, BearerAuth),
    "rewrite": (pastedeploy.rewrite, Rewrite),
}


@dataclass(frozen=True)
class Case:
    """``filter`` built from ``ini`` must act as its class built from
    ``python``, and differently from its class built from ``baseline``
    (which proves the requests exercise the option)."""

    id: str
    filter: str
    ini: Mapping[str, str]
    python: Mapping[str, object]
    requests: tuple[Request, ...] = (Request(),)
    baseline: Mapping[str, object] = field(default_factory=dict)


GZIP = {"Accept-Encoding": "gzip"}
LONG_QUERY = "/query?q=" + "x" * 9000
MANY_FIELDS = "/query?" + "a&" * 1001
PREFLIGHT = Request(
    "/page", {"Access-Control-Request-Method": "PUT", "Origin": "x"}, "OPTIONS"
)
ALICE = Request("/user", basic("alice", "s3cret"))
USERS = {"users": f"alice:{HASH}"}
PY_USERS = {"users": {"alice": HASH}}
TOKENS = {"tokens": f"{TOKEN} ci-bot"}
PY_TOKENS = {"tokens": {TOKEN: "ci-bot"}}
ACCESS = {"format": "{host} {user} {method} {path} {status} {bytes}"}
UPPER = {"text": "builtins:str.upper"}
PY_UPPER = {"text": str.upper}

CASES = [
    # ErrorHandler
    Case("debug", "errors", {"debug": "yes"}, {"debug": True}, (Request("/boom"),)),
    Case(
        "on_error",
        "errors",
        {"on_error": "test_pastedeploy:remember_error"},
        {"on_error": remember_error},
        (Request("/boom"),),
    ),
    Case(
        "statuses",
        "errors",
        {"statuses": "PermissionError 403\n\n  builtins:LookupError   404  \n"},
        {"statuses": {PermissionError: 403, LookupError: 404}},
        (Request("/forbidden"), Request("/missing")),
    ),
    Case(
        "http_exceptions",
        "errors",
        {"http_exceptions": "Off"},
        {"http_exceptions": False},
        (Request("/http404"),),
    ),
    Case(
        "errors-logger",
        "errors",
        {"logger": "pastedeploy_test.errors"},
        {"logger": logging.getLogger("pastedeploy_test.errors")},
        (Request("/boom"),),
    ),
    # QueryParser
    Case(
        "charset",
        "query",
        {"charset": "latin-1"},
        {"charset": "latin-1"},
        (Request("/query?q=%E9"),),
    ),
    Case(
        "errors",
        "query",
        {"errors": "strict"},
        {"errors": "strict"},
        (Request("/query?q=%ZZ"),),
    ),
    Case(
        "max_length",
        "query",
        {"max_length": "10"},
        {"max_length": 10},
        (Request("/query?q=" + "x" * 20),),
    ),
    Case(
        "max_length-none",
        "query",
        {"max_length": "None"},
        {"max_length": None},
        (Request(LONG_QUERY),),
    ),
    Case(
        "max_fields",
        "query",
        {"max_fields": "2"},
        {"max_fields": 2},
        (Request("/query?a=1&b=2&c=3"),),
    ),
    Case(
        "max_fields-none",
        "query",
        {"max_fields": "none"},
        {"max_fields": None},
        (Request(MANY_FIELDS),),
    ),
    # AccessLog (a format without the time, which may tick between two calls)
    Case(
        "format",
        "accesslog",
        {"format": "{method} {status} {bytes_clf}"},
        {"format": "{method} {status} {bytes_clf}"},
        baseline=ACCESS,
    ),
    Case(
        "accesslog-logger",
        "accesslog",
        {**ACCESS, "logger": "pastedeploy_test.access"},
        {**ACCESS, "logger": logging.getLogger("pastedeploy_test.access")},
        baseline=ACCESS,
    ),
    Case(
        "trusted_proxies",
        "accesslog",
        {**ACCESS, "trusted_proxies": "1"},
        {**ACCESS, "trusted_proxies": 1},
        (Request("/page", {"X-Forwarded-For": "203.0.113.9"}),),
        baseline=ACCESS,
    ),
    Case(
        "accesslog-redact",
        "accesslog",
        {**ACCESS, "redact": "zip\n  phone"},
        {**ACCESS, "redact": ["zip", "phone"]},
        (Request("/page?zip=123&phone=9&q=ok"),),
        baseline=ACCESS,
    ),
    # EnvironLog
    Case(
        "include",
        "environlog",
        {"include": "PATH_INFO HTTP_*"},
        {"include": ["PATH_INFO", "HTTP_*"]},
    ),
    Case(
        "exclude",
        "environlog",
        {"exclude": "wsgi.*\nSERVER_*"},
        {"exclude": ["wsgi.*", "SERVER_*"]},
    ),
    Case(
        "environlog-redact",
        "environlog",
        {"redact": "X-Tenant"},
        {"redact": ["X-Tenant"]},
        (Request("/page", {"X-Tenant": "acme"}),),
    ),
    Case("response", "environlog", {"response": "on"}, {"response": True}),
    Case(
        "environlog-logger",
        "environlog",
        {"logger": "pastedeploy_test.environ"},
        {"logger": logging.getLogger("pastedeploy_test.environ")},
    ),
    # Compress
    Case(
        "minimum_size",
        "compress",
        {"minimum_size": "50000"},
        {"minimum_size": 50000},
        (Request("/page", GZIP),),
    ),
    Case(
        "content_types",
        "compress",
        {"content_types": "application/json  application/*+xml"},
        {"content_types": ["application/json", "application/*+xml"]},
        (Request("/page", GZIP), Request("/json", GZIP)),
    ),
    Case(
        "encodings",
        "compress",
        {"encodings": "zstd gzip"},
        {"encodings": ["zstd", "gzip"]},
        (Request("/page", {"Accept-Encoding": "br, gzip"}),),
    ),
    Case(
        "gzip_level",
        "compress",
        {"gzip_level": "1"},
        {"gzip_level": 1},
        (Request("/page", GZIP),),
    ),
    Case(
        "brotli_quality",
        "compress",
        {"brotli_quality": "11"},
        {"brotli_quality": 11},
        (Request("/page", {"Accept-Encoding": "br"}),),
    ),
    Case(
        "zstd_level",
        "compress",
        {"zstd_level": "19"},
        {"zstd_level": 19},
        (Request("/page", {"Accept-Encoding": "zstd"}),),
    ),
    Case(
        "flush-always",
        "compress",
        {"flush": "always"},
        {"flush": "always"},
        (Request("/stream", GZIP),),
    ),
    Case(
        "flush-never",
        "compress",
        {"flush": "never"},
        {"flush": "never"},
        (Request("/events", GZIP),),
    ),
    Case(
        "etag",
        "compress",
        {"etag": "suffix"},
        {"etag": "suffix"},
        (Request("/page", GZIP),),
    ),
    Case(
        "file_wrapper",
        "compress",
        {"file_wrapper": "TRUE"},
        {"file_wrapper": True},
        (Request("/file", GZIP),),
    ),
    # BasicAuth
    Case(
        "users",
        "basic_auth",
        {"users": f"\nbob:{HASH}\n  alice:{HASH}"},
        {"users": {"bob": HASH, "alice": HASH}},
        (ALICE,),
        baseline={"users": {"bob": HASH}},
    ),
    Case(
        "check",
        "basic_auth",
        {"check": "test_pastedeploy:check_password"},
        {"check": check_password},
        (Request("/user", basic("carol", "open sesame")),),
        baseline=PY_USERS,
    ),
    Case(
        "basic-realm",
        "basic_auth",
        {**USERS, "realm": "site admin"},
        {**PY_USERS, "realm": "site admin"},
        baseline=PY_USERS,
    ),
    Case(
        "allow_plaintext",
        "basic_auth",
        {"users": "carol:open sesame", "allow_plaintext": "1"},
        {"users": {"carol": "open sesame"}, "allow_plaintext": True},
        (Request("/user", basic("carol", "open sesame")),),
        baseline=PY_USERS,
    ),
    Case(
        "basic-exempt",
        "basic_auth",
        {**USERS, "exempt": "/health /status"},
        {**PY_USERS, "exempt": ["/health", "/status"]},
        (Request("/health"), Request("/status")),
        baseline=PY_USERS,
    ),
    Case(
        "basic-protect",
        "basic_auth",
        {**USERS, "protect": "/admin"},
        {**PY_USERS, "protect": ["/admin"]},
        baseline=PY_USERS,
    ),
    Case(
        "basic-allow_preflight",
        "basic_auth",
        {**USERS, "allow_preflight": "yes"},
        {**PY_USERS, "allow_preflight": True},
        (PREFLIGHT,),
        baseline=PY_USERS,
    ),
    # BearerAuth
    Case(
        "tokens",
        "bearer_auth",
        TOKENS,
        PY_TOKENS,
        (Request("/user", bearer(TOKEN)),),
        baseline={"tokens": [OTHER_TOKEN]},
    ),
    Case(
        "tokens-bare",
        "bearer_auth",
        {"tokens": f"{OTHER_TOKEN}\n{TOKEN}"},
        {"tokens": [OTHER_TOKEN, TOKEN]},
        (Request("/user", bearer(TOKEN)),),
        baseline=PY_TOKENS,
    ),
    Case(
        "verify",
        "bearer_auth",
        {"verify": "test_pastedeploy:verify_token"},
        {"verify": verify_token},
        (Request("/user", bearer(TOKEN)),),
        baseline=PY_TOKENS,
    ),
    Case(
        "scopes",
        "bearer_auth",
        {"verify": "test_pastedeploy:verify_token", "scopes": "read write"},
        {"verify": verify_token, "scopes": ["read", "write"]},
        (Request("/user", bearer(TOKEN)),),
        baseline={"verify": verify_token},
    ),
    Case(
        "bearer-realm",
        "bearer_auth",
        {**TOKENS, "realm": "api"},
        {**PY_TOKENS, "realm": "api"},
        baseline=PY_TOKENS,
    ),
    Case(
        "bearer-exempt",
        "bearer_auth",
        {**TOKENS, "exempt": "/health"},
        {**PY_TOKENS, "exempt": ["/health"]},
        (Request("/health"),),
        baseline=PY_TOKENS,
    ),
    Case(
        "bearer-protect",
        "bearer_auth",
        {**TOKENS, "protect": "/api\n/admin"},
        {**PY_TOKENS, "protect": ["/api", "/admin"]},
        baseline=PY_TOKENS,
    ),
    Case(
        "bearer-allow_preflight",
        "bearer_auth",
        {**TOKENS, "allow_preflight": "true"},
        {**PY_TOKENS, "allow_preflight": True},
        (PREFLIGHT,),
        baseline=PY_TOKENS,
    ),
    # Rewrite
    Case(
        "headers",
        "rewrite",
        {"headers": "test_pastedeploy:add_header"},
        {"headers": add_header},
        baseline={"headers": keep_headers},
    ),
    Case(
        "body",
        "rewrite",
        {"body": "builtins:bytes.upper"},
        {"body": bytes.upper},
        baseline={"headers": keep_headers},
    ),
    Case("text", "rewrite", UPPER, PY_UPPER, baseline={"headers": keep_headers}),
    Case(
        "buffered",
        "rewrite",
        {**UPPER, "buffered": "true"},
        {**PY_UPPER, "buffered": True},
        (Request("/stream"),),
        baseline=PY_UPPER,
    ),
    Case(
        "max_size",
        "rewrite",
        {**UPPER, "buffered": "true", "max_size": "100"},
        {**PY_UPPER, "buffered": True, "max_size": 100},
        (Request("/stream"),),
        baseline={**PY_UPPER, "buffered": True},
    ),
    Case(
        "rewrite-content_types",
        "rewrite",
        {**UPPER, "content_types": "application/json"},
        {**PY_UPPER, "content_types": ["application/json"]},
        (Request("/page"), Request("/json")),
        baseline=PY_UPPER,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{c.filter}-{c.id}" for c in CASES])
def test_each_ini_option_acts_as_its_keyword(
    case: Case, logs: pytest.LogCaptureFixture
) -> None:
    factory, middleware = FACTORIES[case.filter]
    from_ini = observe(factory({}, **case.ini), case.requests, logs)
    from_python = observe(middleware(**case.python), case.requests, logs)
    assert from_ini == from_python
    assert from_ini != observe(middleware(**case.baseline), case.requests, logs)


def test_every_keyword_option_has_a_case() -> None:
    covered = {(case.filter, option) for case in CASES for option in case.ini}
    # Shown by their own tests below: a stream, a file path, random padding,
    # and the cache (which changes timing, not responses).
    covered |= {
        ("accesslog", "stream"),
        ("basic_auth", "htpasswd"),
        ("compress", "breach_padding"),
        ("basic_auth", "cache_seconds"),
        ("basic_auth", "cache_size"),
    }
    wanted = {
        (name, option)
        for name, (_, middleware) in FACTORIES.items()
        for option in keyword_options(middleware)
    }
    assert covered == wanted


def keyword_options(middleware: type) -> list[str]:
    parameters = inspect.signature(middleware).parameters.values()
    return sorted(p.name for p in parameters if p.kind is p.KEYWORD_ONLY)


@pytest.mark.parametrize("stream", ["stdout", "STDERR"])
def test_accesslog_stream_writes_to_stdout_or_stderr(
    stream: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for built in (
        pastedeploy.accesslog({}, format="{method} {path} {status}", stream=stream),
        AccessLog(
            format="{method} {path} {status}", stream=getattr(sys, stream.lower())
        ),
    ):
        call_app(built(site), "/page?x=1")
        out, err = capsys.readouterr()
        written, other = (out, err) if stream == "stdout" else (err, out)
        assert (written, other) == ("GET /page?x=1 200\n", "")


def test_breach_padding_pads_gzip_as_the_keyword_does() -> None:
    def gzip_flags(middleware: Compress) -> set[int]:
        flags = set()
        for _ in range(5):
            result = call_app(middleware(site), "/page", headers=GZIP)
            assert result.header("Content-Encoding") == "gzip"
            assert gzip.decompress(result.body) == PAGE
            flags.add(result.body[3])
        return flags

    fcomment = 0x10  # RFC 1952: the header carries a comment
    assert gzip_flags(pastedeploy.compress({}, breach_padding="64")) == {fcomment}
    assert gzip_flags(Compress(breach_padding=64)) == {fcomment}
    assert gzip_flags(Compress()) == {0}


def test_cache_options_read_as_their_keywords() -> None:
    # The cache changes how often a hash is computed, not any response: its
    # options are compared through the public repr.
    for ini, python in [
        ({"cache_seconds": "0"}, {"cache_seconds": 0}),
        ({"cache_seconds": "2.5"}, {"cache_seconds": 2.5}),
        ({"cache_seconds": "1e1"}, {"cache_seconds": 10.0}),
        ({"cache_size": "10"}, {"cache_size": 10}),
    ]:
        built = pastedeploy.basic_auth({}, **USERS, **ini)
        assert repr(built) == repr(BasicAuth(**PY_USERS, **python))  # type: ignore[arg-type]
        assert repr(built) != repr(BasicAuth(**PY_USERS))  # type: ignore[arg-type]


# -- htpasswd files and global_conf ------------------------------------------------


@pytest.fixture
def htpasswd_dir(tmp_path: Path) -> Path:
    (tmp_path / "site.htpasswd").write_text(f"alice:{HASH}\n")
    return tmp_path


def user_of(middleware: Callable[[WSGIApp], WSGIApp], headers: dict[str, str]) -> str:
    result = call_app(middleware(site), "/user", headers=headers)
    return f"{result.status_code} {result.body.decode()}"


def test_htpasswd_path_is_read_as_the_keyword(htpasswd_dir: Path) -> None:
    path = str(htpasswd_dir / "site.htpasswd")
    for built in (
        pastedeploy.basic_auth({}, htpasswd=path),
        BasicAuth(htpasswd=path),
    ):
        assert user_of(built, basic("alice", "s3cret")) == "200 alice"
        assert user_of(built, basic("alice", "wrong")).startswith("401 ")


def test_a_relative_htpasswd_path_is_refused_whatever_here_says(
    htpasswd_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Relative to what? The server's folder, or in a section included from
    # another .ini a folder the section's author never meant: refused.
    monkeypatch.chdir(htpasswd_dir)
    here = {"here": str(htpasswd_dir), "__file__": str(htpasswd_dir / "x.ini")}
    for conf in (here, {}):
        with pytest.raises(ValueError, match="which is not absolute"):
            pastedeploy.basic_auth(conf, htpasswd="site.htpasswd")


def debug_page(middleware: ErrorHandler) -> bool:
    return b"Traceback" in call_app(middleware(site), "/boom").body


def test_debug_comes_from_default_when_the_section_does_not_set_it() -> None:
    assert debug_page(pastedeploy.errors({"debug": "true"}))
    assert not debug_page(pastedeploy.errors({"debug": "false"}))
    assert not debug_page(pastedeploy.errors({}))
    # The section's own value wins (PasteDeploy: "set debug = false").
    assert not debug_page(pastedeploy.errors({"debug": "true"}, debug="false"))
    assert debug_page(pastedeploy.errors({"debug": "false"}, debug="true"))
    with pytest.raises(ValueError, match="option debug") as info:
        pastedeploy.errors({"debug": "maybe"})
    assert str(info.value) == (
        "egg:wsgimw#errors option debug: expected true or false "
        "(or yes/no, on/off, 1/0); got 'maybe'"
    )


def test_other_global_conf_values_are_ignored() -> None:
    built = pastedeploy.compress({"level": "9", "here": "/nowhere"})
    result = call_app(built(site), "/page", headers=GZIP)
    assert result.header("Content-Encoding") == "gzip"


def test_default_defining_an_option_of_the_filter_is_refused() -> None:
    # PasteDeploy drops a [DEFAULT] name from every section, so the
    # section's own minimum_size would never arrive.
    with pytest.raises(ValueError, match="DEFAULT") as info:
        pastedeploy.compress({"minimum_size": "50000"})
    assert str(info.value) == (
        "egg:wsgimw#compress: [DEFAULT] defines 'minimum_size', one of this "
        "filter's options, so PasteDeploy drops 'minimum_size' from the filter's "
        "section and any value written there would be ignored; rename the "
        "variable in [DEFAULT]"
    )
    # Given in the section as well, it is the section's value that counts.
    built = pastedeploy.compress({"minimum_size": "50000"}, minimum_size="10")
    assert call_app(built(site), "/page", headers=GZIP).header("Content-Encoding")


def test_debug_may_come_from_a_program_as_a_bool() -> None:
    assert debug_page(pastedeploy.errors({"debug": True}))
    assert not debug_page(pastedeploy.errors({"debug": False}))


def test_list_options_split_on_commas_too() -> None:
    users = {"alice": HASH}
    comma = pastedeploy.basic_auth({}, users=f"alice:{HASH}", protect="/admin, /api")
    plain = BasicAuth(users=users, protect=["/admin", "/api"])
    for path in ("/admin", "/admin/users", "/api/x", "/public"):
        assert call_app(comma(site), path).status == call_app(plain(site), path).status
    assert call_app(comma(site), "/api/x").status_code == 401


# -- unknown options and bad values ------------------------------------------------


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_an_unknown_option_is_refused_with_the_valid_names(name: str) -> None:
    factory, middleware = FACTORIES[name]
    with pytest.raises(ValueError, match="has no option") as info:
        factory({}, zzz_nothing="1")
    assert str(info.value) == (
        f"egg:wsgimw#{name} has no option 'zzz_nothing'; its options are: "
        + ", ".join(keyword_options(middleware))
    )


def test_an_unknown_option_suggests_the_nearest_name() -> None:
    with pytest.raises(ValueError, match="did you mean minimum_size") as info:
        pastedeploy.compress({}, minimum_sise="500")
    assert str(info.value).startswith(
        "egg:wsgimw#compress has no option 'minimum_sise' (did you mean "
        "minimum_size?); its options are: breach_padding, brotli_quality, "
    )


def test_option_names_are_case_sensitive() -> None:
    with pytest.raises(ValueError, match="'Minimum_Size' \\(did you mean"):
        pastedeploy.compress({}, Minimum_Size="500")


BAD_VALUES = [
    (
        "compress",
        {"minimum_size": "lots"},
        "egg:wsgimw#compress option minimum_size: expected a whole number, "
        "e.g. 500; got 'lots'",
    ),
    ("compress", {"gzip_level": "6.5"}, "option gzip_level: expected a whole number"),
    (
        "compress",
        {"file_wrapper": "maybe"},
        "egg:wsgimw#compress option file_wrapper: expected true or false "
        "(or yes/no, on/off, 1/0); got 'maybe'",
    ),
    ("environlog", {"response": ""}, "option response: expected true or false"),
    (
        "query",
        {"max_length": "big"},
        "egg:wsgimw#query option max_length: expected a whole number, or none "
        "for no limit; got 'big'",
    ),
    (
        "basic_auth",
        {**USERS, "cache_seconds": "soon"},
        "egg:wsgimw#basic_auth option cache_seconds: expected a number, e.g. 60 "
        "or 0.5; got 'soon'",
    ),
    ("basic_auth", {**USERS, "cache_seconds": "nan"}, "; got 'nan'"),
    ("basic_auth", {**USERS, "cache_seconds": "inf"}, "; got 'inf'"),
    ("basic_auth", {**USERS, "cache_seconds": "1e999"}, "; got '1e999'"),
    (
        "errors",
        {"on_error": "remember_error"},
        "egg:wsgimw#errors option on_error: expected a reference module:attribute "
        "to a callable, e.g. myapp.hooks:report; got 'remember_error'",
    ),
    ("rewrite", {"body": ":upper"}, "option body: expected a reference"),
    ("rewrite", {"body": "builtins:"}, "; got 'builtins:'"),
    ("rewrite", {"body": "os.:sep"}, "; got 'os.:sep'"),
    (
        "errors",
        {"on_error": "no_such_module_here:hook"},
        "option on_error: expected a reference module:attribute to a callable, "
        "e.g. myapp.hooks:report; cannot import 'no_such_module_here': "
        "ModuleNotFoundError: No module named 'no_such_module_here'",
    ),
    (
        "basic_auth",
        {"check": "test_pastedeploy:no_such.thing"},
        "; 'test_pastedeploy' has no attribute 'no_such.thing'",
    ),
    (
        "bearer_auth",
        {"verify": "test_pastedeploy:NOT_CALLABLE"},
        "; test_pastedeploy:NOT_CALLABLE is not callable: its type is int",
    ),
    (
        "errors",
        {"statuses": "PermissionError"},
        "egg:wsgimw#errors option statuses: expected one exception class and "
        "status per line, e.g. PermissionError 403 or myapp.errors:Gone 410; "
        "'PermissionError' has no value",
    ),
    (
        "errors",
        {"statuses": "\nPermissionError 403\n\n  NoSuchError 404"},
        "; entry 2: 'NoSuchError' is not a built-in Exception class",
    ),
    (
        "errors",
        {"statuses": "len 404"},
        "; entry 1: 'len' is not a built-in Exception class",
    ),
    (
        "errors",
        {"statuses": "KeyboardInterrupt 500"},
        "'KeyboardInterrupt' is not a built-in Exception class (ErrorHandler never "
        "handles BaseException such as KeyboardInterrupt)",
    ),
    (
        "errors",
        {"statuses": "os:sep 403"},
        "; entry 1: 'os:sep' is not an Exception class",
    ),
    ("basic_auth", {**USERS, "cache_seconds": "1_000"}, "; got '1_000'"),
    ("basic_auth", {**USERS, "cache_seconds": "\u0661\u0662"}, "; got '\u0661\u0662'"),
    ("basic_auth", {"htpasswd": ""}, "option htpasswd: expected an absolute path"),
    (
        "basic_auth",
        {"htpasswd": "site.htpasswd"},
        "egg:wsgimw#basic_auth option htpasswd: expected an absolute path, e.g. "
        "%(here)s/site.htpasswd; got 'site.htpasswd', which is not absolute; for a "
        "file next to the .ini write %(here)s/NAME",
    ),
    (
        "bearer_auth",
        {"tokens": "hP4tYq8sKw2Xv9LmZr7Nc3Bd hP4tYq8sKw2Xv9LmZr7Nc3Be"},
        "option tokens: expected one token per line, each optionally followed by "
        "its user name; entry 1: the user name after the token looks like a token "
        "itself (16 or more token characters); write each token on a line of its "
        "own, the token first, then a short user name",
    ),
    (
        "bearer_auth",
        {"tokens": "hP4tYq8sKw2Xv9LmZr7Nc3Bd ci bot"},
        "; entry 1: a line holds more than a token and a user name",
    ),
    ("errors", {"statuses": "PermissionError forbidden"}, "; entry 1: got 'forbidden'"),
    (
        "errors",
        {"statuses": "PermissionError 403\nbuiltins:PermissionError 404"},
        "; entry 2 repeats the key of entry 1",
    ),
    (
        "accesslog",
        {"logger": "  "},
        "egg:wsgimw#accesslog option logger: expected a logger name, e.g. "
        "myapp.access; got an empty name",
    ),
    (
        "accesslog",
        {"stream": "stdlog"},
        "egg:wsgimw#accesslog option stream: expected stdout or stderr; got 'stdlog'",
    ),
    (
        "basic_auth",
        {"users": f"alice:{HASH}\nbob {HASH}"},
        "egg:wsgimw#basic_auth option users: expected one user:hash per line, "
        "as htpasswd -nB USER prints it; entry 2 has no ':'",
    ),
    (
        "bearer_auth",
        {"tokens": f"{TOKEN} ci-bot\n{TOKEN} other-bot"},
        "egg:wsgimw#bearer_auth option tokens: expected one token per line, each "
        "optionally followed by its user name; entry 2 repeats the key of entry 1",
    ),
]


@pytest.mark.parametrize(
    ("name", "options", "message"),
    BAD_VALUES,
    ids=[f"{name}-{'-'.join(options)}" for name, options, _ in BAD_VALUES],
)
def test_a_bad_value_names_the_option_and_the_form(
    name: str, options: dict[str, str], message: str
) -> None:
    factory, _ = FACTORIES[name]
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        factory({}, **options)
    if message.startswith("egg:"):
        assert str(info.value) == message
    # A password hash or a token is never repeated in a message.
    assert HASH not in str(info.value)
    assert TOKEN not in str(info.value)


@pytest.mark.parametrize(
    ("name", "options", "error", "message"),
    [
        ("compress", {"gzip_level": "42"}, ValueError, "gzip_level must be from 1 to 9, got 42"),
        ("query", {"errors": "lenient"}, ValueError, "errors must be 'replace' or 'strict', got 'lenient'"),
        ("query", {"charset": "utf-16"}, ValueError, "charset 'utf-16' cannot decode query strings"),
        ("environlog", {"include": ""}, ValueError, "include is empty, so nothing would be logged"),
        ("accesslog", {"logger": "x", "stream": "stdout"}, ValueError, "pass logger= or stream=, not both"),
        ("basic_auth", {}, ValueError, "BasicAuth needs one source of users"),
        ("basic_auth", {"users": "alice:plain"}, ValueError, "users: the 1st entry"),
        ("bearer_auth", {"tokens": "short"}, ValueError, "tokens: the 1st entry is shorter than 16"),
        ("bearer_auth", {**TOKENS, "scopes": "read"}, ValueError, "scopes= needs verify="),
        ("rewrite", {}, ValueError, "Rewrite needs something to do"),
        ("errors", {"statuses": "PermissionError 200"}, ValueError, "statuses[PermissionError] must be an int status from 400 to 599"),
    ],
)  # fmt: skip
def test_the_middleware_own_errors_pass_through(
    name: str, options: dict[str, str], error: type[Exception], message: str
) -> None:
    factory, _ = FACTORIES[name]
    with pytest.raises(error) as info:
        factory({}, **options)
    assert str(info.value).startswith(message)


def test_a_value_that_is_not_a_string_is_refused() -> None:
    with pytest.raises(TypeError) as info:
        pastedeploy.compress({}, minimum_size=500)  # type: ignore[arg-type]
    assert str(info.value) == (
        "egg:wsgimw#compress option minimum_size: .ini values are str, got int"
    )


# -- PasteDeploy itself --------------------------------------------------------------

#: The filters every middleware registers, and the one composite (Mount's
#: urlmap): the module's public names are exactly these.
ENTRY_POINTS = {
    "errors",
    "query",
    "accesslog",
    "environlog",
    "compress",
    "basic_auth",
    "bearer_auth",
    "rewrite",
    "ratelimit",
    "metrics",
    "static",
    "conditional",
    "proxy_headers",
    "trusted_host",
    "https_redirect",
    "request_id",
    "security_headers",
    "cors",
    "cross_origin_guard",
}
COMPOSITES = {"urlmap"}


@pytest.mark.parametrize(
    ("group", "names"),
    [("paste.filter_factory", ENTRY_POINTS), ("paste.composite_factory", COMPOSITES)],
)
def test_the_entry_points_are_registered(group: str, names: set[str]) -> None:
    found = importlib.metadata.entry_points(group=group)
    ours = {ep.name: ep for ep in found if ep.value.startswith("wsgimw.")}
    assert set(ours) == names
    for name, entry_point in ours.items():
        assert entry_point.dist is not None
        assert entry_point.dist.name == "wsgimw"
        assert entry_point.load() is getattr(pastedeploy, name)


def test_every_public_factory_is_an_entry_point() -> None:
    assert set(pastedeploy.__all__) == ENTRY_POINTS | COMPOSITES


def test_the_module_imports_without_pastedeploy() -> None:
    # None in sys.modules makes any import of the package fail.
    code = (
        "import sys; sys.modules['paste'] = sys.modules['paste.deploy'] = None; "
        "import wsgimw.pastedeploy as p; print(sorted(p.__all__))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == repr(sorted(ENTRY_POINTS | COMPOSITES))


PIPELINE_INI = """\
[DEFAULT]
debug = false

[pipeline:main]
pipeline = errors accesslog environlog gzip query basic bearer upper site

[app:site]
use = call:test_pastedeploy:make_app

[filter:errors]
use = egg:wsgimw#errors
statuses = PermissionError 403

[filter:accesslog]
use = egg:wsgimw#accesslog
format = {{method}} {{path}} {{status}} {{user}}
stream = stdout

[filter:environlog]
use = egg:wsgimw#environlog
include = PATH_INFO
logger = pastedeploy_test.environ

[filter:gzip]
use = egg:wsgimw#compress
minimum_size = 500
encodings = gzip

[filter:query]
use = egg:wsgimw#query
max_fields = 3

[filter:basic]
use = egg:wsgimw#basic_auth
# relative to this file's folder
htpasswd = %(here)s/site.htpasswd
realm = staff
protect = /user

[filter:bearer]
use = egg:wsgimw#bearer_auth
tokens =
    {token} ci-bot
protect = /api

[filter:upper]
use = egg:wsgimw#rewrite
text = builtins:str.upper
content_types = text/plain
"""


def test_a_real_pastedeploy_pipeline_of_every_filter(
    htpasswd_dir: Path,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="pastedeploy_test.environ")
    ini = htpasswd_dir / "site.ini"
    ini.write_text(PIPELINE_INI.format(token=TOKEN))
    app = loadapp("config:" + str(ini))
    outer = Lint()
    linted = outer(app)

    def get(path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
        result = call_app(linted, path, headers=headers)
        outer.verify()
        return result.status_code, result.body

    # compress: the HTML page is gzipped, and rewrite (text/plain only) left it.
    result = call_app(linted, "/page", headers={"Accept-Encoding": "gzip, br"})
    assert result.header("Content-Encoding") == "gzip"
    assert gzip.decompress(result.body) == PAGE
    # query, then rewrite: the echo is upper-cased; max_fields is 3.
    assert get("/query?q=hello&n=1") == (200, b"[('Q', 'HELLO'), ('N', '1')]")
    assert get("/query?a&b&c&d")[0] == 400
    # errors: a clean 500 (debug = false in [DEFAULT]) and the mapped 403.
    assert get("/boom") == (500, b"500 Internal Server Error\n")
    assert get("/forbidden")[0] == 403
    # basic_auth on /user, from site.htpasswd beside the .ini.
    assert get("/user") == (401, b"authentication required\n")
    assert get("/user", basic("alice", "s3cret")) == (200, b"ALICE")
    # bearer_auth on /api only.
    assert get("/api")[0] == 401
    assert get("/api", bearer(TOKEN))[0] == 200
    # accesslog wrote a line per request; environlog logged PATH_INFO only.
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "GET /page 200 -"
    assert "GET /user 200 alice" in lines
    assert len(lines) == 9
    first = next(r for r in caplog.records if r.name == "pastedeploy_test.environ")
    assert first.getMessage().startswith("environ for GET /page (1 of ")
    assert first.getMessage().endswith(" keys)\n    PATH_INFO = '/page'")


def test_a_typo_in_an_ini_file_stops_loadapp(htpasswd_dir: Path) -> None:
    ini = htpasswd_dir / "typo.ini"
    ini.write_text(
        textwrap.dedent(
            """\
            [app:main]
            use = call:test_pastedeploy:make_app
            filter-with = gzip

            [filter:gzip]
            use = egg:wsgimw#compress
            minimun_size = 500
            """
        )
    )
    with pytest.raises(ValueError, match="has no option 'minimun_size'"):
        loadapp("config:" + str(ini))


DEBUG_INI = """\
[DEFAULT]
debug = true

[app:main]
use = call:test_pastedeploy:make_app
filter-with = errors

[filter:errors]
use = egg:wsgimw#errors
{line}
"""


@pytest.mark.parametrize(
    ("line", "shows_traceback"),
    [
        ("", True),  # [DEFAULT] debug = true reaches the filter
        ("set debug = false", False),  # PasteDeploy's way to override it
        ("debug = false", True),  # PasteDeploy drops a name [DEFAULT] has
    ],
)
def test_debug_from_default_in_a_real_ini(
    tmp_path: Path, line: str, shows_traceback: bool
) -> None:
    ini = tmp_path / "debug.ini"
    ini.write_text(DEBUG_INI.format(line=line))
    result = call_app(loadapp("config:" + str(ini)), "/boom")
    assert result.status_code == 500
    assert (b"Traceback" in result.body) is shows_traceback


def test_a_comment_at_the_end_of_a_line_is_part_of_the_value(tmp_path: Path) -> None:
    ini = tmp_path / "comment.ini"
    ini.write_text(
        "[app:main]\nuse = call:test_pastedeploy:make_app\nfilter-with = gzip\n\n"
        "[filter:gzip]\nuse = egg:wsgimw#compress\nminimum_size = 500  # bytes\n"
    )
    with pytest.raises(
        ValueError, match=r"option minimum_size: .*; got '500  # bytes'"
    ):
        loadapp("config:" + str(ini))
