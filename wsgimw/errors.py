"""ErrorHandler: turn an app's exceptions into a clean 500, phase by phase.

* Raised before any body byte went out (in the call, after start_response,
  at the first ``next()``): the response is replaced by an error page through
  ``start_response(..., exc_info)``.
* Raised after body bytes went out: logged, then re-raised so the server
  aborts the connection. An error page is never spliced into a half-sent body.
* Raised in the app iterable's ``close()``: logged; every other cleanup
  still runs; the finished response stands.

Only `Exception` is caught: GeneratorExit, KeyboardInterrupt and SystemExit
pass. Each error is logged once on ``wsgimw.errors``, however many
ErrorHandlers it passes through.
"""

from __future__ import annotations

import html
import json
import logging
import traceback
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from http import HTTPStatus
from typing import Any, cast

from ._options import flag, logger_option
from ._redact import loggable, show_environ_value
from ._response import guard
from ._webob import (
    AcceptValidHeader,
    HTTPException,
    WSGIHTTPException,
    create_accept_header,
)
from .types import Environ, ExcInfo, Headers, StartResponse, WSGIApp

__all__ = ["ErrorHandler"]

OnError = Callable[[Environ, ExcInfo], object]

#: Errors already reported in this request, so nested handlers log once.
_REPORTED = "wsgimw.errors.reported"
_PROBLEM = "application/problem+json"
_OFFERS = ("text/plain", "text/html", "application/problem+json", "application/json")


#: An Accept header longer than this many characters, or with more than
#: MAX_ACCEPT_MEMBERS elements, is not parsed: the page is plain text.
#: Browsers send about 150 characters.
MAX_ACCEPT_LENGTH = 1024
MAX_ACCEPT_MEMBERS = 64
#: Accept values up to this long are cached (256 of them, under 150 KB);
#: longer ones are parsed each time, so clients cannot fill memory with them.
_CACHED_LENGTH = 256


def _negotiate(accept: str) -> str:
    """The error page's media type for an Accept header."""
    if len(accept) <= _CACHED_LENGTH:
        return _negotiate_cached(accept)
    if len(accept) > MAX_ACCEPT_LENGTH or accept.count(",") >= MAX_ACCEPT_MEMBERS:
        return "text/plain"
    return _parse_accept(accept)


def _parse_accept(accept: str) -> str:
    # An invalid header parses as "accept anything": plain text, first offer.
    parsed = create_accept_header(accept)
    offers = parsed.acceptable_offers(_OFFERS)
    if not offers:
        return "text/plain"
    top = [offer for offer, q in offers if q == offers[0][1]]
    best = top[0]
    if isinstance(parsed, AcceptValidHeader):
        # Among the best, a type the client named beats one matched by a
        # wildcard, and the first named wins: "application/json,
        # text/plain, */*" asks for JSON.
        named = [part.split(";")[0].strip().lower() for part in accept.split(",")]
        best = min(top, key=lambda o: named.index(o) if o in named else len(named))
    if best.endswith("json") and any(o == _PROBLEM for o, _ in offers):
        return _PROBLEM  # RFC 9457 problem details, when the client takes them
    return str(best)


_negotiate_cached = lru_cache(maxsize=256)(_parse_accept)


def _redacted(environ: Environ) -> dict[str, str]:
    return {
        key: show_environ_value(key, value) for key, value in sorted(environ.items())
    }


def _status_line(code: int) -> str:
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return f"{code} Error"


