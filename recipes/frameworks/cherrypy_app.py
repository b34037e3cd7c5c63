"""CherryPy behind a wsgimw stack: ``python -m recipes.frameworks.cherrypy_app``.

A `cherrypy.Application` is a WSGI app. Instead of mounting it
(``cherrypy.tree.mount``), wrap it and graft the result on CherryPy's tree,
and CherryPy's own server runs it with the stack::

    cherrypy.tree.graft(pipeline(cherrypy_app), "/")

``application`` is the same wrapped app for any other WSGI server
(``gunicorn recipes.frameworks.cherrypy_app:application``).

Two settings let an error in a handler reach `ErrorHandler`. CherryPy
answers errors itself with a 500 page; ``request.throw_errors`` makes the
request raise instead, and then CherryPy's own WSGI layer,
``ExceptionTrapper``, catches it and sends "Unrecoverable error in the
server" with the traceback. ``wsgi.ExceptionTrapper.throws`` tells that
layer to let every `Exception` through.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import cherrypy  # type: ignore[import-untyped]

from recipes.frameworks import (
    BOOM,
    DEMO_USERS,
    PROTECTED,
    REALM,
    BoomError,
    article,
    port_from,
    print_try,
    private_text,
    show_logs,
)
from wsgimw import AccessLog, BasicAuth, Compress, ErrorHandler, QueryParser, compose
from wsgimw.types import WSGIApp

# CherryPy ships no type hints: each "type: ignore" below tells mypy that its
# decorators keep the handlers' types.


class Private:
    @cherrypy.expose  # type: ignore[untyped-decorator]
    def index(self) -> str:
        # BasicAuth let the request in and named the user.
        cherrypy.response.headers["Content-Type"] = "text/plain; charset=utf-8"
        return private_text(cherrypy.request.wsgi_environ["REMOTE_USER"])


class Root:
    private = Private()  # /private/, the PROTECTED path

    @cherrypy.expose  # type: ignore[untyped-decorator]
    def index(self) -> str:
        return article("CherryPy")

    @cherrypy.expose  # type: ignore[untyped-decorator]
    @cherrypy.tools.json_out()  # type: ignore[untyped-decorator]
    def search(self, **params: object) -> dict[str, object]:
        query = cherrypy.request.wsgi_environ["wsgimw.query"]  # from QueryParser
        return {
            "q": query.get("q"),
            "tags": query.getall("tag"),
            "cherrypy_q": params.get("q"),  # CherryPy's own parsing still works
        }

    @cherrypy.expose  # type: ignore[untyped-decorator]
    def boom(self) -> str:
        raise BoomError(BOOM)


cherrypy_app = cherrypy.Application(
    Root(),
    "",
    {
        "/": {
            # Errors leave CherryPy and reach ErrorHandler (see above).
            "request.throw_errors": True,
            "wsgi.ExceptionTrapper.throws": (Exception,),
        }
    },
)

pipeline = compose(
    ErrorHandler(),  # outermost: what anything below raises becomes a clean 500
    AccessLog(format="combined"),  # one line per request, 401s and 500s included
    Compress(),
    BasicAuth(users=DEMO_USERS, realm=REALM, protect=[PROTECTED]),
    QueryParser(),
)
application: WSGIApp = pipeline(cherrypy_app)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve ``application`` on 127.0.0.1 with CherryPy's own server until
    Ctrl-C or SIGTERM."""
    port = port_from(argv, "CherryPy")
    show_logs()
    cherrypy.config.update(
        {
            # No autoreload, no tracebacks in CherryPy's pages, and no console
            # handler of its own: its messages reach the console through
            # logging, once.
            "environment": "production",
            "server.socket_host": "127.0.0.1",
            "server.socket_port": port,
        }
    )
    # The CherryPy app logs each request too (cherrypy.access.<id>): stop
    # those lines at "cherrypy.access", which has no handler; AccessLog's
    # lines are the access log.
    logging.getLogger("cherrypy.access").propagate = False
    cherrypy.tree.graft(application, "/")
    cherrypy.engine.signals.subscribe()  # SIGTERM and Ctrl-C stop the engine
    cherrypy.engine.start()
    print_try(f"http://127.0.0.1:{port}")
    cherrypy.engine.block()


if __name__ == "__main__":
    main()
