"""Wheezy Web behind a wsgimw stack: ``python -m recipes.frameworks.wheezy_app``.

A `wheezy.http.WSGIApplication` is a WSGI app, and Wheezy's own middleware
(`wheezy.web.middleware`: bootstrap, path routing) runs inside it. The
wsgimw stack wraps it from outside; serve ``application``
(``gunicorn recipes.frameworks.wheezy_app:application``).

Without Wheezy's ``http_error_middleware_factory`` in its middleware list,
an error in a handler leaves Wheezy and `ErrorHandler` answers it; with it,
Wheezy turns errors into its own error pages first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from string import Template

from wheezy.http import (  # type: ignore[import-untyped]
    HTTPResponse,
    WSGIApplication,
)
from wheezy.routing import url  # type: ignore[import-untyped]
from wheezy.web.handlers import BaseHandler  # type: ignore[import-untyped]
from wheezy.web.middleware import (  # type: ignore[import-untyped]
    bootstrap_defaults,
    path_routing_middleware_factory,
)

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

# Wheezy ships no type hints: each "type: ignore[misc]" below tells mypy
# that subclassing its handler is fine.


class IndexHandler(BaseHandler):  # type: ignore[misc]
    def get(self) -> HTTPResponse:
        return self.render_response("index", page=article("Wheezy Web"))


class SearchHandler(BaseHandler):  # type: ignore[misc]
    def get(self) -> HTTPResponse:
        query = self.request.environ["wsgimw.query"]  # put there by QueryParser
        return self.json_response(
            {
                "q": query.get("q"),
                "tags": query.getall("tag"),
                # Wheezy's own parsing still works: a list per name.
                "wheezy_q": self.request.query.get("q", [None])[-1],
            }
        )


class PrivateHandler(BaseHandler):  # type: ignore[misc]
    def get(self) -> HTTPResponse:
        # BasicAuth let the request in and named the user.
        response = HTTPResponse(content_type="text/plain; charset=utf-8")
        response.write(private_text(self.request.environ["REMOTE_USER"]))
        return response


class BoomHandler(BaseHandler):  # type: ignore[misc]
    def get(self) -> HTTPResponse:
        raise BoomError(BOOM)


TEMPLATES = {"index": Template("$page")}


def render_template(template_name: str, values: Mapping[str, object]) -> str:
    """Wheezy's template hook; a real site plugs wheezy.template or Jinja2 in."""
    return TEMPLATES[template_name].substitute(values)


all_urls = [
    url("", IndexHandler),
    url("search", SearchHandler),
    url(f"{PROTECTED.strip('/')}/", PrivateHandler),
    url("boom", BoomHandler),
]
options = {
    "render_template": render_template,
    # Wheezy signs its own authentication cookies with this; BasicAuth
    # authenticates here, so there are none (and no warning about a key).
    "ticket": None,
}
wheezy_app = WSGIApplication(
    middleware=[
        bootstrap_defaults(url_mapping=all_urls),
        path_routing_middleware_factory,
    ],
    options=options,
)

pipeline = compose(
    ErrorHandler(),  # outermost: what anything below raises becomes a clean 500
    AccessLog(format="combined"),  # one line per request, 401s and 500s included
    Compress(),
    BasicAuth(users=DEMO_USERS, realm=REALM, protect=[PROTECTED]),
    QueryParser(),
)
application: WSGIApp = pipeline(wheezy_app)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve ``application`` on 127.0.0.1 until Ctrl-C."""
    serve(application, argv, "Wheezy Web")


if __name__ == "__main__":
    main()
