"""Falcon behind a wsgimw stack: ``python falcon_app.py --port 8000``.

This file stands alone: copy it into a project that has ``falcon`` and
``wsgimw[htpasswd]`` installed.

A `falcon.App` is a WSGI app: wrap it and serve the result, ``application``
(``gunicorn falcon_app:application``). Keep the routes on ``app``.

Falcon answers an unexpected error with its own 500 (a JSON
``{"title": "500 Internal Server Error"}``). An error handler for
`Exception` that raises the error again lets it leave Falcon, so that
`ErrorHandler` answers it; Falcon's handlers for its own `falcon.HTTPError`
(a 404, a 400...) are more specific and still apply.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Sequence
from wsgiref.simple_server import make_server

import falcon

from wsgimw import AccessLog, BasicAuth, Compress, ErrorHandler, QueryParser, compose
from wsgimw.types import WSGIApp

#: User demo, password s3cret: the line ``htpasswd -nbB demo s3cret`` printed.
#: A real site keeps its users in a file: ``BasicAuth(htpasswd="/etc/site.htpasswd")``.
USERS = {"demo": "$2y$10$wWJmxfbklt0FfA6fH1NkZ.jM6wJafDsO2t3VfcDmJuYzh3ABgjJAy"}
#: The page at ``/``: about 8 kB of repetitive HTML, as real pages are.
PAGE = "<!doctype html>\n<title>Falcon behind wsgimw</title>\n" + "".join(
    f"<p>Release 1.{n}: fixes and small improvements.</p>\n" for n in range(1, 161)
)


class Index:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.text = PAGE


class Search:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = req.env["wsgimw.query"]  # put there by QueryParser
        resp.media = {
            "q": query.get("q"),
            "tags": query.getall("tag"),
            "falcon_q": req.get_param("q"),  # Falcon's own parsing still works
        }


class Private:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        user = req.env["REMOTE_USER"]  # BasicAuth let the request in
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = f"Hello {user}: only users with a password see this page.\n"


class Boom:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise RuntimeError("the page at /boom failed on purpose")


def reraise(
    req: falcon.Request, resp: falcon.Response, error: Exception, params: object
) -> None:
    """Let an unexpected error leave Falcon, for ErrorHandler to answer."""
    raise error


app = falcon.App()
app.add_route("/", Index())
app.add_route("/search", Search())
app.add_route("/private/", Private())
app.add_route("/boom", Boom())
app.add_error_handler(Exception, reraise)

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
    parser = argparse.ArgumentParser(description="Serve the Falcon recipe.")
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
