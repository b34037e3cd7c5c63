"""What is measured: a hello-world app and the layers wrapped around it,
plus the few apps some rows need instead (one that raises, two that read
the query string), and their peers from Paste and WebOb.

Each layer is its own small function on purpose. CPython specialises
bytecode per code object; if two rows shared a wrapper's code, interleaving
them would keep undoing each other's specialisation and blur both figures.
"""

from __future__ import annotations

import io
import logging
import sys
import wsgiref.util
from collections.abc import Iterable

from paste.exceptions.errormiddleware import ErrorMiddleware as PasteErrorMiddleware
from paste.translogger import TransLogger as PasteTransLogger
from webob import Request as WebObRequest  # type: ignore[import-untyped]
from werkzeug.wsgi import ClosingIterator as WerkzeugClosingIterator

from wsgimw import AccessLog, ErrorHandler, QueryParser, Rewrite, compose
from wsgimw._response import ClosingIterator, Exchange, Observed
from wsgimw.types import Environ, ExcInfo, Headers, StartResponse, Write, WSGIApp

BODY = b"Hello, world!"
STATUS = "200 OK"
_CONTENT_LENGTH = str(len(BODY))


def hello_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The bare app every row is compared with."""
    start_response(
        STATUS,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", _CONTENT_LENGTH),
        ],
    )
    return [BODY]


def make_environ() -> Environ:
    """What a server such as gunicorn passes for a browser's ``GET /hello``.

    The same dict serves every request of the rows whose layers leave it
    alone: copying it per request would only add the same cost to every row
    and hide the differences. Rows whose layers write to it are served a
    copy of `make_fresh_environ` instead (see below).
    """
    return {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/hello",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": "bench/1.0",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "53124",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": (
            "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
        ),
        "HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "HTTP_ACCEPT_LANGUAGE": "en-GB,en;q=0.5",
        "HTTP_ACCEPT_ENCODING": "gzip, deflate, br, zstd",
        "HTTP_CONNECTION": "keep-alive",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.file_wrapper": wsgiref.util.FileWrapper,
    }


def _discard(data: bytes) -> None:
    """The ``write()`` a no-op server hands out."""


def start_response(
    status: str, headers: Headers, exc_info: ExcInfo | None = None
) -> Write:
    """A server's start_response that sends nothing: only layers are timed."""
    return _discard


# -- pass-through function middleware ----------------------------------------


