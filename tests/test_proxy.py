"""ProxyHeaders: who the client is, believed only from trusted proxies."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from wsgimw import ProxyHeaders, compose
from wsgimw.pastedeploy import proxy_headers
from wsgimw.proxy import ORIGINAL_KEY
from wsgimw.testing import FAULTS, Fault, Lint, call_app, check_fault, make_environ
from wsgimw.types import Environ, StartResponse

PROXY = "10.0.0.5"
TRUSTED = ["127.0.0.1", "10.0.0.0/8", "fd00::/8"]


class Seen:
    """An app that keeps a copy of the environ it was given."""

    def __init__(self) -> None:
        self.environ: Environ = {}

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        self.environ = dict(environ)
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")]
        )
        return [b"ok"]


def seen_through(
    middleware: ProxyHeaders, remote: str | None = PROXY, **headers: str
) -> Environ:
    """The environ the app sees for a request from ``remote`` with
    ``headers`` (as X_FORWARDED_FOR=... keyword names), Lint on both sides."""
    app = Seen()
    wrapped = Lint()(middleware(Lint()(app)))
    environ = make_environ(
        "/path", headers={k.replace("_", "-"): v for k, v in headers.items()}
    )
    if remote is None:
        environ.pop("REMOTE_ADDR", None)
    else:
        environ["REMOTE_ADDR"] = remote
    result = call_app(wrapped, environ)
    assert result.status == "200 OK"
    return app.environ


XFF = ProxyHeaders(trusted=TRUSTED)
FWD = ProxyHeaders(trusted=TRUSTED, headers="forwarded")


# -- options ---------------------------------------------------------------------


def test_trusted_is_required_and_says_why() -> None:
    with pytest.raises(TypeError, match=r"trusted=\[\.\.\.\].*Nothing is trusted"):
        ProxyHeaders()


@pytest.mark.parametrize(
    ("trusted", "error", "message"),
    [
        ("10.0.0.1", TypeError, r"a list of addresses.*\['10.0.0.1'\]"),
        ([], ValueError, r"trusts no proxy"),
        (["10.0.0.1/8"], ValueError, r"host bits set.*'10.0.0.0/8'"),
        (["proxy.internal"], ValueError, r"not an IPv4 or IPv6 address"),
        ([10], TypeError, r"as str"),
    ],
)
def test_bad_trusted_is_refused(trusted: Any, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        ProxyHeaders(trusted=trusted)


def test_bad_headers_option_is_refused() -> None:
    with pytest.raises(ValueError, match=r"'x-forwarded'.*'forwarded'"):
        ProxyHeaders(trusted=TRUSTED, headers="x-real-ip")  # type: ignore[arg-type]


def test_wraps_only_a_callable() -> None:
    with pytest.raises(TypeError, match="callable"):
        XFF("not an app")  # type: ignore[arg-type]


def test_trusted_accepts_ipaddress_objects_and_brackets() -> None:
    middleware = ProxyHeaders(
        trusted=[
            ipaddress.ip_network("10.0.0.0/8"),
            ipaddress.ip_address("::1"),
            "[::2]",
        ]
    )
    assert (
        seen_through(middleware, "::1", X_FORWARDED_FOR="1.2.3.4")["REMOTE_ADDR"]
        == "1.2.3.4"
    )
    assert (
        seen_through(middleware, "::2", X_FORWARDED_FOR="1.2.3.4")["REMOTE_ADDR"]
        == "1.2.3.4"
    )
    assert (
        repr(middleware) == "ProxyHeaders(trusted=['10.0.0.0/8', '::1/128', '::2/128'])"
    )
    assert repr(FWD) == (
        "ProxyHeaders(trusted=['127.0.0.1/32', '10.0.0.0/8', 'fd00::/8'], "
        "headers='forwarded')"
    )


# -- X-Forwarded-For ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "client"),
    [
        ("1.2.3.4", "1.2.3.4"),
        # A client's own entries on the left are never believed.
        ("6.6.6.6, 1.2.3.4", "1.2.3.4"),
        ("127.0.0.1, 1.2.3.4", "1.2.3.4"),
        # Trusted proxies on the right are skipped (real_ip_recursive).
        ("6.6.6.6, 1.2.3.4, 10.1.2.3, 127.0.0.1", "1.2.3.4"),
        # All trusted: the leftmost.
        ("10.9.9.9, 10.1.1.1", "10.9.9.9"),
        # Ports and brackets, as some proxies write them.
        ("1.2.3.4:5678", "1.2.3.4"),
        ("[2001:db8::7]:443", "2001:db8::7"),
        ("2001:db8::7", "2001:db8::7"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        # Garbage left of the client was written by the client: ignored.
        ("<script>, 1.2.3.4", "1.2.3.4"),
    ],
)
def test_client_is_rightmost_untrusted(header: str, client: str) -> None:
    environ = seen_through(XFF, X_FORWARDED_FOR=header)
    assert environ["REMOTE_ADDR"] == client
    assert environ[ORIGINAL_KEY]["REMOTE_ADDR"] == PROXY


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        "1.2.3.4, not-an-ip",
        "1.2.3.4,",
        "1.2.3.4:99999",
        "[::1",
        "[::1]x",
        "1.2.3.4:x",
    ],
)
def test_malformed_x_forwarded_for_leaves_the_peer(header: str) -> None:
    environ = seen_through(XFF, X_FORWARDED_FOR=header)
    assert environ["REMOTE_ADDR"] == PROXY
    assert ORIGINAL_KEY not in environ


def test_untrusted_peer_is_not_believed() -> None:
    environ = seen_through(
        XFF,
        "203.0.113.9",
        X_FORWARDED_FOR="1.2.3.4",
        X_FORWARDED_PROTO="https",
        X_FORWARDED_HOST="evil.example",
    )
    assert environ["REMOTE_ADDR"] == "203.0.113.9"
    assert environ["wsgi.url_scheme"] == "http"
    assert "evil" not in environ["HTTP_HOST"]
    assert ORIGINAL_KEY not in environ


@pytest.mark.parametrize("remote", [None, "", "not an address", "unix:/run/x.sock"])
def test_a_peer_without_an_address_is_not_trusted(remote: str | None) -> None:
    environ = seen_through(XFF, remote, X_FORWARDED_FOR="1.2.3.4")
    assert environ.get("REMOTE_ADDR") == remote
    assert ORIGINAL_KEY not in environ


def test_ipv6_peer_in_a_trusted_network() -> None:
    environ = seen_through(XFF, "fd00::1", X_FORWARDED_FOR="1.2.3.4")
    assert environ["REMOTE_ADDR"] == "1.2.3.4"


def test_scheme_host_and_port_from_the_same_hop() -> None:
    environ = seen_through(
        XFF,
        X_FORWARDED_FOR="1.2.3.4",
        X_FORWARDED_PROTO="https",
        X_FORWARDED_HOST="shop.example.com",
    )
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["HTTP_HOST"] == "shop.example.com"
    assert environ["SERVER_NAME"] == "shop.example.com"
    assert environ["SERVER_PORT"] == "443"
    original = environ[ORIGINAL_KEY]
    assert original["wsgi.url_scheme"] == "http"
    assert original["HTTP_HOST"] == "127.0.0.1"
    assert original["SERVER_PORT"] == "80"


def test_list_values_are_read_at_the_clients_hop() -> None:
    # The client forged "https"; the edge proxy appended what it saw.
    environ = seen_through(
        XFF, X_FORWARDED_FOR="1.2.3.4", X_FORWARDED_PROTO="https, http"
    )
    assert environ["wsgi.url_scheme"] == "http"
    # Two proxies each appended: the client's hop is the first of the two.
    environ = seen_through(
        XFF, X_FORWARDED_FOR="1.2.3.4, 10.0.0.7", X_FORWARDED_PROTO="https, http"
    )
    assert environ["wsgi.url_scheme"] == "https"
    # Only the edge proxy set it: a single value serves every hop.
    environ = seen_through(
        XFF, X_FORWARDED_FOR="1.2.3.4, 10.0.0.7", X_FORWARDED_PROTO="https"
    )
    assert environ["wsgi.url_scheme"] == "https"


def test_port_and_prefix() -> None:
    environ = seen_through(
        XFF,
        X_FORWARDED_FOR="1.2.3.4",
        X_FORWARDED_HOST="example.com",
        X_FORWARDED_PORT="8443",
        X_FORWARDED_PROTO="https",
        X_FORWARDED_PREFIX="/shop%20one/",
    )
    assert environ["HTTP_HOST"] == "example.com:8443"
    assert environ["SERVER_PORT"] == "8443"
    assert environ["SCRIPT_NAME"] == "/shop one"
    assert environ["PATH_INFO"] == "/path"


def test_port_alone_keeps_the_host_name() -> None:
    environ = seen_through(XFF, X_FORWARDED_PORT="8080")
    assert environ["HTTP_HOST"] == "127.0.0.1:8080"
    assert environ["SERVER_PORT"] == "8080"
    assert environ["REMOTE_ADDR"] == PROXY  # no X-Forwarded-For: the peer


def test_default_port_is_not_shown_in_the_host() -> None:
    environ = seen_through(
        XFF,
        X_FORWARDED_HOST="example.com",
        X_FORWARDED_PORT="443",
        X_FORWARDED_PROTO="https",
    )
    assert environ["HTTP_HOST"] == "example.com"
    assert environ["SERVER_PORT"] == "443"


def test_host_with_its_own_port_and_ipv6() -> None:
    environ = seen_through(XFF, X_FORWARDED_HOST="[2001:db8::1]:8000")
    assert environ["HTTP_HOST"] == "[2001:db8::1]:8000"
    assert environ["SERVER_NAME"] == "[2001:db8::1]"
    assert environ["SERVER_PORT"] == "8000"


@pytest.mark.parametrize(
    ("name", "value", "key", "kept"),
    [
        ("X_FORWARDED_PROTO", "gopher", "wsgi.url_scheme", "http"),
        ("X_FORWARDED_PROTO", "https\r\nX: y", "wsgi.url_scheme", "http"),
        ("X_FORWARDED_HOST", "evil.com/path", "HTTP_HOST", "127.0.0.1"),
        ("X_FORWARDED_HOST", "a b", "HTTP_HOST", "127.0.0.1"),
        ("X_FORWARDED_HOST", "[::zz]", "HTTP_HOST", "127.0.0.1"),
        ("X_FORWARDED_HOST", "[1::2::3]", "HTTP_HOST", "127.0.0.1"),
        ("X_FORWARDED_HOST", "example.com:70000", "HTTP_HOST", "127.0.0.1"),
        ("X_FORWARDED_PORT", "http", "SERVER_PORT", "80"),
        ("X_FORWARDED_PORT", "0", "SERVER_PORT", "80"),
        ("X_FORWARDED_PREFIX", "no-slash", "SCRIPT_NAME", ""),
        ("X_FORWARDED_PREFIX", "/a/../admin", "SCRIPT_NAME", ""),
        ("X_FORWARDED_PREFIX", "/a\x00b", "SCRIPT_NAME", ""),
    ],
)
def test_malformed_values_alone_are_ignored(
    name: str, value: str, key: str, kept: str
) -> None:
    environ = seen_through(XFF, X_FORWARDED_FOR="1.2.3.4", **{name: value})
    assert environ[key] == kept
    assert environ["REMOTE_ADDR"] == "1.2.3.4"


def test_applied_once_when_nested() -> None:
    twice = compose(XFF, XFF)
    app = Seen()
    environ = make_environ(
        "/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="10.7.7.7, 10.8.8.8"
    )
    call_app(twice(app), environ)
    assert app.environ["REMOTE_ADDR"] == "10.7.7.7"
    assert app.environ[ORIGINAL_KEY]["REMOTE_ADDR"] == PROXY


def test_many_peers_keep_the_cache_bounded() -> None:
    middleware = ProxyHeaders(trusted=["10.0.0.0/8"])
    app = middleware(Seen())
    for n in range(5000):
        call_app(app, make_environ("/", REMOTE_ADDR=f"192.0.{n // 256}.{n % 256}"))
    assert len(middleware._cache) <= 4096


# -- Forwarded (RFC 7239) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "client"),
    [
        ("for=192.0.2.60;proto=http;by=203.0.113.43", "192.0.2.60"),
        ('for="[2001:db8:cafe::17]:4711"', "2001:db8:cafe::17"),
        ('For="[2001:db8:cafe::17]"', "2001:db8:cafe::17"),
        ("for=192.0.2.43, for=198.51.100.17", "198.51.100.17"),
        ("for=6.6.6.6, for=192.0.2.43, for=10.0.0.9", "192.0.2.43"),
        ("for=unknown", "unknown"),
        ("for=_hidden, for=10.1.1.1", "_hidden"),
        ('for="_gazonk"', "_gazonk"),
        ('for="192.0.2.60:_port"', "192.0.2.60"),
        ('for="[::ffff:1.2.3.4]"', "1.2.3.4"),
        # Every hop trusted: the leftmost.
        ("for=10.0.0.1, for=10.0.0.2", "10.0.0.1"),
        # A client's garbage left of a well-formed hop is never read.
        ("for=;;;, for=192.0.2.60", "192.0.2.60"),
        ('for=x"y, for=192.0.2.60', "192.0.2.60"),
        # A quote the client never closed does not swallow the proxy's hop.
        ('for="abc, for=192.0.2.60', "192.0.2.60"),
        ('for="a\\"b", for=192.0.2.60', "192.0.2.60"),
    ],
)
def test_forwarded_client(header: str, client: str) -> None:
    environ = seen_through(FWD, FORWARDED=header)
    assert environ["REMOTE_ADDR"] == client


@pytest.mark.parametrize(
    "header",
    [
        "for=2001:db8::1",  # IPv6 must be quoted and in brackets
        "for=[2001:db8::1]",  # brackets need quotes (':' is not a token char)
        'for="[1.2.3.4]"',
        'for="[::1"',
        "for=192.0.2.60;for=192.0.2.61",  # a repeated parameter
        'for="192.0.2.60',  # an open quote
        "proto=https",  # no for=
        "for=192.0.2.60;",
        "for=192.0.2.60 x",
        "",
        ", ",
        "for=999.1.1.1",
        'for="1.2.3.4:99999"',
        'for="[::1]:x"',
        'for="[::1]x"',
        'for="[::g]"',
        'for="[::1]:0"',
        "for=host.example",
    ],
)
def test_malformed_forwarded_leaves_the_peer(header: str) -> None:
    environ = seen_through(FWD, FORWARDED=header)
    assert environ["REMOTE_ADDR"] == PROXY
    assert ORIGINAL_KEY not in environ


def test_forwarded_proto_and_host_from_the_clients_element() -> None:
    environ = seen_through(
        FWD,
        FORWARDED='for=192.0.2.60;proto=https;host="shop.example:8443", '
        "for=10.0.0.3;proto=http;host=inner",
    )
    assert environ["REMOTE_ADDR"] == "192.0.2.60"
    assert environ["wsgi.url_scheme"] == "https"
    assert environ["HTTP_HOST"] == "shop.example:8443"
    assert environ["SERVER_PORT"] == "8443"


def test_forwarded_port_and_escapes() -> None:
    environ = seen_through(FWD, FORWARDED='for="[2001:db8::1]:4711";host="a\\.b"')
    assert environ["REMOTE_PORT"] == "4711"
    assert environ["HTTP_HOST"] == "a.b"


def test_forwarded_mode_ignores_x_forwarded_and_back() -> None:
    environ = seen_through(FWD, X_FORWARDED_FOR="1.2.3.4")
    assert environ["REMOTE_ADDR"] == PROXY
    environ = seen_through(XFF, FORWARDED="for=1.2.3.4")
    assert environ["REMOTE_ADDR"] == PROXY


# -- the fault matrix ---------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS, ids=str)
@pytest.mark.parametrize("middleware", [XFF, FWD], ids=["x-forwarded", "forwarded"])
def test_fault_matrix(middleware: ProxyHeaders, fault: Fault) -> None:
    check_fault(
        middleware,
        fault,
        REMOTE_ADDR=PROXY,
        HTTP_X_FORWARDED_FOR="1.2.3.4",
        HTTP_FORWARDED="for=1.2.3.4;proto=https",
        HTTP_X_FORWARDED_PROTO="https",
    )


def test_untouched_iterable_passes_through() -> None:
    body = [b"a"]

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return body

    environ = make_environ("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert XFF(app)(environ, lambda s, h, e=None: lambda d: None) is body


# -- what a client controls -----------------------------------------------------------

_ipv4 = st.ip_addresses(v=4).map(str)
_ipv6 = st.ip_addresses(v=6).map(str)
_entry = st.one_of(
    _ipv4,
    _ipv6,
    _ipv6.map(lambda a: f"[{a}]:443"),
    st.text(st.characters(codec="latin-1"), max_size=20),
)


@given(st.lists(_entry, max_size=8), _ipv4)
@example(["1.2.3.4"], "8.8.8.8")
def test_spoofed_entries_never_win(forged: list[str], client: str) -> None:
    """Whatever the client sends, the trusted proxy's own entry decides."""
    if (
        ipaddress.ip_address(client) in ipaddress.ip_network("10.0.0.0/8")
        or client == "127.0.0.1"
    ):
        client = "8.8.8.8"
    header = ", ".join([*forged, client])
    environ = seen_through(XFF, X_FORWARDED_FOR=header)
    assert environ["REMOTE_ADDR"] == client


