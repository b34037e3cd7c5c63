"""The app the real-server tests serve: a raw WSGI app behind the full stack.

Every server in ``test_real_servers.py`` loads ``application`` from here, so
each one runs exactly the same code. It is configured only by environment
variables, read once at import:

``WSGIMW_HTPASSWD``
    the htpasswd file BasicAuth reads (made with Apache's ``htpasswd -B``).
``WSGIMW_ACCESS_LOG``
    the file the access lines are appended to, through a
    `logging.FileHandler` on a logger of our own passed as ``logger=``.
``WSGIMW_ACK_DIR``
    the directory the streaming route polls for the client's
    acknowledgements.
``WSGIMW_TRUSTED_PROXIES``
    AccessLog's ``trusted_proxies``: 1 behind nginx, 0 (the default) when
    clients connect directly.

The stack, outermost first, and why in that order:

``AccessLog(logger=..., trusted_proxies=...)``
    outermost, so each line shows exactly what the client got: the status
    and bytes of ErrorHandler's 500 page too, and, being outside Compress,
    the compressed length. Outside BasicAuth, refused requests are logged.
    What it does not cover is an error in AccessLog itself, which goes to
    the server; wsgimw's docs give both placements and their trade-off.
``ErrorHandler()``
    next, so whatever any layer below raises becomes a clean 500 page.
``Compress()``
    outside BasicAuth, so protected pages are compressed as well; the
    default ``minimum_size`` leaves the short 401 body alone.
``BasicAuth(htpasswd=..., protect=["/private"])``
    only ``/private`` needs a password; everything else stays open.
``QueryParser()``
    innermost, next to the only reader of ``wsgimw.query``; a request that
    BasicAuth refuses is never parsed.

Routes:

``/page``
    an HTML page of several KiB that compresses well; its SHA-256 travels
    in ``X-Page-SHA256`` so a client can check the decoded body is exactly
    what the app produced.
``/private``
    greets ``REMOTE_USER``; needs the password.
``/boom``
    raises, for ErrorHandler's 500 page.
``/query``
    echoes ``wsgimw.query`` as JSON: every pair in order, and every key's
    values.
``/whoami``
    the client as the app sees it: ``REMOTE_ADDR`` and ``X-Forwarded-For``.
``/stream?id=HEX&pieces=N&wait=S``
    a ``text/event-stream`` that yields piece 1, then waits until the file
    ``<ack dir>/<id>-1`` exists (at most ``wait`` seconds) before it yields
    piece 2, and so on; a final ``done`` event follows the last
    acknowledgement. A client can only create the file after it has read the
    piece, so completing the stream proves every piece reached it before the
    next was made. If an acknowledgement does not come in time, the stream
    says so and ends.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from wsgimw import AccessLog, BasicAuth, Compress, ErrorHandler, QueryParser, compose
from wsgimw.types import Environ, StartResponse, WSGIApp

REALM = "wsgimw servers"
MAX_PIECES = 10
MAX_WAIT = 10.0
_POLL = 0.01
_TOKEN = re.compile(r"[0-9a-f]{1,64}\Z")


def _setting(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"stack_app needs the environment variable {name}")
    return value


HTPASSWD = _setting("WSGIMW_HTPASSWD")
ACCESS_LOG = _setting("WSGIMW_ACCESS_LOG")
ACK_DIR = Path(_setting("WSGIMW_ACK_DIR"))
TRUSTED_PROXIES = int(os.environ.get("WSGIMW_TRUSTED_PROXIES", "0"))


def page() -> bytes:
    """The /page body: a table that compresses well, well above minimum_size."""
    rows = "".join(
        f"<tr><td>{n}</td><td>row {n} of the page</td><td>{n * n}</td></tr>\n"
        for n in range(200)
    )
    return (
        "<!doctype html>\n<title>wsgimw on a real server</title>\n"
        f"<table>\n{rows}</table>\n"
    ).encode()


PAGE = page()
PAGE_SHA256 = hashlib.sha256(PAGE).hexdigest()


def _respond(
    start_response: StartResponse, content_type: str, body: bytes
) -> list[bytes]:
    start_response(
        "200 OK",
        [("Content-Type", content_type), ("Content-Length", str(len(body)))],
    )
    return [body]


def _query(environ: Environ) -> bytes:
    query = environ["wsgimw.query"]
    values = {key: query.getall(key) for key in dict.fromkeys(query.keys())}
    echo = {"pairs": [list(pair) for pair in query.items()], "values": values}
    return json.dumps(echo, ensure_ascii=False).encode()


def _number(text: str | None, default: float, limit: float) -> float:
    try:
        value = float(text) if text is not None else default
    except ValueError:
        return default
    return min(max(value, 0.0), limit)


def _stream(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    query = environ["wsgimw.query"]
    token = query.get("id", "")
    if not _TOKEN.match(token):
        start_response("400 Bad Request", [("Content-Type", "text/plain")])
        return [b"id must be 1 to 64 lowercase hex digits\n"]
    pieces = int(_number(query.get("pieces"), 3, MAX_PIECES))
    wait = _number(query.get("wait"), MAX_WAIT, MAX_WAIT)
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/event-stream"),
            ("Cache-Control", "no-cache"),
            # Tells nginx not to buffer this response (it drops the header).
            ("X-Accel-Buffering", "no"),
        ],
    )
    return _pieces(token, pieces, wait)


def _pieces(token: str, pieces: int, wait: float) -> Iterator[bytes]:
    for n in range(1, pieces + 1):
        yield f"data: piece {n}\n\n".encode()
        ack = ACK_DIR / f"{token}-{n}"
        deadline = time.monotonic() + wait
        while not ack.exists():
            if time.monotonic() >= deadline:
                yield f"data: no ack for piece {n} within {wait:g} s\n\n".encode()
                return
            time.sleep(_POLL)
    yield b"data: done\n\n"


def raw_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The app before any middleware."""
    path = environ.get("PATH_INFO", "")
    if path == "/page":
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(PAGE))),
                ("X-Page-SHA256", PAGE_SHA256),
            ],
        )
        return [PAGE]
    if path == "/private":
        body = f"hello {environ['REMOTE_USER']}\n".encode()
        return _respond(start_response, "text/plain; charset=utf-8", body)
    if path == "/boom":
        raise RuntimeError("stack_app failed on purpose")
    if path == "/query":
        return _respond(
            start_response, "application/json; charset=utf-8", _query(environ)
        )
    if path == "/whoami":
        client = {
            "remote_addr": environ.get("REMOTE_ADDR"),
            "forwarded_for": environ.get("HTTP_X_FORWARDED_FOR"),
        }
        return _respond(start_response, "application/json", json.dumps(client).encode())
    if path == "/stream":
        return _stream(environ, start_response)
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return [b"not found\n"]


def _access_logger(path: str) -> logging.Logger:
    logger = logging.getLogger("stack_app.access")
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the lines go to the file only
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    return logger


stack = compose(
    AccessLog(logger=_access_logger(ACCESS_LOG), trusted_proxies=TRUSTED_PROXIES),
    ErrorHandler(),
    Compress(),
    BasicAuth(htpasswd=HTPASSWD, realm=REALM, protect=["/private"]),
    QueryParser(),
)
application: WSGIApp = stack(raw_app)
