"""BasicAuth and BearerAuth: 400 vs 401 vs 403, the environ, paths, the cache,
timing structure, the fault matrix, hypothesis, and the docs page's examples."""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import string
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import wsgimw._htpasswd as htp
from wsgimw import ErrorHandler
from wsgimw._htpasswd import BCRYPT
from wsgimw.auth import CLAIMS_KEY, USER_KEY, BasicAuth, BearerAuth
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

ROOT = Path(__file__).resolve().parent.parent
BCRYPT_SECRET = bcrypt.hashpw(b"secret", bcrypt.gensalt(4)).decode()
BCRYPT_UTF8 = bcrypt.hashpw("pässwörd ✓".encode(), bcrypt.gensalt(4)).decode()


def sha(password: str) -> str:
    digest = hashlib.sha1(password.encode()).digest()
    return "{SHA}" + base64.b64encode(digest).decode()


USERS = {"alice": BCRYPT_SECRET, "jörg": BCRYPT_UTF8, "colon": sha("a:b:c")}
TOKEN = "tok_" + "A1b2-C3d4.E5f6~G7h8+I9/j0=="[:20]
OTHER_TOKEN = "another-token-0123456789"
CHALLENGE = 'Basic realm="restricted", charset="UTF-8"'


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class App:
    """Records the environ it saw; returns one list object to check identity."""

    def __init__(self) -> None:
        self.environ: Environ | None = None
        self.body: list[bytes] = [b"ok"]

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        self.environ = environ
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")]
        )
        return self.body


def run(
    auth: Callable[[Any], Any],
    path: str = "/",
    authorization: str | None = None,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
) -> tuple[Result, App]:
    """One request with a Lint on each side of ``auth``."""
    app = App()
    outer, inner = Lint(below=repr(auth)), Lint(above=repr(auth))
    sent = dict(headers or {})
    if authorization is not None:
        sent["Authorization"] = authorization
    result = call_app(outer(auth(inner(app))), path, method=method, headers=sent)
    outer.verify()
    inner.verify()
    return result, app


@pytest.fixture(scope="module")
def users_auth() -> BasicAuth:
    return BasicAuth(users=USERS)


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(htp, "monotonic", fake)
    return fake


@pytest.fixture
def bcrypt_calls(monkeypatch: pytest.MonkeyPatch) -> list[bytes]:
    """Every stored bcrypt hash verified against, in order."""
    calls: list[bytes] = []
    real = htp.VERIFY[BCRYPT]

    def spy(password: bytes, stored: bytes) -> bool:
        calls.append(stored)
        return real(password, stored)

    monkeypatch.setitem(htp.VERIFY, BCRYPT, spy)
    return calls


# -- BasicAuth: the happy path -------------------------------------------------


def test_no_credentials_get_401_with_the_challenge(users_auth: BasicAuth) -> None:
    result, app = run(users_auth)
    assert result.status == "401 Unauthorized"
    assert result.header("WWW-Authenticate") == CHALLENGE
    assert result.header("Content-Type") == "text/plain; charset=utf-8"
    assert result.body == b"authentication required\n"
    assert app.environ is None


def test_valid_credentials_call_the_app_with_the_user(users_auth: BasicAuth) -> None:
    result, app = run(users_auth, "/", basic("alice", "secret"))
    assert result.status == "200 OK"
    assert result.body == b"ok"
    assert app.environ is not None
    assert app.environ["REMOTE_USER"] == "alice"
    assert app.environ["AUTH_TYPE"] == "Basic"
    assert app.environ[USER_KEY] == "alice"


def test_the_apps_iterable_is_returned_untouched(users_auth: BasicAuth) -> None:
    app = App()
    environ = make_environ("/", headers={"Authorization": basic("alice", "secret")})

    def start_response(
        status: str, headers: list[tuple[str, str]], exc_info: object = None
    ) -> Callable[[bytes], object]:
        return lambda data: None

    returned = users_auth(app)(environ, start_response)
    assert returned is app.body


def test_utf8_user_names_and_passwords(users_auth: BasicAuth) -> None:
    result, app = run(users_auth, "/", basic("jörg", "pässwörd ✓"))
    assert result.status == "200 OK"
    assert app.environ is not None
    assert app.environ[USER_KEY] == "jörg"
    # PEP 3333: CGI values hold bytes as latin-1.
    assert app.environ["REMOTE_USER"] == "jÃ¶rg"
    assert app.environ["REMOTE_USER"].encode("latin-1").decode("utf-8") == "jörg"


def test_a_password_may_hold_colons(users_auth: BasicAuth) -> None:
    assert run(users_auth, "/", basic("colon", "a:b:c"))[0].status_code == 200
    assert run(users_auth, "/", basic("colon", "a:b"))[0].status_code == 401


@pytest.mark.parametrize("scheme", ["Basic", "basic", "BASIC", "bAsIc"])
def test_the_scheme_is_case_insensitive(users_auth: BasicAuth, scheme: str) -> None:
    token = basic("alice", "secret").split(" ", 1)[1]
    assert run(users_auth, "/", f"{scheme} {token}")[0].status_code == 200


@pytest.mark.parametrize(
    "shape", ["Basic  {t}", "  Basic {t}  ", "Basic {t}\t", "Basic {unpadded}"]
)
def test_spaces_and_missing_padding_are_tolerated(
    users_auth: BasicAuth, shape: str
) -> None:
    token = b64(b"colon:a:b:c")
    assert token.endswith("=")
    value = shape.format(t=token, unpadded=token.rstrip("="))
    assert run(users_auth, "/", value)[0].status_code == 200


@pytest.mark.parametrize(
    "authorization",
    [
        basic("alice", "wrong"),
        basic("alice", ""),
        basic("nobody", "secret"),
        basic("", "secret"),
        basic("Alice", "secret"),  # user names are case-sensitive
        "Bearer " + TOKEN,
        'Digest username="alice", realm="restricted", nonce="x"',
        "Negotiate YIIB",
    ],
)
def test_wrong_credentials_or_another_scheme_get_401(
    users_auth: BasicAuth, authorization: str
) -> None:
    result, app = run(users_auth, "/", authorization)
    assert result.status == "401 Unauthorized"
    assert result.header("WWW-Authenticate") == CHALLENGE
    assert result.body == b"authentication required\n"
    assert app.environ is None


def test_head_gets_the_challenge_without_a_body(users_auth: BasicAuth) -> None:
    result, _ = run(users_auth, method="HEAD")
    assert result.status == "401 Unauthorized"
    assert result.body == b""
    assert result.header("Content-Length") == "24"


# -- BasicAuth: malformed headers are the client's error -------------------------------