@given(st.text(st.characters(codec="latin-1"), max_size=200))
@example('for="[::1]:80";proto=https, for=1.2.3.4')
@example('for=";,;"')
def test_any_forwarded_is_safe(header: str) -> None:
    environ = seen_through(FWD, FORWARDED=header, X_FORWARDED_FOR="9.9.9.9")
    remote = environ["REMOTE_ADDR"]
    # The peer, an address, or an identifier RFC 7239 allows: nothing else.
    if remote != "unknown" and not re.fullmatch(r"_[A-Za-z0-9._-]+", remote):
        ipaddress.ip_address(remote)
    assert environ["wsgi.url_scheme"] in ("http", "https")
    assert all(c.isprintable() for c in environ["HTTP_HOST"])


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "X_FORWARDED_FOR",
                "X_FORWARDED_PROTO",
                "X_FORWARDED_HOST",
                "X_FORWARDED_PORT",
                "X_FORWARDED_PREFIX",
            ]
        ),
        st.text(st.characters(codec="latin-1"), max_size=60),
    )
)
def test_any_x_forwarded_headers_are_safe(headers: dict[str, str]) -> None:
    environ = seen_through(XFF, **headers)
    assert environ["wsgi.url_scheme"] in ("http", "https")
    assert environ["SERVER_PORT"].isdigit()
    assert environ["SCRIPT_NAME"] == "" or environ["SCRIPT_NAME"].startswith("/")
    for key in ("HTTP_HOST", "SERVER_NAME", "REMOTE_ADDR"):
        assert all(c.isprintable() and c != " " for c in environ[key]), key


