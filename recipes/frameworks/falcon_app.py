"""Falcon behind a wsgimw stack: ``python -m recipes.frameworks.falcon_app``.

A `falcon.App` is a WSGI app: wrap it and serve the result, ``application``
(``gunicorn recipes.frameworks.falcon_app:application``). Keep the routes
on ``app``.

Falcon answers an unexpected error with its own 500 (a JSON
``{"title": "500 Internal Server Error"}``). An error handler for
`Exception` that raises the error again lets it leave Falcon, so that
`ErrorHandler` answers it; Falcon's handlers for its own `falcon.HTTPError`
(a 404, a 400...) are more specific and still apply.
"""

from __future__ import annotations

from collections.abc import Sequence

import falcon

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


class Index:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        resp.content_type = falcon.MEDIA_HTML
        resp.text = article("Falcon")


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
        # BasicAuth let the request in and named the user.
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = private_text(req.env["REMOTE_USER"])


class Boom:
    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        raise BoomError(BOOM)


def reraise(
    req: falcon.Request, resp: falcon.Response, error: Exception, params: object
) -> None:
    """Let an unexpected error leave Falcon, for ErrorHandler to answer."""
    raise error


app = falcon.App()
app.add_route("/", Index())
app.add_route("/search", Search())
app.add_route(f"{PROTECTED}/", Private())
app.add_route("/boom", Boom())
app.add_error_handler(Exception, reraise)

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
    serve(application, argv, "Falcon")


if __name__ == "__main__":
    main()
