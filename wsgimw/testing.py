"""Tools to test WSGI apps and middleware, for wsgimw's tests and yours.

* `Lint`: a strict, deterministic validator that sits between two layers and
  checks the contract on both sides (nothing relies on ``__del__``).
* `linted`: a pipeline with a `Lint` between every layer, so a violation
  names the layer that broke the contract.
* `call_app`: calls an app the way a strict server does and collects the
  status, headers, body and the error, if any.
* `FAULTS` and `check_fault`: the shared fault matrix, a set of misbehaving
  apps and servers that any middleware must survive.
"""

from __future__ import annotations

import io
import re
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_to_bytes
from wsgiref.util import setup_testing_defaults

from ._response import close_iterable, header_value
from .compose import _describe
from .types import Environ, ExcInfo, Headers, Middleware, StartResponse, Write, WSGIApp

__all__ = [
    "ERROR_PAGE",
    "FAULTS",
    "AppFault",
    "Fault",
    "Lint",
    "LintError",
    "Result",
    "ScriptedApp",
    "call_app",
    "check_fault",
    "linted",
    "make_environ",
]

_OMITTED: Any = object()  # exc_info not passed at all
_STATUS = re.compile(r"[1-9][0-9]{2} [^\x00-\x1f\x7f]*\Z")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
_REQUIRED_ENVIRON = (
    "REQUEST_METHOD",
    "SERVER_NAME",
    "SERVER_PORT",
    "wsgi.version",
    "wsgi.url_scheme",
    "wsgi.input",
    "wsgi.errors",
    "wsgi.multithread",
    "wsgi.multiprocess",
    "wsgi.run_once",
)


