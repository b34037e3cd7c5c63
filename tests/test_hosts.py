"""TrustedHost and HTTPSRedirect."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from wsgimw import HTTPSRedirect, ProxyHeaders, TrustedHost, compose
from wsgimw.hosts import parse_host
from wsgimw.pastedeploy import https_redirect, trusted_host
from wsgimw.testing import (
    FAULTS,
    Fault,
    Lint,
    Result,
    call_app,
    check_fault,
    make_environ,
)
from wsgimw.types import Environ, StartResponse


def ok_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def request(middleware: Any, path: str = "/", **environ: Any) -> Result:
    """One request through ``middleware`` with Lint on both sides."""
    outer, inner = Lint(), Lint()
    result = call_app(outer(middleware(inner(ok_app))), make_environ(path, **environ))
    outer.verify()
    inner.verify()
    return result


HOSTS = TrustedHost(
    hosts=["example.com", "*.example.com", "[::1]", "127.0.0.1", "api.test:8443"]
)


# -- parse_host ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "parsed"),
    [
        ("example.com", ("example.com", None)),
        ("Example.COM.", ("example.com", None)),
        ("example.com:8000", ("example.com", 8000)),
        ("example.com:", ("example.com", None)),
        ("[::1]", ("[::1]", None)),
        ("[::1]:8000", ("[::1]", 8000)),
        ("[0:0::1]:80", ("[::1]", 80)),
        ("127.0.0.1:5000", ("127.0.0.1", 5000)),
        ("my_host", ("my_host", None)),
    ],
)
def test_parse_host(value: str, parsed: tuple[str, int | None]) -> None:
    assert parse_host(value) == parsed


@pytest.mark.parametrize(
    "value",
    [
        "",
        "[",
        "[::1",
        "[::g]",
        "[1::2::3]",
        "::1",
        "example.com:0",
        "example.com:65536",
        "example.com:123456",
        "a..b",
        ".example.com",
        ".",
        "exa mple.com",
        "example.com/evil",
        "user@example.com",
        "ex\u00e4mple.com",
        "example.com\r\nX: y",
        "a" * 300,
    ],
)
def test_parse_host_refuses(value: str) -> None:
    assert parse_host(value) is None


# -- TrustedHost -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("example.com", 200),
        ("EXAMPLE.com:8000", 200),
        ("example.com.", 200),
        ("www.example.com", 200),
        ("a.b.example.com:443", 200),
        ("[::1]", 200),
        ("[::1]:8000", 200),  # Starlette #3357: parsed as "["
        ("[0::1]:8000", 200),
        ("127.0.0.1:5000", 200),
        ("api.test:8443", 200),
        # Refused.
        ("api.test", 400),
        ("api.test:443", 400),
        ("example.com.evil.io", 400),
        ("evil-example.com", 400),
        ("evilexample.com", 400),
        ("[::2]", 400),
        ("[", 400),
        ("", 400),
        ("example.com:99999", 400),
        ("example.com, evil.com", 400),
        ("example.com\tx", 400),
    ],
)
def test_trusted_host(host: str, status: int) -> None:
    result = request(HOSTS, HTTP_HOST=host)
    assert result.status_code == status
    if status == 400:
        assert result.body == b"invalid Host header\n"


def test_port_rule_uses_the_scheme_default() -> None:
    only_443 = TrustedHost(hosts=["example.com:443"])
    assert (
        request(
            only_443, HTTP_HOST="example.com", **{"wsgi.url_scheme": "https"}
        ).status_code
        == 200
    )
    assert request(only_443, HTTP_HOST="example.com").status_code == 400
    assert only_443.allowed("example.com:443")
    wild = TrustedHost(hosts=["*.example.com:8443"])
    assert wild.allowed("a.example.com:8443")
    assert not wild.allowed("a.example.com")


def test_missing_host() -> None:
    environ = make_environ("/", SERVER_PROTOCOL="HTTP/1.1")
    del environ["HTTP_HOST"]
    assert call_app(HOSTS(ok_app), environ).status_code == 400
    environ = make_environ("/", SERVER_PROTOCOL="HTTP/1.0")
    del environ["HTTP_HOST"]
    assert call_app(HOSTS(ok_app), environ).status_code == 200


def test_star_accepts_any_well_formed_host() -> None:
    anything = TrustedHost(hosts=["*"])
    assert request(anything, HTTP_HOST="whatever.test:81").status_code == 200
    assert request(anything, HTTP_HOST="bad host").status_code == 400


def test_head_gets_no_body() -> None:
    result = request(HOSTS, method="HEAD", HTTP_HOST="evil.test")
    assert result.status_code == 400
    assert result.body == b""


def test_refusals_are_logged_safely(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG", logger="wsgimw.hosts")
    request(HOSTS, HTTP_HOST="evil\r\n" + "x" * 5000)
    (record,) = caplog.records
    message = record.getMessage()
    assert "\r" not in message
    assert "\n" not in message
    assert len(message) < 200


def test_reads_the_host_proxy_headers_set() -> None:
    stack = compose(ProxyHeaders(trusted=["127.0.0.1"]), HOSTS)
    result = request(
        stack,
        REMOTE_ADDR="127.0.0.1",
        HTTP_HOST="internal:8000",
        HTTP_X_FORWARDED_HOST="www.example.com",
    )
    assert result.status_code == 200


def test_cache_is_bounded() -> None:
    middleware = TrustedHost(hosts=["*.example.com"])
    app = middleware(ok_app)
    for n in range(1100):
        call_app(app, make_environ("/", HTTP_HOST=f"h{n}.example.com"))
    assert len(middleware._cache) <= 1024


@pytest.mark.parametrize(
    ("hosts", "error", "message"),
    [
        (None, TypeError, r"hosts=\[\.\.\.\]"),
        ("example.com", TypeError, r"a list of host names"),
        ([], ValueError, r"refuse every request"),
        ([1], TypeError, r"as str"),
        (["https://example.com"], ValueError, r"looks like a URL"),
        (["example.*"], ValueError, r"'\*' may only start"),
        (["::1"], ValueError, r"in brackets.*'\[::1\]'"),
        (["bad host"], ValueError, r"is not a host name"),
        (["*.[::1]"], ValueError, r"is not a host name"),
        (["example.com:"], ValueError, r"empty port"),
        (["example.com:99999"], ValueError, r"is not a host name"),
    ],
)
def test_bad_hosts_are_refused(hosts: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        TrustedHost(hosts=hosts)


def test_trusted_host_repr_and_callable() -> None:
    assert (
        repr(TrustedHost(hosts=["example.com"])) == "TrustedHost(hosts=['example.com'])"
    )
    with pytest.raises(TypeError, match="callable"):
        HOSTS(None)  # type: ignore[arg-type]


def test_ports_add_up_for_one_name() -> None:
    middleware = TrustedHost(hosts=["a.test:1", "a.test:2", "b.test", "b.test:3"])
    assert middleware.allowed("a.test:1")
    assert middleware.allowed("a.test:2")
    assert not middleware.allowed("a.test:3")
    assert middleware.allowed("b.test:9")  # any port wins


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_trusted_host_fault_matrix(fault: Fault) -> None:
    check_fault(HOSTS, fault, HTTP_HOST="www.example.com")


def test_passing_request_passes_the_iterable_through() -> None:
    body = [b"x"]

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return body

    noop: Any = lambda *a: None  # noqa: E731
    assert HOSTS(app)(make_environ("/", HTTP_HOST="example.com"), noop) is body


_host_chars = st.characters(codec="latin-1")


@given(st.text(_host_chars, max_size=80))
@example("[::1]:8000")
@example("example.com.evil.io")
def test_any_host_value_gets_200_or_400(host: str) -> None:
    result = request(HOSTS, HTTP_HOST=host)
    assert result.status_code in (200, 400)
    if result.status_code == 200:
        parsed = parse_host(host)
        assert parsed is not None
        name = parsed[0]
        assert name in (
            "example.com",
            "[::1]",
            "127.0.0.1",
            "api.test",
        ) or name.endswith(".example.com")


@given(st.from_regex(r"[a-z0-9-]{1,10}(\.[a-z0-9-]{1,10}){0,3}", fullmatch=True))
def test_wildcard_is_on_label_boundaries(name: str) -> None:
    allowed = HOSTS.allowed(name)
    assert allowed == (
        name in ("example.com", "127.0.0.1") or name.endswith(".example.com")
    )


# -- HTTPSRedirect ----------------------------------------------------------------------

REDIRECT = HTTPSRedirect(exempt=["/healthz", "/.well-known/acme-challenge/"])


@pytest.mark.parametrize(
    ("method", "path", "host", "status", "location"),
    [
        ("GET", "/", "example.com", 301, "https://example.com/"),
        ("HEAD", "/a?b=1", "example.com", 301, "https://example.com/a?b=1"),
        ("POST", "/form", "example.com", 308, "https://example.com/form"),
        ("DELETE", "/x", "example.com", 308, "https://example.com/x"),
        ("GET", "/", "example.com:80", 301, "https://example.com/"),
        ("GET", "/", "example.com:8080", 301, "https://example.com:8080/"),
        ("GET", "/", "[::1]:80", 301, "https://[::1]/"),
        (
            "GET",
            "/caf%C3%A9 x?q=%C3%A9&r=a b",
            "example.com",
            301,
            "https://example.com/caf%C3%A9%20x?q=%C3%A9&r=a%20b",
        ),
        ("GET", "/100%25", "example.com", 301, "https://example.com/100%25"),
        ("GET", "//evil.com/x", "example.com", 301, "https://example.com//evil.com/x"),
        ("GET", "/healthzz", "example.com", 301, "https://example.com/healthzz"),
        (
            "GET",
            "/healthz/../admin",
            "example.com",
            301,
            "https://example.com/healthz/../admin",
        ),
    ],
)
def test_redirects(
    method: str, path: str, host: str, status: int, location: str
) -> None:
    result = request(REDIRECT, path, method=method, HTTP_HOST=host)
    assert result.status_code == status
    assert result.header("Location") == location
    if method == "HEAD":
        assert result.body == b""
    else:
        assert result.body == f"Redirecting to {location}\n".encode()


@pytest.mark.parametrize(
    "path", ["/healthz", "/healthz/db", "/.well-known/acme-challenge/t0k"]
)
def test_exempt_paths_stay_on_http(path: str) -> None:
    assert request(REDIRECT, path, HTTP_HOST="example.com").status_code == 200


def test_https_passes() -> None:
    assert (
        request(
            REDIRECT, "/", HTTP_HOST="example.com", **{"wsgi.url_scheme": "https"}
        ).status_code
        == 200
    )


def test_no_loop_behind_a_tls_proxy() -> None:
    stack = compose(ProxyHeaders(trusted=["10.0.0.0/8"]), REDIRECT)
    behind = request(stack, "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_PROTO="https")
    assert behind.status_code == 200
    plain = request(stack, "/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_PROTO="http")
    assert plain.status_code == 301
    forged = request(
        stack, "/", REMOTE_ADDR="203.0.113.1", HTTP_X_FORWARDED_PROTO="https"
    )
    assert forged.status_code == 301


def test_script_name_and_no_host() -> None:
    environ: dict[str, Any] = {
        "SCRIPT_NAME": "/app",
        "SERVER_NAME": "site.test",
        "SERVER_PORT": "8000",
    }
    outer = Lint()
    env = make_environ("/x", **environ)
    del env["HTTP_HOST"]
    result = call_app(outer(REDIRECT(ok_app)), env)
    assert result.header("Location") == "https://site.test:8000/app/x"


def test_no_host_on_port_80() -> None:
    environ = make_environ("/x", SERVER_NAME="site.test", SERVER_PORT="80")
    del environ["HTTP_HOST"]
    result = call_app(REDIRECT(ok_app), environ)
    assert result.header("Location") == "https://site.test/x"


def test_bad_host_gets_400_not_a_redirect() -> None:
    result = request(REDIRECT, "/", HTTP_HOST="evil.com/x")
    assert result.status_code == 400
    assert result.header("Location") is None


def test_port_option() -> None:
    middleware = HTTPSRedirect(port=8443)
    result = request(middleware, "/", HTTP_HOST="example.com:8080")
    assert result.header("Location") == "https://example.com:8443/"
    assert repr(middleware) == "HTTPSRedirect(port=8443)"
    assert (
        repr(REDIRECT)
        == "HTTPSRedirect(exempt=['/healthz', '/.well-known/acme-challenge/'])"
    )


def test_non_latin1_environ_values_do_not_fail() -> None:
    # A server that decoded the path as UTF-8 (not PEP 3333, but seen).
    environ = make_environ(
        "/",
        HTTP_HOST="example.com",
        PATH_INFO="/caf\u00e9\u20ac\udcff",
        QUERY_STRING="q=\u20ac\ud800",
    )
    result = call_app(REDIRECT(ok_app), environ)
    assert result.status_code == 301
    assert result.header("Location") == (
        "https://example.com/caf%C3%A9%E2%82%AC%FF?q=%E2%82%AC%ED%A0%80"
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"exempt": "/healthz"}, TypeError, r"a list of paths"),
        ({"exempt": ["healthz"]}, ValueError, r"must start with '/'"),
        ({"exempt": ["/static/*"]}, ValueError, r"no patterns"),
        ({"exempt": [1]}, TypeError, r"as str"),
        ({"port": 0}, ValueError, r"TCP port"),
        ({"port": True}, ValueError, r"TCP port"),
        ({"port": "443"}, ValueError, r"TCP port"),
    ],
)
def test_bad_redirect_options(
    kwargs: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=message):
        HTTPSRedirect(**kwargs)


def test_redirect_wraps_only_a_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        REDIRECT(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_redirect_fault_matrix_on_https(fault: Fault) -> None:
    https: dict[str, Any] = {"wsgi.url_scheme": "https"}
    check_fault(REDIRECT, fault, **https)


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_redirect_fault_matrix_exempt(fault: Fault) -> None:
    check_fault(REDIRECT, fault, PATH_INFO="/healthz")


@given(
    st.text(st.characters(codec="latin-1"), max_size=40),
    st.text(st.characters(codec="latin-1"), max_size=40),
    st.text(st.characters(codec="latin-1"), max_size=40),
    st.sampled_from(["GET", "POST", "HEAD", "PUT"]),
)
def test_any_request_gets_a_clean_redirect_or_400(
    path: str, query: str, host: str, method: str
) -> None:
    result = request(
        REDIRECT,
        "/",
        method=method,
        PATH_INFO="/" + path,
        QUERY_STRING=query,
        HTTP_HOST=host,
    )
    if result.status_code == 200:
        assert REDIRECT.exempts("/" + path)
        return
    assert result.status_code in (301, 308, 400)
    location = result.header("Location")
    if result.status_code == 400:
        assert location is None
        return
    assert location is not None
    assert location.startswith("https://")
    assert all("\x21" <= c <= "\x7e" for c in location)
    parsed = parse_host(host)
    assert parsed is not None
    netloc = location.split("/", 3)[2]
    assert netloc == parsed[0] or netloc.startswith(parsed[0] + ":")


# -- PasteDeploy --------------------------------------------------------------------------


def test_paste_factories() -> None:
    assert repr(trusted_host({}, hosts="example.com *.example.com")) == (
        "TrustedHost(hosts=['example.com', '*.example.com'])"
    )
    assert repr(https_redirect({}, exempt="/healthz", port="8443")) == (
        "HTTPSRedirect(exempt=['/healthz'], port=8443)"
    )
    with pytest.raises(TypeError, match="needs hosts="):
        trusted_host({})


def test_paste_pipeline(tmp_path: Path) -> None:
    from paste.deploy import loadapp

    ini = tmp_path / "site.ini"
    ini.write_text(
        """
