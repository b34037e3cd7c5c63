"""ProxyHeaders: who the client is, and the URL it used, behind trusted proxies.

A reverse proxy (nginx, a load balancer, a PaaS router) connects to the WSGI
server itself, so ``REMOTE_ADDR`` is the proxy's address and
``wsgi.url_scheme`` the scheme of that inner hop. The proxy tells the app the
rest in ``X-Forwarded-*`` headers, or in RFC 7239's ``Forwarded``. Anyone can
send those headers, so they are read only when the peer (``REMOTE_ADDR``) is
one of the ``trusted=`` networks, and then only as far as trusted proxies
wrote them: walking the list from the right, each trusted address is skipped
and the first one that is not trusted is the client (nginx's
``real_ip_recursive on``). Entries to its left were written by the client or
by proxies nobody vouches for, and are never believed.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from typing import Final, Literal
from urllib.parse import unquote_to_bytes

from .types import Environ, StartResponse, WSGIApp

__all__ = ["ORIGINAL_KEY", "ProxyHeaders"]

logger = logging.getLogger("wsgimw.proxy")

#: Where `ProxyHeaders` keeps the values it replaced.
ORIGINAL_KEY: Final = "wsgimw.proxy.original"

#: The environ keys ProxyHeaders may change; their originals are kept.
_CHANGED: Final = (
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "wsgi.url_scheme",
    "HTTP_HOST",
    "SERVER_NAME",
    "SERVER_PORT",
    "SCRIPT_NAME",
)

_Network = ipaddress.IPv4Network | ipaddress.IPv6Network
_Address = ipaddress.IPv4Address | ipaddress.IPv6Address

# RFC 7239 syntax: token = value, value a token or a quoted-string.
_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_PAIR = re.compile(
    rf'[ \t]*({_TOKEN})=(?:({_TOKEN})|"((?:[^"\\\x00-\x08\x0a-\x1f\x7f]|\\[\t\x20-\x7e])*)")[ \t]*'
)
_OBFUSCATED = re.compile(r"_[A-Za-z0-9._-]+\Z")
_PORT = re.compile(r"[0-9]{1,5}\Z")
# A host as RFC 3986 allows it in the Host header: a registered name (letters,
# digits, '-', '.', '_'), an IPv4 address or an IPv6 literal in brackets,
# then an optional port.
_HOST = re.compile(
    r"(?P<name>[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,252})|\[[0-9A-Fa-f:.]{2,45}\])"
    r"(?::(?P<port>[0-9]{1,5}))?\Z"
)
_PREFIX = re.compile(r"/[!$&'()*+,;=:@%A-Za-z0-9._~/-]*\Z")
_DEFAULT_PORT: Final = {"http": "80", "https": "443"}
#: How many peer addresses keep their verdict (trusted or not) in the cache.
_CACHE_SIZE: Final = 4096


def _network(entry: object) -> _Network:
    if isinstance(entry, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return entry
    if isinstance(entry, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return ipaddress.ip_network(entry)
    if not isinstance(entry, str):
        raise TypeError(
            f"trusted= takes addresses and networks as str, e.g. '10.0.0.0/8' "
            f"or '::1'; got {entry!r}"
        )
    text = entry.strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    try:
        return ipaddress.ip_network(text)
    except ValueError as error:
        if "has host bits set" in str(error):
            near = ipaddress.ip_network(text, strict=False)
            raise ValueError(
                f"trusted entry {entry!r} has host bits set: write the network, "
                f"{str(near)!r}, or one address without the /length"
            ) from None
        raise ValueError(
            f"trusted entry {entry!r} is not an IPv4 or IPv6 address or network "
            "(CIDR such as '10.0.0.0/8' or 'fd00::/8'); names are not resolved"
        ) from None


def _address(text: str) -> _Address | None:
    """An address as a proxy writes it (``1.2.3.4``, ``1.2.3.4:80``, ``::1``,
    ``[::1]``, ``[::1]:80``), or None when it is not one."""
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or (end + 1 < len(text) and not _is_port(text[end + 1 :])):
            return None
        text = text[1:end]
    elif text.count(":") == 1:  # IPv4 with a port
        text, _, port = text.partition(":")
        if not _port_ok(port):
            return None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _is_port(text: str) -> bool:
    return text[:1] == ":" and _port_ok(text[1:])


def _port_ok(text: str) -> bool:
    """Whether ``text`` is a TCP port number, 1 to 65535."""
    return _PORT.match(text) is not None and 0 < int(text) < 65536


def _unquoted(value: str | None, quoted: str | None) -> str:
    if value is not None:
        return value
    assert quoted is not None  # the regular expression matched one of them
    return re.sub(r"\\(.)", r"\1", quoted)


def _split_elements(header: str) -> list[str]:
    """``Forwarded`` split at the commas outside quoted strings.

    A quote that is never closed is taken as a stray character of its
    element (which is then malformed), not as the start of a string that
    would swallow the elements a proxy appended after it.
    """
    elements: list[str] = []
    start = index = 0
    end = len(header)
    closes = True  # whether a closing quote may still come
    while index < end:
        char = header[index]
        if char == '"' and closes:
            close = _closing_quote(header, index + 1)
            if close < 0:
                closes = False  # no unescaped quote is left at all
            else:
                index = close
        elif char == ",":
            elements.append(header[start:index])
            start = index + 1
        index += 1
    elements.append(header[start:])
    return elements


def _closing_quote(header: str, index: int) -> int:
    """The index of the quote that closes a string starting at ``index``,
    or -1."""
    end = len(header)
    while index < end:
        char = header[index]
        if char == "\\":
            index += 2
            continue
        if char == '"':
            return index
        index += 1
    return -1


def _parse_element(element: str) -> dict[str, str] | None:
    """One ``Forwarded`` element as lower-case names and values; None when it
    is not valid RFC 7239 syntax or repeats a parameter."""
    params: dict[str, str] = {}
    position, end = 0, len(element)
    if not element.strip(" \t"):
        return None
    while True:
        match = _PAIR.match(element, position)
        if match is None:
            return None
        name = match.group(1).lower()
        if name in params:
            return None
        params[name] = _unquoted(match.group(2), match.group(3))
        position = match.end()
        if position == end:
            return params
        if element[position] != ";":
            return None
        position += 1


class _Hop:
    """What one proxy said about the hop before it."""

    __slots__ = ("host", "node", "port", "prefix", "proto", "remote_port")

    def __init__(self, node: str) -> None:
        self.node = node
        self.remote_port: str | None = None
        self.proto: str | None = None
        self.host: str | None = None
        self.port: str | None = None
        self.prefix: str | None = None


def _node(text: str) -> tuple[_Address | None, str, str | None] | None:
    """A ``for=`` node: (address or None, the node as the client's address,
    its numeric port or None); None when malformed."""
    port: str | None = None
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return None
        rest = text[end + 1 :]
        name = text[1:end]
        if rest:
            if rest[:1] != ":" or not (
                _port_ok(rest[1:]) or _OBFUSCATED.match(rest[1:])
            ):
                return None
            port = rest[1:] if rest[1:].isdigit() else None
        try:
            address = ipaddress.ip_address(name)
        except ValueError:
            return None
        if not isinstance(address, ipaddress.IPv6Address):
            return None  # RFC 7239: brackets are for IPv6 only
        if address.ipv4_mapped:
            mapped = address.ipv4_mapped
            return mapped, str(mapped), port
        return address, str(address), port
    name, colon, rest = text.partition(":")
    if colon:
        if not (_port_ok(rest) or _OBFUSCATED.match(rest)):
            return None
        port = rest if rest.isdigit() else None
    if name.lower() == "unknown":
        return None, "unknown", port
    if _OBFUSCATED.match(name):
        return None, name, port
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
    if not isinstance(address, ipaddress.IPv4Address):
        return None  # an IPv6 address must be quoted and in brackets
    return address, name, port


class ProxyHeaders:
    """Believe ``X-Forwarded-*`` or ``Forwarded`` only from trusted proxies.

    When ``REMOTE_ADDR`` lies in one of the ``trusted`` networks, the client
    is the rightmost address of X-Forwarded-For (or rightmost ``for=`` of
    Forwarded) that is not itself trusted; when every address is trusted, the
    leftmost. The scheme, host, port and prefix the same hop gave set
    ``wsgi.url_scheme``, ``HTTP_HOST``, ``SERVER_NAME``, ``SERVER_PORT`` and
    ``SCRIPT_NAME``; the values replaced are kept in
    ``environ["wsgimw.proxy.original"]``. From any other peer the request is
    passed on untouched. A malformed header is ignored (the peer stays the
    client); a malformed scheme, host, port or prefix alone is ignored.

    Args:
        trusted: the addresses and networks of your proxies, IPv4 and IPv6,
            e.g. ``["127.0.0.1", "10.0.0.0/8", "fd00::/8"]``. Required:
            nothing is trusted by default.
        headers: ``"x-forwarded"`` (X-Forwarded-For, -Proto, -Host, -Port and
            -Prefix) or ``"forwarded"`` (RFC 7239 ``for=``, ``proto=`` and
            ``host=``). Only the kind chosen is read.
    """

    __slots__ = ("_addresses", "_cache", "_forwarded", "_networks", "_shown")

    def __init__(
        self,
        *,
        trusted: Iterable[str | _Network | _Address] | None = None,
        headers: Literal["x-forwarded", "forwarded"] = "x-forwarded",
    ) -> None:
        if trusted is None:
            raise TypeError(
                "ProxyHeaders needs trusted=[...]: the addresses or networks of "
                "your proxies, e.g. trusted=['127.0.0.1', '10.0.0.0/8']. Nothing "
                "is trusted by default: anyone can send these headers"
            )
        if isinstance(trusted, (str, bytes)):
            raise TypeError(
                f"trusted= takes a list of addresses and networks, e.g. [{trusted!r}]"
            )
        networks = [_network(entry) for entry in trusted]
        if not networks:
            raise ValueError(
                "trusted=[] trusts no proxy, so ProxyHeaders would never act; "
                "list your proxies' addresses, e.g. trusted=['127.0.0.1']"
            )
        if headers not in ("x-forwarded", "forwarded"):
            raise ValueError(
                f"headers must be 'x-forwarded' (X-Forwarded-For and friends) or "
                f"'forwarded' (RFC 7239), got {headers!r}"
            )
        self._forwarded = headers == "forwarded"
        self._networks = tuple(networks)
        self._shown = (tuple(str(n) for n in networks), headers)
        # Single addresses, as a server writes REMOTE_ADDR: a set lookup.
        self._addresses = frozenset(
            str(n.network_address) for n in networks if n.num_addresses == 1
        )
        # REMOTE_ADDR -> trusted?, bounded: the peers of one server are few.
        self._cache: dict[str, bool] = {}

    def __repr__(self) -> str:
        trusted, headers = self._shown
        extra = "" if headers == "x-forwarded" else f", headers={headers!r}"
        return f"ProxyHeaders(trusted={list(trusted)!r}{extra})"

    def _trusted(self, address: _Address | None) -> bool:
        if address is None:
            return False
        return any(address in network for network in self._networks)

    def _peer_trusted(self, remote: str) -> bool:
        verdict = self._cache.get(remote)
        if verdict is None:
            verdict = remote in self._addresses or self._trusted(_address(remote))
            cache = self._cache
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[remote] = verdict
        return verdict

    def __call__(self, app: WSGIApp) -> WSGIApp:
        if not callable(app):
            raise TypeError(f"ProxyHeaders wraps a WSGI app (a callable), got {app!r}")
        peer_trusted = self._peer_trusted
        cache = self._cache
        hop = self._forwarded_hop if self._forwarded else self._x_forwarded_hop

        def proxy_headers_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            remote = environ.get("REMOTE_ADDR")
            verdict = cache.get(remote) if type(remote) is str else False
            if verdict is None:
                verdict = peer_trusted(remote)  # type: ignore[arg-type]
            if verdict and ORIGINAL_KEY not in environ:
                found = hop(environ)
                if found is not None:
                    _apply(environ, found)
            return app(environ, start_response)

        return proxy_headers_app

    # -- X-Forwarded-* ----------------------------------------------------------

    def _x_forwarded_hop(self, environ: Environ) -> _Hop | None:
        get = environ.get
        header = get("HTTP_X_FORWARDED_FOR")
        proto = get("HTTP_X_FORWARDED_PROTO")
        host = get("HTTP_X_FORWARDED_HOST")
        port = get("HTTP_X_FORWARDED_PORT")
        prefix = get("HTTP_X_FORWARDED_PREFIX")
        if not (header or proto or host or port or prefix):
            return None
        if header:
            entries = [entry.strip() for entry in str(header).split(",")]
            chosen = self._rightmost_untrusted([_address(entry) for entry in entries])
            if chosen is None:
                logger.debug("ignored a malformed X-Forwarded-For header")
                return None
            index, node = chosen
            right = len(entries) - 1 - index  # entries after the client's
            found = _Hop(node)
        else:
            right = 0
            found = _Hop("")
        found.proto = _pick(proto, right)
        found.host = _pick(host, right)
        found.port = _pick(port, right)
        found.prefix = _pick(prefix, right)
        return found

    def _rightmost_untrusted(
        self, hops: list[_Address | None]
    ) -> tuple[int, str] | None:
        """The index and address of the client among ``hops``, walking from
        the right; None when a hop read is malformed."""
        for index in range(len(hops) - 1, -1, -1):
            address = hops[index]
            if address is None:
                return None
            if not self._trusted(address):
                return index, str(address)
        return 0, str(hops[0])

    # -- Forwarded (RFC 7239) ---------------------------------------------------

    def _forwarded_hop(self, environ: Environ) -> _Hop | None:
        header = environ.get("HTTP_FORWARDED")
        if not header:
            return None
        elements = _split_elements(str(header))
        # Walk from the right; only the elements read must be well formed.
        chosen: tuple[dict[str, str], str, str | None] | None = None
        for element in reversed(elements):
            params = _parse_element(element)
            node = None if params is None else _node(params.get("for", ""))
            if params is None or node is None:
                logger.debug("ignored a malformed Forwarded header")
                return None
            address, text, port = node
            chosen = (params, text, port)
            if not self._trusted(address):
                break
        assert chosen is not None  # there is at least one element
        params, text, port = chosen
        found = _Hop(text)
        found.remote_port = port
        found.proto = params.get("proto")
        found.host = params.get("host")
        return found


def _pick(value: object, right: int) -> str | None:
    """The value of a list header for the hop with ``right`` entries after
    it, counting from the right; a shorter list gives its leftmost value."""
    if not value:
        return None
    values = str(value).split(",")
    index = max(len(values) - 1 - right, 0)
    return values[index].strip() or None


def _apply(environ: Environ, hop: _Hop) -> None:
    """Set the environ from ``hop``, keeping the originals."""
    original = {key: environ[key] for key in _CHANGED if key in environ}
    environ[ORIGINAL_KEY] = original
    if hop.node:
        environ["REMOTE_ADDR"] = hop.node
        if hop.remote_port is not None:
            environ["REMOTE_PORT"] = hop.remote_port
    scheme = environ.get("wsgi.url_scheme", "http")
    changed = False
    if hop.proto is not None:
        proto = hop.proto.lower()
        if proto in _DEFAULT_PORT:
            scheme = environ["wsgi.url_scheme"] = proto
            changed = True
        else:
            logger.debug("ignored a forwarded scheme that is not http or https")
    name = port = None
    if hop.host is not None:
        match = _HOST.match(hop.host)
        if match is not None and _valid_host(match.group("name"), match.group("port")):
            name, port = match.group("name"), match.group("port")
        else:
            logger.debug("ignored a malformed forwarded host")
    if hop.port is not None:
        if _port_ok(hop.port):
            port = port or hop.port
        else:
            logger.debug("ignored a malformed X-Forwarded-Port")
    if name is not None or port is not None:
        if name is None:
            name = _host_name(str(environ.get("HTTP_HOST") or "")) or environ.get(
                "SERVER_NAME", ""
            )
        default = _DEFAULT_PORT.get(scheme)
        shown = name if port is None or port == default else f"{name}:{port}"
        environ["HTTP_HOST"] = shown
        changed = True
    if changed:
        _server_name_and_port(environ, scheme)
    if hop.prefix is not None:
        prefix = hop.prefix
        if (
            _PREFIX.match(prefix)
            and "/../" not in prefix + "/"
            and "/./" not in prefix + "/"
        ):
            raw = unquote_to_bytes(prefix.rstrip("/"))
            environ["SCRIPT_NAME"] = raw.decode("latin-1") + environ.get(
                "SCRIPT_NAME", ""
            )
        else:
            logger.debug("ignored a malformed X-Forwarded-Prefix")


def _valid_host(name: str, port: str | None) -> bool:
    if port is not None and not 0 < int(port) < 65536:
        return False
    if name.startswith("["):
        try:
            ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            return False
    return True


def _host_name(host: str) -> str:
    """The name part of a Host value (brackets kept for IPv6)."""
    match = _HOST.match(host)
    return "" if match is None else match.group("name")


def _server_name_and_port(environ: Environ, scheme: str) -> None:
    """SERVER_NAME and SERVER_PORT from the Host now in the environ."""
    default = _DEFAULT_PORT.get(scheme, "80")
    match = _HOST.match(str(environ.get("HTTP_HOST") or ""))
    if match is None:
        environ["SERVER_PORT"] = default
        return
    environ["SERVER_NAME"] = match.group("name")
    environ["SERVER_PORT"] = match.group("port") or default
