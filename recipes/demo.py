"""The demo: a small raw WSGI app behind the full wsgimw pipeline.

Run it with ``make demo`` (``make demo PORT=8001`` for another port), or
``python -m recipes.demo --port 8000``; it serves on 127.0.0.1 with the
standard library's threaded WSGI server, logs one access line per request,
and prints what to try with curl. When the port is taken it says so in one
line and exits with status 1.
"""

from __future__ import annotations

import argparse
import errno
import html
import json
import logging
import sys
import time
from collections.abc import Iterable, Iterator
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from wsgimw import (
    AccessLog,
    BasicAuth,
    Compress,
    ErrorHandler,
    QueryParser,
    Rewrite,
    compose,
)
from wsgimw.types import Environ, Headers, StartResponse, WSGIApp

INDEX = """<!doctype html>
<title>wsgimw demo</title>
<h1>wsgimw demo</h1>
<ul>
<li><a href="/hello">/hello</a>: text reversed by a buffered Rewrite, exact Content-Length</li>
<li><a href="/legacy">/legacy</a>: the same for an app that uses write()</li>
<li><a href="/query?tag=a&amp;tag=b&amp;q=caf%C3%A9">/query?tag=a&amp;tag=b&amp;q=caf%C3%A9</a>:
    QueryParser's view of the query, as JSON</li>
<li><a href="/big">/big</a>: a large JSON body that Compress shrinks (gzip, br or zstd)</li>
<li><a href="/stream">/stream</a>: an event stream upper-cased and compressed chunk by chunk,
    still streaming</li>
<li><a href="/boom">/boom</a>: the app raises; ErrorHandler answers with a clean 500</li>
<li><a href="/image">/image</a>: a body nothing touches (not text)</li>
<li><a href="/admin/">/admin/</a>: protected by BasicAuth (user <code>demo</code>,
    password <code>demo</code>); a 401 with a challenge without them</li>
</ul>
<p>Every response carries the headers the security Rewrite adds, and every
request gets one access-log line on the console.</p>
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


def _query(environ: Environ) -> bytes:
    query = environ["wsgimw.query"]
    return json.dumps(
        {"pairs": list(query.items()), "tag": query.getall("tag")}, ensure_ascii=False
    ).encode()


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
    if path == "/query":
        return _respond(environ, start_response, "application/json", _query(environ))
    if path == "/big":
        rows = [
            {"id": n, "name": f"item {n}", "tags": ["demo", "wsgimw"]}
            for n in range(400)
        ]
        return _respond(
            environ, start_response, "application/json", json.dumps(rows).encode()
        )
    if path == "/stream":
        return _stream(environ, start_response)
    if path == "/boom":
        raise RuntimeError("the demo app failed on purpose")
    if path.startswith("/admin/"):
        user = environ["REMOTE_USER"]  # BasicAuth sets it: this page is protected
        page = f"<p>Hello {html.escape(user)}: this page needs a password.</p>\n"
        return _respond(
            environ, start_response, "text/html; charset=utf-8", page.encode()
        )
    if path == "/image":
        return _respond(
            environ, start_response, "image/gif", b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
        )
    start_response(
        "404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")]
    )
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [b"not found\n"]


def security_headers(status: str, headers: Headers) -> tuple[str, Headers]:
    headers.append(("X-Content-Type-Options", "nosniff"))
    headers.append(("Referrer-Policy", "same-origin"))
    return status, headers


def _reverse_lines(text: str) -> str:
    return "".join(line[::-1] + "\n" for line in text.splitlines())


#: The demo's one user, ``demo`` with the password ``demo``: the line that
#: Apache's ``htpasswd -nbB demo demo`` prints. A real site keeps its users
#: in a file: ``BasicAuth(htpasswd="/etc/myapp.htpasswd")``.
DEMO_USERS = {"demo": "$2y$10$ojAn0b/UDElo1Abdkz.LOu.UqsoHuO0wY/YL2syJJvuimkvF5MxYi"}

pipeline = compose(
    ErrorHandler(),  # outermost: what any layer below raises becomes a clean 500
    AccessLog(),  # Apache combined lines (the default); sees the 500s below
    Compress(),
    BasicAuth(users=DEMO_USERS, realm="wsgimw demo", protect=["/admin/"]),
    QueryParser(),
    Rewrite(headers=security_headers),
    Rewrite(text=_reverse_lines, buffered=True, content_types=["text/plain"]),
    Rewrite(text=str.upper, content_types=["text/event-stream"]),
)
application: WSGIApp = pipeline(demo_app)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # AccessLog writes the access lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    options = parser.parse_args(argv)
    # Logging is the application's to set up: access lines and errors to the console.
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        server = make_server(
            options.host,
            options.port,
            application,
            server_class=_ThreadingServer,
            handler_class=_QuietHandler,
        )
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        print(
            f"wsgimw demo: port {options.port} on {options.host} is already in use;"
            f" choose another: make demo PORT={options.port + 1}"
            f" (or python -m recipes.demo --port {options.port + 1})",
            file=sys.stderr,
            flush=True,
        )
        raise SystemExit(1) from None
    with server:
        base = f"http://{options.host}:{server.server_port}"
        print(f"wsgimw demo on {base}", flush=True)
        print(f"stack: {pipeline!r}", flush=True)
        print("try:", flush=True)
        for path in ("/hello", "/legacy", "/image", "/boom"):
            print(f"  curl -i {base}{path}", flush=True)
        print(f"  curl -i '{base}/query?tag=a&tag=b&q=caf%C3%A9'", flush=True)
        print(f"  curl -i --compressed {base}/big", flush=True)
        print(f"  curl -i -u demo:demo {base}/admin/", flush=True)
        print(
            f"  curl -N --compressed {base}/stream     # arrives tick by tick",
            flush=True,
        )
        try:
            server.serve_forever()
        except KeyboardInterrupt:
            print("bye", flush=True)


if __name__ == "__main__":
    main()
