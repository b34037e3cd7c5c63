"""Middleware with the classic WSGI bugs, and third-party layers ready to wrap
an app, for ``wsgimw check`` and the pytest plugin's tests.

Each broken layer is the kind of code people write by hand; each one breaks
one rule of PEP 3333, and ``python -m wsgimw check tests.broken_layers:NAME``
must say which. The third-party factories configure Paste, Werkzeug and
WhiteNoise as a user would, so the check runs on what people deploy.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from wsgimw import AccessLog, Compress, ErrorHandler, QueryParser, compose
from wsgimw.types import Environ, ExcInfo, Headers, StartResponse, Write, WSGIApp

__all__ = [
    "body_on_head",
    "buffers_stream",
    "drops_exc_info",
    "gzipper",
    "never_closes_unstarted",
    "proxy_fix",
    "reverser",
    "shared_data",
    "translogger",
    "whitenoise",
    "wsgimw_stack",
]


def never_closes_unstarted(app: WSGIApp) -> WSGIApp:
    """A generator around the body: closed before its first next(), the
    generator never ran, so its ``finally`` never closes the app's iterable."""

    def timed(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        body = app(environ, start_response)

        def generate() -> Iterator[bytes]:
            try:
                yield from body
            finally:
                if hasattr(body, "close"):
                    body.close()

        return generate()

    return timed


def drops_exc_info(app: WSGIApp) -> WSGIApp:
    """Adds a header and forgets to pass ``exc_info`` on."""

    def tagged(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        def tagging(
            status: str, headers: Headers, exc_info: ExcInfo | None = None
        ) -> Write:
            return start_response(status, [*headers, ("X-Tagged", "yes")])

        return app(environ, tagging)

    return tagged


def buffers_stream(app: WSGIApp) -> WSGIApp:
    """Reads the whole body before sending a byte, to count it."""

    def counted(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        body = app(environ, start_response)
        try:
            chunks = list(body)
        finally:
            if hasattr(body, "close"):
                body.close()
        environ["counted"] = sum(map(len, chunks))
        return chunks

    return counted


def body_on_head(app: WSGIApp) -> WSGIApp:
    """Appends a footer to every response, HEAD included."""

    def footed(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        def no_length(
            status: str, headers: Headers, exc_info: ExcInfo | None = None
        ) -> Write:
            kept = [(n, v) for n, v in headers if n.lower() != "content-length"]
            if exc_info is None:
                return start_response(status, kept)
            return start_response(status, kept, exc_info)

        body = app(environ, no_length)
        return _Footed(body)

    return footed


class _Footed:
    def __init__(self, body: Iterable[bytes]) -> None:
        self._body = body
        self._chunks = iter(body)
        self._done = False

    def __iter__(self) -> _Footed:
        return self

    def __next__(self) -> bytes:
        if self._done:
            raise StopIteration
        try:
            return next(self._chunks)
        except StopIteration:
            self._done = True
            return b"\n-- served by footed\n"

    def close(self) -> None:
        close = getattr(self._body, "close", None)
        if close is not None:
            close()


def reverser(app: WSGIApp) -> WSGIApp:
    """The seed-style reverser: reverses the body and closes the app's
    iterable only when it was read to the end, so half the ways a request
    can end (the app raising, the server leaving early) leak it."""

    def reversing(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        def no_length(
            status: str, headers: Headers, exc_info: ExcInfo | None = None
        ) -> Write:
            kept = [(n, v) for n, v in headers if n.lower() != "content-length"]
            if exc_info is None:
                return start_response(status, kept)
            return start_response(status, kept, exc_info)

        body = app(environ, no_length)
        return _Reversed(body)

    return reversing


class _Reversed:
    def __init__(self, body: Iterable[bytes]) -> None:
        self._body = body
        self._chunks = iter(body)

    def __iter__(self) -> _Reversed:
        return self

    def __next__(self) -> bytes:
        try:
            chunk = next(self._chunks)
        except StopIteration:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()  # only here: at the normal end
            raise
        return chunk[::-1]

    def close(self) -> None:
        pass  # forgets the app's iterable when the request ends early


# -- good stacks ---------------------------------------------------------------

#: wsgimw's own layers, as a site would stack them.
wsgimw_stack = compose(
    ErrorHandler(), AccessLog(), Compress(minimum_size=0), QueryParser()
)


# -- third-party layers, configured as users do --------------------------------

_STATIC = Path(tempfile.gettempdir()) / "wsgimw-check-static"


def _static_root() -> str:
    _STATIC.mkdir(exist_ok=True)
    (_STATIC / "site.css").write_text("body { margin: 0 }\n", encoding="utf-8")
    return str(_STATIC)


def gzipper(app: WSGIApp) -> WSGIApp:
    """Paste's gzipper (run it with -H 'Accept-Encoding: gzip')."""
    from paste.gzipper import middleware

    wrapped: WSGIApp = middleware(app)
    return wrapped


def translogger(app: WSGIApp) -> WSGIApp:
    """Paste's TransLogger, logging through ``logging`` only."""
    from paste.translogger import TransLogger

    logging.getLogger("wsgimw.check.translogger").propagate = False
    wrapped: WSGIApp = TransLogger(
        app, logger_name="wsgimw.check.translogger", setup_console_handler=False
    )
    return wrapped


def proxy_fix(app: WSGIApp) -> WSGIApp:
    """Werkzeug's ProxyFix trusting one proxy."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    wrapped: WSGIApp = ProxyFix(app, x_for=1, x_proto=1)
    return wrapped


def shared_data(app: WSGIApp) -> WSGIApp:
    """Werkzeug's SharedDataMiddleware serving /static."""
    from werkzeug.middleware.shared_data import SharedDataMiddleware

    wrapped: WSGIApp = SharedDataMiddleware(app, {"/static": _static_root()})
    return wrapped


def whitenoise(app: WSGIApp) -> WSGIApp:
    """WhiteNoise serving /static."""
    from whitenoise import WhiteNoise  # type: ignore[import-untyped]

    wrapped: Any = WhiteNoise(app, root=_static_root(), prefix="/static")
    result: WSGIApp = wrapped
    return result
