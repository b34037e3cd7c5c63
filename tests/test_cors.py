"""CORS: who is allowed, preflights answered here, Vary: Origin merged, and
the cases its anchors got wrong (Starlette #800, flask-cors #148 and
CVE-2024-6221, -6866, -6844, -6839)."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from wsgimw import CORS, pastedeploy
from wsgimw.testing import (
    FAULTS,
    Fault,
    Lint,
    Result,
    call_app,
    check_fault,
    make_environ,
)
from wsgimw.types import Environ, Headers, StartResponse

APP_ORIGIN = "https://app.example.com"
EVIL = "https://evil.example.net"


class App:
    """Answers 200 and counts its calls."""

    def __init__(self, headers: Iterable[tuple[str, str]] = ()) -> None:
        self.headers: Headers = [
            ("Content-Type", "application/json"),
            ("Content-Length", "2"),
            *headers,
        ]
        self.calls = 0
        self.returned: object = None

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        self.calls += 1
        start_response("200 OK", list(self.headers))
        self.returned = [] if environ["REQUEST_METHOD"] == "HEAD" else [b"{}"]
        return self.returned


def run(
    cors: CORS,
    path: str = "/api/items",
    *,
    app: App | None = None,
    method: str = "GET",
    origin: str | None = APP_ORIGIN,
    headers: dict[str, str] | None = None,
    **environ: Any,
) -> Result:
    app = app or App()
    sent = dict(headers or {})
    if origin is not None:
        sent["Origin"] = origin
    outer, inner = Lint(below="CORS"), Lint(above="CORS")
    result = call_app(
        outer(cors(inner(app))), path, method=method, headers=sent, **environ
    )
    outer.verify()
    inner.verify()
    return result


def preflight(
    cors: CORS,
    method: str = "PUT",
    headers: str | None = None,
    *,
    origin: str = APP_ORIGIN,
    app: App | None = None,
    **extra: str,
) -> Result:
    sent = {"Access-Control-Request-Method": method, **extra}
    if headers is not None:
        sent["Access-Control-Request-Headers"] = headers
    return run(cors, method="OPTIONS", origin=origin, headers=sent, app=app)


API = CORS(
    origins=[APP_ORIGIN, "http://localhost:8080", "https://*.example.org"],
    methods=["GET", "POST", "PUT"],
    headers=["Content-Type", "X-Token"],
    expose_headers=["X-Total"],
    allow_credentials=True,
    max_age=300,
)


def test_an_allowed_origin_gets_its_headers_and_vary() -> None:
    result = run(API)
    assert result.status == "200 OK"
    assert result.headers[2:] == [
        ("Access-Control-Allow-Origin", APP_ORIGIN),
        ("Access-Control-Allow-Credentials", "true"),
        ("Access-Control-Expose-Headers", "X-Total"),
        ("Vary", "Origin"),
    ]


def test_a_disallowed_origin_gets_no_allow_origin_but_vary() -> None:
    result = run(API, origin=EVIL)
    assert result.status == "200 OK"
    assert result.header("Access-Control-Allow-Origin") is None
    assert result.header("Access-Control-Allow-Credentials") is None
    assert result.header("Vary") == "Origin"


def test_no_origin_passes_untouched() -> None:
    app = App()
    environ_app = API(app)
    result = call_app(environ_app, "/api/items")
    assert result.headers == app.headers
    iterable = environ_app(make_environ("/"), lambda s, h, e=None: lambda b: None)
    assert iterable is app.returned  # the app's own iterable


def test_always_vary_adds_vary_without_an_origin() -> None:
    cors = CORS(origins=[APP_ORIGIN], always_vary=True, paths=["/api"])
    assert run(cors, origin=None).header("Vary") == "Origin"
    assert run(cors, "/other", origin=None).header("Vary") is None
    # With '*' the answer never depends on the Origin: nothing to vary on.
    star = CORS(origins=["*"], always_vary=True)
    assert run(star, origin=None).header("Vary") is None


@pytest.mark.parametrize(
    ("app_vary", "merged"),
    [
        ([("Vary", "Accept-Encoding")], [("Vary", "Accept-Encoding, Origin")]),
        ([("vary", "origin")], [("vary", "origin")]),
        ([("Vary", "*")], [("Vary", "*")]),
        ([("Vary", "")], [("Vary", "Origin")]),
        (
            [("Vary", "Cookie"), ("Vary", "Accept-Encoding")],
            [("Vary", "Cookie, Origin"), ("Vary", "Accept-Encoding")],
        ),
    ],
)
def test_vary_is_merged_never_repeated(app_vary: Headers, merged: Headers) -> None:
    """flask-cors #148: without Vary: Origin a cache served one origin's
    answer to another."""
    for origin in (APP_ORIGIN, EVIL):
        result = run(API, app=App(app_vary), origin=origin)
        assert [h for h in result.headers if h[0].lower() == "vary"] == merged


def test_an_app_that_answers_cors_itself_is_left_alone() -> None:
    app = App([("Access-Control-Allow-Origin", "https://other.example")])
    result = run(API, app=app)
    assert result.header("Access-Control-Allow-Origin") == "https://other.example"
    assert result.header("Access-Control-Allow-Credentials") is None
    assert result.header("Vary") == "Origin"


@pytest.mark.parametrize(
    ("origin", "allowed"),
    [
        ("https://a.example.org", True),
        ("https://a.b-c.example.org", True),
        ("https://example.org", False),  # the domain itself
        ("http://a.example.org", False),  # another scheme
        ("https://a.example.org:8443", False),  # another port
        ("https://evil.com.example.org.evil.com", False),
        ("https://a.example.org.evil.com", False),
        ("https://evilexample.org", False),
        ("https://-a.example.org", False),
        ("https://a..example.org", False),
        ("https://a.example.org/", False),
        ("https://user@a.example.org", False),
        ("HTTPS://APP.EXAMPLE.COM", False),  # browsers send lower case
        ("http://localhost:8080", True),
        ("http://localhost", False),
        ("null", False),
        ("", False),
    ],
)
def test_which_origins_are_allowed(origin: str, allowed: bool) -> None:
    assert API.allows(origin) is allowed
    result = run(API, origin=origin)
    assert (result.header("Access-Control-Allow-Origin") == origin) is allowed


def test_origin_regex_must_match_the_whole_origin() -> None:
    """Starlette #800: a match at the start let example.org.evil.com in."""
    cors = CORS(origin_regex=r"https://(www\.)?example\.org")
    assert cors.allows("https://example.org")
    assert cors.allows("https://www.example.org")
    assert not cors.allows("https://example.org.evil.com")
    assert not cors.allows("https://evil.com/https://example.org")
    assert (
        run(cors, origin="https://example.org.evil.com").header(
            "Access-Control-Allow-Origin"
        )
        is None
    )
    # Even a careless regex cannot get a malformed origin reflected.
    loose = CORS(origin_regex=re.compile(r".*"))
    assert loose.allows("https://anything.test")
    assert not loose.allows("https://a.test\r\nSet-Cookie: x=1")
    # Nor can a huge Origin reach the regex.
    assert not loose.allows("https://" + "a" * 300 + ".test")
    assert "origin_regex='.*'" in repr(loose)