# -- PasteDeploy ------------------------------------------------------------------------


def test_paste_factory() -> None:
    middleware = proxy_headers({}, trusted="127.0.0.1, 10.0.0.0/8", headers="forwarded")
    assert repr(middleware) == (
        "ProxyHeaders(trusted=['127.0.0.1/32', '10.0.0.0/8'], headers='forwarded')"
    )
    with pytest.raises(TypeError, match="needs trusted="):
        proxy_headers({})
    with pytest.raises(ValueError, match="has no option 'trust'"):
        proxy_headers({}, trust="127.0.0.1")


def test_paste_pipeline(tmp_path: Path) -> None:
    from paste.deploy import loadapp

    ini = tmp_path / "site.ini"
    ini.write_text(
        """
[pipeline:main]
pipeline = proxy app

[filter:proxy]
use = egg:wsgimw#proxy_headers
trusted = 127.0.0.1
    10.0.0.0/8

[app:app]
paste.app_factory = test_proxy:app_factory
"""
    )
    app = loadapp(f"config:{ini}")
    result = call_app(
        app, make_environ("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="1.2.3.4")
    )
    assert result.body == b"1.2.3.4"


def app_factory(global_conf: dict[str, str], **local_conf: str) -> Any:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["REMOTE_ADDR"].encode()]

    return app


