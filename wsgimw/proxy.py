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
from typing import Final, Literal, TypeVar
from urllib.parse import unquote_to_bytes

from .types import Environ, StartResponse, WSGIApp

__all__ = ["ORIGINAL_KEY", "ProxyHeaders"]

logger = logging.getLogger("wsgimw.proxy")

#: Where `ProxyHeaders` keeps the values it replaced.
ORIGINAL_KEY: Final = "wsgimw.proxy.original"

_T = TypeVar("_T")
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


#: What one proxy said about the hop before it: the client's address (""
#: when the header named none), its port, and the scheme, host, port and
#: prefix the client used.
_Hop = tuple[str, str | None, str | None, str | None, str | None, str | None]


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
        # No ':' is left in the name: only an IPv4 address can parse (an
        # IPv6 one must be quoted and in brackets).
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
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

    __slots__ = (
        "_addresses",
        "_cache",
        "_clients",
        "_entries",
        "_forwarded",
        "_hops",
        "_networks",
        "_shown",
    )

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
        # X-Forwarded-For entry -> (address text or None, trusted?), bounded.
        self._entries: dict[str, tuple[str | None, bool]] = {}
        # Whole header values -> what they say, bounded: a client sends the
        # same header on every request, and a proxy appends the same address.
        self._clients: dict[str, tuple[str | None, int]] = {}
        self._hops: dict[str, _Hop | None] = {}

    def __repr__(self) -> str:
        trusted, headers = self._shown
        extra = "" if headers == "x-forwarded" else f", headers={headers!r}"
        return f"ProxyHeaders(trusted={list(trusted)!r}{extra})"

    def _trusted(self, address: _Address | None) -> bool:
        if address is None:
            return False
        return any(address in network for network in self._networks)

    def _peer_trusted(self, remote: str) -> bool:
        """Whether a peer not in the cache is trusted; now cached."""
        verdict = remote in self._addresses or self._trusted(_address(remote))
        cache = self._cache
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        cache[remote] = verdict
        return verdict

    def _classify(self, text: str) -> tuple[str | None, bool]:
        """An X-Forwarded-For entry as (the address as text, or None when it
        is not one; whether it is trusted), cached: the same clients and
        proxies come back again and again."""
        found = self._entries.get(text)
        if found is None:
            address = _address(text)
            found = (
                (None, False)
                if address is None
                else (
                    str(address),
                    self._trusted(address),
                )
            )
            entries = self._entries
            if len(entries) >= _CACHE_SIZE or len(text) > 64:
                if len(text) > 64:  # no address is that long: never kept
                    return found
                entries.clear()
            entries[text] = found
        return found

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
        node: str | None = ""
        right = 0  # entries after the client's
        if header:
            client = self._clients.get(header)
            if client is None:
                client = self._client(str(header))
            node, right = client
            if node is None:
                return None
        return (
            node or "",
            None,
            _pick(proto, right),
            _pick(host, right),
            _pick(port, right),
            _pick(prefix, right),
        )

    def _client(self, header: str) -> tuple[str | None, int]:
        """The client's address in X-Forwarded-For and the number of entries
        after it; (None, 0) when an entry read is malformed. Cached for
        headers no longer than _CACHED_HEADER."""
        classify = self._classify
        entries = header.split(",")
        index = len(entries) - 1
        while True:
            node, trusted = classify(entries[index].strip())
            if node is None:
                logger.debug("ignored a malformed X-Forwarded-For header")
                break
            if not trusted or index == 0:
                break  # the client: untrusted, or the leftmost
            index -= 1
        found = (node, len(entries) - 1 - index)
        _keep(self._clients, header, found)
        return found

    # -- Forwarded (RFC 7239) ---------------------------------------------------

    def _forwarded_hop(self, environ: Environ) -> _Hop | None:
        header = environ.get("HTTP_FORWARDED")
        if not header:
            return None
        hops = self._hops
        if header in hops:
            return hops[header]
        found = self._parse_forwarded(str(header))
        _keep(hops, header, found)
        return found

    def _parse_forwarded(self, header: str) -> _Hop | None:
        elements = _split_elements(header)
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
        return (text, port, params.get("proto"), params.get("host"), None, None)