MALFORMED_BASIC = [
    ("", "the Authorization header is empty"),
    ("   ", "the Authorization header is empty"),
    ("Basic", "no credentials after Basic"),
    ("basic   ", "no credentials after basic"),
    ("Basic !!!!", "the credentials are not valid base64"),
    ("Basic YWxpY2U6c2VjcmV0=", "the credentials are not valid base64"),  # bad pad
    ("Basic Y", "the credentials are not valid base64"),  # one char over
    ("Basic YWxp Y2U6", "the credentials are not valid base64"),
    ("Basic " + b64(b"alice-secret"), "no ':' between the user name and the password"),
    (
        "Basic " + b64(b"al\xffice:secret"),
        "the user name or password is not valid UTF-8",
    ),
    ("Basic " + b64(b"alice:se\xc3"), "the user name or password is not valid UTF-8"),
    ("Basic " + b64(b"al\x01ice:secret"), "holds a control character"),
    ("Basic " + b64(b"alice:sec\x00ret"), "holds a control character"),
    ("Basic " + b64(b"alice:sec\x7fret"), "holds a control character"),
    ("Basic " + b64("alice:\u0085".encode()), "holds a control character"),
    ("Basic " + b64(b"alice:" + b"x" * 4091), "longer than 4096 bytes"),
    ("Basic " + "QUFB" * 1400, "longer than 4096 bytes"),
    (basic("alice", "secret") + ", " + basic("bob", "x"), "several credentials"),
    (basic("alice", "secret") + ",", "several credentials"),
    ("Bearer abc, " + basic("alice", "secret"), "several credentials"),
    ("Basic\x00" + b64(b"alice:secret"), "control character"),
    (basic("alice", "secret") + "\r\nX-Admin: 1", "control character"),
    ("B@sic " + b64(b"alice:secret"), "does not start with a scheme"),
    ("ñ " + b64(b"alice:secret"), "does not start with a scheme"),
]


@pytest.mark.parametrize(("authorization", "reason"), MALFORMED_BASIC)
def test_malformed_headers_get_400(
    users_auth: BasicAuth,
    authorization: str,
    reason: str,
    records: list[logging.LogRecord],
) -> None:
    result, app = run(users_auth, "/", authorization)
    assert result.status == "400 Bad Request"
    assert result.body.startswith(b"bad Authorization header: ")
    assert reason in result.body.decode()
    assert result.header("WWW-Authenticate") is None
    assert app.environ is None
    assert [r.levelno for r in records] == [logging.DEBUG]


def test_the_longest_credentials_are_accepted(users_auth: BasicAuth) -> None:
    result, _ = run(users_auth, "/", "Basic " + b64(b"alice:" + b"x" * 4090))
    assert result.status_code == 401  # 4096 bytes: read, and wrong


def test_an_unrelated_scheme_with_commas_is_another_scheme(
    users_auth: BasicAuth,
) -> None:
    result, _ = run(users_auth, "/", 'Digest a="b", basicx="c"')
    assert result.status_code == 401


# -- the realm ----------------------------------------------------------------------


def test_the_realm_is_escaped_in_the_challenge() -> None:
    auth = BasicAuth(users=USERS, realm='Ops "prod" \\ all')
    result, _ = run(auth)
    assert result.header("WWW-Authenticate") == (
        'Basic realm="Ops \\"prod\\" \\\\ all", charset="UTF-8"'
    )
    assert "realm='Ops \"prod\" \\\\ all'" in repr(auth)


def test_a_latin1_realm_is_allowed() -> None:
    result, _ = run(BasicAuth(users=USERS, realm="Verwaltung für Büro"))
    assert result.header("WWW-Authenticate") == (
        'Basic realm="Verwaltung für Büro", charset="UTF-8"'
    )


@pytest.mark.parametrize(
    ("realm", "error", "message"),
    [
        ("", ValueError, "must not be empty"),
        ("a\nb", ValueError, "control characters"),
        ("a\x85b", ValueError, "control characters"),
        ("admin ✓", ValueError, "latin-1"),
        (b"admin", TypeError, "must be a str"),
    ],
)
def test_a_bad_realm_fails_at_construction(
    realm: object, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        BasicAuth(users=USERS, realm=realm)  # type: ignore[arg-type]
    with pytest.raises(error, match=message):
        BearerAuth(tokens=[TOKEN], realm=realm)  # type: ignore[arg-type]


# -- BasicAuth: construction fails loudly and closed -----------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({}, ValueError, "needs one source of users"),
        (
            {"users": USERS, "check": lambda u, p: True},
            ValueError,
            "exactly one of htpasswd=, users= or check=; got users= and check=",
        ),
        ({"users": {}}, ValueError, "users is empty"),
        ({"users": [("alice", BCRYPT_SECRET)]}, TypeError, "must be a mapping"),
        (
            {"users": {"alice": b"$2y$"}},
            ValueError,
            "users: the 1st entry: the hash must",
        ),
        ({"users": {"a:b": BCRYPT_SECRET}}, ValueError, "must not hold ':'"),
        ({"users": {"": BCRYPT_SECRET}}, ValueError, "empty user name"),
        ({"users": {1: BCRYPT_SECRET}}, ValueError, "user names must be str"),
        ({"users": {"alice": "secret"}}, ValueError, "allow_plaintext=True"),
        ({"users": {"alice": "sDod91A7Nj8/g"}}, ValueError, "crypt\\(\\) DES"),
        ({"check": "yes"}, TypeError, "check must be a callable"),
        ({"htpasswd": 42}, TypeError, "htpasswd must be a path"),
        (
            {"users": USERS, "cache_seconds": -1},
            ValueError,
            "cache_seconds must be >= 0",
        ),
        ({"users": USERS, "cache_seconds": True}, TypeError, "must be a number"),
        ({"users": USERS, "cache_seconds": float("inf")}, TypeError, "number"),
        ({"users": USERS, "cache_size": 0}, ValueError, "cache_seconds=0"),
        ({"users": USERS, "cache_size": 1.5}, TypeError, "cache_size must be an int"),
        ({"users": USERS, "exempt": "/health"}, TypeError, r"exempt=\['/health'\]"),
        ({"users": USERS, "protect": "/admin"}, TypeError, r"protect=\['/admin'\]"),
        ({"users": USERS, "exempt": ["health"]}, ValueError, "must start with '/'"),
        ({"users": USERS, "exempt": [3]}, TypeError, "paths must be str"),
        ({"users": USERS, "exempt": ["/"]}, ValueError, "would match every path"),
        ({"users": USERS, "exempt": ["//"]}, ValueError, "remove the middleware"),
        ({"users": USERS, "protect": ["/"]}, ValueError, "leave protect= out"),
        ({"users": USERS, "protect": []}, ValueError, "protects nothing"),
        ({"users": USERS, "exempt": ["/caf%C3%A9"]}, ValueError, "decoded path"),
        ({"users": USERS, "exempt": ["/health?x=1"]}, ValueError, "no query"),
        ({"users": USERS, "exempt": ["/a\\b"]}, ValueError, "decoded path"),
        ({"users": USERS, "exempt": ["/a/../b"]}, ValueError, "'.' or '..'"),
        ({"users": USERS, "protect": ["/./admin"]}, ValueError, "'.' or '..'"),
        (
            {"users": USERS, "protect": ["/admin/*"]},
            ValueError,
            "prefixes, not patterns",
        ),
        ({"users": USERS, "exempt": ["/static*"]}, ValueError, "holds '\\*'"),
    ],
)
def test_misconfiguration_fails_at_construction(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        BasicAuth(**options)


def test_a_bad_hash_in_users_is_named_without_the_hash() -> None:
    with pytest.raises(
        ValueError, match="users: the 2nd entry: malformed bcrypt"
    ) as info:
        BasicAuth(users={"alice": BCRYPT_SECRET, "bob": BCRYPT_SECRET[:-2]})
    assert BCRYPT_SECRET[:-2] not in str(info.value)
    assert str(info.value).endswith("re-create the password with htpasswd -B -n USER")


def test_users_the_wrong_way_round_never_show_the_hash() -> None:
    # {hash: user}: the key is the secret, so entries are named by place.
    with pytest.raises(ValueError, match="users: the 2nd entry: not a known") as info:
        BasicAuth(users={"bob": sha("x"), BCRYPT_SECRET: "alice"})
    assert BCRYPT_SECRET not in str(info.value)
    assert BCRYPT_SECRET[7:29] not in str(info.value)


def test_a_hash_that_cannot_be_checked_is_a_401_and_an_error_log(
    monkeypatch: pytest.MonkeyPatch, records: list[logging.LogRecord]
) -> None:
    real = htp.VERIFY[BCRYPT]

    def broken(password: bytes, stored: bytes) -> bool:
        if stored == BCRYPT_SECRET.encode():
            raise ValueError(f"Invalid salt in {stored!r}")
        return bool(real(password, stored))

    auth = BasicAuth(users={"jörg": BCRYPT_UTF8, "alice": BCRYPT_SECRET})
    monkeypatch.setitem(htp.VERIFY, BCRYPT, broken)
    result, app = run(auth, "/", basic("alice", "secret"))
    assert (result.status_code, result.body) == (401, b"authentication required\n")
    assert app.environ is None
    assert run(auth, "/", basic("alice", "wrong"))[0].status_code == 401
    assert run(auth, "/", basic("jörg", "pässwörd ✓"))[0].status_code == 200
    errors = [r.getMessage() for r in records if r.levelno == logging.ERROR]
    assert (
        errors
        == [
            "could not check a password against the hash of the 2nd entry of users= "
            "(ValueError); the request is refused: re-create that password with "
            "htpasswd -B"
        ]
        * 2
    )
    for record in records:
        assert "secret" not in record.getMessage()
        assert BCRYPT_SECRET[7:] not in record.getMessage()


def test_wrapping_something_that_is_not_an_app_fails(users_auth: BasicAuth) -> None:
    with pytest.raises(TypeError, match="BasicAuth wraps a WSGI app"):
        users_auth("app")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="BearerAuth wraps a WSGI app"):
        BearerAuth(tokens=[TOKEN])(None)  # type: ignore[arg-type]


