"""AccessLog: one truthful line per request, written when the response ends.

The line is written when the server closes the response, so the duration
covers the whole body and the byte count is what was actually sent, not a
Content-Length header. A request whose app raises, or whose client goes away
mid-body, is still logged once, with what was sent.
"""

from __future__ import annotations

import json
import logging
import os
import re
import string
import sys
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


#: The request targets (path and query) whose logged form an AccessLog
#: remembers, and the longest it remembers: at most about 256 KB of them,
#: whatever clients send.
_TARGET_MEMO_SIZE = 256
_TARGET_MEMO_LENGTH = 512

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
        "_agents",
        "_apache",
        "_combined",
        "_format",
        "_headers",
        "_json",
        "_lock",
        "_logger",
        "_names",
        "_referers",
        "_stream",
        "_targets",
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
        #: request target -> how the line shows it (redacted, quoted): the
        #: same paths and queries come again and again; bounded, short ones
        #: only. The key is the raw target a server passed on (RAW_URI,
        #: REQUEST_URI), else (SCRIPT_NAME, PATH_INFO, QUERY_STRING).
        self._targets: dict[object, str] = {}
        #: Referer and User-Agent value -> (its field, its line form): the
        #: longest texts of a line come from a few browsers; bounded too.
        self._referers: dict[str, tuple[str, str]] = {}
        self._agents: dict[str, tuple[str, str]] = {}
        self._names = secret_names(list(redact))

    def __call__(self, app: WSGIApp) -> WSGIApp:
        logger_on = self._logger.isEnabledFor
        to_stream = self._stream is not None
        unchecked = not to_stream  # whether the first request is still to come

        def logged_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            nonlocal unchecked
            if unchecked:
                unchecked = False
                _hint_if_nowhere(self._logger)
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
        return self._fields_of(environ, status, sent, started, duration, None)[0]

    def arrived(self, environ: Environ) -> tuple[Any, str]:
        """The method and path the request arrived with. Read when it
        starts: PEP 3333 lets an app rewrite its environ (web2py's router
        writes REQUEST_URI, a method override changes REQUEST_METHOD), and
        the line must show what the client sent."""
        return environ.get("REQUEST_METHOD", "-"), self._path(environ)

    def _fields_of(
        self,
        environ: Environ,
        status: str,
        sent: int,
        started: float,
        duration: float,
        arrived: tuple[Any, str] | None,
    ) -> tuple[dict[str, Any], str, str]:
        """The documented fields, unescaped, and the referer and the user
        agent escaped for a line. ``arrived`` is what `arrived` read when
        the request started (read now when None).

        Written out in one frame, helpers called only off the common path:
        this runs for every request, and a Python call costs about as much
        as a dozen of the lines here."""
        get = environ.get
        host = get("REMOTE_ADDR") or "-"
        if self._trusted:
            host = self._host(environ)
        user = get("REMOTE_USER") or "-"
        method, path = self.arrived(environ) if arrived is None else arrived
        protocol = get("SERVER_PROTOCOL", "-")
        # Almost always str and ASCII, which is its own latin-1 form: one
        # look at them all (join refuses anything but str).
        try:
            ascii_only = "".join((host, user, method, protocol)).isascii()
        except TypeError:
            ascii_only = False
        if not ascii_only:
            host, user, method, protocol = map(_text, (host, user, method, protocol))
        referer = get("HTTP_REFERER", "-")
        known = self._referers.get(referer) if type(referer) is str else None
        referer, referer_line = known or self._client_text(
            referer, self._referers, url=True
        )
        agent = get("HTTP_USER_AGENT", "-")
        known = self._agents.get(agent) if type(agent) is str else None
        agent, agent_line = known or self._client_text(agent, self._agents, url=False)
        request_id = get("wsgimw.request_id") or "-"
        if not (type(request_id) is str and request_id.isascii()):
            request_id = _text(request_id)
        digits = status[:3]
        code = int(digits) if digits.isdigit() else 500  # no code: what is sent
        second = _local_second(int(started), time.timezone, time.altzone)
        micros = int(duration * 1_000_000)
        fields = {
            "host": host,
            "ident": "-",
            "user": user,
            "time": second[0],
            "time_iso": _iso_time(started, second),
            "request_line": f"{method} {path} {protocol}",
            "method": method,
            "path": path,
            "protocol": protocol,
            "status": code,
            "bytes": sent,
            "bytes_clf": str(sent) if sent else "-",
            "referer": referer,
            "user_agent": agent,
            "duration_us": micros,
            # The same microseconds: int / int is correctly rounded, so
            # this is the float nearest micros/1000, what round(..., 3)
            # would give for it, at a fraction of round()'s cost.
            "duration_ms": micros / 1000,
            "request_id": request_id,
        }
        return fields, referer_line, agent_line

    def _client_text(
        self, value: object, memo: dict[str, tuple[str, str]], *, url: bool
    ) -> tuple[str, str]:
        """A request header's text for the fields and for the line (escaped),
        remembered in ``memo`` (which the caller looked in first); with
        ``url``, secrets redacted."""
        key = value if type(value) is str else None  # never a str subclass
        text = _text(value)
        # Only a value with a name=value pair or a user:password@ in it can
        # hold a secret: any other is its own redaction. Such a value is
        # never kept as a key, so no secret outlives its request here.
        if url and ("=" in text or "@" in text):
            text = redact_url(text, self._names)
            key = None
        forms = (text, _escape(text))
        if key is not None and len(key) <= _TARGET_MEMO_LENGTH:
            if len(memo) >= _TARGET_MEMO_SIZE:
                memo.clear()  # start again: no LRU bookkeeping
            memo[key] = forms
        return forms

    def _apache_line(self, fields: dict[str, Any], referer: str, agent: str) -> str:
        """The line of format="common" or "combined", escaped: what the
        format string makes of `fields`, built directly (this runs for every
        request). ``referer`` and ``agent`` come escaped already."""
        host, user, request_line = (
            fields["host"],
            fields["user"],
            fields["request_line"],
        )
        # One look at them all: almost always there is nothing to escape.
        if not _plain(f"{host}{user}{request_line}"):
            host, user = _escape(host), _escape(user)
            request_line = " ".join(
                map(_escape, (fields["method"], fields["path"], fields["protocol"]))
            )
        line = (
            f'{host} - {user} [{fields["time"]}] "{request_line}" '
            f"{fields['status']} {fields['bytes_clf']}"
        )
        if self._combined:
            return f'{line} "{referer}" "{agent}"'
        return line

    def _host(self, environ: Environ) -> str:
        """The client address with ``trusted_proxies``: the address that
        many places from the right of X-Forwarded-For."""
        host = environ.get("REMOTE_ADDR") or "-"
        hops = [
            h.strip() for h in str(environ.get("HTTP_X_FORWARDED_FOR", "")).split(",")
        ]
        hops = [h for h in hops if h]
        if len(hops) >= self._trusted:
            host = hops[-self._trusted]
        return _text(host)

    def _path(self, environ: Environ) -> str:
        """The path and query as the line shows them, remembered by target."""
        # The request target as the client sent it, when the server passes it
        # on (gunicorn's RAW_URI, uWSGI's and mod_wsgi's REQUEST_URI), keeps
        # what decoding PATH_INFO loses, such as %2F.
        get = environ.get
        raw = get("RAW_URI") or get("REQUEST_URI")
        key: object
        if isinstance(raw, str) and raw.startswith("/"):
            key = raw
            length = len(raw)
        else:
            script, path, query = key = (
                get("SCRIPT_NAME", ""),
                get("PATH_INFO", ""),
                get("QUERY_STRING", ""),
            )
            length = len(script) + len(path) + len(query)
        targets = self._targets
        shown = targets.get(key)
        if shown is None:
            shown = self._shown_target(key)
            if length <= _TARGET_MEMO_LENGTH:
                if len(targets) >= _TARGET_MEMO_SIZE:
                    targets.clear()  # start again: no LRU bookkeeping
                targets[key] = shown
        return shown

    def _shown_target(self, key: object) -> str:
        """How the line shows a request target: `_path`'s key."""
        # PEP 3333 strings hold the request's bytes as latin-1: recover them
        # and percent-encode, so a UTF-8 path logs as sent, never as mojibake.
        if isinstance(key, str):  # the raw target, already percent-encoded
            target, _, query = _latin1(key).partition("?")
            path = _quote(target, _PATH_SAFE + "%")
        else:
            assert isinstance(key, tuple)
            script_name, path_info, query_string = key
            path = _quote(_latin1(script_name + path_info), _PATH_SAFE)
            query = _latin1(query_string)
        path = path or "/"
        if query:
            path += "?" + _quote_query(redact_query(query, self._names))
        return path

    def write(
        self,
        environ: Environ,
        status: str,
        sent: int,
        started: float,
        duration: float,
        arrived: tuple[Any, str] | None = None,
    ) -> None:
        fields, referer, agent = self._fields_of(
            environ, status, sent, started, duration, arrived
        )
        if self._apache:
            # The named formats have a builder of their own.
            line = self._apache_line(fields, referer, agent)
        elif self._json:
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
            self._log(line, fields)

    def _log(self, line: str, fields: dict[str, Any]) -> None:
        """One INFO record for ``line``, with ``fields`` as ``wsgimw_access``."""
        logger = self._logger
        if type(logger) is logging.Logger or type(logger) is logging.RootLogger:
            # What logger.info() does, less the search for the caller (an
            # access record has none that means anything: the server's loop
            # calling close()), in a record made the quick way when it can be.
            record = _make_record(logger, line)
            record.wsgimw_access = fields
            logger.handle(record)
        else:  # an adapter or a Logger subclass: its own info() decides
            logger.info(line, extra={"wsgimw_access": fields})


