"""CrossOriginGuard: CSRF protection without tokens, as Go 1.25's
``http.CrossOriginProtection`` does it.

Browsers say where a request comes from: ``Sec-Fetch-Site`` (every browser
since 2023) and, on older ones, ``Origin``. The guard reads them:

1. GET, HEAD and OPTIONS pass: they must not change anything.
2. ``Sec-Fetch-Site: same-origin`` or ``none`` (the user typed the URL or
   used a bookmark) passes; any other value (``same-site``, ``cross-site``)
   is refused with 403 unless the Origin is trusted or the path exempt.
3. Without Sec-Fetch-Site: no Origin passes (not a browser, or a very old
   one); an Origin whose host is the request's Host passes; any other is
   refused unless trusted or exempt.

The guard only refuses. It marks nothing in the environ, so an app's own
checks (a CSRF token, an auth check) still run: a request the guard lets
through is not thereby "safe" (the Echo framework's GHSA-9fhj-f35q-w532 was
a Sec-Fetch-Site header that made its CSRF middleware skip the token).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Final

from ._browser import (
    DEFAULT_PORTS,
    ORIGIN,
    check_origin,
    check_prefixes,
    request_host,
    under,
)
from ._options import flag, logger_option
from ._response import plain_response
from .types import Environ, StartResponse, WSGIApp

__all__ = ["CrossOriginGuard"]

_SAFE: Final = frozenset({"GET", "HEAD", "OPTIONS"})
_MESSAGE: Final = (
    "cross-origin request refused: this site does not accept {what} from other sites\n"
)


class CrossOriginGuard:
    """Refuse (403) unsafe requests a browser sends from another origin.

    Args:
        trusted_origins: origins whose requests pass, e.g.
            ``["https://sso.example.com"]`` (exact ``scheme://host[:port]``).
        exempt: path prefixes never checked, e.g. ``["/webhooks"]``
            (whole segments, case sensitive, PATH_INFO as decoded).
        report_only: log what would be refused (WARNING) and let it pass,
            to try the guard on a live site first.
        logger: default ``logging.getLogger("wsgimw.csrf")``.
    """

    __slots__ = ("_exempt", "_logger", "_report_only", "_shown", "_trusted")

    def __init__(
        self,
        *,
        trusted_origins: Iterable[str] = (),
        exempt: Iterable[str] = (),
        report_only: bool = False,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
    ) -> None:
        if isinstance(trusted_origins, str):
            raise TypeError(
                f"trusted_origins takes a list, e.g. trusted_origins=[{trusted_origins!r}]"
            )
        self._trusted = frozenset(
            check_origin(origin, "trusted_origins") for origin in trusted_origins
        )
        self._exempt = check_prefixes(exempt, "exempt")
        self._report_only = flag("report_only", report_only)
        self._logger = logger_option("logger", logger, "wsgimw.csrf")
        shown = []
        if self._trusted:
            shown.append(f"trusted_origins={sorted(self._trusted)!r}")
        if self._exempt:
            shown.append(f"exempt={list(self._exempt)!r}")
        if self._report_only:
            shown.append("report_only=True")
        self._shown = ", ".join(shown)

    def __repr__(self) -> str:
        return f"CrossOriginGuard({self._shown})"

    def check(self, environ: Environ) -> str | None:
        """Why the request would be refused, or None when it passes."""
        if environ.get("REQUEST_METHOD") in _SAFE:
            return None
        site = environ.get("HTTP_SEC_FETCH_SITE")
        origin = environ.get("HTTP_ORIGIN")
        if site:
            if site in ("same-origin", "none"):
                return None
            why = f"Sec-Fetch-Site is {site!r}"
        else:
            if not origin:
                return None
            match = ORIGIN.match(origin.lower())
            host = request_host(environ)
            if match is not None and _same_host(match, host):
                return None
            why = f"Origin {origin!r} does not match Host {host!r}"
        if origin is not None and origin in self._trusted:
            return None
        if self._exempt and self._exempted(environ):
            return None
        return why

    def _exempted(self, environ: Environ) -> bool:
        """Whether the path is exempt: PATH_INFO, which the app routes on,
        and SCRIPT_NAME + PATH_INFO both, since SCRIPT_NAME may come from a
        client through a proxy-prefix header (as BasicAuth does it)."""
        path_info = environ.get("PATH_INFO", "")
        if not under(path_info, self._exempt):
            return False
        script_name = environ.get("SCRIPT_NAME", "")
        return not script_name or under(script_name + path_info, self._exempt)

    def __call__(self, app: WSGIApp) -> WSGIApp:
        if not callable(app):
            raise TypeError(
                f"CrossOriginGuard wraps a WSGI app (a callable), got {app!r}"
            )
        check = self.check
        report_only = self._report_only
        logger = self._logger

        def cross_origin_guard_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            if environ.get("REQUEST_METHOD") in _SAFE:
                return app(environ, start_response)
            why = check(environ)
            if why is None:
                return app(environ, start_response)
            method = environ.get("REQUEST_METHOD", "")
            path = environ.get("PATH_INFO", "")
            if report_only:
                logger.warning(
                    "would refuse %r %r (report_only): %s", method[:16], path, why
                )
                return app(environ, start_response)
            logger.info("refused %r %r: %s", method[:16], path, why)
            what = (
                "form posts"
                if "FORM" in environ.get("CONTENT_TYPE", "").upper()
                else "requests that change data"
            )
            return plain_response(
                environ,
                start_response,
                "403 Forbidden",
                _MESSAGE.format(what=what),
                [("Vary", "Origin, Sec-Fetch-Site")],
            )

        return cross_origin_guard_app


def _same_host(match: re.Match[str], host: str) -> bool:
    """Whether the Origin's host[:port] is the request's Host (a default
    port written on one side and left out on the other still matches)."""
    name, port = match["host"], match["port"]
    if (f"{name}:{port}" if port is not None else name) == host:
        return True
    default = DEFAULT_PORTS.get(match["scheme"])
    if default is None:
        return False
    if port is None:
        return host == f"{name}:{default}"
    return port == default and host == name
