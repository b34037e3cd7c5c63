"""TrustedHost and HTTPSRedirect: the Host and the scheme a request may use.

Both read the environ as `ProxyHeaders` leaves it, so behind a trusted proxy
they see the host and scheme the client used, not those of the inner hop:
put `ProxyHeaders` outside them.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable
from typing import Final
from urllib.parse import quote_from_bytes

from ._response import plain_response
from .types import Environ, StartResponse, WSGIApp

__all__ = ["HTTPSRedirect", "TrustedHost", "parse_host"]

logger = logging.getLogger("wsgimw.hosts")

# A Host value, lower-cased: a registered name (letters, digits, '-', '_',
# '.') or an IPv6 literal in brackets, then an optional port.
_HOST = re.compile(
    r"(?P<name>[a-z0-9_][a-z0-9_.-]*|\[[0-9a-f:.]+\])(?::(?P<port>[0-9]{0,5}))?\Z"
)
_MAX_HOST: Final = 255 + 6  # a name of 253, brackets, a port
_DEFAULT_PORT: Final = {"http": 80, "https": 443}
_CACHE_SIZE: Final = 1024
_BAD_HOST: Final = "invalid Host header\n"
_QUERY_UNSAFE = re.compile(r"[^\x21-\x7e]")
_PATH_SAFE: Final = "/!$&'()*+,;=:@-._~"


def parse_host(value: str) -> tuple[str, int | None] | None:
    """A Host header value as (name, port), or None when it is malformed.

    The name is lower-cased without a trailing dot; an IPv6 literal keeps
    its brackets, in its compressed form (``[::1]``). The port is None when
    the value has none (or an empty one).
    """
    if len(value) > _MAX_HOST or not value.isascii():
        return None
    match = _HOST.match(value.lower())
    if match is None:
        return None
    name, port_text = match.group("name"), match.group("port")
    port = None
    if port_text:
        port = int(port_text)
        if not 0 < port < 65536:
            return None
    if name.startswith("["):
        try:
            address = ipaddress.IPv6Address(name[1:-1])
        except ValueError:
            return None
        return f"[{address.compressed}]", port
    if name.endswith("."):
        name = name[:-1]
    if not name or len(name) > 253 or ".." in name or name.startswith("."):
        return None
    return name, port


def _entry(entry: object) -> tuple[str, int | None, bool]:
    """One ``hosts=`` entry as (name or suffix, port, is a wildcard)."""
    if not isinstance(entry, str):
        raise TypeError(f"hosts= takes host names as str, got {entry!r}")
    text = entry.strip()
    if "://" in text or "/" in text:
        raise ValueError(
            f"hosts entry {entry!r} looks like a URL; write only the host, "
            "e.g. 'example.com' or 'example.com:8443'"
        )
    if text == "*":
        return "", None, True
    wildcard = text.startswith("*.")
    rest = text[2:] if wildcard else text
    if "*" in rest:
        raise ValueError(
            f"hosts entry {entry!r}: '*' may only start an entry, as in "
            "'*.example.com' (every subdomain), or stand alone ('*', any host)"
        )
    if rest.count(":") > 1 and not rest.startswith("["):
        raise ValueError(
            f"hosts entry {entry!r}: write an IPv6 address in brackets, as a "
            f"Host header does: '[{rest}]'"
        )
    parsed = parse_host(rest)
    if parsed is None or (wildcard and rest.startswith("[")):
        raise ValueError(
            f"hosts entry {entry!r} is not a host name, an IPv4 address or a "
            "bracketed IPv6 address, with an optional :port"
        )
    name, port = parsed
    if rest.rstrip(".").endswith(":"):
        raise ValueError(f"hosts entry {entry!r} has an empty port")
    return ("." + name if wildcard else name), port, wildcard


class TrustedHost:
    """Answer 400 to a request whose Host is not one of ``hosts``.

    Args:
        hosts: the names the site answers to. ``"example.com"`` matches that
            name on any port; ``"example.com:8443"`` only on that port (a
            Host without a port has the scheme's default, 80 or 443).
            ``"*.example.com"`` matches every subdomain of example.com, but
            not example.com itself, ``evil-example.com`` or
            ``example.com.evil.io``. IPv4 addresses as they are, IPv6 in
            brackets (``"[::1]"``, ``"[::1]:8000"``). ``"*"`` alone accepts
            any well-formed Host. Names are compared without case.

    A malformed Host, a Host not listed and, on HTTP/1.1, a missing Host get
    a short ``400 Bad Request``; an HTTP/1.0 request without a Host passes.
    """

    __slots__ = ("_any", "_cache", "_exact", "_fast", "_shown", "_wildcards")

    def __init__(self, *, hosts: Iterable[str] | None = None) -> None:
        if hosts is None:
            raise TypeError(
                "TrustedHost needs hosts=[...]: the names your site answers to, "
                "e.g. hosts=['example.com', '*.example.com']"
            )
        if isinstance(hosts, (str, bytes)):
            raise TypeError(f"hosts= takes a list of host names, e.g. [{hosts!r}]")
        shown = list(hosts)
        entries = [_entry(entry) for entry in shown]
        if not entries:
            raise ValueError(
                "hosts=[] would refuse every request; list the names your site "
                "answers to, or use ['*'] to accept any well-formed Host"
            )
        self._shown = tuple(shown)
        self._any = any(wild and not name for name, _, wild in entries)
        exact: dict[str, set[int] | None] = {}
        for name, port, wild in entries:
            if wild:
                continue
            if port is None:
                exact[name] = None
            elif exact.get(name, set()) is not None:
                exact.setdefault(name, set()).add(port)  # type: ignore[union-attr]
        self._exact = exact
        self._wildcards = tuple(
            (name, port) for name, port, wild in entries if wild and name
        )
        # Host values that pass whatever the scheme, as clients send them.
        self._fast = frozenset(name for name, ports in exact.items() if ports is None)
        self._cache: dict[tuple[str, str], bool] = {}

    def __repr__(self) -> str:
        return f"TrustedHost(hosts={list(self._shown)!r})"

    def allowed(self, host: str, scheme: str = "http") -> bool:
        """Whether a request with this Host value (and scheme) may pass."""
        parsed = parse_host(host)
        if parsed is None:
            return False
        if self._any:
            return True
        name, port = parsed
        effective = port if port is not None else _DEFAULT_PORT.get(scheme, 80)
        if name in self._exact:
            ports = self._exact[name]
            if ports is None or effective in ports:
                return True
        for suffix, wanted in self._wildcards:
            if (
                name.endswith(suffix)
                and len(name) > len(suffix)
                and (wanted is None or wanted == effective)
            ):
                return True
        return False

    def _check(self, host: str, scheme: str) -> bool:
        """`allowed`, remembered (bounded) for values a Host can hold."""
        verdict = self.allowed(host, scheme)
        if len(host) <= _MAX_HOST:  # longer ones are refused unparsed anyway
            cache = self._cache
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[host, scheme] = verdict
        return verdict

    def __call__(self, app: WSGIApp) -> WSGIApp:
        if not callable(app):
            raise TypeError(f"TrustedHost wraps a WSGI app (a callable), got {app!r}")
        fast = self._fast
        check = self._check
        cached = self._cache.get

        def trusted_host_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            host = environ.get("HTTP_HOST")
            if host in fast:
                return app(environ, start_response)
            if host is None:
                if environ.get("SERVER_PROTOCOL") == "HTTP/1.0":
                    return app(environ, start_response)
                logger.debug("refused a request without a Host header")
                return _bad_host(environ, start_response)
            if type(host) is str:
                scheme = environ.get("wsgi.url_scheme", "")
                verdict = cached((host, scheme))
                if verdict is None:
                    verdict = check(host, scheme)
                if verdict:
                    return app(environ, start_response)
            logger.debug("refused Host %.100r", host)
            return _bad_host(environ, start_response)

        return trusted_host_app


def _bad_host(environ: Environ, start_response: StartResponse) -> list[bytes]:
    return plain_response(environ, start_response, "400 Bad Request", _BAD_HOST)


def _exempt_path(path: object) -> str:
    if not isinstance(path, str):
        raise TypeError(f"exempt= takes paths as str, e.g. '/healthz'; got {path!r}")
    if not path.startswith("/"):
        raise ValueError(f"exempt path {path!r} must start with '/', e.g. '/healthz'")
    if "*" in path or "?" in path:
        raise ValueError(
            f"exempt path {path!r}: write a plain path; each one exempts itself "
            "and everything under it (on whole segments), no patterns"
        )
    return path.rstrip("/")


class HTTPSRedirect:
    """Redirect plain-http requests to the same URL on https.

    GET and HEAD get ``301 Moved Permanently``, other methods ``308
    Permanent Redirect`` (a POST stays a POST), to the same host, path and
    query on https. The scheme is read from ``wsgi.url_scheme``, which
    `ProxyHeaders` sets from the proxy's X-Forwarded-Proto, so behind a
    proxy that terminates TLS there is no redirect loop.

    Args:
        exempt: paths served over http too, each with everything under it on
            whole segments (``"/healthz"`` exempts ``/healthz`` and
            ``/healthz/db``, not ``/healthzz``); a path with a ``..``
            segment is never exempt.
        port: the https port to redirect to, when it is not the one the
            request used. By default the Host's port is kept, except 80 and
            443, which are dropped.
    """

    __slots__ = ("_exempt", "_port", "_shown")

    def __init__(self, *, exempt: Iterable[str] = (), port: int | None = None) -> None:
        if isinstance(exempt, (str, bytes)):
            raise TypeError(f"exempt= takes a list of paths, e.g. [{exempt!r}]")
        shown = list(exempt)
        self._exempt = tuple(_exempt_path(path) for path in shown)
        if port is not None and (
            isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536
        ):
            raise ValueError(
                f"port must be a TCP port (1 to 65535) or None, got {port!r}"
            )
        self._port = port
        self._shown = tuple(shown)

    def __repr__(self) -> str:
        parts = []
        if self._shown:
            parts.append(f"exempt={list(self._shown)!r}")
        if self._port is not None:
            parts.append(f"port={self._port}")
        return f"HTTPSRedirect({', '.join(parts)})"

    def exempts(self, path: str) -> bool:
        """Whether ``path`` (SCRIPT_NAME + PATH_INFO) is served over http."""
        if not self._exempt or "/.." in path:
            return False
        return any(path == e or path.startswith(e + "/") for e in self._exempt)

    def location(self, environ: Environ) -> str | None:
        """The https URL for this request, or None when its Host is malformed."""
        host = environ.get("HTTP_HOST")
        if host is None:
            host = str(environ.get("SERVER_NAME", ""))
            server_port = str(environ.get("SERVER_PORT", ""))
            if server_port and server_port != "80":
                host = f"{host}:{server_port}"
        parsed = parse_host(str(host))
        if parsed is None:
            return None
        name, port = parsed
        if self._port is not None:
            port = self._port
        netloc = name if port in (None, 80, 443) else f"{name}:{port}"
        raw_path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
        path = quote_from_bytes(_as_bytes(raw_path), safe=_PATH_SAFE) or "/"
        query = str(environ.get("QUERY_STRING") or "")
        if query:
            query = "?" + _QUERY_UNSAFE.sub(_escape_byte, _as_latin1(query))
        return f"https://{netloc}{path}{query}"

    def __call__(self, app: WSGIApp) -> WSGIApp:
        if not callable(app):
            raise TypeError(f"HTTPSRedirect wraps a WSGI app (a callable), got {app!r}")
        exempt = self._exempt
        exempts = self.exempts
        location = self.location

        def https_redirect_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            if environ.get("wsgi.url_scheme") == "https":
                return app(environ, start_response)
            if exempt and exempts(
                environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
            ):
                return app(environ, start_response)
            target = location(environ)
            if target is None:
                logger.debug("refused Host %.100r", environ.get("HTTP_HOST"))
                return _bad_host(environ, start_response)
            method = environ.get("REQUEST_METHOD")
            status = (
                "301 Moved Permanently"
                if method in ("GET", "HEAD")
                else "308 Permanent Redirect"
            )
            return plain_response(
                environ,
                start_response,
                status,
                f"Redirecting to {target}\n",
                [("Location", target)],
            )

        return https_redirect_app


def _as_latin1(text: str) -> str:
    """PEP 3333 text, one character per byte, whatever the server did."""
    try:
        text.encode("latin-1")
    except UnicodeEncodeError:
        try:
            raw = text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "surrogatepass")
        return raw.decode("latin-1")
    return text


def _as_bytes(text: str) -> bytes:
    return _as_latin1(text).encode("latin-1")


def _escape_byte(match: re.Match[str]) -> str:
    return f"%{ord(match.group()):02X}"