class LintError(AssertionError):
    """A broken WSGI rule. ``rule`` is a short name such as ``close-once``."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"[{rule}] {message}")
        self.rule = rule


def _no_body(method: str, status: str) -> bool:
    code = status[:3]
    return method == "HEAD" or code[0] == "1" or code in ("204", "304")


class _Checked:
    """One response as seen by a `Lint`: the state behind each rule."""

    def __init__(
        self, lint: Lint, method: str, server_start_response: StartResponse
    ) -> None:
        self.lint = lint
        self.method = method
        self._server_start_response = server_start_response
        self._server_write: Write | None = None
        self.status = ""
        self.content_length: int | None = None
        self.sent = 0
        self.closes = 0

    def fail(self, rule: str, message: str, *, above: bool = False) -> LintError:
        return self.lint._fail(rule, message, above=above)

    def start_response(
        self, status: str, headers: Headers, exc_info: Any = _OMITTED
    ) -> Write:
        if exc_info is None and not self.lint.allow_exc_info_none:
            raise self.fail(
                "exc-info",
                "start_response() got exc_info=None; omit the argument when "
                "there is no error (some servers take exactly two arguments). "
                "PEP 3333 allows it: for an app that does it on purpose, such "
                "as Bottle, use Lint(allow_exc_info_none=True)",
            )
        if exc_info is _OMITTED:
            exc_info = None
        if exc_info is None and self.status:
            raise self.fail(
                "exc-info", "start_response() called a second time without exc_info"
            )
        if exc_info is not None and (type(exc_info) is not tuple or len(exc_info) != 3):
            raise self.fail(
                "exc-info", f"exc_info must be a sys.exc_info() tuple, got {exc_info!r}"
            )
        self.check_status(status)
        self.check_headers(status, headers)
        self.status = status
        if exc_info is None:
            self._server_write = self._server_start_response(status, headers)
            return self.write
        # A layer above may still hold the headers back (a buffer), so only
        # the real server knows whether this must raise; call_app does.
        self._server_write = self._server_start_response(status, headers, exc_info)
        self.sent = 0
        return self.write

    def write(self, data: bytes) -> None:
        self.count(data, "write() data")
        assert self._server_write is not None  # count() checked the start
        self._server_write(data)

    def check_status(self, status: object) -> str:
        if type(status) is not str:
            raise self.fail(
                "status", f"status must be a str, got {type(status).__name__}"
            )
        if not _STATUS.match(status):
            raise self.fail("status", f"status {status!r} is not 'NNN Reason'")
        try:
            status.encode("latin-1")
        except UnicodeEncodeError:
            raise self.fail("latin-1", f"status {status!r} is not latin-1") from None
        return status

    def check_headers(self, status: str, headers: object) -> None:
        if type(headers) is not list:
            raise self.fail(
                "headers", f"headers must be a list, got {type(headers).__name__}"
            )
        self.content_length = None
        for item in headers:
            if type(item) is not tuple or len(item) != 2:
                raise self.fail(
                    "headers",
                    f"each header must be a (name, value) tuple, got {item!r}",
                )
            name, value = item
            if type(name) is not str or type(value) is not str:
                raise self.fail(
                    "headers", f"header {item!r}: name and value must be native str"
                )
            try:
                value.encode("latin-1")
            except UnicodeEncodeError:
                raise self.fail(
                    "latin-1", f"header {name}: {value!r} is not latin-1"
                ) from None
            if not _TOKEN.match(name) or name.lower() == "status":
                raise self.fail("headers", f"invalid header name {name!r}")
            if _BAD_VALUE.search(value):
                raise self.fail(
                    "headers", f"header {name} holds a control character: {value!r}"
                )
            if name.lower() in _HOP_BY_HOP:
                raise self.fail(
                    "hop-by-hop",
                    f"{name} is a hop-by-hop header; WSGI apps must not send it",
                )
            if name.lower() == "content-length":
                if not value.isdigit() or not value.isascii():
                    raise self.fail(
                        "content-length", f"Content-Length {value!r} is not a number"
                    )
                if (
                    self.content_length is not None
                    and int(value) != self.content_length
                ):
                    raise self.fail(
                        "content-length", "two different Content-Length headers"
                    )
                self.content_length = int(value)
        code = status[:3]
        if self.content_length is not None and (code[0] == "1" or code == "204"):
            raise self.fail(
                "content-length", f"a {code} response must not carry Content-Length"
            )

    def count(self, data: bytes, where: str) -> None:
        if type(data) is not bytes:
            raise self.fail(
                "bytes", f"{where} must be bytes, got {type(data).__name__}"
            )
        if not self.status:
            raise self.fail("start-before-body", f"{where} before start_response()")
        if not data:
            return
        self.sent += len(data)
        if _no_body(self.method, self.status):
            raise self.fail(
                "no-body",
                f"a {self.method} {self.status[:3]} response must have no body, got {len(data)} bytes",
            )
        if self.content_length is not None and self.sent > self.content_length:
            raise self.fail(
                "content-length",
                f"Content-Length is {self.content_length} but {self.sent} bytes were sent",
            )

    def check_complete(self) -> None:
        if not self.status:
            raise self.fail(
                "start-before-body",
                "the body ended and start_response() was never called",
            )
        length = self.content_length
        if (
            length is not None
            and not _no_body(self.method, self.status)
            and self.sent != length
        ):
            raise self.fail(
                "content-length",
                f"Content-Length is {length} but the body has {self.sent} bytes",
            )


class _LintedIterable:
    __slots__ = ("_checked", "_iterable", "_iterator")

    def __init__(self, iterable: Iterable[bytes], checked: _Checked) -> None:
        self._iterable = iterable
        self._checked = checked
        self._iterator: Iterator[bytes] | None = None

    def __iter__(self) -> _LintedIterable:
        return self

    def __next__(self) -> bytes:
        checked = self._checked
        if checked.closes:
            raise checked.fail("close-once", "next() called after close()", above=True)
        if self._iterator is None:
            self._iterator = iter(self._iterable)
        try:
            chunk = next(self._iterator)
        except StopIteration:
            checked.check_complete()
            raise
        checked.count(chunk, "a body chunk")
        return chunk

    def close(self) -> None:
        checked = self._checked
        checked.closes += 1
        if checked.closes > 1:
            raise checked.fail("close-once", "close() called twice", above=True)
        close_iterable(self._iterable)


class Lint:
    """A strict WSGI validator between two layers: ``Lint()(app)``.

    Below (the app side) it checks the status format, native latin-1 ``str``
    headers with no hop-by-hop headers, ``start_response`` before the body,
    ``exc_info`` on every second call, bytes-only chunks, no body on
    HEAD/1xx/204/304, and Content-Length equal to the bytes sent. Above (the
    server side) it checks the environ, no ``next()`` after ``close()``, and
    ``close()`` at most once; `verify` checks that every
    response was closed exactly once.

    Each broken rule raises `LintError` where it happens and is also kept in
    `violations`, so a middleware that swallows the exception cannot hide it.
    A Lint keeps this record across requests: it is a test tool.

    ``allow_exc_info_none=True`` accepts ``start_response(status, headers,
    None)`` from below. PEP 3333 allows the explicit None and frameworks
    such as Bottle send it; wsgimw's own layers omit the argument, as a
    middleware should, and their tests keep the default.
    """

    def __init__(
        self,
        *,
        above: str = "the server",
        below: str = "the app",
        allow_exc_info_none: bool = False,
    ) -> None:
        self.above = above
        self.below = below
        self.allow_exc_info_none = allow_exc_info_none
        self.violations: list[LintError] = []
        self._responses: list[_Checked] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Lint(above={self.above!r}, below={self.below!r})"

    def _fail(self, rule: str, message: str, *, above: bool) -> LintError:
        culprit = self.above if above else self.below
        error = LintError(rule, f"{message} (broken by {culprit}, seen by {self!r})")
        with self._lock:
            self.violations.append(error)
        return error

    def verify(self) -> None:
        """Raise the first violation, or `LintError` for a response not closed."""
        if self.violations:
            raise self.violations[0]
        for checked in self._responses:
            if checked.closes != 1:
                raise self._fail(
                    "close-once",
                    f"a response was closed {checked.closes} times, not once",
                    above=True,
                )

    def __call__(self, app: WSGIApp) -> WSGIApp:
        def linted_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            return self._call(app, environ, start_response)

        return linted_app

    def _check_environ(self, environ: object) -> str:
        if type(environ) is not dict:
            raise self._fail(
                "environ",
                f"environ must be a dict, got {type(environ).__name__}",
                above=True,
            )
        missing = [key for key in _REQUIRED_ENVIRON if key not in environ]
        if missing:
            raise self._fail(
                "environ", f"environ lacks {', '.join(missing)}", above=True
            )
        for key, value in environ.items():
            if type(key) is not str:
                raise self._fail(
                    "environ", f"environ key {key!r} is not a str", above=True
                )
            if "." in key:
                continue
            if type(value) is not str:
                raise self._fail(
                    "environ",
                    f"environ[{key!r}] must be a native str, got {type(value).__name__}",
                    above=True,
                )
            if not value.isascii():
                try:
                    value.encode("latin-1")
                except UnicodeEncodeError:
                    raise self._fail(
                        "latin-1",
                        f"environ[{key!r}] = {value!r} is not latin-1: PEP 3333 "
                        "strings hold bytes, one character per byte",
                        above=True,
                    ) from None
        return str(environ["REQUEST_METHOD"])

    def _call(
        self, app: WSGIApp, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        checked = _Checked(self, self._check_environ(environ), start_response)
        iterable = app(environ, checked.start_response)
        if isinstance(iterable, (str, bytes)) or not hasattr(iterable, "__iter__"):
            close_iterable(iterable)
            raise checked.fail(
                "iterable",
                f"the app returned {type(iterable).__name__}; "
                "it must return an iterable of bytes",
            )
        if type(iterable) in (list, tuple):
            # Checked now and handed on as it is, so the layer above still
            # sees a list (a length it can use); it has nothing to close.
            for chunk in iterable:
                checked.count(chunk, "a body chunk")
            checked.check_complete()
            return iterable
        with self._lock:
            self._responses.append(checked)
        return _LintedIterable(iterable, checked)


def linted(*middleware: Middleware) -> Callable[[WSGIApp], tuple[WSGIApp, list[Lint]]]:
    """A pipeline like `compose` with a `Lint` above, between and below
    every layer. Returns ``build(app) -> (wrapped app, lints)``; call
    ``lint.verify()`` on each (outermost first) after the request."""
    names = [_describe(layer) for layer in middleware]

    def build(app: WSGIApp) -> tuple[WSGIApp, list[Lint]]:
        below = _describe(app)
        lints: list[Lint] = []
        for layer, name in zip(reversed(middleware), reversed(names), strict=True):
            lint = Lint(above=name, below=below)
            lints.append(lint)
            app = layer(lint(app))
            below = name
        outer = Lint(above="the server", below=below)
        lints.append(outer)
        lints.reverse()
        return outer(app), lints

    return build


# -- a strict server ----------------------------------------------------------


def make_environ(
    path: str = "/",
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
    **extra: object,
) -> Environ:
    """A complete PEP 3333 environ for a request to ``path``.

    ``path`` is the request target as a client sends it: text goes out as
    UTF-8 and ``%XX`` escapes stand for bytes. As a server does, PATH_INFO is
    percent-decoded and QUERY_STRING is kept as sent; both hold their bytes
    as latin-1 strings. To set raw values, pass ``PATH_INFO=...`` or
    ``QUERY_STRING=...``.
    """
    raw_path, _, raw_query = path.encode("utf-8").partition(b"?")
    path_info = unquote_to_bytes(raw_path).decode("latin-1")
    query = raw_query.decode("latin-1")
    environ: Environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
    }
    if body:
        environ["CONTENT_LENGTH"] = str(len(body))
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        environ[key] = value
    environ.update(extra)
    setup_testing_defaults(environ)
    return environ


@dataclass
class Result:
    """What `call_app` saw, as a server would."""

    status: str = ""
    headers: Headers = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    error: BaseException | None = None

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    @property
    def status_code(self) -> int:
        return int(self.status[:3]) if self.status else 0

    def header(self, name: str) -> str | None:
        return header_value(self.headers, name)


def call_app(
    app: WSGIApp,
    environ: Environ | str = "/",
    *,
    read: int | None = None,
    catch: bool = False,
    **environ_options: object,
) -> Result:
    """Call ``app`` as a strict server would and return a `Result`.

    ``environ`` is an environ or a path for `make_environ` (with
    ``environ_options``). ``read`` stops after that many chunks, as a client
    that goes away (``read=0`` closes before the first ``next()``). The
    iterable is closed exactly once. With ``catch=True`` an exception is kept
    in ``Result.error`` instead of raised.
    """
    if isinstance(environ, str):
        environ = make_environ(environ, **environ_options)  # type: ignore[arg-type]
    result = Result()
    headers_sent = False

    def write(data: bytes) -> None:
        nonlocal headers_sent
        if not result.status:
            raise AssertionError("write() before start_response()")
        if data:
            headers_sent = True
            result.chunks.append(data)

    def start_response(
        status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Write:
        if exc_info is not None:
            try:
                if headers_sent:
                    raise exc_info[1].with_traceback(exc_info[2])  # type: ignore[union-attr]
            finally:
                exc_info = None  # break the traceback cycle
        elif result.status:
            raise AssertionError("start_response() called twice without exc_info")
        result.status, result.headers = status, list(headers)
        return write

    try:
        iterable = app(environ, start_response)
        try:
            if read != 0:
                for chunk in iterable:
                    if type(chunk) is not bytes:
                        raise AssertionError(
                            f"a body chunk must be bytes, got {chunk!r}"
                        )
                    if chunk:
                        if not result.status:
                            raise AssertionError("body before start_response()")
                        headers_sent = True
                        result.chunks.append(chunk)
                    if read is not None and len(result.chunks) >= read:
                        break
        finally:
            close_iterable(iterable)
    except Exception as exc:
        if not catch:
            raise
        result.error = exc
    return result


# -- the shared fault matrix ------------------------------------------------


class AppFault(RuntimeError):
    """The exception a `ScriptedApp` raises on purpose."""


class ScriptedApp:
    """A WSGI app that misbehaves on request, and counts close() calls.

    ``style`` is ``"iter"`` (start, then return a closeable iterable),
    ``"list"`` (a plain list), ``"lazy"`` (start_response at the first
    ``next()``), ``"generator"`` (a real generator function), ``"write"``
    (every chunk through write(), then an empty iterable) or ``"mixed"`` (the
    first chunk written, the rest yielded). ``fail`` names where to raise
    `AppFault`: ``"call"`` (before start_response), ``"started"`` (after it,
    before returning), ``"chunk"`` (at chunk index ``at``), ``"close"``;
    ``"exc_info"`` re-calls start_response with a 500 and exc_info at chunk
    ``at``.
    """

    def __init__(
        self,
        chunks: Iterable[bytes] = (b"Hello, ", b"world", b"!"),
        *,
        style: str = "iter",
        fail: str | None = None,
        at: int = 0,
        content_type: str = "text/plain; charset=utf-8",
        content_length: bool = True,
        status: str = "200 OK",
        error_type: str = "text/plain",
    ) -> None:
        self.chunks = list(chunks)
        self.error_type = error_type
        self.style = style
        self.fail = fail
        self.at = at
        self.status = status
        bodiless = status[:3] in ("204", "304")
        self.headers = [] if bodiless else [("Content-Type", content_type)]
        if content_length and not bodiless:
            self.headers.append(("Content-Length", str(sum(map(len, self.chunks)))))
        self.closes = 0
        #: The iterable the last call returned, to check pass-through identity.
        self.last_iterable: Iterable[bytes] | None = None

    @property
    def returned_iterable(self) -> bool:
        """Whether the app returned an iterable with close() to count."""
        return isinstance(self.last_iterable, _ScriptedIterable)

    def __repr__(self) -> str:
        return f"ScriptedApp(style={self.style!r}, fail={self.fail!r}, at={self.at})"

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        if self.fail == "call":
            raise AppFault("raised before start_response")
        if self.style == "generator":
            return self._generate(environ, start_response)
        no_body = environ["REQUEST_METHOD"] == "HEAD" or self.status[:3] in (
            "204",
            "304",
        )
        chunks = [] if no_body else self.chunks
        if self.style == "lazy":
            return self._returned(
                _ScriptedIterable(self, chunks, start_response, lazy=True)
            )
        write = start_response(self.status, list(self.headers))
        if self.fail == "started":
            raise AppFault("raised after start_response")
        if self.style == "list":
            self.last_iterable = list(chunks)
            return self.last_iterable
        if self.style in ("write", "mixed"):
            written = chunks if self.style == "write" else chunks[:1]
            for chunk in written:
                write(chunk)
            chunks = chunks[len(written) :]
        return self._returned(
            _ScriptedIterable(self, chunks, start_response, lazy=False)
        )

    def _returned(self, iterable: _ScriptedIterable) -> _ScriptedIterable:
        self.last_iterable = iterable
        return iterable

    def _generate(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterator[bytes]:
        start_response(self.status, list(self.headers))
        if environ["REQUEST_METHOD"] != "HEAD":
            yield from self.chunks


class _ScriptedIterable:
    def __init__(
        self,
        app: ScriptedApp,
        chunks: list[bytes],
        start_response: StartResponse,
        *,
        lazy: bool,
    ) -> None:
        self._app = app
        self._chunks = chunks
        self._start_response = start_response
        self._lazy = lazy
        self._index = 0

    def __iter__(self) -> _ScriptedIterable:
        return self

    def __next__(self) -> bytes:
        app = self._app
        if self._lazy:
            self._lazy = False
            self._start_response(app.status, list(app.headers))
        index = self._index
        if index == app.at and app.fail == "chunk":
            raise AppFault(f"raised at chunk {index}")
        if index == app.at and app.fail == "exc_info":
            app.fail = None
            return self._error_page()
        if index >= len(self._chunks):
            raise StopIteration
        self._index += 1
        return self._chunks[index]

    def _error_page(self) -> bytes:
        # The app caught an error after starting: it re-calls start_response
        # with exc_info, as PEP 3333 allows (the server raises if too late).
        try:
            raise AppFault("raised while streaming")
        except AppFault:
            self._start_response(
                "500 Internal Server Error",
                [
                    ("Content-Type", self._app.error_type),
                    ("Content-Length", str(len(ERROR_PAGE))),
                ],
                sys.exc_info(),
            )
        self._chunks = []
        return ERROR_PAGE

    def close(self) -> None:
        self._app.closes += 1
        if self._app.fail == "close":
            raise AppFault("raised in close()")


@dataclass(frozen=True)
class Fault:
    """One row of the fault matrix: an app, a request and a server."""

    name: str
    app: Callable[[], ScriptedApp]
    read: int | None = None
    method: str = "GET"
    #: Where the app raises: None (it does not), "before-body" (no body
    #: byte has gone out: an error handler must answer 5xx), "after-body"
    #: (the error must reach the server) or "close" (in close(): a handler
    #: may log it and keep the finished response).
    raises: str | None = None
    #: The app's own 500 page is also a right outcome: a layer that held
    #: the headers back can still let the app replace the response.
    may_recover: bool = False

    def __str__(self) -> str:
        return self.name


FAULTS: tuple[Fault, ...] = (
    Fault("iterable", lambda: ScriptedApp()),
    Fault("list", lambda: ScriptedApp(style="list")),
    Fault("generator", lambda: ScriptedApp(style="generator")),
    Fault("lazy-start", lambda: ScriptedApp(style="lazy")),
    Fault("write", lambda: ScriptedApp(style="write")),
    Fault("write-then-iterate", lambda: ScriptedApp(style="mixed")),
    Fault("empty-body", lambda: ScriptedApp(chunks=())),
    Fault("head", lambda: ScriptedApp(), method="HEAD"),
    Fault("no-content", lambda: ScriptedApp(status="204 No Content", chunks=())),
    Fault("raise-before-start", lambda: ScriptedApp(fail="call"), raises="before-body"),
    Fault(
        "raise-after-start", lambda: ScriptedApp(fail="started"), raises="before-body"
    ),
    Fault(
        "raise-at-first-chunk",
        lambda: ScriptedApp(fail="chunk", at=0),
        raises="before-body",
    ),
    Fault(
        "raise-mid-stream", lambda: ScriptedApp(fail="chunk", at=2), raises="after-body"
    ),
    Fault("raise-in-close", lambda: ScriptedApp(fail="close"), raises="close"),
    Fault(
        "lazy-raise-at-first-chunk",
        lambda: ScriptedApp(style="lazy", fail="chunk", at=0),
        raises="before-body",
    ),
    Fault(
        "exc-info-before-body", lambda: ScriptedApp(style="lazy", fail="exc_info", at=0)
    ),
    Fault(
        "exc-info-after-body",
        lambda: ScriptedApp(fail="exc_info", at=1),
        raises="after-body",
        may_recover=True,
    ),
    Fault(
        "exc-info-other-type-after-body",
        lambda: ScriptedApp(fail="exc_info", at=1, error_type="text/html"),
        raises="after-body",
        may_recover=True,
    ),
    Fault("server-closes-before-next", lambda: ScriptedApp(), read=0),
    Fault("server-closes-mid-stream", lambda: ScriptedApp(), read=1),
)

ERROR_PAGE = b"scripted error page"


def check_fault(
    middleware: Middleware,
    fault: Fault | str,
    *,
    handles_errors: bool = False,
    decode: Callable[[Result], bytes] | None = None,
    validate: bool = True,
    **environ_options: object,
) -> Result:
    """Run one row of the fault matrix through ``middleware`` and check it.

    Checks, whatever the middleware does: a `Lint` on each side sees no
    broken rule and ``wsgiref.validate`` agrees; the app's iterable is
    closed exactly once; an exception the app raises reaches the server
    unchanged (or, with ``handles_errors``, becomes a 5xx response when no
    header had been sent); write() apps, lazy and generator apps come out as
    the plain iterable app does. ``decode`` turns a result into the body to
    compare (for example, decompressing it).
    """
    if isinstance(fault, str):
        fault = next(f for f in FAULTS if f.name == fault)
    body_of = decode or _body
    outcome, app = _run_fault(middleware, fault, validate, environ_options)
    error_only = Fault(
        "error-page-only",
        lambda: ScriptedApp(
            chunks=[ERROR_PAGE],
            status="500 Internal Server Error",
            content_type=app.error_type,
        ),
    )
    if app.returned_iterable:
        assert app.closes == 1, (
            f"{fault}: the app iterable was closed {app.closes} times, not once"
        )
    _check_error(fault, outcome, handles_errors)
    if fault.name.startswith("exc-info") and not fault.raises:
        assert outcome.status_code == 500, (
            f"{fault}: the app replaced its response with a 500, got {outcome.status!r}"
        )
    if fault.name.startswith("exc-info") and outcome.status_code == 500:
        # The app's own error page, treated as if the app had sent only it.
        reference, _ = _run_fault(middleware, error_only, validate, environ_options)
        assert body_of(outcome) == body_of(reference), (
            f"{fault}: the replaced response is not the app's error page alone"
        )
    if fault.read is None and not fault.raises and fault.name in _SAME_AS_ITERABLE:
        reference, _ = _run_fault(middleware, FAULTS[0], validate, environ_options)
        assert (outcome.status, body_of(outcome)) == (
            reference.status,
            body_of(reference),
        ), f"{fault}: differs from the same body returned as an iterable"
    return outcome


def _check_error(fault: Fault, outcome: Result, handles_errors: bool) -> None:
    error, status = outcome.error, outcome.status_code
    if fault.raises is None:
        assert error is None, f"{fault}: unexpected {error!r}"
    elif error is not None:
        assert isinstance(error, AppFault), (
            f"{fault}: the server saw {error!r}, not the app's error"
        )
        assert not (handles_errors and fault.raises == "before-body"), (
            f"{fault}: nothing was sent, yet the error was not turned into a 5xx"
        )
    elif fault.may_recover and status == 500:
        pass  # the app replaced its response before anything was sent
    elif fault.raises == "before-body" and handles_errors:
        assert status >= 500, f"{fault}: the error became {outcome.status!r}"
    elif fault.raises == "close" and handles_errors:
        assert status == 200, (
            f"{fault}: the finished response became {outcome.status!r}"
        )
    else:
        raise AssertionError(
            f"{fault}: the app's error was swallowed; got {outcome.status!r}"
        )


def _body(result: Result) -> bytes:
    return result.body


_SAME_AS_ITERABLE = frozenset(
    {"list", "generator", "lazy-start", "write", "write-then-iterate"}
)


def _run_fault(
    middleware: Middleware,
    fault: Fault,
    validate: bool,
    environ_options: Mapping[str, object],
) -> tuple[Result, ScriptedApp]:
    from wsgiref.validate import validator

    app = fault.app()
    inner = Lint(above=_describe(middleware), below=repr(app))
    outer = Lint(above="the server", below=_describe(middleware))
    wrapped: WSGIApp = inner(app)
    if validate and fault.name != "list":  # it would hide that the body is a list
        wrapped = validator(wrapped)
    wrapped = middleware(wrapped)
    if validate:
        wrapped = validator(wrapped)
    wrapped = outer(wrapped)
    result = call_app(
        wrapped,
        "/",
        method=fault.method,
        read=fault.read,
        catch=True,
        **environ_options,
    )
    for lint in (outer, inner):
        lint.verify()
    return result, app
