"""The app `bench.soak` serves: a raw WSGI app behind the full stack, with
every body it returns counted, so the soak can check close() once per body.

gunicorn imports it in each worker (no ``--preload``), so each worker has
its own counts and its own access-log file. It is configured by one
environment variable, read at import:

``WSGIMW_SOAK_DIR``
    where each worker appends its access lines, to ``access-<pid>.log``.

The stack, outermost first: AccessLog (a custom format: the request's
``X-Soak-Id`` header, the status and the body bytes sent, the same three
fields gunicorn's own access log is asked for), ErrorHandler (its log
silenced: the 500s are intended), Compress, BasicAuth (``/private``
protected), a header Rewrite, QueryParser.

Routes (what wrk's script asks for, and what each should answer):

``/page``
    an HTML page of some 9 KB, compressed when the client accepts gzip.
``/private/hello``
    needs the password: 200 with it, 401 without or with a wrong one.
``/boom``
    raises: ErrorHandler's 500.
``/stream``
    five pieces of ``text/event-stream`` from a generator: each is flushed
    by Compress and sent as it comes.
``/query``
    reads ``wsgimw.query`` and echoes how many fields it had; a query over
    QueryParser's ``max_length`` gets 414 before the app runs.

When a worker exits, `write_counts` (called by `bench.soak_gunicorn`) leaves
its counts in ``counts-<pid>.json`` in the same directory.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import bcrypt

from wsgimw import (
    AccessLog,
    BasicAuth,
    Compress,
    ErrorHandler,
    QueryParser,
    Rewrite,
    compose,
)
from wsgimw.types import Environ, Headers, StartResponse, WSGIApp

USER = "soak"
PASSWORD = "soak password, long enough"
#: The access-log format of both logs: gunicorn's is asked for the same.
ACCESS_FORMAT = "{header[X-Soak-Id]} {status} {bytes}"
GUNICORN_ACCESS_FORMAT = "%({x-soak-id}i)s %(s)s %(B)s"
STREAM_PIECES = 5


def page() -> bytes:
    """The /page body: a table that compresses well."""
    rows = "".join(
        f"<tr><td>{n}</td><td>row {n} of the soak page</td><td>{n * n}</td></tr>\n"
        for n in range(200)
    )
    return f"<!doctype html>\n<title>soak</title>\n<table>\n{rows}</table>\n".encode()


PAGE = page()


class Counts:
    """How many bodies this worker made and how their close() went."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.made = 0
        self.closed = 0
        self.closed_again = 0

    def as_dict(self) -> dict[str, int]:
        with self.lock:
            return {
                "pid": os.getpid(),
                "made": self.made,
                "closed": self.closed,
                "closed_again": self.closed_again,
            }


COUNTS = Counts()


class CountedBody:
    """A body that counts itself made and closed (a class, so close() works
    before the first next(), as the server may call it)."""

    __slots__ = ("_chunks", "_closed")

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self._closed = False
        with COUNTS.lock:
            COUNTS.made += 1

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._chunks)

    def close(self) -> None:
        with COUNTS.lock:
            if self._closed:
                COUNTS.closed_again += 1
            else:
                COUNTS.closed += 1
        self._closed = True


def _pieces() -> Iterator[bytes]:
    for number in range(1, STREAM_PIECES + 1):
        yield f"data: piece {number} of the soak stream\n\n".encode()


def raw_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The app before any middleware."""
    path = environ.get("PATH_INFO", "")
    if path == "/page":
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/html; charset=utf-8"),
                ("Content-Length", str(len(PAGE))),
            ],
        )
        return CountedBody([PAGE])
    if path == "/private/hello":
        body = f"hello {environ['REMOTE_USER']}\n".encode()
        start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
        return CountedBody([body])
    if path == "/boom":
        raise RuntimeError("the soak's intended 500")
    if path == "/stream":
        start_response(
            "200 OK",
            [("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")],
        )
        return CountedBody(_pieces())
    if path == "/query":
        fields = len(environ["wsgimw.query"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return CountedBody([f"{fields} fields\n".encode()])
    start_response("404 Not Found", [("Content-Type", "text/plain")])
    return CountedBody([b"not found\n"])


def _file_logger(name: str, path: Path) -> logging.Logger:
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.propagate = False  # the lines go to the file only
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    return logger


def _quiet_logger() -> logging.Logger:
    logger = logging.getLogger("bench.soak.errors")
    logger.propagate = False
    logger.addHandler(logging.NullHandler())
    return logger


def _mark(status: str, headers: Headers) -> tuple[str, Headers]:
    headers.append(("X-Soak", "1"))
    return status, headers


def make_application(directory: Path) -> WSGIApp:
    """The full stack around `raw_app`, its access lines to ``directory``."""
    password_hash = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    access = _file_logger("bench.soak.access", directory / f"access-{os.getpid()}.log")
    return compose(
        AccessLog(format=ACCESS_FORMAT, logger=access),
        ErrorHandler(logger=_quiet_logger()),
        Compress(),
        BasicAuth(users={USER: password_hash}, realm="soak", protect=["/private"]),
        Rewrite(headers=_mark),
        QueryParser(),
    )(raw_app)


def _directory() -> Path:
    directory = os.environ.get("WSGIMW_SOAK_DIR")
    if not directory:
        raise RuntimeError("bench.soak_app needs WSGIMW_SOAK_DIR (bench.soak sets it)")
    return Path(directory)


def _from_environment() -> WSGIApp:
    return make_application(_directory())


def write_counts() -> None:
    """Leave this worker's counts in ``counts-<pid>.json``."""
    counts = COUNTS.as_dict()
    path = _directory() / f"counts-{counts['pid']}.json"
    path.write_text(json.dumps(counts), encoding="utf-8")


def __getattr__(name: str) -> WSGIApp:
    # Built on first use, in the worker that imports it: `application` for
    # gunicorn; importing the module for its constants needs no set-up.
    if name == "application":
        app = _from_environment()
        globals()["application"] = app
        return app
    raise AttributeError(name)
