"""AccessLog: one truthful line per request, written when the response ends.

The line is written when the server closes the response, so the duration
covers the whole body and the byte count is what was actually sent, not a
Content-Length header. A request whose app raises, or whose client goes away
mid-body, is still logged once, with what was sent.
"""

from __future__ import annotations

import json
import logging
import re
import string
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from functools import lru_cache
from typing import IO, Any
from urllib.parse import quote_from_bytes

from ._options import logger_option
from ._redact import (
    REDACTED,
    SECRET_NAME,
    is_secret_environ_key,
    redact_query,
    redact_url,
    secret_names,
)
from ._response import Observed
from .types import Environ, StartResponse, WSGIApp

__all__ = ["COMBINED", "COMMON", "FIELDS", "AccessLog"]

#: Apache's LogFormat strings that the named formats reproduce field for field.
COMMON = '{host} {ident} {user} [{time}] "{request_line}" {status} {bytes_clf}'
COMBINED = COMMON + ' "{referer}" "{user_agent}"'
_NAMED = {"common": COMMON, "combined": COMBINED}

#: The fields a custom format string may use, as ``{name}``; request headers
#: as ``{header[User-Agent]}`` (secret ones are redacted).
FIELDS = {
    "host": "client address: REMOTE_ADDR, or X-Forwarded-For with trusted_proxies",
    "ident": "always '-' (RFC 1413 identity, as Apache logs it)",
    "user": "REMOTE_USER, or '-'",
    "time": "request start, Apache style: 10/Oct/2000:13:55:36 -0700 (local zone)",
    "time_iso": "request start, ISO 8601 with the local offset",
    "request_line": "method, raw path and protocol: GET /a%20b?q=1 HTTP/1.1",
    "method": "REQUEST_METHOD",
    "path": "the raw path and query as sent, percent-encoded, secrets redacted",
    "protocol": "SERVER_PROTOCOL",
    "status": "the status code sent (500 when the app raised before starting)",
    "bytes": "body bytes actually sent",
    "bytes_clf": "body bytes, or '-' for none (Apache %b)",
    "referer": "the Referer header, or '-'",
    "user_agent": "the User-Agent header, or '-'",
    "duration_us": "microseconds from the call to the close of the response",
    "duration_ms": "the same in milliseconds, three decimals",
    "request_id": "environ['wsgimw.request_id'] (RequestId sets it), or '-'",
    "header": "a request header by name: {header[Accept-Language]}",
}

_NUMBERS = frozenset({"status", "bytes", "duration_us", "duration_ms", "header"})
_MONTHS = (
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
)
# Apache escapes '"', '\\' and bytes outside printable ASCII as \xhh.
_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f-\xff]')
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
# A query is kept as sent (its escapes included); only bytes that are not
# printable ASCII are percent-encoded.
_QUERY_SAFE = _PATH_SAFE + '%?[]{}|^`\\"<>#'


_PLAIN_PATH = re.compile(r"[A-Za-z0-9/._~-]*\Z")


def _quote(text: str, safe: str) -> str:
    if _PLAIN_PATH.match(text):
        return text  # nothing to encode: the common case
    return quote_from_bytes(text.encode("latin-1"), safe=safe)


def _plain(value: str) -> bool:
    """Whether ``value`` has nothing Apache would escape."""
    return (
        value.isascii()
        and value.isprintable()
        and '"' not in value
        and "\\" not in value
    )


def _escape(value: str) -> str:
    if _plain(value):
        return value  # the common case: nothing to escape
    return _UNSAFE.sub(_escape_char, value)


def _escape_char(match: re.Match[str]) -> str:
    char = match.group()
    return "\\" + char if char in '"\\' else f"\\x{ord(char):02x}"


def _code(status: str) -> int:
    """The status code of a status line; 500 for one without a code."""
    code = status[:3]
    return int(code) if code.isdigit() else 500


def _quote_query(query: str) -> str:
    # Printable ASCII but the space is all in _QUERY_SAFE: the common case.
    if query.isascii() and query.isprintable() and " " not in query:
        return query
    return quote_from_bytes(query.encode("latin-1"), safe=_QUERY_SAFE)


def _text(value: object) -> str:
    """An environ value as latin-1 text (see `_latin1`), from any object."""
    if type(value) is str and value.isascii():
        return value  # the common case
    return _latin1(str(value))