def test_scheme_without_a_usable_host() -> None:
    app = Seen()
    environ = make_environ("/", REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_PROTO="https")
    del environ["HTTP_HOST"]
    call_app(XFF(app), environ)
    assert app.environ["wsgi.url_scheme"] == "https"
    assert app.environ["SERVER_PORT"] == "443"
    assert "HTTP_HOST" not in app.environ


def test_entry_and_host_caches_are_bounded() -> None:
    from wsgimw import proxy

    middleware = ProxyHeaders(trusted=["10.0.0.0/8"])
    app = middleware(Seen())
    for n in range(4200):
        environ = make_environ(
            "/",
            REMOTE_ADDR=PROXY,
            HTTP_X_FORWARDED_FOR=f"192.0.{n // 256}.{n % 256}",
            HTTP_X_FORWARDED_HOST=f"h{n}.example",
        )
        call_app(app, environ)
    assert len(middleware._entries) <= 4096
    assert len(proxy._HOSTS) <= 4096
    # Values longer than any address or host are never kept.
    long_entry = "1" * 100
    long_host = "a" * 300
    environ = seen_through(
        middleware, X_FORWARDED_FOR=long_entry, X_FORWARDED_HOST=long_host
    )
    assert environ["REMOTE_ADDR"] == PROXY
    assert long_entry not in middleware._entries
    environ = seen_through(
        middleware, X_FORWARDED_FOR="1.2.3.4", X_FORWARDED_HOST=long_host
    )
    assert environ["HTTP_HOST"] == "127.0.0.1"
    assert long_host not in proxy._HOSTS


