"""``python -m recipes.static_site [--port 8000]``: serve the site on 127.0.0.1.

For production, run it under a real server, e.g.
``gunicorn --worker-class gthread --threads 4 recipes.static_site.app:application``.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Sequence
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, make_server

from .app import application


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    port = parser.parse_args(argv).port
    with make_server(
        "127.0.0.1", port, application, server_class=_ThreadingWSGIServer
    ) as server:
        print(f"Serving on http://127.0.0.1:{port}/ (Ctrl-C to stop). Try:", flush=True)
        print(
            f"    curl -s -D - -o /dev/null --compressed http://127.0.0.1:{port}/static/css/site.3f2a9c1b.css"
        )
        print(
            f"    curl -s -D - -r 0-99 http://127.0.0.1:{port}/static/docs/manual.txt"
        )
        print(f"    curl -s http://127.0.0.1:{port}/api/hello", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


main()
