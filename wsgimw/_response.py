"""The one place that intercepts a WSGI response (architecture §3).

Every wsgimw middleware that looks at or changes a response goes through the
pieces here instead of re-solving PEP 3333 itself:

* `Exchange` is one response passing through one middleware. Its
  `start_response` forwards ``exc_info`` (omitted when None), lets a subclass
  see or change the status and headers in `on_start`, and returns a working
  ``write()``. A subclass may answer `on_start` with a `BodyFilter`; the body,
  whether yielded or written, then goes through it.
* `Body` is the iterator class that carries a filtered response to the
  server: one chunk out for every chunk in, the filter's tail at the end, and
  the app iterable's ``close()`` exactly once, whatever happens.
* `ClosingIterator` runs callbacks at ``close()`` without touching the chunks:
  the server iterates the app's own iterator, so it costs nothing per chunk.
* `Observed` is one response that a middleware only watches (its status, the
  body bytes sent, whether the app failed) until it ends: far cheaper than an
  `Exchange`, for observers such as an access log.
* `Buffer` is the filter for whole-body transforms: it holds the headers back
  until the body is complete, so Content-Length can be set exactly.

When a middleware does not act, `Exchange.respond` returns the app's own
iterable, so ``wsgi.file_wrapper`` (sendfile) and ``len()`` survive.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from typing import Any, Protocol

from .types import Environ, ExcInfo, Headers, StartResponse, Write, WSGIApp

logger = logging.getLogger("wsgimw.response")

#: What a second ``start_response`` without exc_info raises (as an
#: AssertionError) where a layer held the first one back: PEP 3333 makes it
#: a fatal error, which a server refuses the same way.
SECOND_START = (
    "start_response() called a second time without exc_info: "
    "pass exc_info=sys.exc_info() to replace a response (PEP 3333)"
)

#: The end of an app's iterable: private, so no chunk the app yields (not
#: even a wrong one such as None) can pass for it.
_END: Any = object()

__all__ = [
    "SECOND_START",
    "Body",
    "BodyFilter",
    "Buffer",
    "ClosingIterator",
    "Exchange",
    "Observed",
    "Recovery",
    "close_iterable",
    "forward_start",
    "guard",
    "has_body",
    "header_value",
    "plain_response",
    "remove_header",
    "rewrite_start_response",
    "run_all",
]


class BodyFilter(Protocol):
    """Changes a body chunk by chunk. One instance serves one response."""

    def feed(self, chunk: bytes) -> bytes:
        """Return what to send for ``chunk`` (``b''`` while holding data back)."""

    def finish(self) -> bytes:
        """Return what is left to send once the body has ended normally."""


def close_iterable(iterable: object) -> None:
    """Call ``iterable.close()`` if it has one (PEP 3333: servers must)."""
    close = getattr(iterable, "close", None)
    if close is not None:
        close()


def run_all(*cleanups: Callable[[], object]) -> None:
    """Run every cleanup even when one raises; then re-raise the first error.

    Only `Exception` is collected: GeneratorExit, KeyboardInterrupt and
    SystemExit propagate at once, as they must.
    """
    error: Exception | None = None
    for cleanup in cleanups:
        try:
            cleanup()
        except Exception as exc:
            if error is None:
                error = exc
    if error is not None:
        raise error


def has_body(environ: Environ, status: str) -> bool:
    """Whether a response may carry a body: not HEAD, 1xx, 204 or 304."""
    code = status[:3]
    return not (
        code[0] == "1" or code in ("204", "304") or environ["REQUEST_METHOD"] == "HEAD"
    )


def header_value(headers: Headers, name: str) -> str | None:
    """The value of the first header called ``name`` (case-insensitive)."""
    name = name.lower()
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


def remove_header(headers: Headers, name: str) -> Headers:
    """A copy of ``headers`` without any header called ``name``."""
    name = name.lower()
    return [(key, value) for key, value in headers if key.lower() != name]


def plain_response(
    environ: Environ,
    start_response: StartResponse,
    status: str,
    message: str,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    """Answer with a short UTF-8 text body: for the 4xx/5xx responses a
    middleware makes itself, such as a 400 for a bad query. ``headers`` are
    added, replacing defaults of the same name; HEAD, 1xx, 204 and 304
    responses get no body (and no Content-Length on 1xx/204)."""
    data = message.encode("utf-8")
    code = status[:3]
    if code[0] == "1" or code in ("204", "304"):
        defaults = []  # such responses have no body to describe
    else:
        defaults = [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(data))),
        ]
    extra = list(headers)
    given = {name.lower() for name, _ in extra}
    start_response(status, [h for h in defaults if h[0].lower() not in given] + extra)
    return [data] if has_body(environ, status) else []


def forward_start(
    start_response: StartResponse,
    status: str,
    headers: Headers,
    exc_info: ExcInfo | None,
) -> Write:
    """Call the server's ``start_response`` as PEP 3333 asks a middleware to:
    ``exc_info`` passed on unchanged, and omitted when it is None (a server
    may not take it as a keyword, and some refuse an explicit None). For
    layers that write their own ``start_response`` wrapper for speed."""
    if exc_info is None:
        return start_response(status, headers)
    return start_response(status, headers, exc_info)


def rewrite_start_response(
    start_response: StartResponse, hook: Callable[[str, Headers], tuple[str, Headers]]
) -> StartResponse:
    """A ``start_response`` that lets ``hook`` change the status and headers.

    For middleware that only touches headers: far cheaper than an
    `Exchange`, and the app's iterable is returned untouched.
    """

    def start(status: str, headers: Headers, exc_info: ExcInfo | None = None) -> Write:
        status, headers = hook(status, headers)
        if exc_info is None:
            return start_response(status, headers)
        return start_response(status, headers, exc_info)

    return start


def _close_then(iterable: object, callback: Callable[[], object] | None) -> None:
    """Close the app's iterable, then run ``callback``; each runs even if the
    other raises, and the first error is re-raised. Written out rather than
    through `run_all`: it runs once per request on every closing layer."""
    error: Exception | None = None
    close = getattr(iterable, "close", None)
    if close is not None:
        try:
            close()
        except Exception as exc:
            error = exc
    if callback is not None:
        try:
            callback()
        except Exception as exc:
            if error is None:
                error = exc
    if error is not None:
        raise error


class Recovery(Protocol):
    """What `guard` asks when the app raises. One object serves every
    request: everything about the request comes in the arguments."""

    def error_page(
        self, environ: Environ, error: Exception
    ) -> tuple[str, Headers, bytes] | None:
        """The status, headers and body to answer ``error`` with, or None to
        let it propagate."""

    def on_answered(self, environ: Environ, error: Exception, *, sent: bool) -> None:
        """``error`` had a page: sent in place of the response (``sent``
        True), or too late for one (the headers were out) and re-raised."""

    def on_close_error(self, environ: Environ, error: Exception) -> bool:
        """The app iterable's close() raised; True if handled, not re-raised."""