def test_repr_shows_options_never_secrets(tmp_path: Path) -> None:
    assert repr(BasicAuth(users=USERS)) == "BasicAuth(users=<3 users>)"
    assert repr(BasicAuth(users={"a": BCRYPT_SECRET})) == "BasicAuth(users=<1 user>)"
    shown = repr(
        BasicAuth(
            users={"alice": "plain-text-secret"},
            realm="ops",
            allow_plaintext=True,
            cache_seconds=5,
            cache_size=10,
            exempt=["/health"],
            protect=["/admin"],
            allow_preflight=True,
        )
    )
    assert shown == (
        "BasicAuth(users=<1 user>, realm='ops', exempt=['/health'], "
        "protect=['/admin'], allow_preflight=True, allow_plaintext=True, "
        "cache_seconds=5, cache_size=10)"
    )
    assert "plain-text-secret" not in shown

    def check_password(user: str, password: str) -> bool:
        return False

    assert repr(BasicAuth(check=check_password)) == (
        "BasicAuth(check=test_repr_shows_options_never_secrets.<locals>.check_password)"
    )
    path = tmp_path / "f"
    path.write_text(f"alice:{BCRYPT_SECRET}\n")
    assert repr(BasicAuth(htpasswd=path)) == f"BasicAuth(htpasswd={str(path)!r})"
    for text in (repr(BasicAuth(users=USERS)), repr(BasicAuth(htpasswd=path))):
        assert BCRYPT_SECRET not in text


def test_exempt_and_protect_accept_any_iterable() -> None:
    auth = BasicAuth(users=USERS, exempt=(p for p in ["/health"]), protect={"/api"})
    assert (
        repr(auth) == "BasicAuth(users=<3 users>, exempt=['/health'], protect=['/api'])"
    )
    assert run(auth, "/api/health")[0].status_code == 401
    assert run(auth, "/health")[0].status_code == 200


# -- check= ---------------------------------------------------------------------------


def test_check_gets_the_user_and_password() -> None:
    seen: list[tuple[str, str]] = []

    def check(user: str, password: str) -> bool:
        seen.append((user, password))
        return (user, password) == ("jörg", "p:w ✓")

    auth = BasicAuth(check=check)
    assert run(auth, "/", basic("jörg", "p:w ✓"))[0].status_code == 200
    assert run(auth, "/", basic("jörg", "nope"))[0].status_code == 401
    assert seen == [("jörg", "p:w ✓"), ("jörg", "nope")]


@pytest.mark.parametrize("returned", [None, 1, "yes", [True]])
def test_check_must_say_true_or_false(returned: object) -> None:
    auth = BasicAuth(check=lambda user, password: returned)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="must return True or False"):
        call_app(auth(App()), headers={"Authorization": basic("a", "b")})


def test_a_check_that_raises_is_a_server_error() -> None:
    def check(user: str, password: str) -> bool:
        raise ConnectionError("LDAP is down")

    auth = BasicAuth(check=check)
    with pytest.raises(ConnectionError):
        call_app(auth(App()), headers={"Authorization": basic("a", "b")})
    result = call_app(
        ErrorHandler()(auth(App())), headers={"Authorization": basic("a", "b")}
    )
    assert result.status == "500 Internal Server Error"


# -- the cache of verified credentials ------------------------------------------------------


def test_verified_credentials_are_cached(bcrypt_calls: list[bytes]) -> None:
    auth = BasicAuth(users=USERS)
    for _ in range(3):
        assert run(auth, "/", basic("alice", "secret"))[0].status_code == 200
    assert len(bcrypt_calls) == 1


def test_wrong_passwords_are_never_cached(bcrypt_calls: list[bytes]) -> None:
    auth = BasicAuth(users=USERS)
    for _ in range(3):
        assert run(auth, "/", basic("alice", "wrong"))[0].status_code == 401
    assert len(bcrypt_calls) == 3