# The last time_iso made, with its millisecond and `_local_second` entry:
# requests come many to a millisecond under load.
_last_iso: tuple[int, tuple[str, str, str], str] = (-1, ("", "", ""), "")


def _iso_time(started: float, second: tuple[str, str, str]) -> str:
    """``started`` in ISO 8601 with milliseconds and the local offset;
    ``second`` is `_local_second`'s entry for it."""
    global _last_iso
    millisecond = int(started * 1000)
    last = _last_iso
    if last[0] == millisecond and last[1] is second:
        return last[2]
    text = f"{second[1]}.{millisecond % 1000:03d}{second[2]}"
    _last_iso = (millisecond, second, text)
    return text


# -- records -----------------------------------------------------------------
#
# logger.info() spends more than half its time finding the caller (a walk
# up the stack) and making the record (about twenty attributes set one by
# one, os.path calls on the caller's file name). An access record has no
# caller worth naming, so none is looked for, as when logging._srcfile is
# None: "(unknown file)", line 0, "(unknown function)". And when records are
# plain LogRecords (no record factory, no Logger subclass), one is made by
# copying a template record and setting again what LogRecord.__init__ sets
# per call (time, thread, process, task), on the Python versions whose
# LogRecord does just that; `_FAST_RECORDS` says whether this one does
# (checked once, against a real record).