def _answer(
    recovery: Recovery,
    environ: Environ,
    start_response: StartResponse,
    error: Exception,
) -> bytes | None:
    """Send ``recovery``'s page for ``error``, or None when it is too late.

    Nothing watches the body go by: PEP 3333 makes ``start_response(...,
    exc_info)`` raise once the headers are out, so offering the page is
    itself the test of whether it is too late for one.
    """
    page = recovery.error_page(environ, error)
    if page is None:
        return None
    status, headers, body = page
    exc_info: ExcInfo = (type(error), error, error.__traceback__)  # type: ignore[assignment]
    try:
        start_response(status, headers, exc_info)
    except Exception as refusal:
        if not _accepted_anyway(refusal, error):
            # The server had sent the headers: it re-raised.
            recovery.on_answered(environ, error, sent=False)
            return None  # the original error goes on to the server
    finally:
        exc_info = None  # type: ignore[assignment]  # no traceback cycle
    recovery.on_answered(environ, error, sent=True)
    return body


def _accepted_anyway(refusal: Exception, error: Exception) -> bool:
    """Whether a raise from ``start_response(..., exc_info)`` still took the
    new headers. uWSGI (2.0) restores ``exc_info`` as the current exception
    to log it and returns normally, so Python raises a `SystemError` whose
    cause is our own error, though the headers were accepted; after the
    headers are out it raises ``OSError('headers already sent')`` instead."""
    return type(refusal) is SystemError and refusal.__cause__ is error


