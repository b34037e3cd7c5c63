"""Echo the parsed query string as JSON: ``python -m recipes.query_echo``.

A raw WSGI app reads ``environ["wsgimw.query"]``, which `QueryParser` fills:
the query decoded the PEP 3333 way (UTF-8 after percent-decoding, ``+`` as a
space, ``&`` as the only separator), every repeated key kept in order. Try::

    curl 'http://127.0.0.1:8000/?tag=a&tag=b&q=caf%C3%A9+au+lait&flag'
    curl 'http://127.0.0.1:8000/?bad=%ff'         # U+FFFD, not a 500
    curl -i "http://127.0.0.1:8000/?$(printf 'x%.0s' {1..9000})"   # 414
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterable, Sequence
from wsgiref.simple_server import make_server

from wsgimw.query import QueryDict, QueryParser
from wsgimw.types import Environ, StartResponse, WSGIApp


def echo_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Answer with the parsed query as JSON.

    ``pairs`` lists every (name, value) in order; ``values`` groups them by
    name; ``first`` and ``last`` give one value per name.
    """
    query: QueryDict = environ["wsgimw.query"]
    names = list(dict.fromkeys(query.keys()))
    document = {
        "pairs": [[name, value] for name, value in query.items()],
        "values": query.dict_of_lists(),
        "first": {name: query.first(name) for name in names},
        "last": {name: query.last(name) for name in names},
    }
    body = json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"
    start_response(
        "200 OK",
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]


application: WSGIApp = QueryParser()(echo_app)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve `application` on 127.0.0.1 until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Serve the query-echo recipe.")
    parser.add_argument("--port", type=int, default=8000, help="default: 8000")
    args = parser.parse_args(argv)
    with make_server("127.0.0.1", args.port, application) as server:
        url = f"http://127.0.0.1:{server.server_port}/"
        print(f"Serving on {url} (Ctrl-C to stop). Try:")
        print(f"    curl '{url}?tag=a&tag=b&q=caf%C3%A9+au+lait'", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
