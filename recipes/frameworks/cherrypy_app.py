"""CherryPy behind a wsgimw stack: ``python cherrypy_app.py --port 8000``.

This file stands alone: copy it into a project that has ``cherrypy`` and
``wsgimw[htpasswd]`` installed.

A `cherrypy.Application` is a WSGI app. Instead of mounting it
(``cherrypy.tree.mount``), wrap it and graft the result on CherryPy's tree,
and CherryPy's own server runs it with the stack, as `main` does::

    cherrypy.tree.graft(pipeline(cherrypy_app), "/")

``application`` is the same wrapped app for any other WSGI server
(``gunicorn cherrypy_app:application``).

Two settings let an error in a handler reach `ErrorHandler`. CherryPy
answers errors itself with a 500 page; ``request.throw_errors`` makes the
request raise instead, and then CherryPy's own WSGI layer,
``ExceptionTrapper``, catches it and sends "Unrecoverable error in the
server" with the traceback. ``wsgi.ExceptionTrapper.throws`` tells that
layer to let every `Exception` through.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Sequence

import cherrypy  # type: ignore[import-untyped]

from wsgimw import AccessLog, BasicAuth, Compress, ErrorHandler, QueryParser, compose
from wsgimw.types import WSGIApp

#: User demo, password s3cret: the line ``htpasswd -nbB demo s3cret`` printed.
#: A real site keeps its users in a file: ``BasicAuth(htpasswd="/etc/site.htpasswd")``.
USERS = {"demo": "$2y$10$wWJmxfbklt0FfA6fH1NkZ.jM6wJafDsO2t3VfcDmJuYzh3ABgjJAy"}
#: The page at ``/``: about 8 kB of repetitive HTML, as real pages are.
PAGE = "<!doctype html>\n<title>CherryPy behind wsgimw</title>\n" + "".join(
    f"<p>Release 1.{n}: fixes and small improvements.</p>\n" for n in range(1, 161)
)

# CherryPy ships no type hints: each "type: ignore" below tells mypy that its
# decorators keep the handlers' types.


class Private:
    @cherrypy.expose  # type: ignore[untyped-decorator]
    def index(self) -> str:
        user = cherrypy.request.wsgi_environ["REMOTE_USER"]  # BasicAuth let it in
        cherrypy.response.headers["Content-Type"] = "text/plain; charset=utf-8"
        return f"Hello {user}: only users with a password see this page.\n"


class Root:
    private = Private()  # /private/

    @cherrypy.expose  # type: ignore[untyped-decorator]
    def index(self) -> str:
        return PAGE

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
        raise RuntimeError("the page at /boom failed on purpose")


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
    BasicAuth(users=USERS, realm="wsgimw recipes", protect=["/private"]),
    QueryParser(),
)
application: WSGIApp = pipeline(cherrypy_app)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve ``application`` on 127.0.0.1 with CherryPy's own server until
    Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description="Serve the CherryPy recipe.")
    parser.add_argument("--port", type=int, default=8000, help="default: 8000")
    port: int = parser.parse_args(argv).port
    # wsgimw only logs: showing its access lines and tracebacks is the app's job.
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    # The CherryPy app logs each request too (cherrypy.access.<id>): stop
    # those lines at "cherrypy.access", which has no handler; AccessLog's
    # lines are the access log.
    logging.getLogger("cherrypy.access").propagate = False
    # Production: no autoreload, no tracebacks in CherryPy's pages, and no
    # console handler of its own (its messages reach the console once,
    # through logging).
    cherrypy.config.update(
        {
            "environment": "production",
            "server.socket_host": "127.0.0.1",
            "server.socket_port": port,
        }
    )
    cherrypy.tree.graft(application, "/")
    cherrypy.engine.signals.subscribe()  # SIGTERM and Ctrl-C stop the engine
    cherrypy.engine.start()
    print(f"Serving on http://127.0.0.1:{port}/ (Ctrl-C to stop)", flush=True)
    cherrypy.engine.block()


if __name__ == "__main__":
    main()
