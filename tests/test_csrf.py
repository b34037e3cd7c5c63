"""CrossOriginGuard: Go 1.25's http.CrossOriginProtection semantics, trusted
origins, exempt paths, report-only, and nothing published for an app to
skip its own checks on (the Echo framework's GHSA-9fhj-f35q-w532)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgimw import CrossOriginGuard, pastedeploy
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

GUARD = CrossOriginGuard()


class App:
    def __init__(self) -> None:
        self.calls = 0
        self.environ: Environ = {}

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        self.calls += 1
        self.environ = dict(environ)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [b"done"]


def run(
    guard: CrossOriginGuard = GUARD,
    path: str = "/transfer",
    *,
    method: str = "POST",
    site: str | None = None,
    origin: str | None = None,
    host: str | None = "bank.example",
    app: App | None = None,
    **environ: Any,
) -> Result:
    headers = {}
    if site is not None:
        headers["Sec-Fetch-Site"] = site
    if origin is not None:
        headers["Origin"] = origin
    if host is not None:
        headers["Host"] = host
    outer, inner = Lint(below="CrossOriginGuard"), Lint(above="CrossOriginGuard")
    result = call_app(
        outer(guard(inner(app or App()))),
        path,
        method=method,
        headers=headers,
        **environ,
    )
    outer.verify()
    inner.verify()
    return result


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_safe_methods_always_pass(method: str) -> None:
    result = run(method=method, site="cross-site", origin="https://evil.test")
    assert result.status == "200 OK"


@pytest.mark.parametrize(
    ("site", "status"),
    [
        ("same-origin", 200),
        ("none", 200),
        ("same-site", 403),
        ("cross-site", 403),
        ("something-new", 403),
    ],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_sec_fetch_site_decides_when_present(
    site: str, status: int, method: str
) -> None:
    # The Origin does not matter once Sec-Fetch-Site is there.
    result = run(method=method, site=site, origin="https://bank.example")
    assert result.status_code == status


@pytest.mark.parametrize(
    ("origin", "host", "status"),
    [
        (None, "bank.example", 200),  # not a browser, or a very old one
        ("https://bank.example", "bank.example", 200),
        ("http://bank.example:8080", "bank.example:8080", 200),
        ("https://bank.example", "bank.example:443", 200),
        ("https://bank.example:443", "bank.example", 200),
        ("http://BANK.example", "bank.EXAMPLE", 200),
        ("https://bank.example", "bank.example:8443", 403),
        ("https://evil.test", "bank.example", 403),
        ("null", "bank.example", 403),
        ("https://bank.example.evil.test", "bank.example", 403),
        ("bank.example", "bank.example", 403),
        ("https://bank.example/", "bank.example", 403),
        ("ws://bank.example", "bank.example:80", 403),
        ("ws://bank.example:80", "bank.example:80", 200),
    ],
)
def test_without_sec_fetch_site_the_origin_must_match_the_host(
    origin: str | None, host: str, status: int
) -> None:
    assert run(origin=origin, host=host).status_code == status


def test_without_a_host_header_server_name_and_port_stand_in() -> None:
    def status(origin: str, port: str) -> int:
        environ = make_environ(
            "/form", method="POST", headers={"Origin": origin}, SERVER_PORT=port
        )
        del environ["HTTP_HOST"]
        return call_app(GUARD(App()), environ).status_code

    assert status("http://127.0.0.1:8000", "8000") == 200
    assert status("http://127.0.0.1", "80") == 200
    assert status("http://127.0.0.1", "8000") == 403


def test_trusted_origins_and_exempt_paths_pass() -> None:
    guard = CrossOriginGuard(
        trusted_origins=["https://SSO.example"], exempt=["/hooks/stripe"]
    )
    assert (
        run(guard, site="cross-site", origin="https://sso.example").status_code == 200
    )
    assert run(guard, origin="https://sso.example").status_code == 200
    assert (
        run(guard, site="cross-site", origin="https://sso.example:444").status_code
        == 403
    )
    assert run(guard, "/hooks/stripe", site="cross-site").status_code == 200
    assert run(guard, "/hooks/stripe/x", origin="https://evil.test").status_code == 200
    assert run(guard, "/hooks/stripex", site="cross-site").status_code == 403
    assert run(guard, "/HOOKS/stripe", site="cross-site").status_code == 403
    assert run(guard, "/hooks/stripe/../../admin", site="cross-site").status_code == 403
    # Mounted under a prefix, both forms of the path must be exempt.
    assert (
        run(guard, "/hooks/stripe", site="cross-site", SCRIPT_NAME="/app").status_code
        == 403
    )
    mounted = CrossOriginGuard(exempt=["/hooks", "/app/hooks"])
    assert (
        run(mounted, "/hooks/x", site="cross-site", SCRIPT_NAME="/app").status_code
        == 200
    )
    assert repr(guard) == (
        "CrossOriginGuard(trusted_origins=['https://sso.example'], "
        "exempt=['/hooks/stripe'])"
    )


def test_the_refusal_is_a_short_403_and_never_reaches_the_app(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = App()
    with caplog.at_level(logging.INFO, "wsgimw.csrf"):
        result = run(
            site="cross-site",
            app=app,
            CONTENT_TYPE="application/x-www-form-urlencoded",
        )
    assert app.calls == 0
    assert result.status == "403 Forbidden"
    assert result.header("Content-Type") == "text/plain; charset=utf-8"
    assert b"form posts" in result.body
    assert "refused 'POST' '/transfer': Sec-Fetch-Site is 'cross-site'" in caplog.text
    head = run(method="DELETE", site="cross-site")
    assert b"requests that change data" in head.body


def test_report_only_logs_and_lets_it_through(caplog: pytest.LogCaptureFixture) -> None:
    guard = CrossOriginGuard(report_only=True)
    app = App()
    with caplog.at_level(logging.WARNING, "wsgimw.csrf"):
        result = run(
            guard,
            "/a\r\nforged: line",
            origin="https://evil.test\r\nX: y",
            app=app,
        )
    assert result.status == "200 OK"
    assert app.calls == 1
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    message = record.getMessage()
    assert "would refuse" in message
    assert not re.search(r"[\x00-\x1f\x7f]", message)  # no forged log lines
    assert repr(guard) == "CrossOriginGuard(report_only=True)"


def test_check_says_why() -> None:
    environ = make_environ("/", method="GET", headers={"Sec-Fetch-Site": "cross-site"})
    assert GUARD.check(environ) is None
    environ["REQUEST_METHOD"] = "POST"
    assert GUARD.check(environ) == "Sec-Fetch-Site is 'cross-site'"


def test_nothing_is_published_for_an_app_to_trust() -> None:
    """GHSA-9fhj-f35q-w532: Echo's CSRF middleware skipped its token check
    on Sec-Fetch-Site. The guard marks nothing: an app's own checks run."""
    app = App()
    run(site="same-origin", app=app)
    assert not [key for key in app.environ if key.startswith("wsgimw.")]


