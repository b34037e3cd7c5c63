"""EnvironLog: a readable, redacted dump of each request's environ at DEBUG.

One multi-line log record per request on ``wsgimw.environlog``: the environ's
keys sorted, each value as its ``repr()`` (objects such as ``wsgi.input`` by
their type only), secrets redacted. Optionally a second record with the
response's status and headers. When the logger is not enabled for DEBUG the
app is called directly: the middleware costs one method call.
"""

from __future__ import annotations

import fnmatch
import logging
import re
import sys
import traceback
from collections.abc import Iterable
from typing import Any

from ._options import flag, logger_option
from ._redact import (
    REDACTED,
    is_secret_environ_key,
    loggable,
    redact_query,
    redact_url,
    secret_names,
    show_environ_value,
    type_label,
)
from ._response import BodyFilter, Exchange
from .types import Environ, Headers, StartResponse, WSGIApp

__all__ = ["EnvironLog"]

#: Set-Cookie attributes shown as sent; the cookie's value and any attribute
#: not listed here are redacted.
_COOKIE_ATTRIBUTES = frozenset(
    {
        "domain",
        "expires",
        "httponly",
        "max-age",
        "partitioned",
        "path",
        "priority",
        "samesite",
        "secure",
    }
)

_INDENT = "    "


def _check_names(option: str, value: object, example: str) -> tuple[str, ...]:
    """A tuple of non-empty strings from a list-like option, or a clear error."""
    if isinstance(value, (str, bytes)):
        raise TypeError(
            f"{option} takes a list, e.g. {option}=[{example!r}], "
            f"not the single string {value!r}: wrap it in a list"
        )
    if not isinstance(value, Iterable):
        raise TypeError(
            f"{option} takes a list of strings, e.g. {option}=[{example!r}]; "
            f"got {value!r}"
        )
    items = tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(
                f"{option} entries must be strings such as {example!r}; got {item!r}"
            )
        if not item:
            raise ValueError(f"{option} holds an empty string, which matches nothing")
    return items


def _compile(patterns: tuple[str, ...]) -> re.Pattern[str]:
    """One regex matching an environ key against any of ``patterns`` (globs,
    case-sensitive like the environ itself)."""
    return re.compile("|".join(fnmatch.translate(p) for p in patterns))


def _text(value: object) -> str:
    return value if type(value) is str else ""


def _request_line(environ: Environ, names: re.Pattern[str]) -> str:
    """``GET /path?query`` for the first line of a record, secrets redacted."""
    path = _text(environ.get("SCRIPT_NAME")) + _text(environ.get("PATH_INFO"))
    query = redact_query(_text(environ.get("QUERY_STRING")), names)
    line = f"{_text(environ.get('REQUEST_METHOD')) or '-'} {path or '/'}"
    return loggable(f"{line}?{query}" if query else line)


def _redact_set_cookie(value: str) -> str:
    """A Set-Cookie value with the cookie's value (and any unknown attribute)
    redacted; its name and standard attributes stay readable."""
    pair, *attributes = value.split(";")
    name, equals, _ = pair.partition("=")
    parts = [f"{name.strip()}={REDACTED}" if equals else REDACTED]
    for attribute in attributes:
        known = attribute.partition("=")[0].strip().lower() in _COOKIE_ATTRIBUTES
        parts.append(attribute.strip() if known else REDACTED)
    return "; ".join(parts)


