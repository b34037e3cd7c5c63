"""The front door of a site behind nginx: ``python -m recipes.front_door``.

One stack decides who the client is, which names the site answers to, that
it is reached over https, and gives every request an id that shows in the
response, the access line and every log record made for it::

    ProxyHeaders    who the client is: believed only from the proxy
    RequestId       one id per request, kept from nginx's $request_id
    AccessLog       one line per request, with the client and the id
    TrustedHost     400 for a Host the site does not serve
    HTTPSRedirect   301/308 to https, except the health check
    ErrorHandler    a clean 500, logged with the id

The nginx in front (TLS terminated there) sets what this stack reads::

    location / {
        proxy_pass http://127.0.0.1:8000;
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Request-ID $request_id;
    }

Served with gunicorn: ``gunicorn recipes.front_door:application``. The
proxy's addresses and the site's names come from the environment:
``FRONT_DOOR_TRUSTED`` (default ``127.0.0.1 ::1``) and ``FRONT_DOOR_HOSTS``
(default ``localhost 127.0.0.1 [::1] example.com *.example.com``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Iterable, Sequence
from typing import IO
from wsgiref.simple_server import make_server

from wsgimw import (
    AccessLog,
    ErrorHandler,
    HTTPSRedirect,
    ProxyHeaders,
    RequestId,
    RequestIdFilter,
    TrustedHost,
    compose,
)
from wsgimw.types import Environ, StartResponse, WSGIApp

TRUSTED = "127.0.0.1 ::1"
HOSTS = "localhost 127.0.0.1 [::1] example.com *.example.com"
#: The access line: the client, the request, the status, the bytes, the id.
ACCESS_FORMAT = '{host} "{request_line}" {status} {bytes_clf} id={request_id}'
#: Every other log record, with the id of the request it was made for.
LOG_FORMAT = "%(levelname)s %(name)s [%(request_id)s] %(message)s"

logger = logging.getLogger("front_door")


def site_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Says what it sees: the client, the scheme, the host and the id."""
    path = environ.get("PATH_INFO") or "/"
    if path == "/healthz":
        body = b"ok\n"
    elif path == "/boom":
        raise RuntimeError("a bug in the app")
    else:
        # Logged with the request's id: RequestIdFilter adds it.
        logger.info("serving %s", path)
        body = (
            f"client: {environ['REMOTE_ADDR']}\n"
            f"scheme: {environ['wsgi.url_scheme']}\n"
            f"host: {environ.get('HTTP_HOST', '')}\n"
            f"request id: {environ['wsgimw.request_id']}\n"
        ).encode()
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]


def _words(text: str) -> list[str]:
    return [word for word in text.replace(",", " ").split() if word]


def build(
    app: WSGIApp = site_app,
    *,
    trusted: Sequence[str] = tuple(_words(TRUSTED)),
    hosts: Sequence[str] = tuple(_words(HOSTS)),
    access_stream: IO[str] | None = None,
) -> WSGIApp:
    """The front door around ``app``; access lines go to ``access_stream``
    (default: the ``wsgimw.accesslog`` logger)."""
    stack = compose(
        ProxyHeaders(trusted=trusted),  # outermost: the one place that decides
        RequestId(),  # outside the rest: their records and pages carry the id
        AccessLog(format=ACCESS_FORMAT, stream=access_stream),
        TrustedHost(hosts=hosts),
        HTTPSRedirect(exempt=["/healthz"]),
        ErrorHandler(),
    )
    return stack(app)


def configure_logging(stream: IO[str]) -> logging.Handler:
    """One handler on the root logger that shows each record's request id."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    return handler


def from_environment() -> WSGIApp:
    """The stack as ``FRONT_DOOR_TRUSTED`` and ``FRONT_DOOR_HOSTS`` say,
    logging to stderr: what a server such as gunicorn loads."""
    configure_logging(sys.stderr)
    return build(
        trusted=_words(os.environ.get("FRONT_DOOR_TRUSTED", TRUSTED)),
        hosts=_words(os.environ.get("FRONT_DOOR_HOSTS", HOSTS)),
        access_stream=sys.stderr,
    )


def __getattr__(name: str) -> WSGIApp:
    # ``recipes.front_door:application`` for gunicorn and friends, built on
    # first use so that importing the module configures no logging.
    if name == "application":
        app = from_environment()
        globals()["application"] = app
        return app
    raise AttributeError(name)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    app = from_environment()
    with make_server("127.0.0.1", args.port, app) as server:
        print(f"front door on http://127.0.0.1:{args.port}/", file=sys.stderr)
        server.serve_forever()


if __name__ == "__main__":
    main()
