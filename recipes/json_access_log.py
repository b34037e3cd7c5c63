"""JSON logs into a structured logging setup: ``python -m recipes.json_access_log``.

`AccessLog` writes its line on the ``wsgimw.accesslog`` logger and attaches
every field to the record as ``record.wsgimw_access``. A small
`logging.Formatter` of our own, `JSONFormatter`, turns each record into one
JSON object on one line and merges those fields into it, so a log shipper
(Loki, Elasticsearch, CloudWatch, ...) gets ``status``, ``bytes``, ``path``
and the rest as fields, and the Apache-style line as ``message``.

Logging is configured by `configure_logging`, called from `main`: importing
this module (from a ``wsgi.py``, or a test) adds no handler, as a library
must not.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

from wsgimw import AccessLog, ErrorHandler, compose
from wsgimw.types import Environ, StartResponse, WSGIApp

HELLO = b"Hello, world!\n"
#: What ``/stream`` sends, one chunk at a time, without a Content-Length.
CHUNKS = (b"one\n", b"two\n", b"three\n", b"four\n")
NOT_FOUND = b"Not found\n"


class JSONFormatter(logging.Formatter):
    """One JSON object per record, on one line.

    The keys are ``timestamp`` (ISO 8601, UTC), ``level``, ``logger`` and
    ``message``, then the record's ``wsgimw_access`` fields when it has them
    (``host``, ``method``, ``path``, ``status``, ``bytes``, ...), and
    ``exception`` when the record carries a traceback.
    """

    def format(self, record: logging.LogRecord) -> str:
        utc = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        entry: dict[str, Any] = {
            "timestamp": f"{utc}.{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        access = getattr(record, "wsgimw_access", None)
        if isinstance(access, Mapping):
            for key, value in access.items():
                entry.setdefault(key, value)  # never hide the record's own keys
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # ensure_ascii: a control character a client sent cannot break the line.
        return json.dumps(entry, ensure_ascii=True, default=str)


def configure_logging(stream: IO[str] | None = None) -> logging.Handler:
    """Send the ``wsgimw.accesslog`` logger to ``stream`` (default: stdout) as
    JSON lines; return the handler, so that it can be removed again.

    The logger stops propagating, so an access line is not also printed by a
    handler on the root logger. To have every logger's records in JSON, put
    the same handler on the root logger instead.
    """
    handler = logging.StreamHandler(sys.stdout if stream is None else stream)
    handler.setFormatter(JSONFormatter())
    logger = logging.getLogger("wsgimw.accesslog")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    return handler


def _stream() -> Iterator[bytes]:
    yield from CHUNKS


def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """A raw WSGI app: ``/`` says hello, ``/stream`` streams a few chunks."""
    path = environ.get("PATH_INFO", "/")
    head = environ["REQUEST_METHOD"] == "HEAD"
    if path == "/":
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(HELLO))),
            ],
        )
        return [] if head else [HELLO]
    if path == "/stream":
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        return [] if head else _stream()
    start_response(
        "404 Not Found",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(NOT_FOUND))),
        ],
    )
    return [] if head else [NOT_FOUND]


pipeline = compose(
    # Outside ErrorHandler, so the 500 pages it sends are logged as sent.
    AccessLog(format="combined"),
    ErrorHandler(),
)
application: WSGIApp = pipeline(app)


class _QuietHandler(WSGIRequestHandler):
    """wsgiref's handler without its own access line: AccessLog writes one."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


def main(argv: Sequence[str] | None = None) -> None:
    """Serve `application` on 127.0.0.1 until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Serve the JSON access log recipe.")
    parser.add_argument("--port", type=int, default=8000, help="default: 8000")
    args = parser.parse_args(argv)
    configure_logging()
    with make_server(
        "127.0.0.1", args.port, application, handler_class=_QuietHandler
    ) as server:
        url = f"http://127.0.0.1:{server.server_port}"
        print(f"Serving on {url}/ (Ctrl-C to stop). Try:")
        print(f"    curl {url}/ {url}/stream", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
