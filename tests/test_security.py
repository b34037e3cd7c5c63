"""SecurityHeaders: the headers, HSTS on https only, never overwriting the
app's own, a fresh CSP nonce per request, values checked at construction."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paste.deploy import loadapp

from wsgimw import SecurityHeaders, pastedeploy
from wsgimw.security import NONCE_KEY
from wsgimw.testing import FAULTS, Fault, Lint, Result, call_app, check_fault
from wsgimw.types import Environ, Headers, StartResponse, WSGIApp

HTTPS: dict[str, Any] = {"wsgi.url_scheme": "https"}


def scheme_of(scheme: str) -> dict[str, Any]:
    return {"wsgi.url_scheme": scheme}


NONCE_POLICY = "default-src 'self'; script-src 'self' 'nonce-{nonce}'"


class App:
    """Answers with the headers it is given; remembers the environ."""

    def __init__(self, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.headers: Headers = [
            ("Content-Type", "text/html"),
            ("Content-Length", "2"),
            *headers,
        ]
        self.environ: Environ | None = None

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        self.environ = environ
        start_response("200 OK", list(self.headers))
        return [b"ok"]


def run(
    middleware: SecurityHeaders, app: WSGIApp | None = None, **environ: Any
) -> Result:
    outer, inner = Lint(below="SecurityHeaders"), Lint(above="SecurityHeaders")
    result = call_app(outer(middleware(inner(app or App()))), "/", **environ)
    outer.verify()
    inner.verify()
    return result


def names(result: Result) -> list[str]:
    return [name for name, _ in result.headers]


def test_the_defaults_on_http() -> None:
    result = run(SecurityHeaders())
    assert result.status == "200 OK"
    assert result.body == b"ok"
    assert result.headers[2:] == [
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "same-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin"),
    ]


def test_hsts_goes_out_on_https_only() -> None:
    headers = SecurityHeaders(hsts_max_age=300)
    assert run(headers).header("Strict-Transport-Security") is None
    assert run(headers, **HTTPS).header("Strict-Transport-Security") == "max-age=300"
    # No max-age: no HSTS at all, even on https (it is hard to undo).
    assert run(SecurityHeaders(), **HTTPS).header("Strict-Transport-Security") is None


def test_hsts_subdomains_and_preload_are_opt_in() -> None:
    both = SecurityHeaders(
        hsts_max_age=63072000, hsts_include_subdomains=True, hsts_preload=True
    )
    assert run(both, **HTTPS).header("Strict-Transport-Security") == (
        "max-age=63072000; includeSubDomains; preload"
    )
    subdomains = SecurityHeaders(hsts_max_age=0, hsts_include_subdomains=True)
    assert run(subdomains, **HTTPS).header("Strict-Transport-Security") == (
        "max-age=0; includeSubDomains"
    )


def test_a_header_the_app_set_is_never_overwritten() -> None:
    app = App(
        [
            ("x-frame-options", "SAMEORIGIN"),
            ("Content-Security-Policy", "default-src *"),
            ("Strict-Transport-Security", "max-age=5"),
        ]
    )
    result = run(
        SecurityHeaders(hsts_max_age=300, content_security_policy=NONCE_POLICY),
        app,
        **HTTPS,
    )
    lowered = [name.lower() for name in names(result)]
    assert len(lowered) == len(set(lowered))  # nothing twice
    assert result.header("X-Frame-Options") == "SAMEORIGIN"
    assert result.header("Content-Security-Policy") == "default-src *"
    assert result.header("Strict-Transport-Security") == "max-age=5"
    assert result.header("X-Content-Type-Options") == "nosniff"


def test_every_option() -> None:
    headers = SecurityHeaders(
        content_type_options=False,
        frame_options="SAMEORIGIN",
        referrer_policy="no-referrer, strict-origin-when-cross-origin",
        cross_origin_opener_policy="same-origin-allow-popups",
        cross_origin_resource_policy="same-site",
        permissions_policy={"camera": "()", "geolocation": '(self "https://a.b")'},
        content_security_policy={
            "default-src": ["'self'"],
            "img-src": "*",
            "upgrade-insecure-requests": "",
        },
        csp_report_only=True,
    )
    assert run(headers).headers[2:] == [
        ("X-Frame-Options", "SAMEORIGIN"),
        ("Referrer-Policy", "no-referrer, strict-origin-when-cross-origin"),
        ("Cross-Origin-Opener-Policy", "same-origin-allow-popups"),
        ("Cross-Origin-Resource-Policy", "same-site"),
        ("Permissions-Policy", 'camera=(), geolocation=(self "https://a.b")'),
        (
            "Content-Security-Policy-Report-Only",
            "default-src 'self'; img-src *; upgrade-insecure-requests",
        ),
    ]
    nothing = SecurityHeaders(
        content_type_options=False,
        frame_options=None,
        referrer_policy=None,
        cross_origin_opener_policy=None,
    )
    assert run(nothing).headers == App().headers
    assert nothing.headers == []
    assert repr(nothing) == "SecurityHeaders()"


def test_a_fresh_nonce_per_request_in_the_environ_and_the_header() -> None:
    headers = SecurityHeaders(content_security_policy=NONCE_POLICY)
    seen = set()
    for _ in range(20):
        app = App()
        result = run(headers, app)
        assert app.environ is not None
        nonce = app.environ[NONCE_KEY]
        assert re.fullmatch(r"[A-Za-z0-9_-]{24}", nonce)
        assert result.header("Content-Security-Policy") == (
            f"default-src 'self'; script-src 'self' 'nonce-{nonce}'"
        )
        seen.add(nonce)
    assert len(seen) == 20
    report_only = SecurityHeaders(
        content_security_policy=NONCE_POLICY, csp_report_only=True, hsts_max_age=9
    )
    result = run(report_only, **HTTPS)
    assert result.header("Content-Security-Policy") is None
    assert "'nonce-" in (result.header("Content-Security-Policy-Report-Only") or "")
    assert result.header("Strict-Transport-Security") == "max-age=9"
    assert "{nonce}" in repr(report_only)


def test_repeated_responses_get_the_same_headers_and_learning_is_bounded() -> None:
    wrapped = SecurityHeaders()(App())
    first = call_app(wrapped, "/")
    assert call_app(wrapped, "/").headers == first.headers
    # An app with many header spellings: each is learned up to a limit.
    for number in range(300):
        app = App([(f"X-Custom-{number}", "1"), ("x-frame-options", "SAMEORIGIN")])
        result = call_app(SecurityHeaders()(app), "/")
        assert result.header("X-Frame-Options") == "SAMEORIGIN"
    many = App([(f"X-Custom-{number}", "1") for number in range(300)])
    wrapped = SecurityHeaders()(many)
    for _ in range(2):
        result = call_app(wrapped, "/")
        assert result.header("X-Frame-Options") == "DENY"
        assert len(result.headers) == 302 + 4


def test_no_nonce_without_the_placeholder() -> None:
    app = App()
    run(SecurityHeaders(content_security_policy="default-src 'self'"), app)
    assert app.environ is not None
    assert NONCE_KEY not in app.environ


def test_an_error_page_sent_with_exc_info_gets_the_headers_too() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise RuntimeError("late")
        except RuntimeError:
            start_response(
                "500 Internal Server Error",
                [("Content-Type", "text/plain"), ("Content-Length", "4")],
                sys.exc_info(),
            )
        return [b"oops"]

    result = run(SecurityHeaders(), app)
    assert result.status.startswith("500")
    assert result.header("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize("fault", FAULTS, ids=str)
@pytest.mark.parametrize("scheme", ["http", "https"])
def test_fault_matrix(fault: Fault, scheme: str) -> None:
    result = check_fault(
        SecurityHeaders(hsts_max_age=60, content_security_policy=NONCE_POLICY),
        fault,
        **scheme_of(scheme),
    )
    if result.status:
        assert result.header("X-Frame-Options") == "DENY"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"hsts_max_age": -1}, "must be >= 0"),
        ({"hsts_max_age": True}, "int of seconds"),
        ({"hsts_max_age": "300"}, "int of seconds"),
        ({"hsts_preload": True}, "need hsts_max_age"),
        ({"hsts_include_subdomains": True}, "need hsts_max_age"),
        ({"hsts_max_age": 31536000, "hsts_preload": True}, "hsts_include_subdomains"),
        (
            {
                "hsts_max_age": 300,
                "hsts_preload": True,
                "hsts_include_subdomains": True,
            },
            "a year",
        ),
        ({"hsts_preload": "yes"}, "True or False"),
        ({"frame_options": "ALLOW-FROM https://a"}, "one of 'DENY'"),
        ({"referrer_policy": "never"}, "not a policy"),
        ({"referrer_policy": 1}, "str or None"),
        ({"cross_origin_opener_policy": "same"}, "one of"),
        ({"cross_origin_resource_policy": "cross"}, "one of"),
        ({"permissions_policy": "camera=()\r\nX-Evil: 1"}, "control characters"),
        ({"permissions_policy": "camera"}, "feature=(allowlist)"),
        ({"permissions_policy": {"camera": 1}}, "both str"),
        ({"permissions_policy": 5}, "mapping, or None"),
        (
            {"content_security_policy": "default-src 'self'\r\nSet-Cookie: a=b"},
            "control",
        ),
        ({"content_security_policy": "default-src 'sélf'"}, "ASCII"),
        ({"content_security_policy": "defualt-src 'self'"}, "unknown directive"),
        ({"content_security_policy": "img-src *; img-src 'self'"}, "twice"),
        ({"content_security_policy": "img-src a, b"}, "second policy"),
        ({"content_security_policy": "script-src {nonce}"}, "'nonce-{nonce}'"),
        ({"content_security_policy": "script-src 'nonce-{other}'"}, "braces"),
        ({"content_security_policy": " ; "}, "is empty"),
        ({"content_security_policy": "default-src 'self' img-src *"}, "';' is missing"),
        ({"content_security_policy": 3}, "a mapping"),
        ({"content_security_policy": {"img-src": 3}}, "maps directive names"),
        ({"content_security_policy": {"img-src": [3]}}, "must be str"),
    ],
)
def test_values_are_checked_at_construction(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        SecurityHeaders(**options)


def test_positional_options_and_non_apps_are_refused() -> None:
    with pytest.raises(TypeError):
        SecurityHeaders(300)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="wraps a WSGI app"):
        SecurityHeaders()("not an app")  # type: ignore[arg-type]


@settings(max_examples=200, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTPS", "", "ftp"]),
    app_headers=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "X-Frame-Options",
                    "x-content-type-options",
                    "Content-Security-Policy",
                    "STRICT-TRANSPORT-SECURITY",
                    "Referrer-Policy",
                    "X-Other",
                ]
            ),
            st.text(alphabet="abc =;'", max_size=10),
        ),
        max_size=4,
    ),
    host=st.text(max_size=30).map(lambda t: t.encode("utf-8").decode("latin-1")),
)
def test_each_header_once_whatever_the_app_set(
    scheme: str, app_headers: list[tuple[str, str]], host: str
) -> None:
    result = call_app(
        SecurityHeaders(hsts_max_age=60, content_security_policy=NONCE_POLICY)(
            App(app_headers)
        ),
        "/",
        HTTP_HOST=host,
        **scheme_of(scheme),
    )
    ours = [
        "x-frame-options",
        "x-content-type-options",
        "content-security-policy",
        "referrer-policy",
        "cross-origin-opener-policy",
    ]
    lowered = [name.lower() for name, _ in result.headers]
    app_set = {name.lower() for name, _ in app_headers}
    for name in ours:
        assert lowered.count(name) == max(
            1, [h.lower() for h, _ in app_headers].count(name)
        )
    hsts = lowered.count("strict-transport-security")
    if "strict-transport-security" not in app_set:
        assert hsts == (1 if scheme == "https" else 0)


# -- PasteDeploy ------------------------------------------------------------------


def test_the_factory_builds_what_the_keywords_build() -> None:
    from_ini = pastedeploy.security_headers(
        {},
        hsts_max_age="63072000",
        hsts_include_subdomains="true",
        hsts_preload="yes",
        content_type_options="false",
        frame_options="none",
        referrer_policy="no-referrer",
        cross_origin_opener_policy="None",
        cross_origin_resource_policy="same-site",
        permissions_policy="camera=(),\n  geolocation=(self)",
        content_security_policy="\ndefault-src 'self';\nscript-src 'nonce-{nonce}'",
        csp_report_only="on",
    )
    from_python = SecurityHeaders(
        hsts_max_age=63072000,
        hsts_include_subdomains=True,
        hsts_preload=True,
        content_type_options=False,
        frame_options=None,
        referrer_policy="no-referrer",
        cross_origin_opener_policy=None,
        cross_origin_resource_policy="same-site",
        permissions_policy="camera=(), geolocation=(self)",
        content_security_policy="default-src 'self'; script-src 'nonce-{nonce}'",
        csp_report_only=True,
    )
    assert repr(from_ini) == repr(from_python)
    with pytest.raises(ValueError, match="did you mean frame_options"):
        pastedeploy.security_headers({}, frame_option="DENY")


def test_a_pastedeploy_pipeline(tmp_path: Path) -> None:
    ini = tmp_path / "site.ini"
    ini.write_text(
        "[pipeline:main]\n"
        "pipeline = headers cors guard app\n\n"
        "[filter:headers]\n"
        "use = egg:wsgimw#security_headers\n"
        "hsts_max_age = 300\n"
        "content_security_policy = default-src 'self'\n"
        "    script-src 'nonce-{nonce}'\n\n"
        "[filter:cors]\n"
        "use = egg:wsgimw#cors\n"
        "origins = https://app.example.com\n"
        "paths = /api\n\n"
        "[filter:guard]\n"
        "use = egg:wsgimw#cross_origin_guard\n"
        "trusted_origins = https://sso.example.com\n\n"
        "[app:app]\n"
        "paste.app_factory = test_security:app_factory\n"
    )
    app = loadapp(f"config:{ini}")
    result = call_app(
        app,
        "/api/x",
        method="POST",
        headers={"Origin": "https://app.example.com", "Sec-Fetch-Site": "cross-site"},
        **HTTPS,
    )
    assert result.status == "403 Forbidden"
    assert result.header("Strict-Transport-Security") == "max-age=300"
    assert result.header("Access-Control-Allow-Origin") == "https://app.example.com"
    csp = result.header("Content-Security-Policy") or ""
    assert re.fullmatch(r"default-src 'self'; script-src 'nonce-[\w-]{24}'", csp)
    trusted = call_app(
        app,
        "/api/x",
        method="POST",
        headers={"Origin": "https://sso.example.com", "Sec-Fetch-Site": "cross-site"},
    )
    assert trusted.status == "200 OK"
    assert trusted.header("Access-Control-Allow-Origin") is None


def app_factory(global_conf: dict[str, str], **local_conf: str) -> WSGIApp:
    return App()
