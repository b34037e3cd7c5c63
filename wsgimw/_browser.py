"""Helpers shared by SecurityHeaders, CORS and CrossOriginGuard: merging
Vary, reading origins and matching configured path prefixes.

Vary is merged as `wsgimw.compress` merges Accept-Encoding: a field is
never listed twice across every Vary header, never beside ``*``, and the
app's Vary header is extended in place rather than repeated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from .types import Environ, Headers

#: A serialized origin as browsers send it: scheme, host (a name, an IPv4
#: address or a bracketed IPv6 one) and an optional port. Nothing else: no
#: path, user, control character or space can pass.
ORIGIN: Final = re.compile(
    r"(?P<scheme>[a-z][a-z0-9+.\-]*)://"
    r"(?P<host>[a-z0-9\-._~]+|\[[0-9a-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?\Z"
)
CONTROL: Final = re.compile(r"[\x00-\x1f\x7f]")
DEFAULT_PORTS: Final = {"http": "80", "https": "443"}


def merge_vary(headers: Headers, fields: tuple[str, ...]) -> Headers:
    """``headers`` with each of ``fields`` in Vary: never twice (across every
    Vary header), never beside ``*``. ``headers`` itself when nothing is
    missing, otherwise a copy."""
    first = None
    present: set[str] = set()
    for index, (name, value) in enumerate(headers):
        if name.lower() != "vary":
            continue
        for field in value.split(","):
            present.add(field.strip().lower())
        if first is None:
            first = index
    if "*" in present:
        return headers
    missing = [field for field in fields if field.lower() not in present]
    if not missing:
        return headers
    added = ", ".join(missing)
    if first is None:
        return [*headers, ("Vary", added)]
    headers = list(headers)
    name, value = headers[first]
    headers[first] = (name, f"{value}, {added}" if value.strip() else added)
    return headers


def check_origin(origin: object, option: str) -> str:
    """A configured origin, lower-cased: ``scheme://host[:port]`` and no
    more (browsers send no path, not even ``/``)."""
    if not isinstance(origin, str):
        raise TypeError(f"{option} must hold origins as str, got {origin!r}")
    lowered = origin.lower()
    if lowered == "null":
        raise ValueError(
            f"{option} must not hold 'null': sandboxed frames, file: pages and "
            "redirects all send it, so trusting it trusts any of them"
        )
    match = ORIGIN.match(lowered)
    if match is None:
        hint = lowered.rstrip("/")
        fix = (
            f"write {hint!r} (an origin has no path, not even '/')"
            if ORIGIN.match(hint)
            else "write scheme://host or scheme://host:port, e.g. 'https://example.com'"
        )
        raise ValueError(f"{option} holds {origin!r}, which is not an origin: {fix}")
    if DEFAULT_PORTS.get(match["scheme"]) == match["port"]:
        raise ValueError(
            f"{option} holds {origin!r}: browsers leave the default port out of "
            f"the Origin header; write {match['scheme']}://{match['host']}"
        )
    return lowered


def request_host(environ: Environ) -> str:
    """The host the client asked for, as Go's ``Request.Host``: the Host
    header, else SERVER_NAME and a non-default SERVER_PORT; lower-cased."""
    host = environ.get("HTTP_HOST")
    if host:
        return str(host).lower()
    name = str(environ.get("SERVER_NAME", "")).lower()
    port = str(environ.get("SERVER_PORT", ""))
    scheme = environ.get("wsgi.url_scheme", "http")
    if port and DEFAULT_PORTS.get(scheme) != port:
        return f"{name}:{port}"
    return name


def check_prefixes(paths: Iterable[str] | None, option: str) -> tuple[str, ...]:
    """Configured path prefixes, each matched on whole segments. Paths are
    compared with PATH_INFO as the server decoded it, once, and case
    sensitively: ``/API`` is not ``/api`` (flask-cors CVE-2024-6866)."""
    if paths is None:
        return ()
    if isinstance(paths, str):
        raise TypeError(f"{option} takes a list of paths, e.g. {option}=[{paths!r}]")
    prefixes: list[str] = []
    for path in paths:
        if not isinstance(path, str):
            raise TypeError(f"{option} paths must be str, got {path!r}")
        if not path.startswith("/"):
            raise ValueError(f"{option} paths must start with '/', got {path!r}")
        if re.search(r"[?#%*\\]|[\x00-\x1f\x7f]", path):
            raise ValueError(
                f"{option} path {path!r} must be a plain decoded path prefix: "
                "no '%' escape (write '/café', the server decodes PATH_INFO "
                "once), no '?', and no '*' or pattern (a prefix covers "
                "everything under it)"
            )
        segments = [s for s in path.split("/") if s]
        if "." in segments or ".." in segments:
            raise ValueError(f"{option} path {path!r} must not hold '.' or '..'")
        if not segments:
            raise ValueError(
                f"{option}={path!r} matches every path; leave {option} out instead"
            )
        native = "/" + "/".join(segments)
        prefixes.append(native.encode("utf-8").decode("latin-1"))
    return tuple(dict.fromkeys(prefixes))


def under(path: str, prefixes: tuple[str, ...]) -> bool:
    """Whether ``path`` (PATH_INFO, decoded once) is one of ``prefixes`` or
    below one, on a segment boundary. A path with an empty, ``.`` or ``..``
    segment, or a backslash, matches nothing: an app may resolve it
    elsewhere."""
    if "//" in path or "/." in path or "\\" in path:
        segments = path.replace("\\", "/").split("/")
        if ".." in segments or "." in segments:
            return False
        path = "/" + "/".join(s for s in segments if s)
    return any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)
