"""Wheezy Web behind a wsgimw stack: ``python wheezy_app.py --port 8000``.

This file stands alone: copy it into a project that has ``wheezy.web`` and
``wsgimw[htpasswd]`` installed.

A `wheezy.http.WSGIApplication` is a WSGI app, and Wheezy's own middleware
(`wheezy.web.middleware`: bootstrap, path routing) runs inside it. The
wsgimw stack wraps it from outside; serve ``application``
(``gunicorn wheezy_app:application``).

Without Wheezy's ``http_error_middleware_factory`` in its middleware list,
an error in a handler leaves Wheezy and `ErrorHandler` answers it; with it,
Wheezy turns errors into its own error pages first.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Mapping, Sequence
from string import Template
from wsgiref.simple_server import make_server

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

from wsgimw import AccessLog, BasicAuth, Compress, ErrorHandler, QueryParser, compose
from wsgimw.types import WSGIApp

#: User demo, password s3cret: the line ``htpasswd -nbB demo s3cret`` printed.
#: A real site keeps its users in a file: ``BasicAuth(htpasswd="/etc/site.htpasswd")``.
USERS = {"demo": "$2y$10$wWJmxfbklt0FfA6fH1NkZ.jM6wJafDsO2t3VfcDmJuYzh3ABgjJAy"}
#: The page at ``/``: about 8 kB of repetitive HTML, as real pages are.
PAGE = "<!doctype html>\n<title>Wheezy Web behind wsgimw</title>\n" + "".join(
    f"<p>Release 1.{n}: fixes and small improvements.</p>\n" for n in range(1, 161)
)

# Wheezy ships no type hints: each "type: ignore[misc]" below tells mypy
# that subclassing its handler is fine.


class IndexHandler(BaseHandler):  # type: ignore[misc]
    def get(self) -> HTTPResponse:
        return self.render_response("index", page=PAGE)


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
        user = self.request.environ["REMOTE_USER"]  # BasicAuth let the request in
        response = HTTPResponse(content_type="text/plain; charset=utf-8")
        response.write(f"Hello {user}: only users with a password see this page.\n")
        return response


class BoomHandler(BaseHandler):  # type: ignore[misc]
    def get(self) -> HTTPResponse:
        raise RuntimeError("the page at /boom failed on purpose")


TEMPLATES = {"index": Template("$page")}


def render_template(template_name: str, values: Mapping[str, object]) -> str:
    """Wheezy's template hook; a real site plugs wheezy.template or Jinja2 in."""
    return TEMPLATES[template_name].substitute(values)


all_urls = [
    url("", IndexHandler),
    url("search", SearchHandler),
    url("private/", PrivateHandler),
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
    BasicAuth(users=USERS, realm="wsgimw recipes", protect=["/private"]),
    QueryParser(),
)
application: WSGIApp = pipeline(wheezy_app)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve ``application`` on 127.0.0.1 with the standard library's server."""
    parser = argparse.ArgumentParser(description="Serve the Wheezy Web recipe.")
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
