"""TurboGears behind a wsgimw stack: ``python turbogears_app.py --port 8000``.

This file stands alone: copy it into a project that has ``TurboGears2`` and
``wsgimw[htpasswd]`` installed.

TurboGears2 in minimal mode: a root controller and a
`tg.MinimalApplicationConfigurator`, whose ``make_wsgi_app()`` returns the
WSGI app that the stack wraps. Serve ``application``
(``gunicorn turbogears_app:application``).

Minimal mode has no error middleware, so an error in a controller leaves
TurboGears and `ErrorHandler` answers it. A full-stack project
(`tg.FullStackApplicationConfigurator`, or a quickstarted one) adds layers
of its own: keep ``debug = false`` there (its interactive debugger answers
errors itself), and check with a test like this recipe's that an error
still reaches ErrorHandler.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Sequence
from wsgiref.simple_server import make_server

from tg import (  # type: ignore[import-untyped]
    MinimalApplicationConfigurator,
    TGController,
    expose,
    request,
)

from wsgimw import AccessLog, BasicAuth, Compress, ErrorHandler, QueryParser, compose
from wsgimw.types import WSGIApp

#: User demo, password s3cret: the line ``htpasswd -nbB demo s3cret`` printed.
#: A real site keeps its users in a file: ``BasicAuth(htpasswd="/etc/site.htpasswd")``.
USERS = {"demo": "$2y$10$wWJmxfbklt0FfA6fH1NkZ.jM6wJafDsO2t3VfcDmJuYzh3ABgjJAy"}
#: The page at ``/``: about 8 kB of repetitive HTML, as real pages are.
PAGE = "<!doctype html>\n<title>TurboGears behind wsgimw</title>\n" + "".join(
    f"<p>Release 1.{n}: fixes and small improvements.</p>\n" for n in range(1, 161)
)

# TurboGears ships no type hints: each "type: ignore" below tells mypy that
# its classes and decorators are fine to use from typed code.


class PrivateController(TGController):  # type: ignore[misc]
    @expose(content_type="text/plain")  # type: ignore[untyped-decorator]
    def index(self) -> str:
        user = request.environ["REMOTE_USER"]  # BasicAuth let the request in
        return f"Hello {user}: only users with a password see this page.\n"


class RootController(TGController):  # type: ignore[misc]
    private = PrivateController()  # /private/

    @expose(content_type="text/html")  # type: ignore[untyped-decorator]
    def index(self) -> str:
        return PAGE

    @expose("json")  # type: ignore[untyped-decorator]
    def search(self, **params: object) -> dict[str, object]:
        query = request.environ["wsgimw.query"]  # put there by QueryParser
        return {
            "q": query.get("q"),
            "tags": query.getall("tag"),
            "turbogears_q": params.get("q"),  # TurboGears' own parsing still works
        }

    @expose()  # type: ignore[untyped-decorator]
    def boom(self) -> str:
        raise RuntimeError("the page at /boom failed on purpose")


configurator = MinimalApplicationConfigurator()
configurator.update_blueprint(
    {
        "root_controller": RootController(),
        # Said outright, so that TurboGears does not warn that it guessed.
        "renderers": ["json"],
        "default_renderer": "json",
        "app_globals": type("Globals", (), {}),
        "helpers": {},
    }
)
turbogears_app: WSGIApp = configurator.make_wsgi_app()

pipeline = compose(
    ErrorHandler(),  # outermost: what anything below raises becomes a clean 500
    AccessLog(format="combined"),  # one line per request, 401s and 500s included
    Compress(),
    BasicAuth(users=USERS, realm="wsgimw recipes", protect=["/private"]),
    QueryParser(),
)
application: WSGIApp = pipeline(turbogears_app)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve ``application`` on 127.0.0.1 with the standard library's server."""
    parser = argparse.ArgumentParser(description="Serve the TurboGears recipe.")
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
