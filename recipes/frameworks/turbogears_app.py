"""TurboGears behind a wsgimw stack: ``python -m recipes.frameworks.turbogears_app``.

TurboGears2 in minimal mode: a root controller and a
`tg.MinimalApplicationConfigurator`, whose ``make_wsgi_app()`` returns the
WSGI app that the stack wraps. Serve ``application``
(``gunicorn recipes.frameworks.turbogears_app:application``).

Minimal mode has no error middleware, so an error in a controller leaves
TurboGears and `ErrorHandler` answers it. A full-stack project
(`tg.FullStackApplicationConfigurator`, or a quickstarted one) adds layers
of its own: keep ``debug = false`` there (its interactive debugger answers
errors itself), and check with a test like this recipe's that an error
still reaches ErrorHandler.
"""

from __future__ import annotations

from collections.abc import Sequence

from tg import (  # type: ignore[import-untyped]
    MinimalApplicationConfigurator,
    TGController,
    expose,
    request,
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

# TurboGears ships no type hints: each "type: ignore" below tells mypy that
# its classes and decorators are fine to use from typed code.


class PrivateController(TGController):  # type: ignore[misc]
    @expose(content_type="text/plain")  # type: ignore[untyped-decorator]
    def index(self) -> str:
        # BasicAuth let the request in and named the user.
        return private_text(request.environ["REMOTE_USER"])


class RootController(TGController):  # type: ignore[misc]
    private = PrivateController()  # /private/, the PROTECTED path

    @expose(content_type="text/html")  # type: ignore[untyped-decorator]
    def index(self) -> str:
        return article("TurboGears")

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
        raise BoomError(BOOM)


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
    BasicAuth(users=DEMO_USERS, realm=REALM, protect=[PROTECTED]),
    QueryParser(),
)
application: WSGIApp = pipeline(turbogears_app)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve ``application`` on 127.0.0.1 until Ctrl-C."""
    serve(application, argv, "TurboGears")


if __name__ == "__main__":
    main()
