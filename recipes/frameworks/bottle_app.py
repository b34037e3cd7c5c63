"""Bottle behind a wsgimw stack: ``python -m recipes.frameworks.bottle_app``.

A `bottle.Bottle` object is a WSGI app: wrap it and serve the result,
``application`` (``gunicorn recipes.frameworks.bottle_app:application``, or
``bottle.run(application)``). Keep the routes on ``app``.

``app.config["catchall"] = False`` lets an error in a route leave Bottle,
so that `ErrorHandler` answers it. Without it, Bottle catches every error
and sends its own "Internal Server Error" HTML page, which the stack cannot
tell from a page the app meant to send.
"""

from __future__ import annotations

from collections.abc import Sequence

import bottle  # type: ignore[import-untyped]

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
from wsgimw.types import WSGIApp

app = bottle.Bottle()
# Errors leave Bottle and reach ErrorHandler, outermost in the stack.
app.config["catchall"] = False


def index() -> str:
    return article("Bottle")  # Bottle sends a str as text/html


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
    # BasicAuth let the request in and named the user.
    bottle.response.content_type = "text/plain; charset=utf-8"
    return private_text(bottle.request.environ["REMOTE_USER"])


def boom() -> str:
    raise BoomError(BOOM)


# Bottle's decorators (@app.get("/")) do the same; routes added this way
# keep the functions typed for mypy, as bottle ships no type hints.
app.get("/", callback=index)
app.get("/search", callback=search)
app.get(f"{PROTECTED}/", callback=private)
app.get("/boom", callback=boom)

pipeline = compose(
    ErrorHandler(),  # outermost: what anything below raises becomes a clean 500
    AccessLog(format="combined"),  # one line per request, 401s and 500s included
    Compress(),
    BasicAuth(users=DEMO_USERS, realm=REALM, protect=[PROTECTED]),
    QueryParser(),
)
application: WSGIApp = pipeline(app)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve ``application`` on 127.0.0.1 until Ctrl-C."""
    serve(application, argv, "Bottle")


if __name__ == "__main__":
    main()
