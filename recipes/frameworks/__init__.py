"""wsgimw in front of a real app of each framework: ``python -m recipes.frameworks.flask_app``.

Each module here builds an app with its framework's own routing and wraps it
with the same wsgimw stack at the framework's usual integration point:

* ``/``: an HTML page of about 8 kB, worth compressing (`Compress`);
* ``/search?q=café&tag=a&tag=b``: JSON that reads the query from
  ``environ["wsgimw.query"]`` (`QueryParser`) beside the framework's own
  parsing of it, to show the two agree;
* ``/private/``: behind `BasicAuth` (user ``demo``, password ``s3cret``);
* ``/boom``: raises, and `ErrorHandler` answers with its own 500 page;

and `AccessLog` writes one line per request. This module holds what the
recipes share: the demo user, the page's text and a small server.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import logging
from collections.abc import Sequence
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from wsgimw.types import WSGIApp

#: The demo credentials. A real site keeps its users in a file that Apache's
#: tool writes (``htpasswd -B /etc/site.htpasswd alice``) and passes
#: ``BasicAuth(htpasswd="/etc/site.htpasswd")``.
DEMO_USER = "demo"
DEMO_PASSWORD = "s3cret"
#: The line ``htpasswd -nbB demo s3cret`` printed: a bcrypt hash, cost 10.
DEMO_USERS = {DEMO_USER: "$2y$10$wWJmxfbklt0FfA6fH1NkZ.jM6wJafDsO2t3VfcDmJuYzh3ABgjJAy"}
#: The realm browsers show in their login prompt.
REALM = "wsgimw recipes"
#: What BasicAuth protects: ``/private`` and everything under it.
PROTECTED = "/private"
#: What the page at ``/search`` must show for :data:`SEARCH_EXAMPLE`.
SEARCH_EXAMPLE = "/search?q=caf%C3%A9&tag=a&tag=b"


def article(framework: str) -> str:
    """The page at ``/``: a long, repetitive HTML table, as real pages are."""
    rows = "\n".join(
        f"<tr><td>{n}</td><td>Release 1.{n}</td>"
        f"<td>Fixes and small improvements to the {html.escape(framework)} site</td></tr>"
        for n in range(1, 81)
    )
    return (
        "<!doctype html>\n<meta charset=utf-8>\n"
        f"<title>{html.escape(framework)} behind wsgimw</title>\n"
        f"<h1>{html.escape(framework)} behind wsgimw</h1>\n"
        "<table>\n<tr><th>#</th><th>Release</th><th>Notes</th></tr>\n"
        f"{rows}\n</table>\n"
    )


def private_text(user: str) -> str:
    """The page at ``/private/`` for ``user``, the name BasicAuth checked."""
    return f"Hello {user}: only users with a password see this page.\n"


class BoomError(RuntimeError):
    """What ``/boom`` raises, so that a test can tell it from any other error."""


BOOM = "the page at /boom failed on purpose"


def port_from(argv: Sequence[str] | None, framework: str) -> int:
    """The ``--port`` option of a recipe's command line."""
    parser = argparse.ArgumentParser(
        description=f"Serve the {framework} recipe behind a wsgimw stack."
    )
    parser.add_argument("--port", type=int, default=8000, help="default: 8000")
    port: int = parser.parse_args(argv).port
    return port


def show_logs() -> None:
    """Send the access lines (and ErrorHandler's tracebacks) to the console.

    Setting up logging is the application's job: wsgimw only logs, on
    ``wsgimw.accesslog`` and ``wsgimw.errors``."""
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")


def print_try(url: str) -> None:
    """Tell the person at the console what to try."""
    print(f"Serving on {url}/ (Ctrl-C to stop). Try:")
    print(f"    curl --compressed -i {url}/")
    print(f"    curl -i '{url}{SEARCH_EXAMPLE}'")
    print(f"    curl -i {url}{PROTECTED}/")
    print(f"    curl -i -u {DEMO_USER}:{DEMO_PASSWORD} {url}{PROTECTED}/")
    print(f"    curl -i {url}/boom", flush=True)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass  # AccessLog writes the access lines


def serve(application: WSGIApp, argv: Sequence[str] | None, framework: str) -> None:
    """Serve ``application`` on 127.0.0.1 with the standard library's server
    until Ctrl-C."""
    port = port_from(argv, framework)
    show_logs()
    with make_server(
        "127.0.0.1",
        port,
        application,
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    ) as server:
        print_try(f"http://127.0.0.1:{server.server_port}")
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