def test_star_allows_any_origin_without_vary() -> None:
    cors = CORS(origins=["*"], expose_headers=["*"])
    result = run(cors, origin="https://whoever.test")
    assert result.header("Access-Control-Allow-Origin") == "*"
    assert result.header("Access-Control-Expose-Headers") == "*"
    assert result.header("Vary") is None
    answer = preflight(
        CORS(origins=["*"], methods=["*"], headers=["*"]), "PATCH", "x-a"
    )
    assert answer.status == "204 No Content"
    assert answer.header("Access-Control-Allow-Origin") == "*"
    assert answer.header("Access-Control-Allow-Methods") == "*"
    assert answer.header("Access-Control-Allow-Headers") == "*"


# -- preflights ----------------------------------------------------------------------


def test_a_preflight_is_answered_without_the_app() -> None:
    app = App()
    result = preflight(API, "PUT", "content-type, X-Token", app=app)
    assert app.calls == 0
    assert result.status == "204 No Content"
    assert result.body == b""
    assert result.headers == [
        ("Access-Control-Allow-Origin", APP_ORIGIN),
        ("Access-Control-Allow-Credentials", "true"),
        ("Access-Control-Allow-Methods", "GET, POST, PUT"),
        ("Access-Control-Allow-Headers", "content-type, x-token"),
        ("Access-Control-Max-Age", "300"),
        (
            "Vary",
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers",
        ),
    ]


