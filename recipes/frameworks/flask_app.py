"""Flask behind a wsgimw stack: ``python -m recipes.frameworks.flask_app``.

The stack wraps ``app.wsgi_app``, not ``app``: the Flask object stays what
you serve (``gunicorn recipes.frameworks.flask_app:app``), so ``flask run``,
``app.test_client()`` and extensions that reach for ``app`` still work, and
every request goes through the stack.

``PROPAGATE_EXCEPTIONS = True`` lets an error in a view leave Flask, so that
`ErrorHandler` answers it. Without it, Flask turns the error into its own
"500 Internal Server Error" HTML page before the stack sees anything.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Flask, Response, request

from recipes.frameworks import (
    BOOM,
    DEMO_USERS,
    PROTECTED,
    REALM,
    BoomError,
    article,
    private_text,
    serve,
)
from wsgimw import AccessLog, BasicAuth, Compress, ErrorHandler, QueryParser, compose

app = Flask(__name__)
# Errors leave Flask and reach ErrorHandler, outermost in the stack.
app.config["PROPAGATE_EXCEPTIONS"] = True


@app.get("/")
def index() -> str:
    return article("Flask")  # Flask sends a str as text/html


@app.get("/search")
def search() -> dict[str, object]:
    query = request.environ["wsgimw.query"]  # put there by QueryParser
    return {
        "q": query.get("q"),
        "tags": query.getall("tag"),
        "flask_q": request.args.get("q"),  # Flask's own parsing still works
    }


@app.get(f"{PROTECTED}/")
def private() -> Response:
    # BasicAuth let the request in and named the user.
    return Response(private_text(request.environ["REMOTE_USER"]), mimetype="text/plain")


@app.get("/boom")
def boom() -> str:
    raise BoomError(BOOM)


pipeline = compose(
    ErrorHandler(),  # outermost: what anything below raises becomes a clean 500
    AccessLog(format="combined"),  # one line per request, 401s and 500s included
    Compress(),
    BasicAuth(users=DEMO_USERS, realm=REALM, protect=[PROTECTED]),
    QueryParser(),
)
app.wsgi_app = pipeline(app.wsgi_app)  # type: ignore[method-assign,assignment]


def main(argv: Sequence[str] | None = None) -> None:
    """Serve ``app`` on 127.0.0.1 until Ctrl-C."""
    serve(app, argv, "Flask")


if __name__ == "__main__":
    main()
