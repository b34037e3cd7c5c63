"""The WSGI entry point of the recipe's Django project, with the stack.

Any WSGI server loads ``application`` from here, as Django's own template
sets it up: ``gunicorn django_site.wsgi``. ``python -m django_site.wsgi
--port 8000`` serves it with the standard library's server. (Name the
folder you copied it to in place of ``django_site``.)
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
from collections.abc import Sequence
from wsgiref.simple_server import make_server

from django.core.wsgi import get_wsgi_application  # type: ignore[import-untyped]

from wsgimw import AccessLog, BasicAuth, Compress, ErrorHandler, QueryParser, compose
from wsgimw.types import WSGIApp

# This package's own settings, whatever the package is called.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", f"{__package__}.settings")

#: User demo, password s3cret: the line ``htpasswd -nbB demo s3cret`` printed.
#: A real site keeps its users in a file: ``BasicAuth(htpasswd="/etc/site.htpasswd")``.
USERS = {"demo": "$2y$10$wWJmxfbklt0FfA6fH1NkZ.jM6wJafDsO2t3VfcDmJuYzh3ABgjJAy"}

pipeline = compose(
    ErrorHandler(),  # outermost: what anything below raises becomes a clean 500
    AccessLog(format="combined"),  # one line per request, 401s and 500s included
    Compress(),
    BasicAuth(users=USERS, realm="wsgimw recipes", protect=["/private"]),
    QueryParser(),
)
application: WSGIApp = pipeline(get_wsgi_application())


def main(argv: Sequence[str] | None = None) -> None:
    """Serve ``application`` on 127.0.0.1 with the standard library's server."""
    parser = argparse.ArgumentParser(description="Serve the Django recipe.")
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
