"""Serve stack_app on 127.0.0.1 with a server that has no command line of
its own: Tornado's WSGIContainer, or the standard library's wsgiref.

    python launch_server.py tornado --port 8000
    python launch_server.py wsgiref --port 8000

Both run until they are terminated. The configuration comes from the
environment, as stack_app reads it.
"""

from __future__ import annotations

import argparse
import asyncio
from concurrent.futures import ThreadPoolExecutor
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIServer, make_server

from stack_app import application


def serve_tornado(port: int) -> None:
    from tornado.httpserver import HTTPServer
    from tornado.wsgi import WSGIContainer

    async def main() -> None:
        # An executor, so a request that waits (the stream) does not stop the
        # event loop; without one Tornado 6.3+ runs the app on the loop itself.
        container = WSGIContainer(application, executor=ThreadPoolExecutor(4))
        server = HTTPServer(container)
        server.listen(port, address="127.0.0.1")
        print(f"tornado WSGIContainer on 127.0.0.1:{port}", flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def serve_wsgiref(port: int) -> None:
    with make_server(
        "127.0.0.1", port, application, server_class=_ThreadingWSGIServer
    ) as server:
        print(f"wsgiref on 127.0.0.1:{port}", flush=True)
        server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("server", choices=["tornado", "wsgiref"])
    parser.add_argument("--port", type=int, required=True)
    options = parser.parse_args(argv)
    if options.server == "tornado":
        serve_tornado(options.port)
    else:
        serve_wsgiref(options.port)


if __name__ == "__main__":
    main()