@pytest.mark.parametrize("fault", FAULTS, ids=str)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_fault_matrix_passed_on(fault: Fault, method: str) -> None:
    site = "cross-site" if method == "GET" else "same-origin"
    extra: dict[str, Any] = {} if fault.method == "HEAD" else {"REQUEST_METHOD": method}
    check_fault(GUARD, fault, headers={"Sec-Fetch-Site": site}, **extra)


@pytest.mark.parametrize(
    "fault",
    [f for f in FAULTS if not (f.raises or f.name.startswith("exc-info"))],
    ids=str,
)
def test_fault_matrix_refused(fault: Fault) -> None:
    extra: dict[str, Any] = {} if fault.method == "HEAD" else {"REQUEST_METHOD": "PUT"}
    result = check_fault(
        GUARD, fault, headers={"Sec-Fetch-Site": "cross-site"}, **extra
    )
    assert result.status_code == (200 if fault.method == "HEAD" else 403)


def go_check(
    method: str,
    site: str | None,
    origin: str | None,
    host: str,
    trusted: frozenset[str],
) -> bool:
    """Go 1.25's CrossOriginProtection.Check as its documentation states it
    (true: the request passes), comparing hosts with default ports as equal."""
    if method in ("GET", "HEAD", "OPTIONS"):
        return True
    if site:
        return site in ("same-origin", "none") or origin in trusted
    if not origin:
        return True
    return origin_is_host(origin, host or "127.0.0.1") or origin in trusted