_NO_CALLER = ("(unknown file)", 0)
_NO_FUNCTION = "(unknown function)"
#: What LogRecord.__init__ sets from the clock, the thread and the process;
#: everything else in a record of ours is the same every time.
_PER_CALL = frozenset(
    {"created", "msecs", "relativeCreated", "thread", "threadName", "process"}
    | {"processName", "msg"}
)
_CONSTANT = frozenset(
    {"name", "args", "levelname", "levelno", "pathname", "filename", "module"}
    | {"exc_info", "exc_text", "stack_info", "lineno", "funcName"}
)


def _template(name: str, line: str) -> logging.LogRecord:
    return logging.LogRecord(
        name, logging.INFO, *_NO_CALLER, line, (), None, _NO_FUNCTION, None
    )


def _time_fields(now: float) -> tuple[float, float]:
    """msecs and relativeCreated as LogRecord.__init__ computes them."""
    return (
        int((now - int(now)) * 1000) + 0.0,
        (now - logging._startTime) * 1000,  # type: ignore[attr-defined]
    )


def _fast_records_work() -> bool:
    """Whether this Python's LogRecord sets exactly the attributes
    `_make_record` sets, the time ones computed as `_time_fields` does."""
    record = _template("wsgimw.accesslog", "-")
    names = set(vars(record))
    tasks = "taskName" in names
    if names - {"taskName"} != _PER_CALL | _CONSTANT:
        return False  # pragma: no cover - a Python whose LogRecord differs
    if not isinstance(logging._startTime, float):  # type: ignore[attr-defined]
        return False  # pragma: no cover - Python 3.13+ counts nanoseconds
    msecs, relative = _time_fields(record.created)
    return bool(
        msecs == record.msecs
        and relative == record.relativeCreated
        and (not tasks or record.taskName is None)  # type: ignore[attr-defined]
    )


_FAST_RECORDS = _fast_records_work()
# os.getpid() is a system call; the pid changes only in a forked child.
_pid = [os.getpid()]
if hasattr(os, "register_at_fork"):  # pragma: no branch - not on Windows
    os.register_at_fork(after_in_child=lambda: _pid.__setitem__(0, os.getpid()))
_templates: dict[str, logging.LogRecord] = {}