def test_long_headers_are_read_but_not_cached() -> None:
    header = "for=192.0.2.1" + ", for=10.0.0.1" * 60
    middleware = ProxyHeaders(trusted=["10.0.0.0/8"], headers="forwarded")
    assert seen_through(middleware, FORWARDED=header)["REMOTE_ADDR"] == "192.0.2.1"
    assert header not in middleware._hops


_hop_address = st.one_of(
    st.ip_addresses(v=4).map(lambda a: (str(a), str(a))),
    st.ip_addresses(v=6).map(lambda a: (f'"[{a}]"', str(a))),
    st.tuples(st.ip_addresses(v=6), st.integers(1, 65535)).map(
        lambda p: (f'"[{p[0]}]:{p[1]}"', str(p[0]))
    ),
    st.tuples(st.ip_addresses(v=4), st.integers(1, 65535)).map(
        lambda p: (f'"{p[0]}:{p[1]}"', str(p[0]))
    ),
    st.just(("unknown", "unknown")),
    st.from_regex(r"_[A-Za-z0-9._-]{1,10}", fullmatch=True).map(lambda o: (o, o)),
)


@st.composite
def forwarded_elements(draw: st.DrawFn) -> tuple[str, str]:
    """A Forwarded element in any of RFC 7239's spellings, and its client."""
    written, client = draw(_hop_address)
    params = [f"{draw(st.sampled_from(['for', 'For', 'FOR']))}={written}"]
    if draw(st.booleans()):
        proto = draw(st.sampled_from(["http", "https", '"https"']))
        params.append(f"proto={proto}")
    if draw(st.booleans()):
        params.append('host="example.com:8443"')
    if draw(st.booleans()):
        params.append("by=_proxy")
    order = draw(st.permutations(params))
    return ";".join(order), client


def _normal(client: str) -> str:
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


def _is_trusted(client: str) -> bool:
    try:
        address = ipaddress.ip_address(_normal(client))
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net) for net in TRUSTED)


@given(
    st.lists(forwarded_elements(), min_size=1, max_size=5),
    st.lists(st.ip_addresses(network="10.0.0.0/8").map(str), max_size=3),
    st.sampled_from([", ", ",", " , "]),
)
def test_forwarded_syntax_finds_the_rightmost_untrusted(
    elements: list[tuple[str, str]], proxies: list[str], joiner: str
) -> None:
    """Well-formed Forwarded headers in every spelling: the client is the
    rightmost for= that is not one of the trusted proxies."""
    written = [text for text, _ in elements] + [f"for={p}" for p in proxies]
    clients = [client for _, client in elements] + proxies
    expected = next((c for c in reversed(clients) if not _is_trusted(c)), clients[0])
    environ = seen_through(FWD, FORWARDED=joiner.join(written))
    assert environ["REMOTE_ADDR"] == _normal(expected)
