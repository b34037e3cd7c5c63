"""A compressed JSON API with a live event stream: ``python -m recipes.compressed_api``.

`Compress` negotiates gzip, brotli or zstd from each request's
Accept-Encoding. Three routes show its three behaviours:

* ``/data.json``: a JSON list, returned as a list body. It is compressed at
  once, so the response carries the exact compressed ``Content-Length``.
* ``/events``: Server-Sent Events (``text/event-stream``), five events 0.2 s
  apart. A streaming media type, so each event is compressed and flushed on
  its own and reaches the browser as soon as the app yields it.
* ``/logo.png``: a small PNG. Images are not in Compress's list of media
  types worth compressing, so the response passes through untouched.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import struct
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, make_server

from wsgimw import Compress, compose
from wsgimw.types import Environ, StartResponse, WSGIApp

#: What ``/data.json`` serves: 200 records, about 18 kB of JSON.
RECORDS = [
    {
        "id": n,
        "name": f"Product {n}",
        "category": ("books", "music", "games", "tools")[n % 4],
        "price": round(4.99 + n * 0.25, 2),
        "in_stock": n % 3 != 0,
    }
    for n in range(200)
]
DATA = json.dumps(RECORDS).encode("utf-8")

#: ``/events`` sends this many events, this many seconds apart.
EVENT_COUNT = 5
EVENT_INTERVAL = 0.2


def event(n: int) -> bytes:
    """Event number ``n`` in the ``text/event-stream`` format."""
    return f"id: {n}\ndata: {json.dumps({'tick': n})}\n\n".encode()


def _png(width: int, height: int) -> bytes:
    """A two-colour PNG, built here so that the recipe needs no files."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(
        b"\0"  # filter type: none
        + b"".join(
            b"\x2b\x6c\xb0" if (x // 4 + y // 4) % 2 else b"\xf2\xf2\xf2"
            for x in range(width)
        )
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows, 9))
        + chunk(b"IEND", b"")
    )


LOGO = _png(16, 16)
NOT_FOUND = b"Not found. Try /data.json, /events or /logo.png\n"


def _events() -> Iterator[bytes]:
    for n in range(EVENT_COUNT):
        if n:
            time.sleep(EVENT_INTERVAL)
        yield event(n)


def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """A raw WSGI app with the three routes; it knows nothing of compression."""
    path = environ.get("PATH_INFO", "/")
    head = environ["REQUEST_METHOD"] == "HEAD"
    if path == "/data.json":
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(DATA))),
            ],
        )
        return [] if head else [DATA]
    if path == "/events":
        start_response(
            "200 OK",
            [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")],
        )
        return [] if head else _events()
    if path == "/logo.png":
        start_response(
            "200 OK",
            [("Content-Type", "image/png"), ("Content-Length", str(len(LOGO)))],
        )
        return [] if head else [LOGO]
    start_response(
        "404 Not Found",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(NOT_FOUND))),
        ],
    )
    return [] if head else [NOT_FOUND]


pipeline = compose(Compress())
application: WSGIApp = pipeline(app)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per request: an open event stream does
    not hold up other clients."""

    daemon_threads = True


def main(argv: Sequence[str] | None = None) -> None:
    """Serve `application` on 127.0.0.1 until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Serve the compressed API recipe.")
    parser.add_argument("--port", type=int, default=8000, help="default: 8000")
    args = parser.parse_args(argv)
    with make_server(
        "127.0.0.1", args.port, application, server_class=ThreadingWSGIServer
    ) as server:
        url = f"http://127.0.0.1:{server.server_port}"
        print(f"Serving on {url}/ (Ctrl-C to stop). Try:")
        print(f"    curl --compressed -i {url}/data.json")
        print(f"    curl --compressed -N {url}/events")
        print(f"    curl --compressed -s -D - -o /dev/null {url}/logo.png", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