def test_the_cache_holds_no_password(bcrypt_calls: list[bytes]) -> None:
    auth = BasicAuth(users=USERS)
    run(auth, "/", basic("alice", "secret"))
    credentials = auth._verify.__self__  # type: ignore[attr-defined]
    cache = credentials.cache
    assert len(cache) == 1
    (key,) = cache._entries
    assert len(key) == 32
    assert b"secret" not in key
    assert b"alice" not in key
    other = BasicAuth(users=USERS)
    run(other, "/", basic("alice", "secret"))
    (other_key,) = other._verify.__self__.cache._entries  # type: ignore[attr-defined]
    assert other_key != key  # a random HMAC key per instance


def test_cache_entries_expire(clock: Clock, bcrypt_calls: list[bytes]) -> None:
    auth = BasicAuth(users=USERS, cache_seconds=30)
    run(auth, "/", basic("alice", "secret"))
    clock.now += 29.9
    run(auth, "/", basic("alice", "secret"))
    assert len(bcrypt_calls) == 1
    clock.now += 0.2
    assert run(auth, "/", basic("alice", "secret"))[0].status_code == 200
    assert len(bcrypt_calls) == 2


def test_the_cache_is_bounded_least_recently_used_first(
    bcrypt_calls: list[bytes],
) -> None:
    users = dict.fromkeys(("a", "b", "c"), BCRYPT_SECRET)
    auth = BasicAuth(users=users, cache_size=2)
    for name in ("a", "b", "a", "c"):  # c evicts b, the least recently used
        run(auth, "/", basic(name, "secret"))
    assert len(bcrypt_calls) == 3
    run(auth, "/", basic("a", "secret"))
    assert len(bcrypt_calls) == 3
    run(auth, "/", basic("b", "secret"))
    assert len(bcrypt_calls) == 4


def test_cache_seconds_zero_turns_the_cache_off(bcrypt_calls: list[bytes]) -> None:
    auth = BasicAuth(users=USERS, cache_seconds=0)
    for _ in range(2):
        run(auth, "/", basic("alice", "secret"))
    assert len(bcrypt_calls) == 2


def test_fast_hashes_are_not_cached() -> None:
    auth = BasicAuth(users={"a": sha("x")})
    assert auth._verify.__self__.cache is None  # type: ignore[attr-defined]


# -- the same work for unknown users ----------------------------------------------------


def test_an_unknown_user_is_verified_against_the_dummy(
    bcrypt_calls: list[bytes],
) -> None:
    auth = BasicAuth(users=USERS)
    credentials = auth._verify.__self__  # type: ignore[attr-defined]
    dummy = credentials.dummy
    assert (dummy.kind, dummy.cost) == (BCRYPT, 4)
    assert run(auth, "/", basic("mallory", "secret"))[0].status_code == 401
    assert bcrypt_calls == [dummy._stored]
    assert run(auth, "/", basic("alice", "wrong"))[0].status_code == 401
    assert bcrypt_calls[1] == BCRYPT_SECRET.encode()


def test_the_dummy_follows_the_most_common_cost(bcrypt_calls: list[bytes]) -> None:
    cost5 = bcrypt.hashpw(b"x", bcrypt.gensalt(5)).decode()
    auth = BasicAuth(users={"a": cost5, "b": cost5, "c": BCRYPT_SECRET})
    dummy = auth._verify.__self__.dummy  # type: ignore[attr-defined]
    assert (dummy.kind, dummy.cost) == (BCRYPT, 5)


# -- which paths are checked ----------------------------------------------------------------

EXEMPT_CASES = [
    ("/health", True),
    ("/health/", True),
    ("/health/db", True),
    ("//health", True),  # empty segments dropped
    ("/./health", True),
    ("/health/./x", True),
    ("/healthz", False),
    ("/Health", False),  # exempt= is case-sensitive
    ("/HEALTH/x", False),
    ("/health/../admin", False),  # '..' is never exempt (servers leave it)
    ("/health/..", False),
    ("/health%2Fx", True),  # make_environ decodes, as a server: /health/x
    ("/%68ealth", True),  # the same: /health
    ("/health\\..\\admin", False),
    ("/admin", False),
    ("/", False),
    ("/static/app.js", True),
    ("/static", True),
    ("/café/menu", True),
    ("/.well-known/acme-challenge/x", True),
    ("/.well-knownx", False),
    ("/x/.well-known", False),
]


@pytest.mark.parametrize("make", [BasicAuth, BearerAuth])
@pytest.mark.parametrize(("path", "open_"), EXEMPT_CASES)
def test_exempt_matches_whole_segments(
    make: Callable[..., Any], path: str, open_: bool
) -> None:
    source = {"users": USERS} if make is BasicAuth else {"tokens": [TOKEN]}
    auth = make(exempt=["/health", "/static/", "/café", "/.well-known"], **source)
    result, app = run(auth, path)
    assert result.status_code == (200 if open_ else 401), path
    if open_:
        assert app.environ is not None
        assert "REMOTE_USER" not in app.environ
        assert USER_KEY not in app.environ


PROTECT_CASES = [
    ("/admin", True),
    ("/admin/", True),
    ("/admin/users/1", True),
    ("//admin", True),
    ("/./admin", True),
    ("/ADMIN", True),  # protect= is case-insensitive
    ("/Admin/x", True),
    ("/public/../admin", True),  # any '..': protected
    ("/public/..", True),
    ("/admin\\x", True),
    ("/%61dmin", True),  # decoded by the server: /admin
    ("/administrator", False),
    ("/", False),
    ("/public/admin", False),
    ("/api/v1/admin", False),
    ("/api/v2", True),
    ("/API/V2/x", True),
    ("/admin/login", False),  # exempt inside protect
    ("/ADMIN/login", True),  # exempt is exact; protect is not
]


@pytest.mark.parametrize("make", [BasicAuth, BearerAuth])
@pytest.mark.parametrize(("path", "protected"), PROTECT_CASES)
def test_protect_matches_whole_segments(
    make: Callable[..., Any], path: str, protected: bool
) -> None:
    source = {"users": USERS} if make is BasicAuth else {"tokens": [TOKEN]}
    auth = make(protect=["/admin", "/api/v2"], exempt=["/admin/login"], **source)
    assert run(auth, path)[0].status_code == (401 if protected else 200), path


@pytest.mark.parametrize(
    ("path_info", "status"),
    [("admin", 401), ("ADMIN/y", 401), ("admin/x", 200), ("public", 200), ("", 200)],
)
def test_a_path_without_a_leading_slash_is_matched_by_segments(
    path_info: str, status: int
) -> None:
    # Not from a PEP 3333 server (PATH_INFO starts with '/'), but matched
    # the safe way all the same.
    auth = BasicAuth(users=USERS, protect=["/admin"], exempt=["/admin/x"])
    result = call_app(auth(App()), make_environ("/", PATH_INFO=path_info))
    assert result.status_code == status


