"""Error pages for a raw WSGI app: ``python -m recipes.error_pages``.

`ErrorHandler`, outermost in the pipeline, turns what the app raises into a
clean response, chosen by the phase the response was in:

* ``/boom`` raises before ``start_response``: a 500 page, negotiated from
  the Accept header (plain text, HTML or problem+json);
* ``/late`` streams two chunks, then raises: the headers and those chunks are
  already out, so the error is logged and re-raised and the server aborts
  the connection; the client sees a body shorter than its Content-Length;
* ``/missing`` raises ``webob.exc.HTTPNotFound``: sent as the 404 it is;
* ``/forbidden`` raises `PermissionError`, mapped to a 403 by ``statuses``.

Every error except the HTTPNotFound also goes to `report`, a stand-in for an
error tracker such as Sentry.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Iterable, Iterator, Sequence
from wsgiref.simple_server import make_server

from webob.exc import HTTPNotFound  # type: ignore[import-untyped]

from wsgimw import ErrorHandler, Rewrite, compose
from wsgimw.types import Environ, ExcInfo, Headers, StartResponse, WSGIApp

logger = logging.getLogger("recipes.error_pages")

OK_BODY = b"All good.\n"
BOOM = "the app failed before start_response"
LATE = "the app failed after two chunks"
#: What /late means to send; it declares this length, then fails after two.
LATE_CHUNKS = (b"first chunk\n", b"second chunk\n", b"third chunk, never sent\n")


def report(environ: Environ, exc_info: ExcInfo) -> None:
    """Send an error to the error tracker.

    With Sentry this would be ``sentry_sdk.capture_exception(exc_info[1])``;
    here it logs one line on ``recipes.error_pages``. The traceback itself is
    already logged on ``wsgimw.errors``.
    """
    error_type = exc_info[0]
    name = error_type.__name__ if error_type is not None else "?"
    logger.warning(
        "reported %s in %s %s",
        name,
        environ.get("REQUEST_METHOD"),
        environ.get("PATH_INFO", ""),
    )


def _late(start_response: StartResponse) -> Iterator[bytes]:
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(sum(map(len, LATE_CHUNKS)))),
        ],
    )
    yield LATE_CHUNKS[0]
    yield LATE_CHUNKS[1]
    raise RuntimeError(LATE)


def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The app before any middleware: it raises, and leaves the rest to
    ErrorHandler."""
    path = environ.get("PATH_INFO", "/")
    if path == "/":
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(OK_BODY))),
            ],
        )
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [OK_BODY]
    if path == "/boom":
        raise RuntimeError(BOOM)
    if path == "/late":
        return _late(start_response)
    if path == "/forbidden":
        raise PermissionError("only admins may see this")
    raise HTTPNotFound()  # /missing, and any other path


def _no_sniff(status: str, headers: Headers) -> tuple[str, Headers]:
    return status, [*headers, ("X-Content-Type-Options", "nosniff")]


pipeline = compose(
    # Outermost: it catches what the app and every layer below it raise.
    ErrorHandler(statuses={PermissionError: 403}, on_error=report),
    # Headers for the app's own responses. ErrorHandler's pages are made
    # above this layer, so they do not pass through it.
    Rewrite(headers=_no_sniff),
)
application: WSGIApp = pipeline(app)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve `application` on 127.0.0.1 until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Serve the error-pages recipe.")
    parser.add_argument("--port", type=int, default=8000, help="default: 8000")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(levelname)s %(name)s: %(message)s"
    )
    with make_server("127.0.0.1", args.port, application) as server:
        url = f"http://127.0.0.1:{server.server_port}"
        print(f"Serving on {url}/ (Ctrl-C to stop). Try:")
        print(f"    curl -i {url}/")
        print(f"    curl -i {url}/boom")
        print(f"    curl -i -H 'Accept: text/html' {url}/boom")
        print(f"    curl -i -H 'Accept: application/json' {url}/boom")
        print(f"    curl -i {url}/late      # curl reports a transfer closed early")
        print(f"    curl -i {url}/missing")
        print(f"    curl -i {url}/forbidden", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
