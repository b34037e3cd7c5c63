"""Mount: send the requests under a path prefix to another WSGI app.

``Mount("/api", api_app)(site)`` sends ``/api`` and ``/api/...`` (never
``/apix``) to ``api_app``, with the prefix moved from PATH_INFO to the end of
SCRIPT_NAME, and every other request to ``site``. Given a mapping, one Mount
is a URL map that tries the longest prefix first, as Paste's ``urlmap``
does; single mounts also compose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Final
from urllib.parse import quote

from ._options import flag
from ._response import plain_response
from .types import Environ, StartResponse, WSGIApp

__all__ = ["Mount", "check_prefix"]

_PLAIN_PATH: Final = re.compile(r"(?:/[^/\x00-\x20\x7f?#\\]+)+\Z")


def check_prefix(prefix: object) -> str:
    """A mount prefix as Mount keeps it: ``/a/b``, no trailing slash
    (``/a/b/`` is taken as ``/a/b``). Raises ValueError or TypeError with
    what to write instead."""
    if not isinstance(prefix, str):
        raise TypeError(f"a mount prefix is a str such as '/api', got {prefix!r}")
    trimmed = prefix.rstrip("/") if prefix != "/" else prefix
    if trimmed == "/" or not trimmed:
        raise ValueError(
            "a mount prefix of '/' would take every request: wrap the app "
            "itself instead (Mount's wrapped app is the one for everything else)"
        )
    if not _PLAIN_PATH.match(trimmed) or any(
        segment in (".", "..") for segment in trimmed.split("/")
    ):
        raise ValueError(
            f"a mount prefix is a plain URL path such as '/api' or '/api/v2' "
            f"(no empty or dot segments, spaces, '?', '#' or backslashes); got {prefix!r}"
        )
    return trimmed


class Mount:
    """Send requests under ``prefix`` to ``app``; all others go on.

    ``Mount("/api", api)`` or ``Mount({"/api": api, "/api/v2": v2})``; the
    result wraps the app for every other path: ``Mount(...)(site)``.

    A request matches a prefix on a segment boundary: ``/api`` and
    ``/api/users`` match ``/api``, ``/apix`` does not. The mounted app gets
    SCRIPT_NAME + the prefix as SCRIPT_NAME and the rest of the path as
    PATH_INFO (``""`` for ``/api`` itself). With several prefixes, the
    longest that matches wins, whatever the order they were given in.

    Args:
        redirect_slash: answer ``/api`` (the prefix exactly, no slash after
            it) with a redirect to ``/api/`` (301 for GET and HEAD, 308
            otherwise), as a directory is; by default it goes to the mounted
            app with an empty PATH_INFO.
    """

    __slots__ = ("_mounts", "_redirect_slash")

    def __init__(
        self,
        prefix: str | Mapping[str, WSGIApp],
        app: WSGIApp | None = None,
        /,
        *,
        redirect_slash: bool = False,
    ) -> None:
        if isinstance(prefix, Mapping):
            if app is not None:
                raise TypeError(
                    "Mount takes a prefix and an app, or one mapping of "
                    "prefixes to apps; not a mapping and an app"
                )
            given = dict(prefix)
            if not given:
                raise ValueError("Mount got an empty mapping: nothing to mount")
        else:
            if app is None:
                raise TypeError("Mount needs the app to mount: Mount('/api', api_app)")
            given = {prefix: app}
        mounts: dict[str, WSGIApp] = {}
        for key, mounted in given.items():
            trimmed = check_prefix(key)
            if not callable(mounted):
                raise TypeError(
                    f"the app mounted at {key!r} must be a WSGI app (a callable), "
                    f"got {mounted!r}"
                )
            if trimmed in mounts:
                raise ValueError(f"two mounts at {trimmed!r}")
            mounts[trimmed] = mounted
        # Longest first: the first that matches is the most specific.
        self._mounts = tuple(
            sorted(mounts.items(), key=lambda item: len(item[0]), reverse=True)
        )
        self._redirect_slash = flag("redirect_slash", redirect_slash)

    @property
    def prefixes(self) -> list[str]:
        """The prefixes, in the order they are tried (longest first)."""
        return [prefix for prefix, _ in self._mounts]

    def __repr__(self) -> str:
        shown = ", ".join(f"{prefix!r}: {app!r}" for prefix, app in self._mounts)
        extra = ", redirect_slash=True" if self._redirect_slash else ""
        return f"Mount({{{shown}}}{extra})"

    def __call__(self, app: WSGIApp) -> WSGIApp:
        if not callable(app):
            raise TypeError(f"Mount wraps a WSGI app (a callable), got {app!r}")
        mounts = self._mounts
        redirect_slash = self._redirect_slash

        def mount_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            path = environ.get("PATH_INFO") or ""
            for prefix, mounted in mounts:
                if not path.startswith(prefix):
                    continue
                rest = path[len(prefix) :]
                if rest and rest[0] != "/":
                    continue  # /apix is not under /api
                if not rest and redirect_slash:
                    return _redirect(environ, start_response, prefix)
                environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + prefix
                environ["PATH_INFO"] = rest
                return mounted(environ, start_response)
            return app(environ, start_response)

        return mount_app


def _redirect(
    environ: Environ, start_response: StartResponse, prefix: str
) -> list[bytes]:
    # A relative reference is enough (RFC 9110 §10.2.2): no Host to trust.
    path = environ.get("SCRIPT_NAME", "") + prefix + "/"
    location = quote(_raw(path), safe="/:@!$&'()*+,;=-._~")
    # Never "//host/...": a browser would read it as another site.
    location = "/" + location.lstrip("/")
    query = environ.get("QUERY_STRING")
    if query:
        location += "?" + quote(_raw(query), safe="/:@!$&'()*+,;=-._~?%")
    method = environ.get("REQUEST_METHOD")
    status = (
        "301 Moved Permanently"
        if method in ("GET", "HEAD")
        else "308 Permanent Redirect"
    )
    return plain_response(
        environ, start_response, status, f"see {location}\n", [("Location", location)]
    )


def _raw(text: str) -> bytes:
    """The bytes a PEP 3333 string holds (latin-1), whatever the server did."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogatepass")