MOUNTED_CASES = [
    # SCRIPT_NAME, PATH_INFO, checked? With protect=["/admin"],
    # exempt=["/admin/login"]: a request skips the check only when both the
    # full path and PATH_INFO alone skip it.
    ("/mysite", "/admin/", True),  # waitress --url-prefix: the app sees /admin/
    ("/mysite", "/ADMIN/users", True),
    ("/mysite", "//admin", True),
    ("/mysite", "/x/../admin", True),
    ("/admin", "/users", True),  # the full path still counts
    ("/admin", "", True),
    ("/mysite", "/public", False),
    ("/mysite", "", False),
    ("/mysite", "/admin/login", False),  # exempt inside protect, mounted
    ("/admin/login", "/x", False),  # neither path leads to a protected page
]


@pytest.mark.parametrize("make", [BasicAuth, BearerAuth])
@pytest.mark.parametrize(("script_name", "path_info", "checked"), MOUNTED_CASES)
def test_protect_matches_path_info_alone_too(
    make: Callable[..., Any], script_name: str, path_info: str, checked: bool
) -> None:
    source = {"users": USERS} if make is BasicAuth else {"tokens": [TOKEN]}
    auth = make(protect=["/admin"], exempt=["/admin/login"], **source)
    environ = make_environ("/", SCRIPT_NAME=script_name, PATH_INFO=path_info)
    result = call_app(auth(App()), environ)
    assert result.status_code == (401 if checked else 200)


@pytest.mark.parametrize(
    ("exempt", "script_name", "path_info", "checked"),
    [
        # A prefix taken from a header (ProxyFix x_prefix) must not open
        # what the app routes on PATH_INFO.
        (["/health"], "/health", "/admin/delete-everything", True),
        (["/health"], "/health", "", True),
        (["/health"], "/health/..", "/admin", True),
        (["/health"], "", "/health", False),
        # Mounted: exempt only when the full path and PATH_INFO both are.
        (["/health"], "/app", "/health", True),
        (["/app/health"], "/app", "/health", True),
        (["/health", "/app/health"], "/app", "/health/db", False),
        (["/health", "/app/health"], "", "/app/health", False),
        (["/health", "/app/health"], "/app", "/admin", True),
    ],
)
def test_exempt_needs_the_full_path_and_path_info_alone(
    exempt: list[str], script_name: str, path_info: str, checked: bool
) -> None:
    auth = BasicAuth(users=USERS, exempt=exempt)
    environ = make_environ("/", SCRIPT_NAME=script_name, PATH_INFO=path_info)
    assert call_app(auth(App()), environ).status_code == (401 if checked else 200)


# -- protect= folds case and accents beyond ASCII -----------------------------------------


@pytest.mark.parametrize(
    ("path", "protected"),
    [
        ("/über", True),
        ("/ÜBER", True),
        ("/Über/x", True),
        ("/u\u0308ber", True),  # decomposed ü
        ("/uber", True),  # accents are dropped: may match more, never less
        ("/adm\u0131n", True),  # a dotless i, as a Unicode-aware router folds it
        ("/ADM\u0130N", True),  # İ
        ("/\u212aEYS", True),  # the Kelvin sign K
        ("/key\u017f", True),  # long s
        ("/sta\ufb00", True),  # the ff ligature
        ("/\uff21\uff24\uff2d\uff29\uff2e", True),  # fullwidth ADMIN
        ("/ad\u00admin", True),  # a soft hyphen
        ("/%C4%B0nfo", False),  # İnfo is not a protected path
        ("/adm%FFin", False),  # not UTF-8: no match, no crash
        ("/admin%FF", False),
        ("/public/\u212aeys", False),
        ("/ka", False),
    ],
)
def test_protect_folds_unicode_case(path: str, protected: bool) -> None:
    auth = BasicAuth(users=USERS, protect=["/über", "/admin", "/keys", "/staff"])
    assert run(auth, path)[0].status_code == (401 if protected else 200), path


def test_an_ascii_path_folds_to_its_lower_case() -> None:
    from wsgimw.auth import _fold

    # The request path is lowered in place; the fold agrees for any caller.
    assert _fold("/ADMIN/Keys") == "/admin/keys"


def test_protect_folds_a_path_that_is_not_latin1_text() -> None:
    # Not what a PEP 3333 server sends, but folded all the same.
    auth = BasicAuth(users=USERS, protect=["/admin"])
    environ = make_environ("/", PATH_INFO="/ADM\u0130N/x")
    assert call_app(auth(App()), environ).status_code == 401
    environ = make_environ("/", PATH_INFO="/\u0391dmin")  # a Greek Alpha: no A
    assert call_app(auth(App()), environ).status_code == 200


@pytest.mark.parametrize(
    ("prefix", "path"),
    [
        ("/u\u0308ber", "/über"),
        ("/ÜBER", "/über/x"),
        ("/\u212aeys", "/keys"),
        ("/key\u017f", "/KEYS/x"),
        ("/\ufb00", "/FF"),
    ],
)
def test_protect_prefixes_are_folded_too(prefix: str, path: str) -> None:
    auth = BasicAuth(users=USERS, protect=[prefix])
    assert run(auth, path)[0].status_code == 401
    assert run(auth, "/other")[0].status_code == 200


@pytest.mark.parametrize("prefix", ["/\u0301", "/\u2025", "/\u00ad/\u200b"])
def test_a_protect_prefix_that_folds_to_nothing_fails(prefix: str) -> None:
    with pytest.raises(ValueError, match="folds"):
        BasicAuth(users=USERS, protect=[prefix])


def test_protect_folds_every_character_a_router_may_take_for_ascii() -> None:
    """Every character that Python's casing, casefolding, NFKC or
    re.IGNORECASE relate to an ASCII letter or digit folds to it."""
    from wsgimw.auth import _fold

    related_to_ascii = re.compile("[a-z0-9]", re.IGNORECASE)
    ascii_alnum = string.ascii_lowercase + string.digits
    checked = 0
    for code in range(0x80, 0x30000):
        char = chr(code)
        related = {
            form.lower()
            for form in (
                char.lower(),
                char.upper(),
                char.casefold(),
                unicodedata.normalize("NFKC", char),
            )
            if form.isascii() and form.isalnum()
        }
        if related_to_ascii.fullmatch(char):
            related.update(a for a in ascii_alnum if re.fullmatch(a, char, re.I))
        for text in related:
            native = char.encode("utf-8").decode("latin-1")
            assert _fold("/" + native) == "/" + text, hex(code)
            checked += 1
    assert checked > 1000


def test_exempt_stays_exact(users_auth: BasicAuth) -> None:
    auth = BasicAuth(users=USERS, exempt=["/health", "/über"])
    for path in ("/HEALTH", "/\uff48ealth", "/ÜBER", "/u\u0308ber", "/uber"):
        assert run(auth, path)[0].status_code == 401, path
    assert run(auth, "/über/x")[0].status_code == 200


