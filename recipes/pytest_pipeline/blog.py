"""The application under test: what a project's ``wsgi.py`` would hold.

A small raw WSGI app behind the stack most sites want. The tests next to
this file (``test_pipeline.py``) show how to check such a stack with pytest,
WebTest and ``wsgimw.testing``; copy both files into a project and change
the imports.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from wsgimw import AccessLog, BasicAuth, Compress, ErrorHandler, QueryParser, compose
from wsgimw.types import Environ, StartResponse

#: ``htpasswd -nbB editor s3cret``: the one user of the protected area.
USERS = {"editor": "$2y$05$lgd1MN31qfjtwmv6ANu.aeEaXpw/fvMIHoiihZPl5FTe35cfHqTcy"}


def blog(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Five routes: a listing worth compressing, a streamed export, a search,
    an edit page behind a password, and a bug."""
    path = environ["PATH_INFO"]
    if path == "/articles":
        body = json.dumps([{"id": n, "title": f"Article {n}"} for n in range(100)])
        return _send(environ, start_response, "application/json", body.encode())
    if path == "/export":
        start_response("200 OK", [("Content-Type", "text/csv; charset=utf-8")])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else _export()
    if path == "/search":
        terms = environ["wsgimw.query"].getall("q")
        terms_json = json.dumps(terms).encode()
        return _send(environ, start_response, "application/json", terms_json)
    if path == "/edit":
        page = f"editing as {environ['REMOTE_USER']}\n"
        return _send(
            environ, start_response, "text/plain; charset=utf-8", page.encode()
        )
    if path == "/bug":
        raise ZeroDivisionError("a bug in the app")
    return _send(environ, start_response, "text/plain", b"not found\n", "404 Not Found")


def _export() -> Iterator[bytes]:
    """A streamed body: a generator, so it has a close() that must be called
    (it would release a database cursor in a real app)."""
    yield b"id,title\r\n"
    for n in range(100):
        yield f"{n},Article {n}\r\n".encode()


def _send(
    environ: Environ,
    start_response: StartResponse,
    content_type: str,
    body: bytes,
    status: str = "200 OK",
) -> list[bytes]:
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
    start_response(status, headers)
    # HEAD: the same headers, no body (the wsgi_call test checks it).
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [body]


stack = compose(
    ErrorHandler(),
    AccessLog(format="combined"),
    Compress(minimum_size=200),
    BasicAuth(users=USERS, realm="editors", protect=["/edit"]),
    QueryParser(),
)
application = stack(blog)