def _latin1(value: str) -> str:
    """Text that is not latin-1 (never from a server) as its UTF-8 bytes."""
    if value.isascii():
        return value  # the common case
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogatepass").decode("latin-1")
    return value


def _offset(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


def apache_time(when: float) -> str:
    """``when`` as Apache's %t shows it, in the local zone with its offset."""
    return _local_second(int(when), time.timezone, time.altzone)[0]


@lru_cache(maxsize=4)
def _local_second(second: int, timezone: int, altzone: int) -> tuple[str, str, str]:
    # Requests come many to a second: format each second once. The zone is
    # part of the key, so a time.tzset() never serves a stale offset.
    t = time.localtime(second)
    offset = _offset(t.tm_gmtoff)
    apache = (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {offset}"
    )
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", t)
    return apache, iso, f"{offset[:3]}:{offset[3:]}"


class _Headers(Mapping[str, str]):
    """Request headers by name for ``{header[Name]}``, secrets redacted."""

    __slots__ = ("_environ", "_names")

    def __init__(self, environ: Environ, names: re.Pattern[str]) -> None:
        self._environ = environ
        self._names = names

    def __getitem__(self, name: str) -> str:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        if key not in self._environ:
            return "-"
        if is_secret_environ_key(key, self._names):
            return REDACTED
        # Any header may carry a URL with secrets in it (Referer, Origin...).
        return _escape(redact_url(_latin1(str(self._environ[key])), self._names))

    def __iter__(self) -> Iterator[str]:  # pragma: no cover - format uses []
        return iter(())

    def __len__(self) -> int:  # pragma: no cover - format uses []
        return 0


class AccessLog:
    """Log one line per request when its response is closed.

    Args:
        format: ``"combined"`` (default), ``"common"``, ``"json"`` (one JSON
            object per line) or a format string over `FIELDS`, such as
            ``"{host} {method} {path} {status} {duration_ms}ms"``.
        logger: where lines go; defaults to ``logging.getLogger("wsgimw.accesslog")``
            at INFO. The fields also travel as ``record.wsgimw_access``.
        stream: write lines to this text stream instead (e.g. ``sys.stdout``).
        trusted_proxies: how many proxies in front of the app append to
            X-Forwarded-For; the client is the address that many places from
            the right. 0 (default) uses REMOTE_ADDR and ignores the header,
            which clients can forge.
        redact: more query parameter names whose values are never logged, on
            top of the password-like ones (password, token, api_key, ...).
    """

    __slots__ = (
        "_apache",
        "_combined",
        "_format",
        "_headers",
        "_json",
        "_lock",
        "_logger",
        "_names",
        "_stream",
        "_text_fields",
        "_trusted",
    )

    def __init__(
        self,
        *,
        format: str = "combined",
        logger: logging.Logger | None = None,
        stream: IO[str] | None = None,
        trusted_proxies: int = 0,
        redact: Iterable[str] = (),
    ) -> None:
        if not isinstance(format, str):
            raise TypeError(f"format must be a str, got {format!r}")
        if logger is not None and stream is not None:
            raise ValueError("pass logger= or stream=, not both")
        if stream is not None and not callable(getattr(stream, "write", None)):
            raise TypeError(f"stream must have a write() method, got {stream!r}")
        if isinstance(trusted_proxies, bool) or not isinstance(trusted_proxies, int):
            raise TypeError(f"trusted_proxies must be an int, got {trusted_proxies!r}")
        if trusted_proxies < 0:
            raise ValueError(f"trusted_proxies must be >= 0, got {trusted_proxies}")
        if isinstance(redact, str):
            raise TypeError(f"redact takes a list of names, e.g. [{redact!r}]")
        self._json = format == "json"
        self._format = "" if self._json else _checked_format(_NAMED.get(format, format))
        if not self._json:
            _try_format(self._format)
        # The text fields the format shows: only those need escaping.
        self._text_fields = tuple(
            name
            for _, name, _, _ in string.Formatter().parse(self._format)
            if name in FIELDS and name not in _NUMBERS
        )
        # The named Apache formats, however given, have a builder of their own.
        self._apache = self._format in (COMMON, COMBINED)
        self._combined = self._format == COMBINED
        # Whether the format shows request headers: {header[Name]}.
        self._headers = any(
            name is not None and name.startswith("header[")
            for _, name, _, _ in string.Formatter().parse(self._format)
        )
        self._logger = logger_option("logger", logger, "wsgimw.accesslog")
        self._stream = stream
        self._lock = threading.Lock()
        self._trusted = trusted_proxies
        self._names = secret_names(list(redact))

    def __call__(self, app: WSGIApp) -> WSGIApp:
        logger_on = self._logger.isEnabledFor
        to_stream = self._stream is not None

        def logged_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            if not (to_stream or logger_on(logging.INFO)):
                return app(environ, start_response)  # nobody would read the line
            return _Logged(environ, start_response, self).respond(app)

        return logged_app

    def __repr__(self) -> str:
        parts = []
        if self._json:
            parts.append("format='json'")
        elif self._format != COMBINED:
            name = next((k for k, v in _NAMED.items() if v == self._format), None)
            parts.append(f"format={name or self._format!r}")
        if self._stream is not None:
            parts.append(f"stream={self._stream!r}")
        if self._trusted:
            parts.append(f"trusted_proxies={self._trusted}")
        if self._names is not SECRET_NAME:
            parts.append("redact=[...]")
        return f"AccessLog({', '.join(parts)})"

    # -- one line ----------------------------------------------------------------

    def fields(
        self, environ: Environ, status: str, sent: int, started: float, duration: float
    ) -> dict[str, Any]:
        """The documented fields of one request, unescaped."""
        # Written out for speed: this runs for every request. Values are
        # ASCII almost always, and ASCII text is its own latin-1 form.
        get = environ.get
        method = _text(get("REQUEST_METHOD", "-"))
        path = self._path(environ)
        protocol = _text(get("SERVER_PROTOCOL", "-"))
        apache, iso_prefix, iso_offset = _local_second(
            int(started), time.timezone, time.altzone
        )
        return {
            "host": self._host(environ),
            "ident": "-",
            "user": _text(get("REMOTE_USER") or "-"),
            "time": apache,
            "time_iso": f"{iso_prefix}.{int(started * 1000) % 1000:03d}{iso_offset}",
            "request_line": f"{method} {path} {protocol}",
            "method": method,
            "path": path,
            "protocol": protocol,
            "status": _code(status),
            "bytes": sent,
            "bytes_clf": str(sent) if sent else "-",
            "referer": self._referer(environ),
            "user_agent": _text(get("HTTP_USER_AGENT", "-")),
            "duration_us": int(duration * 1_000_000),
            "duration_ms": round(duration * 1000, 3),
            "request_id": _text(get("wsgimw.request_id") or "-"),
        }

    def _apache_line(
        self, environ: Environ, status: str, sent: int, started: float
    ) -> str:
        """The line of format="common" or "combined", escaped: what `fields`
        and the format string make, with only the fields these formats show
        (this runs for every request)."""
        get = environ.get
        request_line = (
            f"{_text(get('REQUEST_METHOD', '-'))} {self._path(environ)} "
            f"{_text(get('SERVER_PROTOCOL', '-'))}"
        )
        texts = [self._host(environ), _text(get("REMOTE_USER") or "-"), request_line]
        if self._combined:
            texts.append(self._referer(environ))
            texts.append(_text(get("HTTP_USER_AGENT", "-")))
        # One look at them all: almost always there is nothing to escape.
        if not _plain("".join(texts)):
            texts = [_escape(text) for text in texts]
        when = _local_second(int(started), time.timezone, time.altzone)[0]
        line = (
            f'{texts[0]} - {texts[1]} [{when}] "{texts[2]}" {_code(status)} '
            f"{sent or '-'}"
        )
        if self._combined:
            return f'{line} "{texts[3]}" "{texts[4]}"'
        return line

    def _referer(self, environ: Environ) -> str:
        referer = _text(environ.get("HTTP_REFERER", "-"))
        # Only a value with a name=value pair or a user:password@ in it can
        # hold a secret: any other is its own redaction.
        if "=" in referer or "@" in referer:
            return redact_url(referer, self._names)
        return referer

    def _host(self, environ: Environ) -> str:
        host = environ.get("REMOTE_ADDR") or "-"
        if not self._trusted:
            return _text(host)
        hops = [
            h.strip() for h in str(environ.get("HTTP_X_FORWARDED_FOR", "")).split(",")
        ]
        hops = [h for h in hops if h]
        if len(hops) >= self._trusted:
            host = hops[-self._trusted]
        return _text(host)

    def _path(self, environ: Environ) -> str:
        # PEP 3333 strings hold the request's bytes as latin-1: recover them
        # and percent-encode, so a UTF-8 path logs as sent, never as mojibake.
        # The request target as the client sent it, when the server passes it
        # on (gunicorn's RAW_URI, uWSGI's and mod_wsgi's REQUEST_URI), keeps
        # what decoding PATH_INFO loses, such as %2F.
        get = environ.get
        raw = get("RAW_URI") or get("REQUEST_URI")
        if isinstance(raw, str) and raw.startswith("/"):
            target, _, query = _latin1(raw).partition("?")
            path = _quote(target, _PATH_SAFE + "%")
        else:
            script_and_path = get("SCRIPT_NAME", "") + get("PATH_INFO", "")
            path = _quote(_latin1(script_and_path), _PATH_SAFE)
            query = _latin1(get("QUERY_STRING", ""))
        path = path or "/"
        if query:
            path += "?" + _quote_query(redact_query(query, self._names))
        return path

    def write(
        self, environ: Environ, status: str, sent: int, started: float, duration: float
    ) -> None:
        stream = self._stream
        if stream is not None and self._apache:
            # Nothing but the line is wanted: build only what it shows.
            line = self._apache_line(environ, status, sent, started)
            with self._lock:
                stream.write(line + "\n")
                stream.flush()
            return
        fields = self.fields(environ, status, sent, started, duration)
        if self._json:
            record = {
                k: v
                for k, v in fields.items()
                if k not in ("time", "request_line", "bytes_clf", "ident")
            }
            line = json.dumps(record, ensure_ascii=True, separators=(",", ":"))
        else:
            # Apache-style escaping: a client cannot forge lines or quotes.
            escaped: dict[str, Any] = fields
            text_fields = self._text_fields
            # One look at all the text fields at once: almost always there
            # is nothing to escape, and then the fields serve as they are.
            if not _plain("".join([fields[name] for name in text_fields])):
                escaped = dict(fields)
                for name in text_fields:
                    escaped[name] = _escape(fields[name])
            if self._headers:
                escaped = {**escaped, "header": _Headers(environ, self._names)}
            line = self._format.format_map(escaped)
        if self._stream is not None:
            with self._lock:
                self._stream.write(line + "\n")
                self._stream.flush()
        else:
            self._logger.info(line, extra={"wsgimw_access": fields})


def _checked_format(template: str) -> str:
    allowed = set(FIELDS)
    for _text, field, _spec, _conversion in string.Formatter().parse(template):
        if field is None:
            continue
        is_header = re.fullmatch(r"header\[[^\]]+\]", field) is not None
        if not is_header and field not in allowed - {"header"}:
            raise ValueError(
                f"unknown access log field {{{field}}}; use one of "
                f"{', '.join('{' + f + '}' for f in FIELDS if f != 'header')} "
                "or {header[Name]}, or format='common', 'combined' or 'json'"
            )
    return template


def _try_format(template: str) -> None:
    """Format sample fields once, so a spec or conversion the fields cannot
    take (``{status:%H}``, ``{path!z}``) fails here, not at every request."""
    sample: dict[str, Any] = {
        name: 0 if name in _NUMBERS else "-" for name in FIELDS if name != "header"
    }
    sample["duration_ms"] = 0.0
    sample["header"] = _SampleHeaders()
    try:
        template.format_map(sample)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as error:
        raise ValueError(
            f"access log format {template!r} cannot be used: {error}"
        ) from None


class _SampleHeaders(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "-"


class _Logged(Observed):
    """One request under an AccessLog: the core counts the bytes sent; the
    line is written when the response ends."""

    __slots__ = ("_access", "_start_clock", "_start_time")

    def __init__(
        self, environ: Environ, start_response: StartResponse, access: AccessLog
    ) -> None:
        super().__init__(environ, start_response)
        self._access = access
        self._start_time = time.time()
        self._start_clock = time.perf_counter()

    def on_end(self) -> None:
        duration = time.perf_counter() - self._start_clock
        sent = self.sent
        # An error before any body byte: the server answers 500, whatever
        # status the app had started with.
        status = "500" if self.failed and not sent else self.status or "500"
        self._access.write(self.environ, status, sent, self._start_time, duration)