class EnvironLog:
    """Log each request's environ at DEBUG, readable and with secrets redacted.

    One record per request, on ``logging.getLogger("wsgimw.environlog")``
    unless ``logger`` is given: a first line with the method, path and
    (redacted) query, then one ``KEY = value`` line per environ key, sorted.
    Strings, numbers, booleans and None are shown with ``repr()``; any other
    object, such as ``wsgi.input``, by its type only. Every key is shown
    unless ``include`` or ``exclude`` says otherwise.

    Redacted always (this cannot be turned off, only extended): the values of
    Authorization, Proxy-Authorization, Cookie, X-Api-Key, X-Auth-Token,
    X-CSRF-Token and of every key whose name looks like a secret (``pass``,
    ``token``, ``secret``, ``session``, ``auth``...); secret-looking
    parameters in QUERY_STRING and in any URL-like value (REQUEST_URI,
    RAW_URI, Referer...); with ``response=True``, Set-Cookie values and
    secret-looking response headers.

    When the logger is not enabled for DEBUG (checked on every request, so a
    logging configuration changed at run time takes effect), the app is
    called directly and its iterable returned as is. The library never adds
    handlers or sets levels: turn it on in your logging configuration.

    Args:
        include: environ keys to show, exact (``"PATH_INFO"``) or glob
            patterns (``"HTTP_*"``), matched case-sensitively like the
            environ; None (the default) shows every key.
        exclude: keys or patterns never shown, e.g. ``["wsgi.*"]``; wins over
            ``include``. Nothing is excluded by default.
        redact: more names whose values are redacted, each matched whole and
            case-insensitively: query parameters (``"ssn"``), request or
            response headers (``"X-Tenant-Key"``) or environ keys
            (``"HTTP_X_TENANT_KEY"``, ``"REMOTE_USER"``).
        response: also log the response's status and headers at DEBUG, in a
            second record when the app calls ``start_response``. The body
            is not changed, and an app that starts before returning has its
            own iterable handed to the server.
        logger: a `logging.Logger` (or `logging.LoggerAdapter`) to log to
            instead of ``wsgimw.environlog``.

    Raises:
        TypeError: an option has the wrong type, e.g. ``include="HTTP_*"``
            instead of ``include=["HTTP_*"]``.
        ValueError: ``include`` is empty (nothing would be logged) or an
            option holds an empty string.
    """

    __slots__ = (
        "_exclude",
        "_exclude_patterns",
        "_include",
        "_include_patterns",
        "_logger",
        "_names",
        "_redact",
        "_response",
    )

    def __init__(
        self,
        *,
        include: Iterable[str] | None = None,
        exclude: Iterable[str] = (),
        redact: Iterable[str] = (),
        response: bool = False,
        logger: logging.Logger | logging.LoggerAdapter[Any] | None = None,
    ) -> None:
        self._include_patterns: tuple[str, ...] | None = None
        self._include: re.Pattern[str] | None = None
        if include is not None:
            self._include_patterns = _check_names("include", include, "HTTP_*")
            if not self._include_patterns:
                raise ValueError(
                    "include is empty, so nothing would be logged; "
                    "pass include=None to show every key"
                )
            self._include = _compile(self._include_patterns)
        self._exclude_patterns = _check_names("exclude", exclude, "wsgi.*")
        self._exclude = (
            _compile(self._exclude_patterns) if self._exclude_patterns else None
        )
        self._redact = _check_names("redact", redact, "X-Tenant-Key")
        self._names = secret_names(self._redact)
        self._response = flag("response", response)
        self._logger = logger_option("logger", logger, "wsgimw.environlog")

    def __call__(self, app: WSGIApp) -> WSGIApp:
        enabled = self._logger.isEnabledFor
        debug = logging.DEBUG
        logged = self._logged

        def environ_logged_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            if not enabled(debug):
                return app(environ, start_response)
            return logged(app, environ, start_response)

        return environ_logged_app

    def __repr__(self) -> str:
        parts = []
        if self._include_patterns is not None:
            parts.append(f"include={list(self._include_patterns)!r}")
        if self._exclude_patterns:
            parts.append(f"exclude={list(self._exclude_patterns)!r}")
        if self._redact:
            parts.append(f"redact={list(self._redact)!r}")
        if self._response:
            parts.append("response=True")
        if self._logger.name != "wsgimw.environlog":
            parts.append(f"logger={self._logger.name!r}")
        return f"EnvironLog({', '.join(parts)})"

    # -- per request ------------------------------------------------------------

    def _logged(
        self, app: WSGIApp, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        self._emit(self._format_environ(environ))
        if not self._response:
            return app(environ, start_response)
        return _ResponseLog(environ, start_response, self).respond(app)

    def _format_environ(self, environ: Environ) -> str:
        include, exclude, names = self._include, self._exclude, self._names
        lines = []
        for key, value in environ.items():
            if type(key) is not str:
                key = repr(key)  # never from a PEP 3333 server; still shown
            if include is not None and not include.match(key):
                continue
            if exclude is not None and exclude.match(key):
                continue
            lines.append((loggable(key), show_environ_value(key, value, names)))
        lines.sort()
        shown = len(lines)
        count = (
            f"{shown} keys"
            if shown == len(environ)
            else f"{shown} of {len(environ)} keys"
        )
        width = max((len(name) for name, _ in lines), default=0)
        return "\n".join(
            [f"environ for {_request_line(environ, names)} ({count})"]
            + [f"{_INDENT}{name:<{width}} = {value}" for name, value in lines]
        )

    def _format_response(self, environ: Environ, status: str, headers: Headers) -> str:
        names = self._names
        shown = loggable(status) if type(status) is str else type_label(status)
        lines = [f"response to {_request_line(environ, names)}: {shown}"]
        for item in headers:
            if (
                type(item) is not tuple
                or len(item) != 2
                or type(item[0]) is not str
                or type(item[1]) is not str
            ):
                lines.append(
                    f"{_INDENT}{type_label(item)} (not a (name, value) tuple of str)"
                )
                continue
            name, value = item
            lines.append(f"{_INDENT}{loggable(name)}: {self._show_header(name, value)}")
        return "\n".join(lines)

    def _show_header(self, name: str, value: str) -> str:
        if name.lower() == "set-cookie":
            return repr(_redact_set_cookie(value))
        if is_secret_environ_key("HTTP_" + name.upper().replace("-", "_"), self._names):
            return REDACTED
        return repr(redact_url(value, self._names))

    def _log_response(self, environ: Environ, status: str, headers: Headers) -> None:
        self._emit(self._format_response(environ, status, headers))

    def _emit(self, text: str) -> None:
        # The standard handlers report their own failures (Handler.handleError),
        # but a custom handler or filter may raise out of debug(): a debug dump
        # must not fail the request, so report it the same way and go on.
        try:
            self._logger.debug("%s", text)
        except Exception:
            if logging.raiseExceptions:
                traceback.print_exc(file=sys.stderr)


class _ResponseLog(Exchange):
    """One response under ``EnvironLog(response=True)``: logs the status and
    headers as they pass, changes nothing (no filter, so a started app's
    iterable goes to the server untouched)."""

    __slots__ = ("_environlog",)

    def __init__(
        self, environ: Environ, start_response: StartResponse, environlog: EnvironLog
    ) -> None:
        super().__init__(environ, start_response)
        self._environlog = environlog

    def on_start(
        self, status: str, headers: Headers
    ) -> tuple[str, Headers, BodyFilter | None]:
        self._environlog._log_response(self.environ, status, headers)
        return status, headers, None
