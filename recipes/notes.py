"""The tutorial's app: a tiny notes service behind the full wsgimw stack.

``docs/tutorial.md`` builds this file step by step. Run it with a password
file made by Apache's ``htpasswd`` (``notes.htpasswd`` in the current folder,
or the file that ``NOTES_HTPASSWD`` names)::

    htpasswd -c -B notes.htpasswd alice
    python notes.py --port 8000
    gunicorn --threads 4 notes:application

From the root of a wsgimw checkout, ``python -m recipes.notes`` and
``recipes.notes:application``. Reading notes is public; adding one
(``POST /add``) needs a password.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterable, Sequence
from wsgiref.simple_server import WSGIRequestHandler, make_server

from wsgimw import AccessLog, BasicAuth, Compress, ErrorHandler, QueryParser, compose
from wsgimw.types import Environ, StartResponse, WSGIApp

#: The notes, in memory: a real service would use a database.
NOTES: list[str] = [f"note {n}: remember the milk" for n in range(1, 31)]
_lock = threading.Lock()

#: The password file: notes.htpasswd in the folder the program starts in,
#: or the file that the NOTES_HTPASSWD environment variable names.
HTPASSWD = os.environ.get("NOTES_HTPASSWD", "notes.htpasswd")


def notes_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """``GET /notes?q=word&limit=5`` lists notes; ``POST /add`` adds the
    request body as a note; ``GET /crash`` is a bug on purpose."""
    path, method = environ["PATH_INFO"], environ["REQUEST_METHOD"]
    if path == "/add" and method == "POST":
        size = int(environ.get("CONTENT_LENGTH") or 0)
        text = environ["wsgi.input"].read(min(size, 1000)).decode("utf-8", "replace")
        with _lock:
            NOTES.append(f"{text} (by {environ['REMOTE_USER']})")
        return _json(start_response, {"added": len(NOTES)}, "201 Created")
    if path == "/notes":
        query = environ["wsgimw.query"]
        words = query.getall("q")
        limit = int(query.get("limit", "100") or 100)
        with _lock:
            found = [note for note in NOTES if all(word in note for word in words)]
        return _json(start_response, found[:limit])
    if path == "/crash":
        raise RuntimeError("the notes app has a bug")
    return _json(start_response, {"error": "not found"}, "404 Not Found")


def _json(
    start_response: StartResponse, document: object, status: str = "200 OK"
) -> list[bytes]:
    body = json.dumps(document, indent=1).encode("utf-8")
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


stack = compose(
    ErrorHandler(),  # outermost: turns a crash anywhere below into a clean 500
    AccessLog(format="combined"),  # one line per request, with the bytes sent
    Compress(minimum_size=500),  # gzip, br or zstd, as the client accepts
    BasicAuth(htpasswd=HTPASSWD, realm="notes", protect=["/add"]),  # writing only
    QueryParser(),  # environ["wsgimw.query"]
)
application: WSGIApp = stack(notes_app)


class _QuietHandler(WSGIRequestHandler):
    """wsgiref's request handler without its own access line: AccessLog
    writes one, so each request gives one line on the console."""

    def log_message(self, format: str, *args: object) -> None:
        pass


def main(argv: Sequence[str] | None = None) -> None:
    """Serve `application` on 127.0.0.1 until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Serve the tutorial's notes app.")
    parser.add_argument("--port", type=int, default=8000, help="default: 8000")
    args = parser.parse_args(argv)
    # wsgimw configures no logging: the program decides where lines go.
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    with make_server(
        "127.0.0.1", args.port, application, handler_class=_QuietHandler
    ) as server:
        print(f"notes on http://127.0.0.1:{server.server_port}/notes", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