[pipeline:main]
pipeline = hosts https app

[filter:hosts]
use = egg:wsgimw#trusted_host
hosts = example.com

[filter:https]
use = egg:wsgimw#https_redirect
exempt = /healthz

[app:app]
paste.app_factory = test_hosts:app_factory
"""
    )
    app = loadapp(f"config:{ini}")
    assert call_app(app, make_environ("/", HTTP_HOST="evil.test")).status_code == 400
    assert call_app(app, make_environ("/", HTTP_HOST="example.com")).status_code == 301
    assert (
        call_app(app, make_environ("/healthz", HTTP_HOST="example.com")).status_code
        == 200
    )


def app_factory(global_conf: dict[str, str], **local_conf: str) -> Any:
    return ok_app


def test_a_host_that_is_not_a_str_or_too_long() -> None:
    environ = make_environ("/")
    environ["HTTP_HOST"] = b"example.com"  # a broken server: still no 500
    assert call_app(HOSTS(ok_app), environ).status_code == 400
    middleware = TrustedHost(hosts=["*.example.com"])
    long_host = "a" * 300 + ".example.com"
    assert (
        call_app(middleware(ok_app), make_environ("/", HTTP_HOST=long_host)).status_code
        == 400
    )
    assert not any(host == long_host for host, _ in middleware._cache)