#: The longest header value whose reading is cached.
_CACHED_HEADER: Final = 512


def _keep(cache: dict[str, _T], key: str, value: _T) -> None:
    """Keep ``value`` in a bounded cache, unless ``key`` is long."""
    if len(key) <= _CACHED_HEADER:
        if len(cache) >= _CACHE_SIZE:
            cache.clear()
        cache[key] = value


def _pick(value: object, right: int) -> str | None:
    """The value of a list header for the hop with ``right`` entries after
    it, counting from the right; a shorter list gives its leftmost value."""
    if not value:
        return None
    text = str(value)
    if "," not in text:
        return text.strip() or None
    values = text.split(",")
    index = max(len(values) - 1 - right, 0)
    return values[index].strip() or None


_HOSTS: dict[str, tuple[str, str | None] | None] = {}


def _host_parts(host: str) -> tuple[str, str | None] | None:
    """A host value as (name, port or None), or None when malformed; cached
    (bounded): a site has few names."""
    found = _HOSTS.get(host, False)
    if found is False:
        match = _HOST.match(host)
        found = None
        if match is not None:
            name, port = match.group("name"), match.group("port")
            if (port is None or _port_ok(port)) and _valid_name(name):
                found = (name, port)
        if len(host) <= 260:
            if len(_HOSTS) >= _CACHE_SIZE:
                _HOSTS.clear()
            _HOSTS[host] = found
    return found  # type: ignore[return-value]


def _valid_name(name: str) -> bool:
    if name.startswith("["):
        try:
            ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            return False
    return True


def _apply(environ: Environ, hop: _Hop) -> None:
    """Set the environ from ``hop``, keeping the originals."""
    node, remote_port, proto, host, port, prefix = hop
    changes: dict[str, str] = {}
    if node:
        changes["REMOTE_ADDR"] = node
        if remote_port is not None:
            changes["REMOTE_PORT"] = remote_port
    scheme = environ.get("wsgi.url_scheme", "http")
    recompute = False
    if proto is not None:
        proto = proto.lower()
        if proto == "https" or proto == "http":
            scheme = changes["wsgi.url_scheme"] = proto
            recompute = True
        else:
            logger.debug("ignored a forwarded scheme that is not http or https")
    name = given_port = None
    if host is not None:
        parts = _host_parts(host)
        if parts is None:
            logger.debug("ignored a malformed forwarded host")
        else:
            name, given_port = parts
    if port is not None:
        if _port_ok(port):
            given_port = given_port or port
        else:
            logger.debug("ignored a malformed X-Forwarded-Port")
    default = _DEFAULT_PORT.get(scheme, "80")
    if name is not None or given_port is not None:
        if name is None:
            current = _host_parts(str(environ.get("HTTP_HOST") or ""))
            name = current[0] if current else str(environ.get("SERVER_NAME", ""))
        changes["HTTP_HOST"] = (
            name
            if given_port is None or given_port == default
            else f"{name}:{given_port}"
        )
        changes["SERVER_NAME"] = name
        changes["SERVER_PORT"] = given_port or default
    elif recompute:
        current = _host_parts(str(environ.get("HTTP_HOST") or ""))
        if current is not None:
            changes["SERVER_NAME"] = current[0]
        changes["SERVER_PORT"] = (current and current[1]) or default
    if prefix is not None:
        if _PREFIX.match(prefix) and "/.." not in prefix and "/./" not in prefix + "/":
            raw = unquote_to_bytes(prefix.rstrip("/"))
            changes["SCRIPT_NAME"] = raw.decode("latin-1") + environ.get(
                "SCRIPT_NAME", ""
            )
        else:
            logger.debug("ignored a malformed X-Forwarded-Prefix")
    environ[ORIGINAL_KEY] = {key: environ[key] for key in changes if key in environ}
    environ.update(changes)