@pytest.mark.parametrize("make", [BasicAuth, BearerAuth])
def test_preflight_passes_only_when_allowed(make: Callable[..., Any]) -> None:
    source = {"users": USERS} if make is BasicAuth else {"tokens": [TOKEN]}
    allowing = make(allow_preflight=True, **source)
    preflight = {"Origin": "https://a.example", "Access-Control-Request-Method": "PUT"}
    assert (
        run(allowing, "/x", method="OPTIONS", headers=preflight)[0].status_code == 200
    )
    assert run(allowing, "/x", method="OPTIONS")[0].status_code == 401
    assert run(allowing, "/x", method="GET", headers=preflight)[0].status_code == 401
    strict = make(**source)
    assert run(strict, "/x", method="OPTIONS", headers=preflight)[0].status_code == 401


def test_exempt_paths_ignore_even_a_malformed_header(users_auth: BasicAuth) -> None:
    auth = BasicAuth(users=USERS, exempt=["/health"])
    assert run(auth, "/health", "Basic !!!")[0].status_code == 200


# -- logging ----------------------------------------------------------------------------


def test_refusals_are_logged_without_user_or_password(
    users_auth: BasicAuth, records: list[logging.LogRecord]
) -> None:
    run(users_auth, "/admin", basic("hunter2-typed-as-user", "secret-pw"))
    run(users_auth, "/admin")  # no credentials: not worth a line
    messages = [r.getMessage() for r in records]
    assert messages == ["refused GET '/admin' from ?: wrong user name or password"]
    assert [r.levelno for r in records] == [logging.INFO]
    for message in messages:
        assert "hunter2" not in message
        assert "secret-pw" not in message