def guard(
    app: WSGIApp, environ: Environ, start_response: StartResponse, recovery: Recovery
) -> Iterable[bytes]:
    """Call ``app`` with the server's own ``start_response``; hand what it
    raises to ``recovery``. For middleware that change nothing in a response
    but answer its errors: nothing is intercepted, and a list or tuple body
    (which cannot raise and has no close()) or a ``wsgi.file_wrapper`` (so the
    server keeps its sendfile()) is returned untouched."""
    try:
        iterable = app(environ, start_response)
    except Exception as error:
        body = _answer(recovery, environ, start_response, error)
        if body is None:
            raise
        return [body]
    if type(iterable) in (list, tuple):
        return iterable
    if isinstance(iterable, Observed) and iterable.take_guard(
        recovery, environ, start_response
    ):
        return iterable  # an observer of the core's guards its own body
    wrapper = environ.get("wsgi.file_wrapper")
    if isinstance(wrapper, type) and isinstance(iterable, wrapper):
        return iterable  # the server's sendfile() is worth more than a guard
    return _Guarded(iterable, environ, start_response, recovery)


class _Guarded:
    """The body under `guard`: errors in next() and close() go to the
    recovery; the app's iterable is closed exactly once."""

    __slots__ = ("_environ", "_iterable", "_iterator", "_recovery", "_start_response")

    def __init__(
        self,
        iterable: Iterable[bytes],
        environ: Environ,
        start_response: StartResponse,
        recovery: Recovery,
    ) -> None:
        self._iterable: Iterable[bytes] | None = iterable
        self._iterator: Iterator[bytes] | None = None
        self._environ = environ
        self._start_response = start_response
        self._recovery = recovery

    def __iter__(self) -> _Guarded:
        return self

    def __next__(self) -> bytes:
        iterator = self._iterator
        try:
            if iterator is None:
                if self._iterable is None:  # closed
                    raise StopIteration
                iterator = self._iterator = iter(self._iterable)
            chunk = next(iterator, _END)  # no StopIteration to catch per body
        except StopIteration:
            raise
        except Exception as error:
            body = _answer(self._recovery, self._environ, self._start_response, error)
            if body is None:
                raise
            self._iterator = iter(())  # the replacement ends the body
            return body
        if chunk is _END:
            raise StopIteration
        return chunk

    def close(self) -> None:
        iterable = self._iterable
        if iterable is None:  # closed already
            return
        self._iterable = None
        self._iterator = None  # a next() after close() ends, not reaches the app
        try:
            close_iterable(iterable)
        except Exception as error:
            if not self._recovery.on_close_error(self._environ, error):
                raise


class ClosingIterator:
    """Hands the server the app iterable's own iterator; adds work at close().

    ``close()`` closes the iterable the app returned (never ``iter()`` of
    it), then runs ``callback``, each exactly once, even when the server
    closes before iterating or one of them raises. This is a class, not a
    generator, so ``close()`` works before the first ``next()``. It takes one
    callback; to run several, pass a function that calls them (see `run_all`).
    """

    __slots__ = ("_callback", "_iterable")

    def __init__(
        self, iterable: Iterable[bytes], callback: Callable[[], object] | None = None
    ) -> None:
        self._iterable: Iterable[bytes] | None = iterable
        self._callback = callback

    def __iter__(self) -> Iterator[bytes]:
        iterable = self._iterable
        return iter(()) if iterable is None else iter(iterable)

    def close(self) -> None:
        iterable = self._iterable
        if iterable is None:  # closed already
            return
        self._iterable = None
        _close_then(iterable, self._callback)


