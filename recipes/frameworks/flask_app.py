"""Flask behind a wsgimw stack: ``python flask_app.py --port 8000``.

This file stands alone: copy it into a project that has ``flask`` and
``wsgimw[htpasswd]`` installed. Any WSGI server serves ``app``
(``gunicorn flask_app:app``).

The stack wraps ``app.wsgi_app``, not ``app``: the Flask object stays what
you serve, so ``flask run``, ``app.test_client()`` and extensions that reach
for ``app`` still work, and every request goes through the stack.

``PROPAGATE_EXCEPTIONS = True`` lets an error in a view leave Flask, so that
`ErrorHandler` answers it. Without it, Flask turns the error into its own
"500 Internal Server Error" HTML page before the stack sees anything.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Sequence
from wsgiref.simple_server import make_server

from flask import Flask, Response, request

from wsgimw import AccessLog, BasicAuth, Compress, ErrorHandler, QueryParser, compose

#: User demo, password s3cret: the line ``htpasswd -nbB demo s3cret`` printed.
#: A real site keeps its users in a file: ``BasicAuth(htpasswd="/etc/site.htpasswd")``.
USERS = {"demo": "$2y$10$wWJmxfbklt0FfA6fH1NkZ.jM6wJafDsO2t3VfcDmJuYzh3ABgjJAy"}
#: The page at ``/``: about 8 kB of repetitive HTML, as real pages are.
PAGE = "<!doctype html>\n<title>Flask behind wsgimw</title>\n" + "".join(
    f"<p>Release 1.{n}: fixes and small improvements.</p>\n" for n in range(1, 161)
)

app = Flask(__name__)
# Errors leave Flask and reach ErrorHandler, outermost in the stack.
app.config["PROPAGATE_EXCEPTIONS"] = True


@app.get("/")
def index() -> str:
    return PAGE  # Flask sends a str as text/html


@app.get("/search")
def search() -> dict[str, object]:
    query = request.environ["wsgimw.query"]  # put there by QueryParser
    return {
        "q": query.get("q"),
        "tags": query.getall("tag"),
        "flask_q": request.args.get("q"),  # Flask's own parsing still works
    }


@app.get("/private/")
def private() -> Response:
    user = request.environ["REMOTE_USER"]  # BasicAuth let the request in
    text = f"Hello {user}: only users with a password see this page.\n"
    return Response(text, mimetype="text/plain")


@app.get("/boom")
def boom() -> str:
    raise RuntimeError("the page at /boom failed on purpose")


pipeline = compose(
    ErrorHandler(),  # outermost: what anything below raises becomes a clean 500
    AccessLog(format="combined"),  # one line per request, 401s and 500s included
    Compress(),
    BasicAuth(users=USERS, realm="wsgimw recipes", protect=["/private"]),
    QueryParser(),
)
app.wsgi_app = pipeline(app.wsgi_app)  # type: ignore[method-assign,assignment]


def main(argv: Sequence[str] | None = None) -> None:
    """Serve ``app`` on 127.0.0.1 with the standard library's server."""
    parser = argparse.ArgumentParser(description="Serve the Flask recipe.")
    parser.add_argument("--port", type=int, default=8000, help="default: 8000")
    port: int = parser.parse_args(argv).port
    # wsgimw only logs: showing its access lines and tracebacks is the app's job.
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    with make_server("127.0.0.1", port, app) as server:
        print(f"Serving on http://127.0.0.1:{port}/ (Ctrl-C to stop)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