# -- the fault matrix ---------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_basic_with_credentials(
    users_auth: BasicAuth, fault: Fault
) -> None:
    check_fault(users_auth, fault, headers={"Authorization": basic("alice", "secret")})


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_bearer_with_a_token(fault: Fault) -> None:
    auth = BearerAuth(tokens=[TOKEN])
    check_fault(auth, fault, headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.mark.parametrize("fault", FAULTS, ids=str)
@pytest.mark.parametrize(
    "auth",
    [BasicAuth(users=USERS), BearerAuth(tokens=[TOKEN])],
    ids=["basic", "bearer"],
)
def test_fault_matrix_refused(auth: Any, fault: Fault) -> None:
    """Refused, the app never runs: whatever fault it holds cannot happen.
    check_fault expects the app's own behaviour to show (its error reaches
    the server; an exc_info re-call ends in its 500), so those rows are run
    by hand: a Lint on each side, a 401, the app never called."""
    if fault.raises is None and not fault.name.startswith("exc-info"):
        result = check_fault(auth, fault, headers={"Authorization": "Basic bad!"})
        assert result.status_code in (400, 401)
        result = check_fault(auth, fault)
        assert result.status_code == 401
        return
    app = fault.app()
    outer, inner = Lint(), Lint()
    result = call_app(outer(auth(inner(app))), method=fault.method, read=fault.read)
    outer.verify()
    inner.verify()
    assert result.status_code == 401
    assert result.error is None
    assert app.last_iterable is None


# -- hypothesis: whatever the client sends ------------------------------------------------

FAST_USERS = {"alice": sha("secret")}
BODIES_401 = {b"authentication required\n", b"invalid access token\n", b""}


def _never_echoes(result: Result, value: str) -> None:
    assert result.error is None
    body = result.body
    if result.status_code == 400:
        assert body.startswith((b"bad Authorization header: ", b"access_token"))
    elif result.status_code == 401:
        assert body in BODIES_401
    elif result.status_code == 403:
        assert body == b"insufficient scope\n"
    stripped = value.strip(" \t")
    if len(stripped) >= 12:
        assert stripped.encode("latin-1") not in body


latin1_text = st.text(st.characters(max_codepoint=255))


def _call(auth: Any, value: str) -> Result:
    outer, inner = Lint(), Lint()
    result = call_app(
        outer(auth(inner(App()))), headers={"Authorization": value}, catch=True
    )
    outer.verify()
    inner.verify()
    return result


BASIC = BasicAuth(users=FAST_USERS)
BEARER = BearerAuth(tokens={TOKEN: "ci"})
SCOPED = BearerAuth(
    verify=lambda token: {"sub": "ci", "scope": "read"} if token == TOKEN else None,
    scopes=["write"],
)


@given(latin1_text)
@example("Basic " + b64(b"alice:secret"))
@example("Bearer " + TOKEN)
def test_any_header_text_gets_200_400_401_or_403(value: str) -> None:
    for auth in (BASIC, BEARER):
        result = _call(auth, value)
        assert result.status_code in (200, 400, 401)
        _never_echoes(result, value)
    result = _call(SCOPED, value)
    assert result.status_code in (400, 401, 403)
    _never_echoes(result, value)


@given(
    scheme=st.sampled_from(["Basic", "basic", "Bearer", "Digest", "x", "BASIC"]),
    data=st.binary(max_size=64),
    colon=st.booleans(),
    pad=st.booleans(),
    spaces=st.sampled_from([" ", "  ", " \t"]),
)
def test_structured_headers_get_200_400_or_401(
    scheme: str, data: bytes, colon: bool, pad: bool, spaces: str
) -> None:
    if colon:
        data = data[: len(data) // 2] + b":" + data[len(data) // 2 :]
    token = b64(data)
    if not pad:
        token = token.rstrip("=")
    value = f"{scheme}{spaces}{token}"
    for auth in (BASIC, BEARER, SCOPED):
        result = _call(auth, value)
        assert result.status_code in (200, 400, 401)
        _never_echoes(result, value)


# -- BearerAuth ----------------------------------------------------------------------------

BEARER_CHALLENGE = 'Bearer realm="restricted"'


def test_bearer_without_a_token_gets_a_plain_challenge() -> None:
    result, app = run(BearerAuth(tokens=[TOKEN]))
    assert result.status == "401 Unauthorized"
    assert result.header("WWW-Authenticate") == BEARER_CHALLENGE  # no error=
    assert app.environ is None


def test_bearer_with_another_scheme_gets_a_plain_challenge() -> None:
    result, _ = run(BearerAuth(tokens=[TOKEN]), "/", basic("alice", "secret"))
    assert result.status_code == 401
    assert result.header("WWW-Authenticate") == BEARER_CHALLENGE


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_a_known_token_calls_the_app(scheme: str) -> None:
    result, app = run(BearerAuth(tokens=[TOKEN, OTHER_TOKEN]), "/", f"{scheme} {TOKEN}")
    assert result.status == "200 OK"
    assert app.environ is not None
    assert app.environ["REMOTE_USER"] == "bearer"
    assert app.environ["AUTH_TYPE"] == "Bearer"
    assert app.environ[USER_KEY] == "bearer"
    assert CLAIMS_KEY not in app.environ


def test_a_token_mapping_names_the_user() -> None:
    auth = BearerAuth(tokens={TOKEN: "ci-bot", OTHER_TOKEN: "jörg"})
    _, app = run(auth, "/", f"Bearer {OTHER_TOKEN}")
    assert app.environ is not None
    assert app.environ[USER_KEY] == "jörg"
    assert app.environ["REMOTE_USER"] == "jÃ¶rg"


@pytest.mark.parametrize(
    "token", [OTHER_TOKEN, TOKEN + "x", TOKEN[:-1], TOKEN.upper(), "a" * 4096]
)
def test_an_unknown_token_gets_invalid_token(token: str) -> None:
    result, app = run(BearerAuth(tokens=[TOKEN]), "/", f"Bearer {token}")
    assert result.status == "401 Unauthorized"
    assert result.header("WWW-Authenticate") == (
        'Bearer realm="restricted", error="invalid_token", '
        'error_description="the access token is not valid"'
    )
    assert result.body == b"invalid access token\n"
    assert app.environ is None


MALFORMED_BEARER = [
    ("Bearer", "no credentials after Bearer"),
    ("Bearer ", "no credentials after Bearer"),
    ("Bearer a b", "not RFC 6750 b64token"),
    ("Bearer ===", "not RFC 6750 b64token"),
    ("Bearer ab=c", "not RFC 6750 b64token"),
    ("Bearer tökén", "not RFC 6750 b64token"),
    ('Bearer a"b', "not RFC 6750 b64token"),
    ("Bearer " + "a" * 4097, "longer than 4096 characters"),
    (f"Bearer {TOKEN}, Bearer {OTHER_TOKEN}", "several credentials"),
    (f"Basic abc, Bearer {TOKEN}", "several credentials"),
    (f"Bearer {TOKEN}\x00", "control character"),
    ("", "empty"),
]


@pytest.mark.parametrize(("authorization", "reason"), MALFORMED_BEARER)
def test_a_malformed_bearer_header_gets_invalid_request(
    authorization: str, reason: str
) -> None:
    result, app = run(BearerAuth(tokens=[TOKEN]), "/", authorization)
    assert result.status == "400 Bad Request"
    assert reason in result.body.decode()
    challenge = result.header("WWW-Authenticate")
    assert challenge is not None
    assert challenge.startswith('Bearer realm="restricted", error="invalid_request", ')
    description = re.fullmatch(r'.*error_description="([^"\\]*)"', challenge)
    assert description is not None
    assert description[1] + "\n" == result.body.decode()
    assert app.environ is None


@pytest.mark.parametrize(
    "query",
    [
        "access_token=abc",
        "a=1&access_token=",
        "access%5Ftoken=x",
        "access%5ftoken",
        "x=1&access_token",
    ],
)
@pytest.mark.parametrize("header", [True, False])
def test_a_token_in_the_query_is_refused(query: str, header: bool) -> None:
    auth = BearerAuth(tokens=[TOKEN])
    authorization = f"Bearer {TOKEN}" if header else None
    result, app = run(auth, f"/?{query}", authorization)
    assert result.status == "400 Bad Request"
    assert result.body == (
        b"access_token in the query string is not accepted; send the token in the "
        b"Authorization header\n"
    )
    assert 'error="invalid_request"' in (result.header("WWW-Authenticate") or "")
    assert app.environ is None


@pytest.mark.parametrize(
    "query", ["access=1", "x_access_token=1", "token=access_token", "a=%41", "+=1"]
)
def test_other_query_fields_are_fine(query: str) -> None:
    result, _ = run(BearerAuth(tokens=[TOKEN]), f"/?{query}", f"Bearer {TOKEN}")
    assert result.status_code == 200


def test_tokens_are_held_as_digests_only() -> None:
    auth = BearerAuth(tokens={TOKEN: "ci"})
    held = [getattr(auth, name) for name in BearerAuth.__slots__]
    assert TOKEN not in repr(held)
    assert TOKEN.encode() not in b"".join(auth._tokens)
    assert repr(auth) == "BearerAuth(tokens=<1 token>)"


# -- verify= -------------------------------------------------------------------------------


def test_a_verifier_returning_a_user_name() -> None:
    seen: list[str] = []

    def verify(token: str) -> str | None:
        seen.append(token)
        return "svc" if token == TOKEN else None

    auth = BearerAuth(verify=verify)
    result, app = run(auth, "/", f"Bearer {TOKEN}")
    assert result.status_code == 200
    assert app.environ is not None
    assert app.environ[USER_KEY] == "svc"
    assert run(auth, "/", f"Bearer {OTHER_TOKEN}")[0].status_code == 401
    assert seen == [TOKEN, OTHER_TOKEN]
    assert repr(auth).startswith("BearerAuth(verify=test_a_verifier_returning_a_user")


@pytest.mark.parametrize(
    ("scope", "status"),
    [
        ("read write", 200),
        (["write", "read", "admin"], 200),
        ("read", 403),
        ((), 403),
        (None, 403),
    ],
)
def test_scopes_from_the_verifiers_claims(scope: object, status: int) -> None:
    claims: dict[str, object] = {"sub": "alice", "exp": 0}
    if scope is not None:
        claims["scope"] = scope
    auth = BearerAuth(verify=lambda token: claims, scopes=["read", "write"])
    result, app = run(auth, "/", f"Bearer {TOKEN}")
    assert result.status_code == status
    if status == 403:
        assert result.header("WWW-Authenticate") == (
            'Bearer realm="restricted", error="insufficient_scope", scope="read write"'
        )
        assert result.body == b"insufficient scope\n"
        assert app.environ is None
    else:
        assert app.environ is not None
        assert app.environ[USER_KEY] == "alice"
        assert app.environ[CLAIMS_KEY] is claims


def test_claims_without_scopes_required_pass() -> None:
    auth = BearerAuth(verify=lambda token: {"sub": "alice"})
    assert run(auth, "/", f"Bearer {TOKEN}")[0].status_code == 200


@pytest.mark.parametrize(
    ("returned", "message"),
    [
        (True, "must return a user name"),
        (42, "must return a user name"),
        ("", "gave no user name"),
        ({"scope": "read"}, "gave no user name"),
        ({"sub": 7}, "gave no user name"),
        ({"sub": "a", "scope": 5}, "neither a space-separated"),
        ({"sub": "a", "scope": ["read", 5]}, "neither a space-separated"),
    ],
)
def test_a_verifier_returning_nonsense_is_a_server_error(
    returned: object, message: str
) -> None:
    auth = BearerAuth(verify=lambda token: returned, scopes=["read"])  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match=message):
        call_app(auth(App()), headers={"Authorization": f"Bearer {TOKEN}"})


def test_a_verifier_that_raises_propagates_to_error_handler() -> None:
    def verify(token: str) -> str | None:
        raise TimeoutError("the token service is down")

    auth = BearerAuth(verify=verify)
    with pytest.raises(TimeoutError):
        call_app(auth(App()), headers={"Authorization": f"Bearer {TOKEN}"})
    result = call_app(
        ErrorHandler()(auth(App())), headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert result.status == "500 Internal Server Error"


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({}, ValueError, "exactly one of tokens="),
        ({"tokens": [TOKEN], "verify": lambda t: None}, ValueError, "exactly one"),
        ({"tokens": TOKEN}, TypeError, "tokens=\\[token\\]"),
        ({"tokens": 42}, TypeError, "collection of tokens"),
        ({"tokens": []}, ValueError, "tokens is empty"),
        ({"tokens": {}}, ValueError, "tokens is empty"),
        ({"tokens": [TOKEN, "short"]}, ValueError, "the 2nd token is shorter than 16"),
        ({"tokens": ["bad token with spaces"]}, ValueError, "the 1st token is not"),
        ({"tokens": [TOKEN, 5]}, ValueError, "the 2nd token is not"),
        ({"tokens": {TOKEN: ""}}, ValueError, "the user name of the 1st entry"),
        ({"tokens": {TOKEN: "a:b"}}, ValueError, "must not hold ':'"),
        ({"tokens": [TOKEN], "scopes": ["read"]}, ValueError, "scopes= needs verify="),
        (
            {"verify": lambda t: None, "scopes": "read"},
            TypeError,
            "scopes=\\['read'\\]",
        ),
        ({"verify": lambda t: None, "scopes": ["a b"]}, ValueError, "scope token"),
        ({"verify": lambda t: None, "scopes": [3]}, ValueError, "scope token"),
        ({"verify": "jwt"}, TypeError, "verify must be a callable"),
    ],
)
def test_bearer_misconfiguration_fails_at_construction(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message) as info:
        BearerAuth(**options)
    assert TOKEN not in str(info.value)


