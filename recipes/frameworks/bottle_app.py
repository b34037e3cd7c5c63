"""Bottle behind a wsgimw stack: ``python bottle_app.py --port 8000``.

This file stands alone: copy it into a project that has ``bottle`` and
``wsgimw[htpasswd]`` installed.

A `bottle.Bottle` object is a WSGI app: wrap it and serve the result,
``application`` (``gunicorn bottle_app:application``, or
``bottle.run(application)``). Keep the routes on ``app``.

``app.config["catchall"] = False`` lets an error in a route leave Bottle,
so that `ErrorHandler` answers it. Without it, Bottle catches every error
and sends its own "Internal Server Error" HTML page, which the stack cannot
tell from a page the app meant to send.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Sequence
from wsgiref.simple_server import make_server

import bottle  # type: ignore[import-untyped]

from wsgimw import AccessLog, BasicAuth, Compress, ErrorHandler, QueryParser, compose
from wsgimw.types import WSGIApp

#: User demo, password s3cret: the line ``htpasswd -nbB demo s3cret`` printed.
#: A real site keeps its users in a file: ``BasicAuth(htpasswd="/etc/site.htpasswd")``.
USERS = {"demo": "$2y$10$wWJmxfbklt0FfA6fH1NkZ.jM6wJafDsO2t3VfcDmJuYzh3ABgjJAy"}
#: The page at ``/``: about 8 kB of repetitive HTML, as real pages are.
PAGE = "<!doctype html>\n<title>Bottle behind wsgimw</title>\n" + "".join(
    f"<p>Release 1.{n}: fixes and small improvements.</p>\n" for n in range(1, 161)
)

app = bottle.Bottle()
# Errors leave Bottle and reach ErrorHandler, outermost in the stack.
app.config["catchall"] = False


def index() -> str:
    return PAGE  # Bottle sends a str as text/html


def search() -> dict[str, object]:
    query = bottle.request.environ["wsgimw.query"]  # put there by QueryParser
    return {  # Bottle sends a dict as JSON
        "q": query.get("q"),
        "tags": query.getall("tag"),
        # Bottle's own parsing still works; it decodes the bytes as latin-1,
        # and .getunicode() gives the UTF-8 text.
        "bottle_q": bottle.request.query.getunicode("q"),
    }


def private() -> str:
    user = bottle.request.environ["REMOTE_USER"]  # BasicAuth let the request in
    bottle.response.content_type = "text/plain; charset=utf-8"
    return f"Hello {user}: only users with a password see this page.\n"


def boom() -> str:
    raise RuntimeError("the page at /boom failed on purpose")


# Bottle's decorators (@app.get("/")) do the same; routes added this way
# keep the functions typed for mypy, as bottle ships no type hints.
app.get("/", callback=index)
app.get("/search", callback=search)
app.get("/private/", callback=private)
app.get("/boom", callback=boom)

pipeline = compose(
    ErrorHandler(),  # outermost: what anything below raises becomes a clean 500
    AccessLog(format="combined"),  # one line per request, 401s and 500s included
    Compress(),
    BasicAuth(users=USERS, realm="wsgimw recipes", protect=["/private"]),
    QueryParser(),
)
application: WSGIApp = pipeline(app)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve ``application`` on 127.0.0.1 with the standard library's server."""
    parser = argparse.ArgumentParser(description="Serve the Bottle recipe.")
    parser.add_argument("--port", type=int, default=8000, help="default: 8000")
    port: int = parser.parse_args(argv).port
    # wsgimw only logs: showing its access lines and tracebacks is the app's job.
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    with make_server("127.0.0.1", port, application) as server:
        print(f"Serving on http://127.0.0.1:{port}/ (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