@pytest.mark.parametrize(
    ("origin", "method", "headers", "reason"),
    [
        (EVIL, "PUT", None, "origin not allowed"),
        (APP_ORIGIN, "DELETE", None, "method 'DELETE' is not allowed"),
        (APP_ORIGIN, "PUT", "x-token, authorization", "header 'authorization'"),
        (APP_ORIGIN, "PUT\r\nX: y", None, "not a method name"),
        (APP_ORIGIN, "PUT", "x-token, bad header", "not a token"),
    ],
)
def test_a_preflight_asking_for_more_is_refused(
    origin: str,
    method: str,
    headers: str | None,
    reason: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = App()
    with caplog.at_level(logging.DEBUG, "wsgimw.cors"):
        result = preflight(API, method, headers, origin=origin, app=app)
    assert app.calls == 0
    assert result.status == "403 Forbidden"
    assert reason in result.body.decode()
    assert result.header("Access-Control-Allow-Origin") is None
    assert "\r" not in caplog.text
    assert "\n" not in caplog.text.rstrip("\n")


def test_private_network_access_is_opt_in() -> None:
    """flask-cors CVE-2024-6221 answered it by default."""
    asked: dict[str, Any] = {"Access-Control-Request-Private-Network": "true"}
    refused = preflight(API, "GET", **asked)
    assert refused.status == "403 Forbidden"
    assert b"private network" in refused.body
    opened = CORS(origins=[APP_ORIGIN], allow_private_network=True, max_age=None)
    answer = preflight(opened, "GET", **asked)
    assert answer.status == "204 No Content"
    assert answer.header("Access-Control-Allow-Private-Network") == "true"
    assert answer.header("Access-Control-Max-Age") is None
    assert (
        preflight(opened, "GET").header("Access-Control-Allow-Private-Network") is None
    )


def test_options_without_a_request_method_goes_to_the_app() -> None:
    app = App()
    result = run(API, method="OPTIONS", app=app)
    assert app.calls == 1
    assert result.header("Access-Control-Allow-Origin") == APP_ORIGIN


def test_head_preflight_and_refusal_have_no_body() -> None:
    result = run(API, method="HEAD")
    assert result.body == b""
    assert result.header("Access-Control-Allow-Origin") == APP_ORIGIN


# -- paths ---------------------------------------------------------------------------

PATHS = CORS(origins=[APP_ORIGIN], paths=["/api", "/v1/public"])


@pytest.mark.parametrize(
    ("path", "covered"),
    [
        ("/api", True),
        ("/api/items", True),
        ("/v1/public/x", True),
        ("/API/items", False),  # CVE-2024-6866: case sensitive
        ("/Api", False),
        ("/apix", False),  # whole segments only
        ("/v1", False),
        ("/v1/publicity", False),
        ("/api%2Fitems", True),  # decoded once by the server: /api/items
        ("/%61pi/items", True),  # the server decoded %61 to 'a'
        ("/x/%2e%2e/api", False),  # a dot segment: the app may resolve it
        ("/x/../api", False),
        ("/api/../admin", False),
        ("//api", True),
        ("/api+x", False),  # CVE-2024-6844: '+' is not a separator or space
        ("/other", False),
    ],
)
def test_paths_are_matched_on_the_decoded_path_case_sensitively(
    path: str, covered: bool
) -> None:
    result = run(PATHS, path)
    assert (result.header("Access-Control-Allow-Origin") == APP_ORIGIN) is covered
    answer = run(
        PATHS,
        path,
        method="OPTIONS",
        headers={"Access-Control-Request-Method": "GET"},
    )
    assert (answer.status == "204 No Content") is covered


def test_a_percent_escape_left_in_path_info_is_not_decoded_again() -> None:
    # PATH_INFO "/api%2Fx" (a server that kept %2F) is not under /x once
    # more decoded: it is under /api only if read as is.
    result = run(PATHS, "/", PATH_INFO="/v1%2Fpublic")
    assert result.header("Access-Control-Allow-Origin") is None


# -- the fault matrix and hostile input ------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS, ids=str)
@pytest.mark.parametrize("origin", [APP_ORIGIN, EVIL, None])
def test_fault_matrix(fault: Fault, origin: str | None) -> None:
    headers = {} if origin is None else {"Origin": origin}
    result = check_fault(API, fault, headers=headers)
    if result.status and origin == APP_ORIGIN:
        assert result.header("Access-Control-Allow-Origin") == APP_ORIGIN


latin1_text = st.text(alphabet=st.characters(max_codepoint=255), max_size=40)
origins = st.one_of(
    latin1_text,
    st.sampled_from([APP_ORIGIN, "https://x.example.org", "http://localhost:8080"]),
    st.builds(
        lambda scheme, host, tail: f"{scheme}://{host}{tail}",
        st.sampled_from(["http", "https", "HTTPS", "ftp"]),
        st.from_regex(r"[a-z0-9.\-]{0,20}(\.example\.org)?", fullmatch=True),
        st.sampled_from(["", ":8080", "/", "\r\nX: y", ".evil.com", " "]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(
    origin=origins,
    method=st.one_of(latin1_text, st.sampled_from(["GET", "PUT", "DELETE", "post"])),
    asked=st.one_of(
        latin1_text,
        st.lists(st.sampled_from(["content-type", "X-Token", "authorization", ""])).map(
            ", ".join
        ),
    ),
    private=st.sampled_from(["", "true", "TRUE", "false"]),
    host=latin1_text,
)
@example(
    origin="https://a.example.org", method="PUT", asked="x-token", private="", host=""
)
def test_hostile_preflights_get_204_or_403_and_never_reach_the_app(
    origin: str, method: str, asked: str, private: str, host: str
) -> None:
    app = App()
    extra = {"Access-Control-Request-Private-Network": private} if private else {}
    result = preflight(
        API, method, asked, origin=origin, app=app, HTTP_HOST=host, **extra
    )
    assert app.calls == 0
    allowed = API.allows(origin)
    if result.status == "204 No Content":
        assert allowed
        assert result.header("Access-Control-Allow-Origin") == origin
        assert method in ("GET", "POST", "PUT")
    else:
        assert result.status == "403 Forbidden"
        assert result.header("Access-Control-Allow-Origin") is None
    for name, value in result.headers:
        assert not re.search(r"[\x00-\x1f\x7f]", name + value)


@settings(max_examples=300, deadline=None)
@given(origin=origins, method=st.sampled_from(["GET", "POST", "DELETE", "HEAD"]))
def test_hostile_origins_on_actual_requests(origin: str, method: str) -> None:
    result = run(API, method=method, origin=origin)
    assert result.status == "200 OK"
    reflected = result.header("Access-Control-Allow-Origin")
    assert reflected == (origin if API.allows(origin) else None)
    if reflected is not None:
        assert re.fullmatch(r"[a-z]+://[a-z0-9.\-]+(:[0-9]+)?", reflected)
    assert result.header("Vary") == "Origin"


# -- construction ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "CORS needs origins"),
        ({"origins": "https://a.test"}, "takes a list"),
        ({"origins": ["*"], "allow_credentials": True}, "every site"),
        ({"origins": ["*", APP_ORIGIN]}, "nothing else"),
        ({"origins": ["*"], "origin_regex": "x"}, "drop origin_regex"),
        ({"origins": ["https://a.test/"]}, "write 'https://a.test'"),
        ({"origins": ["a.test"]}, "scheme://host"),
        ({"origins": ["null"]}, "sandboxed"),
        ({"origins": ["https://a.test:443"]}, "default port"),
        ({"origins": [3]}, "as str"),
        ({"origins": ["https://a*.test"]}, "subdomain labels"),
        ({"origins": ["https://*.test"]}, "a dot after it"),
        ({"origins": ["https://*.[::1]"]}, "a dot after it"),
        ({"origins": ["https://*.a b.test"]}, "not an origin"),
        ({"origin_regex": "("}, "does not compile"),
        ({"origin_regex": 3}, "str or re.Pattern"),
        ({"origins": [APP_ORIGIN], "methods": "GET"}, "takes a list"),
        ({"origins": [APP_ORIGIN], "methods": 3}, "list of names"),
        ({"origins": [APP_ORIGIN], "methods": []}, "at least one"),
        ({"origins": [APP_ORIGIN], "methods": ["GE T"]}, "not an HTTP token"),
        ({"origins": [APP_ORIGIN], "headers": ["*", "x"]}, "nothing else"),
        (
            {"origins": [APP_ORIGIN], "headers": ["*"], "allow_credentials": True},
            "list the names",
        ),
        ({"origins": [APP_ORIGIN], "max_age": -1}, "max_age"),
        ({"origins": [APP_ORIGIN], "max_age": True}, "max_age"),
        ({"origins": [APP_ORIGIN], "allow_credentials": "yes"}, "True or False"),
        ({"origins": [APP_ORIGIN], "paths": "/api"}, "takes a list"),
        ({"origins": [APP_ORIGIN], "paths": ["api"]}, "start with '/'"),
        ({"origins": [APP_ORIGIN], "paths": ["/api/*"]}, "no '*'"),
        ({"origins": [APP_ORIGIN], "paths": ["/caf%C3%A9"]}, "no '%'"),
        ({"origins": [APP_ORIGIN], "paths": ["/a/../b"]}, "'..'"),
        ({"origins": [APP_ORIGIN], "paths": ["/"]}, "every path"),
        ({"origins": [APP_ORIGIN], "paths": [3]}, "must be str"),
        ({"origins": [APP_ORIGIN], "logger": "x"}, "logging.getLogger"),
    ],
)
def test_options_are_checked_at_construction(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises((ValueError, TypeError), match=re.escape(message)):
        CORS(**options)


def test_repr_and_non_apps() -> None:
    assert repr(CORS(origins=[APP_ORIGIN])) == f"CORS(origins=[{APP_ORIGIN!r}])"
    assert repr(API) == (
        "CORS(origins=['https://app.example.com', 'http://localhost:8080', "
        "'https://*.example.org'], methods=['GET', 'POST', 'PUT'], "
        "headers=['content-type', 'x-token'], expose_headers=['X-Total'], "
        "allow_credentials=True, max_age=300)"
    )
    assert "allow_private_network=True, always_vary=True" in repr(
        CORS(origins=["*"], allow_private_network=True, always_vary=True)
    )
    with pytest.raises(TypeError, match="wraps a WSGI app"):
        API(None)  # type: ignore[arg-type]


def test_unicode_paths_are_matched_as_the_server_gives_them() -> None:
    cors = CORS(origins=[APP_ORIGIN], paths=["/café"])
    assert run(cors, "/café/menu").header("Access-Control-Allow-Origin") == APP_ORIGIN
    assert run(cors, "/CAFÉ/menu").header("Access-Control-Allow-Origin") is None


# -- PasteDeploy ----------------------------------------------------------------------


def test_the_factory_builds_what_the_keywords_build() -> None:
    from_ini = pastedeploy.cors(
        {},
        origins="https://app.example.com, https://*.example.org",
        origin_regex=r"https://pr-[0-9]+\.example\.net",
        methods="GET POST",
        headers="content-type\nx-token",
        expose_headers="X-Total",
        allow_credentials="true",
        max_age="none",
        allow_private_network="yes",
        paths="/api",
        always_vary="on",
        logger="myapp.cors",
    )
    from_python = CORS(
        origins=[APP_ORIGIN, "https://*.example.org"],
        origin_regex=r"https://pr-[0-9]+\.example\.net",
        methods=["GET", "POST"],
        headers=["content-type", "x-token"],
        expose_headers=["X-Total"],
        allow_credentials=True,
        max_age=None,
        allow_private_network=True,
        paths=["/api"],
        always_vary=True,
        logger=logging.getLogger("myapp.cors"),
    )
    assert repr(from_ini) == repr(from_python)
    assert (
        run(from_ini, origin="https://pr-12.example.net").header(
            "Access-Control-Allow-Origin"
        )
        == "https://pr-12.example.net"
    )
    with pytest.raises(ValueError, match="did you mean origins"):
        pastedeploy.cors({}, origin="https://a.test")