class Observed:
    """One response that a middleware watches and never changes.

    It sees the status the server accepted, counts the body bytes the app
    yields or writes, notes whether the app failed, and runs `on_end` once
    when the response is over: when the server closes it, or when the app
    raised before returning an iterable. The headers and chunks go through
    untouched; the app's iterable is closed exactly once, before `on_end`.

    Create one per request (subclass it to add `on_end`), call `respond`,
    return what it returns. Cheaper than an `Exchange` with
    ``observes_close``: no filter to consult, nothing held back, one small
    frame per chunk.
    """

    __slots__ = (
        "_guard",
        "_iterable",
        "_iterator",
        "_server_start_response",
        "_server_write",
        "environ",
        "failed",
        "sent",
        "status",
    )
    _server_write: Write
    # What `guard` asked this body to do in its place (see `take_guard`).
    _guard: tuple[Recovery, Environ, StartResponse] | None

    def __init__(self, environ: Environ, start_response: StartResponse) -> None:
        self.environ = environ
        self._server_start_response = start_response
        #: The status line the server accepted last; "" until then.
        self.status = ""
        #: Body bytes the app has yielded or written so far.
        self.sent = 0
        #: Whether the app raised (calling it, in ``iter()`` or ``next()``).
        self.failed = False
        self._iterable: Any = None
        self._iterator: Iterator[bytes] | None = None
        self._guard = None

    def on_end(self) -> None:
        """Runs once when the response is over."""

    def take_guard(
        self, recovery: Recovery, environ: Environ, start_response: StartResponse
    ) -> bool:
        """Do `guard`'s work for the layer above instead of being wrapped by
        it: an error in ``iter()`` or ``next()`` goes to ``recovery``, whose
        page (sent through ``start_response``, the guard's) ends the body,
        and an error in ``close()`` goes to its ``on_close_error``. What this
        observer sees stays what it would see under a `_Guarded`: the page
        is not counted in `sent`. One iterator less between the server and
        the app, in the common stack of an error handler over an access
        log. False when this body carries a guard already."""
        if self._guard is not None:
            return False
        self._guard = (recovery, environ, start_response)
        return True

    def respond(self, app: WSGIApp) -> Iterable[bytes]:
        """Call ``app`` through this observer; return what to give the server."""
        try:
            self._iterable = app(self.environ, self.start_response)
        except Exception as error:
            self.failed = True
            self._iterable = _END
            try:
                self.on_end()
            except Exception:  # never hide the app's error
                logger.exception("a cleanup failed after the app raised %r", error)
            raise
        return self

    def start_response(
        self, status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Write:
        """The ``start_response`` given to the app."""
        if exc_info is None:
            self._server_write = self._server_start_response(status, headers)
        else:
            self._server_write = self._server_start_response(status, headers, exc_info)
            # Taken, so nothing had gone out: a layer above that held the
            # body back drops what it held, and so does the count.
            self.sent = 0
        # Only once the server took it: after the headers are out, an
        # exc_info re-call raises and the status sent stays the first one.
        self.status = status
        return self._write

    def _write(self, data: bytes) -> None:
        self.sent += len(data)
        self._server_write(data)

    def __iter__(self) -> Iterator[bytes]:
        iterable = self._iterable
        if (type(iterable) is list or type(iterable) is tuple) and (
            self._iterator is None
        ):
            # A list cannot fail: the server iterates it through map(), so
            # the count costs one small call a chunk and the end of the body
            # raises no StopIteration from a frame of ours.
            self._iterator = iterator = map(self._count, iterable)
            return iterator
        return self

    def _count(self, chunk: bytes) -> bytes:
        try:
            self.sent += len(chunk)
        except Exception:  # not bytes: the app's error, as in __next__
            self.failed = True
            raise
        return chunk

    def __next__(self) -> bytes:
        iterator = self._iterator
        if iterator is None:
            iterable = self._iterable
            if iterable is _END:  # closed
                raise StopIteration
            try:
                iterator = self._iterator = iter(iterable)
            except Exception as error:
                self.failed = True
                page = self._guarded_page(error)
                if page is None:
                    raise
                return page
        # StopIteration is raised here, outside the handler: re-raising it
        # from one would cost as much again, once per body.
        try:
            chunk = next(iterator, _END)  # no StopIteration to catch per body
            if chunk is not _END:
                self.sent += len(chunk)
                return chunk
        except Exception as error:
            self.failed = True
            page = self._guarded_page(error)
            if page is None:
                raise
            return page
        raise StopIteration

    def _guarded_page(self, error: Exception) -> bytes | None:
        """The guard's page for ``error``, which ends the body; None when
        there is no guard, no page, or it is too late for one."""
        if self._guard is None:
            return None
        recovery, environ, start_response = self._guard
        page = _answer(recovery, environ, start_response, error)
        if page is not None:
            self._iterator = iter(())  # the replacement ends the body
        return page

    def close(self) -> None:
        iterable = self._iterable
        if iterable is _END:  # closed already
            return
        self._iterable = _END
        self._iterator = None  # a next() after close() ends, not reaches the app
        try:
            if getattr(iterable, "close", None) is None:  # a list: nothing to close
                self.on_end()
            else:
                _close_then(iterable, self.on_end)
        except Exception as error:
            guard = self._guard
            if guard is None or not guard[0].on_close_error(guard[1], error):
                raise


class Exchange:
    """One response passing through one middleware.

    Create one per request (never share it between requests), call
    `respond`, return what it returns. Subclasses override `on_start` to see
    or change the status and headers and to choose a body filter, and
    `on_close` to act once the response is over. Read the status in
    `on_start` or later: a generator app calls ``start_response`` only at its
    first ``next()``.
    """

    __slots__ = (
        "_held_exc_info",
        "_late_start",
        "_passed",
        "_server_start_response",
        "_server_write",
        "_waiting",
        "environ",
        "filter",
        "headers",
        "holding_headers",
        "iterable",
        "status",
    )
    # Set where first needed: respond() for late deciders, the filter paths.
    _late_start: tuple[str, Headers, ExcInfo | None] | None
    _held_exc_info: ExcInfo | None
    _server_write: Write
    iterable: Iterable[bytes] | None

    def __init__(self, environ: Environ, start_response: StartResponse) -> None:
        self.environ = environ
        self._server_start_response = start_response
        self.filter: BodyFilter | None = None
        #: True while a `Buffer` holds the headers back.
        self.holding_headers = False
        self.status = ""
        self.headers: Headers
        # The server holds the app's own iterable: nothing can filter it now.
        self._passed = False
        # A late decider waits for the app to return before deciding.
        self._waiting = False

    # -- hooks for subclasses -------------------------------------------------

    def on_start(
        self, status: str, headers: Headers
    ) -> tuple[str, Headers, BodyFilter | None]:
        """See the app's status and headers; return the ones to send and a
        filter for the body (or None to leave it alone)."""
        return status, headers, None

    def on_close(self) -> None:
        """Runs once when the response is over: closed by the server, or the
        app raised before returning an iterable."""

    def on_error(self, error: Exception) -> None:
        """The app raised ``error`` (calling it, or in ``iter()``/``next()``);
        it propagates once this returns. For observers: `on_close` follows.
        (Middleware that answer errors use `guard` instead.)"""

    def on_start_early(
        self, status: str, headers: Headers
    ) -> tuple[str, Headers, BodyFilter | None] | None:
        """For a late decider (`decides_late`): what `on_start` would answer,
        when the status and headers alone settle it (typically: a response
        the middleware leaves alone); None to wait for the iterable. A
        settled start goes to the server at once, and nothing is held."""
        return None

    def on_restart_passed(self, status: str, headers: Headers) -> tuple[str, Headers]:
        """An exc_info re-call (an error page) after the app's own iterable
        went to the server untouched: no filter can reach that body, but a
        middleware whose headers do not describe the body (a header hook)
        may still change them. By default, nothing changes."""
        return status, headers

    #: Set True in a subclass whose `on_start` wants to see the iterable the
    #: app returned (``self.iterable``), e.g. to leave ``wsgi.file_wrapper``
    #: alone. The app's start_response is then held until the app returns
    #: or first calls write(); ``self.iterable`` is None in the latter case.
    #: `on_start_early` may settle a response without waiting.
    decides_late = False

    #: Set True in a subclass that needs `on_close` and `on_error` for every
    #: response, even one it filters nothing in; otherwise an untouched
    #: response is passed through as is.
    observes_close = False

    # -- the WSGI side ----------------------------------------------------------

    def respond(self, app: WSGIApp) -> Iterable[bytes]:
        """Call ``app`` through this exchange; return what to give the server."""
        late = self.decides_late
        if late:
            self._waiting, self._late_start, self.iterable = True, None, None
        try:
            iterable = app(self.environ, self.start_response)
        except Exception as error:
            self._abandon(error, None)
            raise
        if late:
            self._waiting = False
            self.iterable = iterable
            held = self._late_start
            if held is not None:
                self._late_start = None
                try:
                    self.start_response(*held)
                except Exception as error:  # on_start or the server refused
                    self._abandon(error, iterable)
                    raise
                finally:
                    # The app's frame (in exc_info's traceback) links back to
                    # this one: drop exc_info here, or the two keep each other.
                    held = None
        if self.status and self.filter is None and not self.observes_close:
            self._passed = True
            return iterable
        return Body(iterable, self)

    def _abandon(self, error: Exception, iterable: Iterable[bytes] | None) -> None:
        """The response failed with ``error``: close what the app returned
        and run the observers, each even if another fails, and never let
        their failure hide the app's error, which the caller re-raises."""
        try:
            run_all(
                lambda: close_iterable(iterable),
                lambda: self.on_error(error),
                self.on_close,
            )
        except Exception:
            logger.exception("a cleanup failed after the app raised %r", error)

    @property
    def started(self) -> bool:
        """Whether the app has called ``start_response`` yet."""
        return bool(self.status)

    def start_response(
        self, status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Write:
        """The ``start_response`` given to the app."""
        if exc_info is None and (self.status or self._held_start()):
            # PEP 3333: a fatal error, which a server refuses; one held back
            # here (a late decider, a Buffer) must be refused the same way.
            raise AssertionError(SECOND_START)
        settled = None
        if self._waiting:  # a late decider: the app has not returned yet
            settled = self.on_start_early(status, headers)
            if settled is None:
                self._late_start = (status, headers, exc_info)
                return self._write
            # Decided: nothing is held, not even an earlier start of this
            # response (replaced now by an exc_info re-call).
            self._waiting = False
            self._late_start = None
        elif self._passed:
            # An exc_info re-call after the server got the app's own
            # iterable: no filter can reach that body, only headers change.
            status, headers = self.on_restart_passed(status, headers)
            self.status, self.headers = status, headers
            self._server_write = self._send_headers(status, headers, exc_info)
            return self._server_write
        elif self.holding_headers:
            # An exc_info re-call: what was held belongs to the old response.
            assert isinstance(self.filter, Buffer)
            self.filter.discard()
            self.holding_headers = False
        if settled is None:
            settled = self.on_start(status, headers)
        status, headers, body_filter = settled
        self.status = status
        self.headers = headers
        if body_filter is not None and not has_body(self.environ, status):
            body_filter = None  # architecture §4.8: nothing to filter, nothing to add
        self.filter = body_filter
        if isinstance(body_filter, Buffer):
            # Headers wait for the whole body; so does anything written.
            self.holding_headers = True
            self._held_exc_info = exc_info
            return self._write
        if exc_info is None:  # the common case, kept short
            self._server_write = self._server_start_response(status, headers)
        else:
            self._server_write = self._server_start_response(status, headers, exc_info)
        return self._write

    def _held_start(self) -> bool:
        """Whether a start of a late decider's response is held back."""
        return self._waiting and self._late_start is not None

    def release_headers(self, status: str, headers: Headers) -> None:
        """Send headers held back by a `Buffer` and stop filtering."""
        exc_info, self._held_exc_info = self._held_exc_info, None
        self.status, self.headers, self.filter = status, headers, None
        self.holding_headers = False
        self._server_write = self._send_headers(status, headers, exc_info)

    def _send_headers(
        self, status: str, headers: Headers, exc_info: ExcInfo | None
    ) -> Write:
        if exc_info is None:
            return self._server_start_response(status, headers)
        return self._server_start_response(status, headers, exc_info)

    def _write(self, data: bytes) -> None:
        # The one write() given to the app: it sends to whatever holds now,
        # so a callable the app kept from an earlier call never goes stale.
        if self._waiting:  # the app writes before returning: decide now
            self._waiting = False
            held = self._late_start
            assert held is not None  # write() comes from a start_response
            self._late_start = None
            self.start_response(*held)
            held = None  # see respond(): no exc_info kept in a live frame
        if self.holding_headers:
            buffer = self.filter
            assert isinstance(buffer, Buffer)  # holding_headers says so
            buffer.feed(data)
            if buffer.overflowed:
                self.release_headers(*buffer.overflow(self))
                self._server_write(buffer.held_bytes())
            return
        body_filter = self.filter
        out = data if body_filter is None else body_filter.feed(data)
        if out:
            self._server_write(out)

    def forget(self) -> None:
        """Drop what could keep a finished request alive in a cycle."""
        self._late_start = self._held_exc_info = self.iterable = None
        self.filter = None  # a compressor holds megabytes: let it go now


class Body:
    """The iterable a filtering `Exchange` gives the server.

    For each chunk the app yields it yields one (maybe ``b''``), so streaming
    stays streaming; after the last it yields the filter's tail. ``close()``
    closes the app's iterable and then calls `Exchange.on_close`, each once.
    """

    __slots__ = ("_closed", "_exchange", "_finished", "_iterable", "_iterator")

    def __init__(self, iterable: Iterable[bytes], exchange: Exchange) -> None:
        self._iterable = iterable
        self._exchange = exchange
        self._iterator: Iterator[bytes] | None = None
        self._closed = False
        self._finished = False

    def __iter__(self) -> Body:
        return self

    def __next__(self) -> bytes:
        if self._closed:  # a server's next() after close() must not reach the app
            raise StopIteration
        exchange = self._exchange
        try:
            iterator = self._iterator
            if iterator is None:
                iterator = self._iterator = iter(self._iterable)
            if exchange.holding_headers:
                return self._drain_buffer(iterator)
            # A sentinel instead of catching StopIteration: cheaper per chunk.
            chunk = next(iterator, _END)
            body_filter = exchange.filter
            if chunk is _END:
                return self._end(iterator, body_filter)
            if body_filter is None:
                return chunk
            if exchange.holding_headers:  # a lazy app started in that next()
                return self._drain_buffer(chain((chunk,), iterator))
            return body_filter.feed(chunk)
        except StopIteration:
            raise
        except Exception as error:
            try:
                exchange.on_error(error)
            except Exception:
                logger.exception("on_error failed after the app raised %r", error)
            raise

    def _end(self, iterator: Iterator[bytes], body_filter: BodyFilter | None) -> bytes:
        if self._exchange.holding_headers:  # a lazy app started with no body
            return self._drain_buffer(iterator)
        if body_filter is not None and not self._finished:
            self._finished = True
            tail = body_filter.finish()
            if tail:
                return tail
        raise StopIteration

    def _drain_buffer(self, iterator: Iterator[bytes]) -> bytes:
        # A whole-body transform needs the whole body before the headers can
        # carry its length; buffered mode is documented to hold it.
        exchange = self._exchange
        for chunk in iterator:
            if not exchange.holding_headers:
                # The app re-called start_response with exc_info and its new
                # response is not held back: pass that one on as it comes.
                body_filter = exchange.filter
                return chunk if body_filter is None else body_filter.feed(chunk)
            # Read the filter afresh: an exc_info re-call starts a new Buffer.
            buffer = exchange.filter
            assert isinstance(buffer, Buffer)  # holding_headers says so
            buffer.feed(chunk)
            if buffer.overflowed:
                exchange.release_headers(*buffer.overflow(exchange))
                return buffer.held_bytes()
        if not exchange.holding_headers:
            return self._end(iterator, exchange.filter)
        buffer = exchange.filter
        assert isinstance(buffer, Buffer)
        self._finished = True
        status, headers, body = buffer.complete(exchange)
        exchange.release_headers(status, headers)
        if not body:
            raise StopIteration
        return body

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            _close_then(self._iterable, self._exchange.on_close)
        finally:
            self._exchange.forget()


class Buffer:
    """A `BodyFilter` that holds the whole body, then transforms it once.

    While it is the exchange's filter, headers are held back; when the body
    is complete, ``transform`` runs and Content-Length is set to the result's
    length. A body larger than ``max_size`` is not transformed: the headers
    go out (without Content-Length) and the body passes through unchanged,
    after ``on_overflow`` has been told.
    """

    __slots__ = ("_data", "max_size", "on_overflow", "transform")

    def __init__(
        self,
        transform: Callable[[bytes], bytes],
        max_size: int,
        on_overflow: Callable[[Exchange], object] | None = None,
    ) -> None:
        self.transform = transform
        self.max_size = max_size
        self.on_overflow = on_overflow
        # One growing buffer, whatever the chunk size: a list of a million
        # one-byte chunks would take some 50 times the body's size.
        self._data = bytearray()

    def feed(self, chunk: bytes) -> bytes:
        self._data += chunk
        return b""

    def finish(self) -> bytes:  # pragma: no cover - Body calls complete()
        return self.transform(self.held_bytes())

    @property
    def overflowed(self) -> bool:
        return len(self._data) > self.max_size

    def discard(self) -> None:
        self._data = bytearray()

    def held_bytes(self) -> bytes:
        data = bytes(self._data)
        self._data = bytearray()
        return data

    def overflow(self, exchange: Exchange) -> tuple[str, Headers]:
        if self.on_overflow is not None:
            self.on_overflow(exchange)
        return exchange.status, remove_header(exchange.headers, "Content-Length")

    def complete(self, exchange: Exchange) -> tuple[str, Headers, bytes]:
        body = self.transform(self.held_bytes())
        headers = remove_header(exchange.headers, "Content-Length")
        headers.append(("Content-Length", str(len(body))))
        return exchange.status, headers, body
