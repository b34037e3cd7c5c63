"""Reverse every text/plain body, done right: ``python -m recipes.reverse_text``.

`Rewrite` decodes the body with its charset, so multi-byte characters stay
whole; it sets Content-Length to the new length, closes the app's iterable
exactly once, also reverses what a legacy app passes to ``write()``, and
hands any other content type to the server untouched.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Iterable, Sequence
from wsgiref.simple_server import make_server

from wsgimw import Rewrite
from wsgimw.types import Environ, StartResponse, WSGIApp

TEXT = "héllo wörld ✓"


def hello_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """A raw WSGI app with a UTF-8 text/plain body."""
    body = TEXT.encode("utf-8")
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]


reverse = Rewrite(text=lambda s: s[::-1], buffered=True, content_types=["text/plain"])
application: WSGIApp = reverse(hello_app)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve `application` on 127.0.0.1 until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Serve the reverse-text recipe.")
    parser.add_argument("--port", type=int, default=8000, help="default: 8000")
    args = parser.parse_args(argv)
    with make_server("127.0.0.1", args.port, application) as server:
        url = f"http://127.0.0.1:{server.server_port}/"
        print(f"Serving on {url} (Ctrl-C to stop). Try:")
        print(f"    curl {url}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