def origin_is_host(origin: str, host: str) -> bool:
    found = re.fullmatch(
        r"([a-z][a-z0-9+.\-]*)://([a-z0-9\-._~]+|\[[0-9a-f:.]+\])(:[0-9]{1,5})?",
        origin.lower(),
    )
    if found is None:
        return False
    scheme, name, port = found.groups()
    default = {"http": ":80", "https": ":443"}.get(scheme)

    def without_default(netloc: str) -> str:
        if default and netloc.endswith(default):
            return netloc[: -len(default)]
        return netloc

    return without_default(name + (port or "")) == without_default(host.lower())


latin1 = st.text(alphabet=st.characters(max_codepoint=255), max_size=30)


@settings(max_examples=400, deadline=None)
@given(
    method=st.sampled_from(["GET", "HEAD", "OPTIONS", "POST", "PUT", "DELETE"]),
    site=st.one_of(
        st.none(),
        latin1,
        st.sampled_from(["same-origin", "none", "same-site", "cross-site", ""]),
    ),
    origin=st.one_of(
        st.none(),
        latin1,
        st.sampled_from(
            [
                "https://bank.example",
                "http://bank.example:8080",
                "https://sso.example",
                "https://evil.test",
                "null",
            ]
        ),
    ),
    host=st.one_of(
        latin1, st.sampled_from(["bank.example", "bank.example:8080", "BANK.example"])
    ),
)
def test_decisions_follow_go(
    method: str, site: str | None, origin: str | None, host: str
) -> None:
    guard = CrossOriginGuard(trusted_origins=["https://sso.example"])
    app = App()
    result = run(guard, method=method, site=site, origin=origin, host=host, app=app)
    assert result.status_code in (200, 403)
    passes = result.status_code == 200
    assert passes == (app.calls == 1)
    expected = go_check(method, site, origin, host, frozenset({"https://sso.example"}))
    assert passes == expected, (method, site, origin, host)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"trusted_origins": "https://a.test"}, "takes a list"),
        ({"trusted_origins": ["https://a.test/path"]}, "not an origin"),
        ({"trusted_origins": ["*"]}, "not an origin"),
        ({"exempt": ["/"]}, "every path"),
        ({"exempt": ["/hooks/*"]}, "no '*'"),
        ({"report_only": 1}, "True or False"),
        ({"logger": "csrf"}, "logging.getLogger"),
    ],
)
def test_options_are_checked_at_construction(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        CrossOriginGuard(**options)
    with pytest.raises(TypeError, match="wraps a WSGI app"):
        GUARD(42)  # type: ignore[arg-type]
    assert repr(GUARD) == "CrossOriginGuard()"


def test_the_factory_builds_what_the_keywords_build() -> None:
    from_ini = pastedeploy.cross_origin_guard(
        {},
        trusted_origins="https://sso.example\nhttps://pay.example",
        exempt="/hooks, /health",
        report_only="false",
        logger="myapp.csrf",
    )
    from_python = CrossOriginGuard(
        trusted_origins=["https://sso.example", "https://pay.example"],
        exempt=["/hooks", "/health"],
        logger=logging.getLogger("myapp.csrf"),
    )
    assert repr(from_ini) == repr(from_python)
    with pytest.raises(ValueError, match="did you mean trusted_origins"):
        pastedeploy.cross_origin_guard({}, trusted_origin="https://a.test")
