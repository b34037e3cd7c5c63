"""The hand-fused floor: the default configuration's jobs in ONE WSGI callable.

A measuring stick, not a product. Issue 12 asks the default stack
(`bench.stacks.default_stack`) to cost within 10 µs of the bare app and
says: if pure Python cannot reach that, show what would. This module is the
first half of that answer: the same jobs the five layers do on the default
request, written as one function and one response object, for speed and
with no generality. No option, no layer boundary, no response core: what it
costs is about the least those jobs can cost in pure Python.

The jobs, each done as the default stack does it on this request:

* ErrorHandler: an exception from the app before any body byte went out is
  answered with a 500 page (HTML when the client takes it, else plain
  text), logged on ``wsgimw.errors``; one after the body began is logged and
  raised again; one from the iterable's ``close()`` is logged and the
  response stands.
* BasicAuth: paths under ``/admin`` (case-folded, as ``protect=`` matches;
  any path with an odd segment is checked too) need Basic credentials that
  match the ``{SHA}`` line of the htpasswd file: a SHA-1 is computed for
  every request, as the default stack does for that kind of hash, and
  compared in constant time; an unknown user is checked against a dummy
  hash. The file is looked at again at most once a second (a clock read per
  request) and re-read when it changed. Anything else gets the same 401 as
  BasicAuth (malformed headers too, where BasicAuth answers 400).
* QueryParser: ``environ["wsgimw.query"]`` is an object whose ``getall``
  parses the query string the first time it is called; past 8192 bytes, a
  414.
* Compress: ``Vary: Accept-Encoding`` is added to a response Compress would
  compress (text or JSON, no Content-Encoding, no ``no-transform``, no
  Content-Length under 500), as Compress adds it; such a response is not
  compressed here (the default response is 13 bytes with its
  Content-Length, which Compress leaves alone, as this does).
* AccessLog: the combined line, with what the request arrived with and the
  bytes actually sent, made into an INFO `logging.LogRecord` (the line as
  its message, the fields as ``record.wsgimw_access``) when the server
  closes the body, and handed to the logger's ``handle()``, so its handlers
  really format it.

Not done (none of it is on the default request's path): compressing a body,
the other codings, ``exempt=``, a custom log format, a JSON error page,
``trusted_proxies``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote_from_bytes

from bench import apps, stacks
from wsgimw._redact import redact_query, redact_url
from wsgimw.types import Environ, ExcInfo, Headers, StartResponse, Write, WSGIApp

__all__ = [
    "FUSED_LOG",
    "FUSED_LOG_HANDLER",
    "FusedQuery",
    "fused_default_stack",
    "fused_stack",
]

_ERRORS_LOG = logging.getLogger("wsgimw.errors")
_PROTECTED = "/admin"
_MAX_QUERY = 8192
_MINIMUM_SIZE = 500
_RECHECK_SECONDS = 1.0
_CHALLENGE = [
    ("Content-Type", "text/plain; charset=utf-8"),
    ("Content-Length", "24"),
    ("WWW-Authenticate", 'Basic realm="app", charset="UTF-8"'),
]
_UNAUTHORIZED = b"authentication required\n"
_TOO_LONG = "414 URI Too Long"
_SERVER_ERROR = "500 Internal Server Error"
_ERROR_HTML = (
    b"<!doctype html>\n<html><head><meta charset=utf-8><title>500 Internal "
    b"Server Error</title></head><body>\n<h1>500 Internal Server Error</h1>\n"
    b"<p>The server could not complete the request.</p>\n</body></html>\n"
)
_ERROR_TEXT = b"500 Internal Server Error\n"
_MONTHS = [
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
]
# What makes a path's segments differ from its string: an empty, "." or
# ".." segment, a backslash read as "/".
_ODD_SEGMENT = re.compile(r"//|/\.\.?(?:/|\Z)|\\")
_BASE64 = re.compile(
    r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?\Z"
)
_LOG_SAFE = re.compile(r"[A-Za-z0-9/._~-]*\Z")
_UNSAFE = re.compile(r'["\\\x00-\x1f\x7f-\xff]')
# What AccessLog leaves unencoded in a path, and in a query.
_PATH_SAFE = "/:@!$&'()*+,;=-._~"
_QUERY_SAFE = _PATH_SAFE + '%?[]{}|^`\\"<>#'


# -- the query ------------------------------------------------------------------


class FusedQuery:
    """``environ["wsgimw.query"]``: the query string, parsed when first read."""

    __slots__ = ("_pairs", "_query")

    def __init__(self, query: str) -> None:
        self._query = query
        self._pairs: list[tuple[str, str]] | None = None

    def getall(self, name: str) -> list[str]:
        pairs = self._pairs
        if pairs is None:
            pairs = self._pairs = _parse(self._query)
        return [value for key, value in pairs if key == name]


def _parse(query: str) -> list[tuple[str, str]]:
    """QueryParser's decoding: split on ``&``, ``+`` is a space, %XX a byte,
    the bytes UTF-8 (undecodable ones replaced)."""
    query = query.replace("+", " ")
    pairs = []
    for field in query.split("&"):
        if field:
            name, _, value = field.partition("=")
            pairs.append((_unquote(name), _unquote(value)))
    return pairs


def _unquote(part: str) -> str:
    if "%" not in part and part.isascii():
        return part
    try:
        raw = part.encode("latin-1")
    except UnicodeEncodeError:  # a server that decoded the bytes as UTF-8
        raw = part.encode("utf-8", "surrogatepass")
    if "%" in part:
        pieces = raw.split(b"%")
        out = [pieces[0]]
        for piece in pieces[1:]:
            try:
                out.append(bytes([int(piece[:2], 16)]) + piece[2:])
            except ValueError:
                out.append(b"%" + piece)
        raw = b"".join(out)
    return raw.decode("utf-8", "replace")


# -- the htpasswd file --------------------------------------------------------------


class _Users:
    """The ``{SHA}`` lines of an htpasswd file (user -> SHA-1 digest),
    looked at again at most once a second and re-read when changed."""

    __slots__ = ("_lock", "_next_check", "_seen", "path", "users")

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.users: dict[str, bytes] = {}
        self._seen: tuple[int, int, int, int] | None = None
        self._reload()
        self._next_check = time.monotonic() + _RECHECK_SECONDS

    def current(self) -> dict[str, bytes]:
        now = time.monotonic()
        if now >= self._next_check and self._lock.acquire(blocking=False):
            try:
                self._next_check = now + _RECHECK_SECONDS
                self._reload()
            finally:
                self._lock.release()
        return self.users

    def _reload(self) -> None:
        stat = os.stat(self.path)
        seen = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if seen == self._seen:
            return
        users = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            user, _, hashed = line.partition(":")
            if hashed.startswith("{SHA}") and not line.startswith("#"):
                users[user] = base64.b64decode(hashed[5:])
        self.users, self._seen = users, seen


_DUMMY = hashlib.sha1(os.urandom(16)).digest()


def _user(header: object, users: dict[str, bytes]) -> str | None:
    """The user whose Basic credentials ``header`` holds, if they are right."""
    if type(header) is not str or header[:6] != "Basic ":
        return None
    try:
        text = base64.b64decode(header[6:], validate=True).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError both are
        return None
    user, colon, password = text.partition(":")
    if not colon or not text.isprintable():
        return None
    stored = users.get(user)
    digest = hashlib.sha1(password.encode("utf-8")).digest()
    # An unknown user costs a comparison too, against a digest no one has.
    same = hmac.compare_digest(digest, _DUMMY if stored is None else stored)
    return user if same and stored is not None else None


def _protected(path: str) -> bool:
    folded = path.lower()
    if not folded.isascii() or _ODD_SEGMENT.search(folded):
        return True  # beyond ASCII folding, or an odd segment: checked
    return folded == _PROTECTED or folded.startswith(_PROTECTED + "/")


# -- the access line --------------------------------------------------------------


def _offset(seconds: int) -> str:
    sign = "-" if seconds < 0 else "+"
    minutes = abs(seconds) // 60
    return f"{sign}{minutes // 60:02d}{minutes % 60:02d}"


_Second = tuple[int, str, str, str]
# The last second formatted: requests come many to a second.
_last_second: _Second = (-1, "", "", "")


def _second(when: float) -> _Second:
    """(second, Apache %t, ISO date and time, ISO offset) for ``when``."""
    global _last_second
    second = int(when)
    last = _last_second
    if last[0] == second:
        return last
    t = time.localtime(second)
    offset = _offset(t.tm_gmtoff)
    apache = (
        f"{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} {offset}"
    )
    iso = time.strftime("%Y-%m-%dT%H:%M:%S", t)
    _last_second = last = (second, apache, iso, f"{offset[:3]}:{offset[3:]}")
    return last


# The last time_iso made, with its millisecond and second: requests come
# many to a millisecond under load.
_last_iso: tuple[int, _Second, str] = (-1, _last_second, "")


def _iso_time(started: float, second: _Second) -> str:
    """``started`` in ISO 8601 with milliseconds and the local offset."""
    global _last_iso
    millisecond = int(started * 1000)
    last = _last_iso
    if last[0] == millisecond and last[1] is second:
        return last[2]
    text = f"{second[2]}.{millisecond % 1000:03d}{second[3]}"
    _last_iso = (millisecond, second, text)
    return text


def _plain(text: str) -> bool:
    """Whether ``text`` has nothing Apache would escape."""
    return text.isascii() and text.isprintable() and "\\" not in text


def _client_text(
    value: str, memo: dict[str, tuple[str, str]], *, url: bool
) -> tuple[str, str]:
    """A request header as the fields show it (with ``url``, secrets
    redacted) and as the line does (escaped), remembered in ``memo`` (at most
    256, none holding a secret)."""
    text = redact_url(value) if url and ("=" in value or "@" in value) else value
    shown = text, text if _plain(text) and '"' not in text else _escape(text)
    if text is value:
        if len(memo) >= 256:
            memo.clear()
        memo[value] = shown
    return shown


def _escape(value: str) -> str:
    return _UNSAFE.sub(
        lambda m: (
            "\\" + m.group() if m.group() in '"\\' else f"\\x{ord(m.group()):02x}"
        ),
        value,
    )


def _target(environ: Environ, queries: dict[str, str]) -> str:
    """The path and query the line shows, read when the request arrives (an
    app may rewrite its environ): percent-encoded, secrets redacted; the
    shown form of each query remembered in ``queries`` (at most 256)."""
    get = environ.get
    path = get("SCRIPT_NAME", "") + get("PATH_INFO", "")
    if not _LOG_SAFE.match(path):
        path = quote_from_bytes(path.encode("latin-1", "replace"), _PATH_SAFE)
    path = path or "/"
    query = get("QUERY_STRING", "")
    if not query:
        return path
    shown = queries.get(query)
    if shown is None:
        shown = "?" + redact_query(query)
        if not (shown.isascii() and shown.isprintable() and " " not in shown):
            shown = quote_from_bytes(shown.encode("latin-1", "replace"), _QUERY_SAFE)
        if len(queries) >= 256:
            queries.clear()
        queries[query] = shown
    return path + shown


# -- the record -------------------------------------------------------------------


class _Records:
    """INFO records for one logger, made by copying a template record and
    setting what LogRecord.__init__ sets per call, as AccessLog does."""

    __slots__ = ("agents", "logger", "referers", "template")

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger
        #: value -> (as the fields show it, as the line shows it)
        self.referers: dict[str, tuple[str, str]] = {}
        self.agents: dict[str, tuple[str, str]] = {}
        self.template = logger.makeRecord(
            logger.name,
            logging.INFO,
            "(unknown file)",
            0,
            "-",
            (),
            None,
            "(unknown function)",
        ).__dict__

    def log(self, line: str, fields: dict[str, Any]) -> None:
        record = logging.LogRecord.__new__(logging.LogRecord)
        record.__dict__ = values = self.template.copy()
        now = time.time()
        values["msg"] = line
        values["created"] = now
        values["msecs"] = int((now - int(now)) * 1000) + 0.0
        values["relativeCreated"] = (now - logging._startTime) * 1000  # type: ignore[attr-defined]
        values["thread"] = threading.get_ident()
        values["threadName"] = threading.current_thread().name
        values["process"] = _PID
        values["wsgimw_access"] = fields
        self.logger.handle(record)


_PID = os.getpid()


# -- one response -------------------------------------------------------------------


class _Response:
    """One request's response: start_response for the app (Vary, the status
    seen), the body the server iterates (bytes counted, errors answered) and
    its close() (the access line)."""

    __slots__ = (
        "clock",
        "environ",
        "iterable",
        "method",
        "page",
        "records",
        "sent",
        "start_response",
        "started",
        "status",
        "target",
    )

    def __init__(
        self,
        environ: Environ,
        start_response: StartResponse,
        target: str,
        records: _Records,
    ) -> None:
        self.environ = environ
        self.start_response = start_response
        self.method = environ.get("REQUEST_METHOD", "-")
        self.target = target
        self.records = records
        self.started = time.time()
        self.clock = time.perf_counter()
        self.sent = 0
        self.status = ""
        self.iterable: Iterable[bytes] = ()
        #: The error page, when one replaces the app's body.
        self.page: bytes | None = None

    def start(
        self, status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Write:
        self.status = status
        headers = _with_vary(status, headers)
        if exc_info is None:
            return self.start_response(status, headers)
        return self.start_response(status, headers, exc_info)

    def fail(self, error: Exception) -> None:
        """Answer ``error`` with the 500 page, if no body byte went out."""
        environ = self.environ
        request = f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO', '')}"
        if self.sent:
            _ERRORS_LOG.error(
                "error in %s after the response began; aborting it",
                request,
                exc_info=error,
            )
            raise error
        _ERRORS_LOG.error("error in %s", request, exc_info=error)
        html = "text/html" in environ.get("HTTP_ACCEPT", "")
        page = _ERROR_HTML if html else _ERROR_TEXT
        headers = [
            ("Content-Type", f"text/{'html' if html else 'plain'}; charset=utf-8"),
            ("Content-Length", str(len(page))),
            ("Cache-Control", "no-store"),
        ]
        self.start(
            _SERVER_ERROR,
            headers,
            cast(ExcInfo, (type(error), error, error.__traceback__)),
        )
        self.page = b"" if environ.get("REQUEST_METHOD") == "HEAD" else page

    def __iter__(self) -> Iterator[bytes]:
        # A generator is the cheapest iterator that counts: its end raises
        # no StopIteration in Python code. close() stays on this object.
        return self._body()

    def _body(self) -> Iterator[bytes]:
        page = self.page
        if page is None:
            try:
                for chunk in self.iterable:
                    self.sent += len(chunk)
                    yield chunk
                return
            except Exception as error:
                self.fail(error)  # raises it again if bytes went out
                page = self.page
        if page:
            self.sent += len(page)
            yield page

    def close(self) -> None:
        try:
            iterable = self.iterable
            # A list (most bodies) has no close(): skip the failed lookup.
            if type(iterable) is not list:
                close = getattr(iterable, "close", None)
                if close is not None:
                    close()
        except Exception as error:
            request = f"{self.environ.get('REQUEST_METHOD')} {self.environ.get('PATH_INFO', '')}"
            _ERRORS_LOG.error(
                "error in close() of %s; the response was complete",
                request,
                exc_info=error,
            )
        finally:
            self.write_line()

    def write_line(self) -> None:
        duration = time.perf_counter() - self.clock
        if not self.records.logger.isEnabledFor(logging.INFO):
            return  # nobody would read the line
        environ = self.environ
        get = environ.get
        host = get("REMOTE_ADDR") or "-"
        user = get("REMOTE_USER") or "-"
        method, target = self.method, self.target
        protocol = get("SERVER_PROTOCOL", "-")
        records = self.records
        # Browsers send the same few values again and again: each one's
        # redacted and escaped forms are remembered, as AccessLog does.
        referer = get("HTTP_REFERER", "-")
        referer, referer_line = records.referers.get(referer) or _client_text(
            referer, records.referers, url=True
        )
        agent = get("HTTP_USER_AGENT", "-")
        agent, agent_line = records.agents.get(agent) or _client_text(
            agent, records.agents, url=False
        )
        status = self.status
        code = int(status[:3]) if status[:3].isdigit() else 500
        sent = self.sent
        started = self.started
        second = _second(started)
        request_line = f"{method} {target} {protocol}"
        texts = f"{host}{user}{request_line}"
        if _plain(texts) and '"' not in texts:
            head = f'{host} - {user} [{second[1]}] "{request_line}"'
        else:
            head = (
                f"{_escape(host)} - {_escape(user)} [{second[1]}] "
                f'"{_escape(method)} {_escape(target)} {_escape(protocol)}"'
            )
        line = f'{head} {code} {sent or "-"} "{referer_line}" "{agent_line}"'
        micros = int(duration * 1_000_000)
        fields = {
            "host": host,
            "ident": "-",
            "user": user,
            "time": second[1],
            "time_iso": _iso_time(started, second),
            "request_line": request_line,
            "method": method,
            "path": target,
            "protocol": protocol,
            "status": code,
            "bytes": sent,
            "bytes_clf": str(sent) if sent else "-",
            "referer": referer,
            "user_agent": agent,
            "duration_us": micros,
            "duration_ms": micros / 1000,
            "request_id": get("wsgimw.request_id") or "-",
        }
        self.records.log(line, fields)


def _with_vary(status: str, headers: Headers) -> Headers:
    """``headers``, with Accept-Encoding in Vary when Compress would put it
    there (merged into a Vary the app sent, never twice)."""
    code = status[:3]
    if code[0] in "13" or code in ("204", "206"):
        return headers
    content_type = ""
    vary = -1
    for index, (name, value) in enumerate(headers):
        lower = name.lower()
        if lower == "content-type":
            content_type = value.partition(";")[0].strip().lower()
        elif lower == "content-length":
            if value.isdigit() and int(value) < _MINIMUM_SIZE:
                return headers
        elif lower == "content-encoding":
            return headers
        elif lower == "cache-control":
            if "no-transform" in value.lower():
                return headers
        elif lower == "vary":
            fields = {field.strip().lower() for field in value.split(",")}
            if "*" in fields or "accept-encoding" in fields:
                return headers
            if vary < 0:
                vary = index
    if not (content_type.startswith("text/") or content_type == "application/json"):
        return headers
    if vary < 0:
        return [*headers, ("Vary", "Accept-Encoding")]
    merged = list(headers)
    name, value = merged[vary]
    merged[vary] = (
        name,
        f"{value}, Accept-Encoding" if value.strip() else "Accept-Encoding",
    )
    return merged


def _refuse(
    environ: Environ,
    start_response: StartResponse,
    status: str,
    headers: Headers,
    body: bytes,
) -> list[bytes]:
    start_response(status, headers)
    return [] if environ.get("REQUEST_METHOD") == "HEAD" else [body]


# -- the fused app ------------------------------------------------------------------


def fused_stack(app: WSGIApp, *, logger: logging.Logger, htpasswd: Path) -> WSGIApp:
    """``app`` with the default configuration's five jobs done in one callable."""
    users = _Users(htpasswd)
    records = _Records(logger)
    queries: dict[str, str] = {}

    def fused_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        response = _Response(
            environ, start_response, _target(environ, queries), records
        )
        start = response.start
        try:
            path_info = environ.get("PATH_INFO", "")
            script_name = environ.get("SCRIPT_NAME", "")
            if _protected(path_info) or (
                script_name and _protected(script_name + path_info)
            ):
                user = _user(environ.get("HTTP_AUTHORIZATION"), users.current())
                if user is None:
                    response.iterable = _refuse(
                        environ, start, "401 Unauthorized", _CHALLENGE, _UNAUTHORIZED
                    )
                    return response
                environ["REMOTE_USER"] = (
                    user if user.isascii() else user.encode().decode("latin-1")
                )
                environ["AUTH_TYPE"] = "Basic"
                environ["wsgimw.user"] = user
            query = environ.get("QUERY_STRING") or ""
            if len(query) > _MAX_QUERY:
                message = f"query string too long: {len(query)} bytes; the limit is {_MAX_QUERY}\n"
                data = message.encode()
                headers = [
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(data))),
                ]
                response.iterable = _refuse(environ, start, _TOO_LONG, headers, data)
                return response
            environ["wsgimw.query"] = FusedQuery(query)
            response.iterable = app(environ, start)
        except Exception as error:
            response.fail(error)
        return response

    return fused_app


# -- the bench row ------------------------------------------------------------------

FUSED_LOG, FUSED_LOG_HANDLER = apps.formatting_logger("bench.default.fused")


def fused_default_stack(app: WSGIApp) -> WSGIApp:
    """The floor of the default configuration (`bench.stacks.default_stack`):
    the same htpasswd file, a logger with the same kind of handler."""
    return fused_stack(app, logger=FUSED_LOG, htpasswd=stacks.HTPASSWD)
