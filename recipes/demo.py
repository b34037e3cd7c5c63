"""The demo: a small raw WSGI app behind a wsgimw pipeline.

Run it with ``make demo`` (or ``python -m recipes.demo --port 8000``); it
serves on 127.0.0.1 with the standard library's threaded WSGI server and
prints what to try with curl.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterable, Iterator
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from wsgimw import Rewrite, compose
from wsgimw.types import Environ, Headers, StartResponse, WSGIApp

INDEX = """<!doctype html>
<title>wsgimw demo</title>
<h1>wsgimw demo</h1>
<ul>
<li><a href="/hello">/hello</a>: text reversed by a buffered Rewrite, exact Content-Length</li>
<li><a href="/legacy">/legacy</a>: the same for an app that uses write()</li>
<li><a href="/stream">/stream</a>: an event stream upper-cased chunk by chunk, still streaming</li>
<li><a href="/image">/image</a>: a body Rewrite leaves alone (not text)</li>
</ul>
<p>Every response carries the headers the outermost Rewrite adds.</p>
"""


def _respond(
    environ: Environ, start_response: StartResponse, content_type: str, body: bytes
) -> list[bytes]:
    start_response(
        "200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    )
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]


def _stream(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
    start_response(
        "200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")]
    )
    if environ["REQUEST_METHOD"] == "HEAD":
        return
    for n in range(1, 6):
        yield f"data: tick {n}\n\n".encode()
        time.sleep(0.2)


def demo_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The app before any middleware: a handful of routes."""
    path = environ.get("PATH_INFO", "/")
    if path == "/":
        return _respond(
            environ, start_response, "text/html; charset=utf-8", INDEX.encode()
        )
    if path == "/hello":
        body = "héllo wörld ✓\n".encode()
        return _respond(environ, start_response, "text/plain; charset=utf-8", body)
    if path == "/legacy":
        write = start_response(
            "200 OK", [("Content-Type", "text/plain; charset=utf-8")]
        )
        if environ["REQUEST_METHOD"] != "HEAD":
            write(b"written, ")
            write("not returned ✓\n".encode())
        return []
    if path == "/stream":
        return _stream(environ, start_response)
    if path == "/image":
        return _respond(
            environ, start_response, "image/gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
        )
    return _respond(
        environ, start_response, "text/plain; charset=utf-8", b"not found\n"
    )


def security_headers(status: str, headers: Headers) -> tuple[str, Headers]:
    headers.append(("X-Content-Type-Options", "nosniff"))
    headers.append(("Referrer-Policy", "same-origin"))
    return status, headers


def _reverse_lines(text: str) -> str:
    return "".join(line[::-1] + "\n" for line in text.splitlines())


pipeline = compose(
    Rewrite(headers=security_headers),
    Rewrite(text=_reverse_lines, buffered=True, content_types=["text/plain"]),
    Rewrite(text=str.upper, content_types=["text/event-stream"]),
)
application: WSGIApp = pipeline(demo_app)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        print(f"{self.address_string()} {format % args}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    options = parser.parse_args(argv)
    with make_server(
        options.host,
        options.port,
        application,
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    ) as server:
        base = f"http://{options.host}:{server.server_port}"
        print(f"wsgimw demo on {base}  (stack: {pipeline!r})", flush=True)
        print("try:", flush=True)
        for path in ("/hello", "/legacy", "/image"):
            print(f"  curl -i {base}{path}", flush=True)
        print(f"  curl -N {base}/stream     # arrives tick by tick", flush=True)
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("bye", flush=True)


if __name__ == "__main__":
    main()