class ErrorHandler:
    """Catch what the app raises and answer with a clean error response.

    Args:
        debug: show the traceback and a redacted environ in the error page.
            Never in production: it tells an attacker about your code.
        on_error: ``hook(environ, exc_info)`` called for every error caught,
            e.g. to report it; an exception in the hook is logged and never
            masks the original error.
        statuses: map exception classes to statuses, e.g.
            ``{PermissionError: 403}``; the first class in the mapping that
            matches wins. Errors mapped below 500 are logged at INFO, not
            ERROR.
        http_exceptions: send a raised ``webob.exc.HTTPException`` as the
            response it is (a 404, a redirect...) instead of a 500.
        logger: where errors go; defaults to ``logging.getLogger("wsgimw.errors")``.
    """

    __slots__ = ("_debug", "_http_exceptions", "_logger", "_on_error", "_statuses")

    def __init__(
        self,
        *,
        debug: bool = False,
        on_error: OnError | None = None,
        statuses: Mapping[type[BaseException], int] | None = None,
        http_exceptions: bool = True,
        logger: logging.Logger | None = None,
    ) -> None:
        if on_error is not None and not callable(on_error):
            raise TypeError(
                f"on_error must be a callable(environ, exc_info), got {on_error!r}"
            )
        if statuses is not None and not isinstance(statuses, Mapping):
            raise TypeError(
                f"statuses must be a mapping such as {{PermissionError: 403}}, got {statuses!r}"
            )
        checked: list[tuple[type[BaseException], int]] = []
        for cls, code in (statuses or {}).items():
            if not (isinstance(cls, type) and issubclass(cls, Exception)):
                raise TypeError(f"statuses keys must be Exception classes, got {cls!r}")
            if (
                isinstance(code, bool)
                or not isinstance(code, int)
                or not 400 <= code <= 599
            ):
                raise ValueError(
                    f"statuses[{cls.__name__}] must be an int status from 400 to 599, got {code!r}"
                )
            checked.append((cls, code))
        self._debug = flag("debug", debug)
        self._on_error = on_error
        self._statuses = tuple(checked)
        self._http_exceptions = flag("http_exceptions", http_exceptions)
        self._logger = logger_option("logger", logger, "wsgimw.errors")

    def __call__(self, app: WSGIApp) -> WSGIApp:
        def error_handled_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            return guard(app, environ, start_response, self)

        return error_handled_app

    # -- the Recovery the core's guard() asks --------------------------------------

    def error_page(
        self, environ: Environ, error: Exception
    ) -> tuple[str, Headers, bytes]:
        """The page for ``error``; the core's guard() sends it, or finds it
        is too late (the headers were out) and lets the error go on."""
        return self.page(environ, self.status_for(error), error)

    def on_answered(self, environ: Environ, error: Exception, *, sent: bool) -> None:
        """Log and report ``error`` once the core knows whether its page went out."""
        self.report(environ, error, phase="before-body" if sent else "after-body")

    def on_close_error(self, environ: Environ, error: Exception) -> bool:
        """Log an error from the app iterable's close(); the response stands."""
        self.report(environ, error, phase="close")
        return True

    def __repr__(self) -> str:
        parts = []
        if self._debug:
            parts.append("debug=True")
        if self._on_error is not None:
            parts.append(
                f"on_error={getattr(self._on_error, '__qualname__', self._on_error)}"
            )
        if self._statuses:
            shown = ", ".join(f"{cls.__name__}: {code}" for cls, code in self._statuses)
            parts.append(f"statuses={{{shown}}}")
        if not self._http_exceptions:
            parts.append("http_exceptions=False")
        return f"ErrorHandler({', '.join(parts)})"

    # -- what to do with an error --------------------------------------------------

    def report(self, environ: Environ, error: Exception, *, phase: str) -> int:
        """Log ``error`` once per request and call the hook; return the
        status to answer. ``phase`` is "before-body", "after-body" or "close"."""
        code = self.status_for(error)
        reported = environ.setdefault(_REPORTED, [])
        if any(seen is error for seen in reported):
            return code
        reported.append(error)
        # Escaped: a client must not forge log lines with %0A in its path.
        request = loggable(
            f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO', '')}"
        )
        http_response = isinstance(error, WSGIHTTPException) and self._http_exceptions
        if http_response and phase == "before-body":
            self._logger.debug("%s answered %d", request, code)
            return code
        exc_info = _exc_info(error)
        if phase == "after-body":
            self._logger.error(
                "error in %s after the response began; aborting it",
                request,
                exc_info=exc_info,
            )
        elif phase == "close":
            self._logger.error(
                "error in close() of %s; the response was complete",
                request,
                exc_info=exc_info,
            )
        elif code < 500:
            self._logger.info("%s answered %d: %r", request, code, error)
        else:
            self._logger.error("error in %s", request, exc_info=exc_info)
        if self._on_error is not None:
            try:
                self._on_error(environ, exc_info)
            except Exception:
                self._logger.exception("the on_error hook failed")
        return code

    def status_for(self, error: Exception) -> int:
        """The status an error is answered with."""
        code = getattr(error, "code", None) if self._http_exceptions else None
        if isinstance(error, HTTPException) and isinstance(code, int):
            return code
        for cls, code in self._statuses:
            if isinstance(error, cls):
                return code
        return 500

    def page(
        self, environ: Environ, code: int, error: Exception
    ) -> tuple[str, Headers, bytes]:
        """The status, headers and body of the error response."""
        extra: Headers = []
        if self._http_exceptions and isinstance(error, WSGIHTTPException):
            rendered = _render_http_exception(environ, error)
            if code < 400:  # a redirect or the like: webob's response as is
                return rendered
            # An error: our own page, with the exception's own headers
            # (WWW-Authenticate, Allow, ...).
            extra = [
                (k, v) for k, v in rendered[1] if not k.lower().startswith("content-")
            ]
        status = _status_line(code)
        media_type = _negotiate(environ.get("HTTP_ACCEPT", ""))
        details = self._details(environ, error) if self._debug else None
        if media_type == "text/html":
            body = self._html(status, details)
            content_type = "text/html; charset=utf-8"
        elif media_type.endswith("json"):
            # problem+json (RFC 9457), unless the client refused that type.
            body = self._json(code, status, details)
            content_type = media_type
        else:
            body = status + "\n"
            if details:
                body += details["traceback"] + "\nEnviron:\n"
                body += "".join(f"  {k} = {v}\n" for k, v in details["environ"].items())
            content_type = "text/plain; charset=utf-8"
        data = body.encode("utf-8")
        headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
            *extra,
        ]
        if environ.get("REQUEST_METHOD") == "HEAD":
            data = b""
        return status, headers, data

    @staticmethod
    def _details(environ: Environ, error: Exception) -> dict[str, Any]:
        return {
            "traceback": "".join(traceback.format_exception(error)),
            "environ": _redacted(environ),
        }

    @staticmethod
    def _html(status: str, details: dict[str, Any] | None) -> str:
        title = html.escape(status)
        parts = [
            "<!doctype html>",
            f"<html><head><meta charset=utf-8><title>{title}</title></head><body>",
            f"<h1>{title}</h1>",
            "<p>The server could not complete the request.</p>",
        ]
        if details:
            parts.append(
                f"<h2>Traceback</h2><pre>{html.escape(details['traceback'])}</pre>"
            )
            rows = "".join(
                f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                for k, v in details["environ"].items()
            )
            parts.append(f"<h2>Environ</h2><table>{rows}</table>")
        parts.append("</body></html>\n")
        return "\n".join(parts)

    @staticmethod
    def _json(code: int, status: str, details: dict[str, Any] | None) -> str:
        problem: dict[str, Any] = {
            "type": "about:blank",
            "title": status[4:],
            "status": code,
        }
        if details:
            problem["traceback"] = details["traceback"].splitlines()
            problem["environ"] = details["environ"]
        return json.dumps(problem)


def _exc_info(error: BaseException) -> ExcInfo:
    return cast(ExcInfo, (type(error), error, error.__traceback__))


def _render_http_exception(
    environ: Environ, error: HTTPException
) -> tuple[str, Headers, bytes]:
    """Run a webob HTTPException as the WSGI app it also is."""
    captured: list[tuple[str, Headers]] = []

    def capture(
        status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Callable[[bytes], object]:
        captured.append((status, headers))
        return lambda data: None

    body = b"".join(error(environ, capture))
    status, headers = captured[-1]
    if environ.get("REQUEST_METHOD") == "HEAD":
        body = b""
    return status, list(headers), body