def test_a_token_mapping_the_wrong_way_round_never_shows_a_token() -> None:
    secret = "Zq8vN3rT0kLp5sXw2yBd7fHj"
    with pytest.raises(ValueError, match="tokens: the 2nd entry is shorter") as info:
        BearerAuth(tokens={TOKEN: "ci", "ops": secret})  # {user: token}
    assert secret not in str(info.value)
    with pytest.raises(ValueError, match="tokens: the 1st entry is not RFC") as info:
        BearerAuth(tokens={"ops bot": secret})
    assert secret not in str(info.value)


def test_ordinals_in_messages() -> None:
    tokens = [f"{TOKEN}{n:02d}" for n in range(1, 23)]
    for position, word in [
        (11, "11th"),
        (12, "12th"),
        (13, "13th"),
        (21, "21st"),
        (22, "22nd"),
        (3, "3rd"),
    ]:
        bad = list(tokens)
        bad[position - 1] = "x"
        with pytest.raises(ValueError, match=f"the {word} token"):
            BearerAuth(tokens=bad)


def test_bearer_repr_shows_options() -> None:
    auth = BearerAuth(
        verify=lambda token: None,
        scopes=["read", "read", "write"],
        realm="api",
        exempt=["/health"],
    )
    assert repr(auth) == (
        "BearerAuth(verify=test_bearer_repr_shows_options.<locals>.<lambda>, realm='api', exempt=['/health'], "
        "scopes=['read', 'write'])"
    )


# -- the docs page's examples run as written ------------------------------------------------


def _doc_examples() -> list[Any]:
    text = (ROOT / "docs" / "reference" / "auth.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    return [pytest.param(block, id=f"example-{n}") for n, block in enumerate(blocks, 1)]


@pytest.mark.parametrize("code", _doc_examples())
def test_docs_examples_run(
    code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "docs/reference/auth.md", "exec"), {"__name__": "docs_example"})


# -- the usual Basic header, read in one step ------------------------------------


def _full_checks(header: str) -> tuple[str, str] | str | None:
    """What the full checks make of a header: credentials, None (no Basic
    credentials) or the 400's reason."""
    from wsgimw import auth

    try:
        token = auth._credentials(header, "basic", auth._BASIC_AGAIN)
        return None if token is None else auth._decode_basic(token)
    except auth._BadRequest as exc:
        return str(exc)


_SCHEMES = st.sampled_from(["Basic", "basic", "BASIC", "bAsIc", "Bearer", "Basic\t"])


@given(
    scheme=_SCHEMES,
    spaces=st.sampled_from([" ", "  ", "", " \t"]),
    payload=st.binary(max_size=64)
    | st.text(max_size=24).map(lambda t: t.encode("utf-8", "surrogatepass")),
    cut=st.integers(min_value=0, max_value=3),
    tail=st.sampled_from(["", " ", ",", "=", "\x00", "==", "\t"]),
)
@example(scheme="Basic", spaces=" ", payload=b"alice:pw", cut=0, tail="")
@example(scheme="Basic", spaces=" ", payload=b"al\x7fice:pw", cut=0, tail="")
@example(scheme="Basic", spaces=" ", payload=b"alice", cut=0, tail="")
@example(scheme="Basic", spaces=" ", payload=b"\xc3:pw", cut=0, tail="")
@example(scheme="Basic", spaces=" ", payload=b"a" * 4097 + b":", cut=0, tail="")
def test_the_usual_header_is_read_as_the_full_checks_read_it(
    scheme: str, spaces: str, payload: bytes, cut: int, tail: str
) -> None:
    from wsgimw import auth

    token = base64.b64encode(payload).decode()
    token = token[: len(token) - cut] if cut else token
    header = f"{scheme}{spaces}{token}{tail}"
    usual = auth._usual_basic(header)
    if usual is not None:  # taken by the quick step: exactly as the full checks
        assert usual == _full_checks(header)
    if scheme.lower() == "basic" and spaces == " " and not cut and not tail:
        # A well-formed header with good credentials takes the quick step.
        full = _full_checks(header)
        assert (usual is not None) == isinstance(full, tuple)


@given(
    header=st.text(
        alphabet=st.sampled_from("BbAaSsIiCc =+/\t\nYWxpY2U6eAé\x00"), max_size=24
    )
    | st.builds(
        lambda scheme, payload, cut, tail: (
            scheme
            + base64.b64encode(payload).decode()[: None if not cut else -cut]
            + tail
        ),
        st.sampled_from(["Basic ", "bAsIc ", "Basic  ", "Basi ", "\u0130asic "]),
        st.binary(max_size=40),
        st.integers(min_value=0, max_value=3),
        st.sampled_from(["", "=", "==", "===", " ", "\n", "YQ=="]),
    )
)
@example(header="Basic ")
@example(header="Basic YQ===")
@example(header="basic YWI=YWI=")
@example(header="Basic é")
@example(header="Basic YWxpY2U6c2VjcmV0=")  # strict mode alone takes it
@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="binascii's strict mode came in 3.11"
)
def test_both_readers_of_the_usual_token_agree(header: str) -> None:
    from wsgimw import auth

    assert auth._usual_token_strictly(header) == auth._usual_token_by_pattern(header)