def layer_one(app: WSGIApp) -> WSGIApp:
    def layer_one_app(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        return app(environ, start_response)

    return layer_one_app


def layer_two(app: WSGIApp) -> WSGIApp:
    def layer_two_app(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        return app(environ, start_response)

    return layer_two_app


def layer_three(app: WSGIApp) -> WSGIApp:
    def layer_three_app(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        return app(environ, start_response)

    return layer_three_app


def pass_through(app: WSGIApp) -> WSGIApp:
    def pass_through_app(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        return app(environ, start_response)

    return pass_through_app


# -- layers that see close() -------------------------------------------------


def _cleanup() -> None:
    """The close() callback: the cost of calling it, nothing more."""


def wsgimw_closing(app: WSGIApp) -> WSGIApp:
    def wsgimw_closing_app(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        return ClosingIterator(app(environ, start_response), _cleanup)

    return wsgimw_closing_app


def werkzeug_closing(app: WSGIApp) -> WSGIApp:
    def werkzeug_closing_app(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        return WerkzeugClosingIterator(app(environ, start_response), _cleanup)

    return werkzeug_closing_app


class _Bystander(Exchange):
    """Sees the headers, filters nothing: `respond` hands back the app's
    own iterable (the "decides not to act" path)."""

    __slots__ = ()


class _CloseObserver(Exchange):
    """Filters nothing but wants `on_close`, so the body is wrapped in `Body`."""

    __slots__ = ()
    observes_close = True


def observer(app: WSGIApp) -> WSGIApp:
    def observed_app(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        return Observed(environ, start_response).respond(app)

    return observed_app


def bystander_exchange(app: WSGIApp) -> WSGIApp:
    def bystander_app(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        return _Bystander(environ, start_response).respond(app)

    return bystander_app


def observing_exchange(app: WSGIApp) -> WSGIApp:
    def observing_app(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        return _CloseObserver(environ, start_response).respond(app)

    return observing_app


# -- Rewrite -----------------------------------------------------------------


def _same_headers(status: str, headers: Headers) -> tuple[str, Headers]:
    return status, headers


def _same_chunk(chunk: bytes) -> bytes:
    # Identity, so the row shows what the machinery costs, not the transform.
    return chunk


def rewrite_headers() -> Rewrite:
    return Rewrite(headers=_same_headers)


def rewrite_body() -> Rewrite:
    return Rewrite(body=_same_chunk)


def composed_three(app: WSGIApp) -> WSGIApp:
    return compose(layer_one, layer_two, layer_three)(app)


def nested_three(app: WSGIApp) -> WSGIApp:
    return layer_one(layer_two(layer_three(app)))


# -- fresh environs ----------------------------------------------------------
#
# Some layers write into the environ: QueryParser puts "wsgimw.query" there,
# WebOb caches its parsed query there, and Paste's ErrorMiddleware sets
# "paste.throw_errors" (after which it would step aside on every later
# request). Rows with such layers are served a copy of a template environ
# per request; a bare-app row served the same way measures the copy, and
# their extra ns is taken over that row instead of the plain bare app.


class NullStream(io.StringIO):
    """A throwaway ``wsgi.errors``: accepts text and keeps none of it, so
    nothing reaches stderr and nothing piles up in memory while timing."""

    def write(self, text: str) -> int:
        return len(text)


QUERY = "q=hello+world&page=2&sort=asc&tag=a&tag=b"
TAGS = ["a", "b"]


def make_fresh_environ(query: str = "") -> Environ:
    """The template environ for rows served a copy per request."""
    environ = make_environ()
    environ["QUERY_STRING"] = query
    environ["wsgi.errors"] = NullStream()
    return environ


# -- loggers -----------------------------------------------------------------


class FormatAndDiscard(logging.Handler):
    """Builds every line (message, and traceback text when there is one)
    and drops it: logging's cost without any I/O. Keeps the last line so a
    check can see what was built."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.last = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.last = self.format(record)


def formatting_logger(name: str) -> tuple[logging.Logger, FormatAndDiscard]:
    """A logger enabled at INFO whose records are formatted, then dropped."""
    logger = logging.getLogger(name)
    handler = FormatAndDiscard()
    logger.handlers[:] = [handler]
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.disabled = False
    return logger, handler


def silent_logger(name: str) -> logging.Logger:
    """Logging OFF: a NullHandler, no propagation, and disabled, so
    ``logger.error(...)`` returns before a record is even made."""
    logger = logging.getLogger(name)
    logger.handlers[:] = [logging.NullHandler()]
    logger.propagate = False
    logger.disabled = True
    return logger


# -- ErrorHandler vs Paste's ErrorMiddleware ---------------------------------

ERROR_MESSAGE = "bench: the app failed"


def raising_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Fails before start_response: the error handler answers a 500."""
    raise ValueError(ERROR_MESSAGE)


ERRORS_LOG, ERRORS_LOG_HANDLER = formatting_logger("bench.errors.logged")


def errors_quiet(app: WSGIApp) -> WSGIApp:
    return ErrorHandler(logger=silent_logger("bench.errors.quiet"))(app)


def errors_logged(app: WSGIApp) -> WSGIApp:
    return ErrorHandler(logger=ERRORS_LOG)(app)


def paste_errors(app: WSGIApp) -> WSGIApp:
    # debug=False: the generic page. With no error_log and no e-mail, Paste
    # writes a one-line summary and a full text report of the traceback to
    # wsgi.errors (a NullStream here); it has no switch to skip that work.
    middleware: WSGIApp = PasteErrorMiddleware(
        app, debug=False, show_exceptions_in_wsgi_errors=False
    )
    return middleware


# -- QueryParser vs WebOb ----------------------------------------------------


def query_reading_app(
    environ: Environ, start_response: StartResponse
) -> Iterable[bytes]:
    """hello_app (written out: no extra call) reading the query through
    QueryParser's mapping first."""
    if environ["wsgimw.query"].getall("tag") != TAGS:
        raise RuntimeError("QueryParser read the wrong tags")
    start_response(
        STATUS,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", _CONTENT_LENGTH),
        ],
    )
    return [BODY]


def webob_reading_app(
    environ: Environ, start_response: StartResponse
) -> Iterable[bytes]:
    """hello_app (written out: no extra call) reading the query as a WebOb
    app does first."""
    if WebObRequest(environ).GET.getall("tag") != TAGS:
        raise RuntimeError("WebOb read the wrong tags")
    start_response(
        STATUS,
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", _CONTENT_LENGTH),
        ],
    )
    return [BODY]


def query_parser(app: WSGIApp) -> WSGIApp:
    return QueryParser()(app)


# -- AccessLog vs Paste's TransLogger ----------------------------------------

ACCESS_LOG, ACCESS_LOG_HANDLER = formatting_logger("bench.access.wsgimw")
TRANS_LOG, TRANS_LOG_HANDLER = formatting_logger("bench.access.paste")


def access_log(app: WSGIApp) -> WSGIApp:
    return AccessLog(format="combined", logger=ACCESS_LOG)(app)


def trans_logger(app: WSGIApp) -> WSGIApp:
    # Given a logger, TransLogger neither adds a handler nor sets a level.
    middleware: WSGIApp = PasteTransLogger(app, logger=TRANS_LOG)
    return middleware


# -- Compress when it does not act -------------------------------------------
#
# Responses Compress would compress for a GET that accepts gzip (a 2 KiB
# text/html page), and one it never compresses (an image/png of that size),
# each a list body with its Content-Length, as most frameworks answer.

PAGE = (
    b"<!doctype html>\n<html><head><title>Hello</title></head><body>\n"
    + b"<p>Hello, world! This paragraph is here to be compressed.</p>\n" * 31
    + b"</body></html>\n"
)
_PAGE_LENGTH = str(len(PAGE))
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8
_PNG_LENGTH = str(len(PNG))


def page_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response(
        STATUS,
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", _PAGE_LENGTH),
        ],
    )
    return [PAGE]


def png_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response(
        STATUS, [("Content-Type", "image/png"), ("Content-Length", _PNG_LENGTH)]
    )
    return [PNG]


def make_plain_environ() -> Environ:
    """The browser's GET from a client that sends no Accept-Encoding."""
    environ = make_environ()
    del environ["HTTP_ACCEPT_ENCODING"]
    return environ


def make_head_environ() -> Environ:
    """The browser's request, as HEAD."""
    environ = make_environ()
    environ["REQUEST_METHOD"] = "HEAD"
    return environ