def _make_record(logger: logging.Logger, line: str) -> logging.LogRecord:
    """The INFO record ``logger.info(line)`` would make, with no caller."""
    if not _FAST_RECORDS or logging.getLogRecordFactory() is not logging.LogRecord:
        return logger.makeRecord(
            logger.name, logging.INFO, *_NO_CALLER, line, (), None, _NO_FUNCTION
        )
    template = _templates.get(logger.name)
    if template is None:
        template = _templates[logger.name] = _template(logger.name, line)
    record: logging.LogRecord = logging.LogRecord.__new__(logging.LogRecord)
    record.__dict__ = values = template.__dict__.copy()
    now = time.time()
    values["msg"] = line
    values["levelname"] = logging.getLevelName(logging.INFO)  # addLevelName()
    values["created"] = now
    # As _time_fields, written out.
    values["msecs"] = int((now - int(now)) * 1000) + 0.0
    values["relativeCreated"] = (now - logging._startTime) * 1000  # type: ignore[attr-defined]
    # What LogRecord.__init__ does with the same module-level switches.
    if logging.logThreads:
        values["thread"] = threading.get_ident()
        values["threadName"] = threading.current_thread().name
    else:  # pragma: no cover - logging.logThreads = False
        values["thread"] = values["threadName"] = None
    if logging.logMultiprocessing:
        values["processName"] = "MainProcess"
        multiprocessing = sys.modules.get("multiprocessing")
        if multiprocessing is not None:
            try:  # noqa: SIM105 - suppress() costs a context manager per record
                values["processName"] = multiprocessing.current_process().name
            except Exception:  # pragma: no cover - as LogRecord: keep the default
                pass
    else:  # pragma: no cover - logging.logMultiprocessing = False
        values["processName"] = None
    values["process"] = _pid[0] if logging.logProcesses else None
    if "taskName" in values:  # pragma: no cover - Python 3.12+
        values["taskName"] = _task_name()
    return record


def _task_name() -> str | None:  # pragma: no cover - Python 3.12+
    """The asyncio task name LogRecord records (3.12+), or None."""
    if not getattr(logging, "logAsyncioTasks", True):
        return None
    asyncio = sys.modules.get("asyncio")
    if asyncio is None:
        return None
    try:
        task = asyncio.current_task()
    except Exception:
        return None
    return None if task is None else task.get_name()


# -- saying when the lines go nowhere ---------------------------------------------

_HINT_LOCK = threading.Lock()
_HINTED: set[str] = set()


def _nowhere(logger: logging.Logger) -> str | None:
    """Why ``logger``'s INFO records reach no handler that emits them, as
    `logging` decides it; None when one would."""
    if logger.manager.disable >= logging.INFO:
        return f"logging.disable({logging.getLevelName(logger.manager.disable)}) is in force"
    if logger.disabled:
        return (
            f"the {logger.name!r} logger is disabled (a logging configuration "
            "with disable_existing_loggers=True, the default of dictConfig and "
            "fileConfig, ran after it was made)"
        )
    level = logger.getEffectiveLevel()
    if level > logging.INFO:
        return (
            f"the {logger.name!r} logger's effective level is "
            f"{logging.getLevelName(level)}, so INFO records are dropped"
        )
    found = False
    current: logging.Logger | None = logger
    while current is not None:
        for handler in current.handlers:
            found = True
            if handler.level <= logging.INFO:
                return None
        if not current.propagate:
            break
        current = current.parent
    if found:
        return f"every handler of the {logger.name!r} logger is above INFO"
    return (
        f"no handler is configured for the {logger.name!r} logger or its "
        "parents, and Python's last resort drops INFO records"
    )


def _hint_if_nowhere(
    logger: logging.Logger | logging.LoggerAdapter[logging.Logger],
) -> None:
    """Say once per process and logger, on stderr, that access lines go
    nowhere, and how to fix it. It changes no logging setting."""
    target = logger.logger if isinstance(logger, logging.LoggerAdapter) else logger
    if not isinstance(target, logging.Logger):  # pragma: no cover - odd adapter
        return
    why = _nowhere(target)
    if why is None:
        return
    with _HINT_LOCK:
        if target.name in _HINTED:
            return
        _HINTED.add(target.name)
    try:
        sys.stderr.write(
            f"wsgimw AccessLog: no access lines will appear: {why}. Configure "
            "logging in the app (logging.basicConfig(level=logging.INFO)), or "
            "under gunicorn with --log-config FILE or a logconfig_dict giving "
            f"{target.name!r} a handler at INFO, or write the lines to a stream: "
            "AccessLog(stream=sys.stderr). (Said once.)\n"
        )
        sys.stderr.flush()
    except (OSError, ValueError, AttributeError):  # no usable stderr
        pass


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

    __slots__ = ("_access", "_arrived", "_start_clock", "_start_time")

    def __init__(
        self, environ: Environ, start_response: StartResponse, access: AccessLog
    ) -> None:
        super().__init__(environ, start_response)
        self._access = access
        self._arrived = access.arrived(environ)
        self._start_time = time.time()
        self._start_clock = time.perf_counter()

    def on_end(self) -> None:
        duration = time.perf_counter() - self._start_clock
        sent = self.sent
        # An error before any body byte: the server answers 500, whatever
        # status the app had started with.
        status = "500" if self.failed and not sent else self.status or "500"
        self._access.write(
            self.environ, status, sent, self._start_time, duration, self._arrived
        )
