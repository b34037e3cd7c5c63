"""What is measured: a hello-world app and the layers wrapped around it.

Each layer is its own small function on purpose. CPython specialises
bytecode per code object; if two rows shared a wrapper's code, interleaving
them would keep undoing each other's specialisation and blur both figures.
"""

from __future__ import annotations

import io
import sys
import wsgiref.util
from collections.abc import Iterable

from werkzeug.wsgi import ClosingIterator as WerkzeugClosingIterator

from wsgimw import Rewrite, compose
from wsgimw._response import ClosingIterator, Exchange
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

    The same dict serves every request: none of the layers measured writes
    to it, and copying it per request would only add the same cost to every
    row and hide the differences.
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
