"""web2py behind a wsgimw stack: ``python wsgi.py --port 8000``.

This folder stands alone: it is a web2py folder (``VERSION``, ``routes.py``
and ``applications/demo/``) with this handler in it. Copy it whole into a
project that has ``web2py-gluon``, ``rocket3`` and ``wsgimw[htpasswd]``
installed, on Python 3.11 or older: web2py imports ``imp``, which Python
3.12 removed.

web2py's WSGI application is ``gluon.main.wsgibase``, and its
``handlers/wsgihandler.py``, copied beside ``applications/``, is the module
a WSGI server loads. This file plays that role with the stack around
``wsgibase``: serve ``application`` (``gunicorn wsgi:application`` from this
folder, or ``gunicorn --chdir web2py_app wsgi:application`` from its
parent). ``main`` serves it with Rocket, web2py's own server (``rocket3``).

web2py reads and writes its files under this folder, wherever it is run
from: it creates the folders it expects (``deposit``, ``logs``,
``site-packages``, and the app's ``databases``, ``errors``, ``sessions``...)
and a ticket file per error. Run it where the process may write; the
folder's ``.gitignore`` keeps what web2py writes out of git.

No setting lets an error in a model, controller or view reach
`ErrorHandler`. ``wsgibase`` catches every error itself, with a bare
``except``, stores a ticket under ``applications/demo/errors/`` and answers
"Internal error" with a link to the ticket, status 500 and a
``web2py_error: ticket ...`` header; ``routes_onerror`` in ``routes.py``
only chooses another web2py page for it. `ErrorHandler` still answers what
fails in the stack, and an error raised while the server reads a body that
web2py streams. A ticket holds the request's environ, an ``Authorization``
header included: keep ``errors/`` as private as the users' passwords.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Iterable, Sequence
from pathlib import Path

from gluon.settings import global_settings  # type: ignore[import-untyped]

from wsgimw import AccessLog, BasicAuth, Compress, ErrorHandler, QueryParser, compose
from wsgimw.types import Environ, StartResponse, WSGIApp

#: This folder: web2py's own (``VERSION``) and its applications' parent.
WEB2PY_FOLDER = str(Path(__file__).resolve().parent)
# Set before gluon.main is imported: it reads routes.py and VERSION, and
# creates the folders it expects, as it is imported. web2py's settings are
# global to the process: one web2py folder per process.
global_settings.gluon_parent = WEB2PY_FOLDER
global_settings.applications_parent = WEB2PY_FOLDER
# As handlers/wsgihandler.py says: served by a WSGI server, not by web2py.py.
global_settings.web2py_runtime_handler = True

import gluon.main  # type: ignore[import-untyped]  # noqa: E402

#: User demo, password s3cret: the line ``htpasswd -nbB demo s3cret`` printed.
#: A real site keeps its users in a file: ``BasicAuth(htpasswd="/etc/site.htpasswd")``.
USERS = {"demo": "$2y$10$wWJmxfbklt0FfA6fH1NkZ.jM6wJafDsO2t3VfcDmJuYzh3ABgjJAy"}


def web2py_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """web2py's application, ``gluon.main.wsgibase``, given a copy of the
    environ. web2py's router writes the path it routed to into the dict it
    gets, as ``REQUEST_URI`` (``/`` becomes ``/demo/default/index``), over
    the request target some servers put there; `AccessLog`, which shares
    that dict and logs ``REQUEST_URI`` when it is there, would log the
    routed path instead of the one the client asked for."""
    body: Iterable[bytes] = gluon.main.wsgibase(dict(environ), start_response)
    return body


pipeline = compose(
    ErrorHandler(),  # outermost: what anything below raises becomes a clean 500
    AccessLog(format="combined"),  # one line per request, 401s and 500s included
    Compress(),
    # The private controller answers at /private (routes.py) and at its
    # full web2py path, /demo/private: protect both.
    BasicAuth(
        users=USERS, realm="wsgimw recipes", protect=["/private", "/demo/private"]
    ),
    QueryParser(),
)
application: WSGIApp = pipeline(web2py_app)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve ``application`` on 127.0.0.1 with Rocket until Ctrl-C or SIGTERM."""
    # Only here: gunicorn and the other servers load `application` without it.
    from rocket3 import Rocket3  # type: ignore[import-untyped]

    parser = argparse.ArgumentParser(description="Serve the web2py recipe.")
    parser.add_argument("--port", type=int, default=8000, help="default: 8000")
    port: int = parser.parse_args(argv).port
    # wsgimw only logs: showing its access lines and tracebacks is the app's
    # job. force=True: gluon.main, finding no logging.conf here, has already
    # called logging.basicConfig() with its defaults.
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s", force=True)
    # Rocket logs each request too, on "Rocket.Requests": stop those lines
    # there (Rocket gives it a handler that drops them); AccessLog's lines
    # are the access log.
    logging.getLogger("Rocket.Requests").propagate = False
    server = Rocket3(("127.0.0.1", port), "wsgi", {"wsgi_app": application})
    print(f"Serving on http://127.0.0.1:{port}/ (Ctrl-C to stop)", flush=True)
    server.start()  # returns once SIGTERM or Ctrl-C has stopped it


if __name__ == "__main__":
    main()
