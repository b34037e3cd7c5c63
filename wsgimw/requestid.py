"""RequestId: one id per request, in the environ, the response and every log
record made while the request runs.

An incoming id (from a load balancer, a proxy or a calling service) is kept
when it is well formed: 1 to 128 visible ASCII characters, none of them a
quote, a backslash, a comma or a bracket of any kind. Anything else (too
long, control characters, CR/LF, spaces, non-ASCII) is replaced by a fresh
id, 32 hex digits, as nginx's ``$request_id``. The id is at
``environ["wsgimw.request_id"]``, on the response in the same header, and in
a `contextvars.ContextVar` while the app runs, while its body is iterated and
while it is closed; `RequestIdFilter` copies it onto each `logging` record
made meanwhile.
"""

from __future__ import annotations

import contextvars
import logging
import os
import random
import re
from collections.abc import Callable, Iterable, Iterator
from typing import Final

from ._options import flag
from ._response import close_iterable, forward_start
from .types import Environ, ExcInfo, Headers, StartResponse, Write, WSGIApp

__all__ = [
    "ENVIRON_KEY",
    "MAX_LENGTH",
    "RequestId",
    "RequestIdFilter",
    "current_request_id",
    "is_valid_id",
]

#: Where `RequestId` puts the id.
ENVIRON_KEY: Final = "wsgimw.request_id"
#: The longest incoming id kept.
MAX_LENGTH: Final = 128

_ID = re.compile(r"[!#$%&*+\-./0-9:;=?@A-Z^_a-z|~]{1,128}\Z")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "wsgimw.request_id", default=None
)

# A generator of our own, seeded from the OS, reseeded in every forked worker:
# the module-level `random` may be seeded by the app (random.seed(42)), which
# would repeat ids. Ids are made 256 at a time (one call for 32768 random
# bits costs little more than one for 128) and handed out one by one; list.pop()
# is atomic, so two threads never get the same one.
_random = random.Random()
_bits = _random.getrandbits
_pool: list[str] = []
_BATCH: Final = 256


def _after_fork() -> None:
    # A forked worker must not hand out the ids its parent still holds.
    _pool.clear()
    _random.seed()


if hasattr(os, "register_at_fork"):  # pragma: no branch - POSIX
    os.register_at_fork(after_in_child=_after_fork)


def _new_id() -> str:
    while True:
        try:
            return _pool.pop()
        except IndexError:
            raw = _bits(128 * _BATCH).to_bytes(16 * _BATCH, "big")
            _pool.extend(raw.hex(" ", 16).split())  # 16 bytes each, in C


def is_valid_id(value: object) -> bool:
    """Whether ``value`` is an id `RequestId` keeps: a str of 1 to 128
    visible ASCII characters, none of ``"(),<>[\\]{}`'``."""
    return type(value) is str and _ID.match(value) is not None


def current_request_id() -> str | None:
    """The id of the request running in this thread (or context), or None."""
    return _current.get()


class _Scoped:
    """The app's body with the id set while each chunk is made and at
    close(); the app iterable is closed exactly once."""

    __slots__ = ("_id", "_iterable", "_iterator")

    def __init__(self, iterable: Iterable[bytes], request_id: str) -> None:
        self._iterable: Iterable[bytes] | None = iterable
        self._iterator: Iterator[bytes] | None = None
        self._id = request_id

    def __iter__(self) -> _Scoped:
        return self

    def __next__(self) -> bytes:
        iterator = self._iterator
        token = _current.set(self._id)
        try:
            if iterator is None:
                iterable = self._iterable
                if iterable is None:  # closed: a next() after close() ends
                    raise StopIteration
                iterator = self._iterator = iter(iterable)
            return next(iterator)
        finally:
            _current.reset(token)

    def close(self) -> None:
        iterable = self._iterable
        if iterable is None:
            return
        self._iterable = self._iterator = None
        token = _current.set(self._id)
        try:
            close_iterable(iterable)
        finally:
            _current.reset(token)


class RequestId:
    """Give every request an id; keep a well-formed incoming one.

    Args:
        header: the request and response header that carries the id.
        incoming: keep a well-formed id the request brings (True, the
            default); False always makes a new one, for a site that faces
            clients directly and wants ids only it made.
        generator: makes a new id, e.g. ``lambda: uuid.uuid4().hex``; it must
            return ids `is_valid_id` accepts (checked once here and on every
            call). By default: 32 random hex digits.

    The response carries the id in ``header``, replacing one the app set.
    """

    __slots__ = ("_environ_key", "_generator", "_header", "_incoming", "_lower")

    def __init__(
        self,
        *,
        header: str = "X-Request-ID",
        incoming: bool = True,
        generator: Callable[[], str] | None = None,
    ) -> None:
        if not isinstance(header, str) or not _TOKEN.match(header):
            raise ValueError(
                f"header must be an HTTP header name such as 'X-Request-ID', "
                f"got {header!r}"
            )
        if header.lower() in _HOP_BY_HOP:
            raise ValueError(
                f"header {header!r} is hop-by-hop; use e.g. 'X-Request-ID'"
            )
        self._header = header
        self._lower = header.lower()
        key = header.upper().replace("-", "_")
        self._environ_key = (
            key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key
        )
        self._incoming = flag("incoming", incoming)
        if generator is not None:
            if not callable(generator):
                raise TypeError(
                    f"generator must be a callable that returns a new id, "
                    f"e.g. lambda: uuid.uuid4().hex; got {generator!r}"
                )
            sample = generator()
            if not is_valid_id(sample):
                raise ValueError(
                    f"generator returned {sample!r}, which is not a valid id: "
                    "1 to 128 visible ASCII characters, none of "
                    "\"(),<>[\\]{}`' (e.g. uuid.uuid4().hex)"
                )
        self._generator = generator

    def __repr__(self) -> str:
        parts = []
        if self._header != "X-Request-ID":
            parts.append(f"header={self._header!r}")
        if not self._incoming:
            parts.append("incoming=False")
        if self._generator is not None:
            parts.append(f"generator={self._generator!r}")
        return f"RequestId({', '.join(parts)})"

    def _make(self) -> str:
        generator = self._generator
        assert generator is not None  # only used with one
        made = generator()
        if not is_valid_id(made):
            logging.getLogger("wsgimw.requestid").warning(
                "the id generator returned an invalid id; a random one is used"
            )
            return _new_id()
        return made

    def __call__(self, app: WSGIApp) -> WSGIApp:
        if not callable(app):
            raise TypeError(f"RequestId wraps a WSGI app (a callable), got {app!r}")
        environ_key = self._environ_key if self._incoming else None
        header, lower = self._header, self._lower
        size = len(lower)
        match = _ID.match
        make = _new_id if self._generator is None else self._make
        current = _current

        def request_id_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            request_id = None if environ_key is None else environ.get(environ_key)
            if type(request_id) is not str or not (
                # Hex and other plain ids (nginx's, most generators'): two
                # C loops, cheaper than the expression that decides the rest.
                (
                    len(request_id) <= MAX_LENGTH
                    and request_id.isascii()
                    and request_id.isalnum()
                )
                or match(request_id) is not None
            ):
                request_id = make()
            environ[ENVIRON_KEY] = request_id
            pair = (header, request_id)

            # Written out rather than the core's rewrite_start_response with a
            # hook: the hook's extra call and closure cost as much as the
            # header work. The exc_info rule is the core's (forward_start).
            def start(
                status: str, headers: Headers, exc_info: ExcInfo | None = None
            ) -> Write:
                for name, _ in headers:
                    if len(name) == size and name.lower() == lower:
                        headers = [h for h in headers if h[0].lower() != lower]
                        break
                headers = [*headers, pair]
                return forward_start(start_response, status, headers, exc_info)

            token = current.set(request_id)
            try:
                iterable = app(environ, start)
            finally:
                current.reset(token)
            if type(iterable) in (list, tuple):
                return iterable  # nothing of the app's runs while it is sent
            wrapper = environ.get("wsgi.file_wrapper")
            if isinstance(wrapper, type) and isinstance(iterable, wrapper):
                return iterable  # keep the server's sendfile()
            return _Scoped(iterable, request_id)

        return request_id_app


class RequestIdFilter(logging.Filter):
    """Puts the running request's id on each record as ``record.request_id``.

    Add it to a handler (``handler.addFilter(RequestIdFilter())``) and use
    ``%(request_id)s`` in the handler's format. The id is the one `RequestId`
    holds in its context variable while the request runs (in the app, its
    body and its close()); for AccessLog's own line, written at close(), it
    is also taken from the line's fields, so the line carries it whatever
    the order of the two. Outside a request the record gets ``default``.
    A record that already has the attribute (``extra={"request_id": ...}``)
    keeps it.

    Args:
        default: the value outside a request.
        attribute: the record attribute to set.
    """

    def __init__(self, *, default: str = "-", attribute: str = "request_id") -> None:
        super().__init__()
        if not isinstance(default, str):
            raise TypeError(f"default must be a str, got {default!r}")
        if not isinstance(attribute, str) or not attribute.isidentifier():
            raise ValueError(
                f"attribute must be a Python identifier such as 'request_id', "
                f"got {attribute!r}"
            )
        self.default = default
        self.attribute = attribute

    def filter(self, record: logging.LogRecord) -> bool:
        attribute = self.attribute
        if attribute in record.__dict__:
            return True
        request_id = _current.get()
        if request_id is None:
            access = getattr(record, "wsgimw_access", None)
            found = access.get("request_id") if isinstance(access, dict) else None
            request_id = found if is_valid_id(found) else self.default
        setattr(record, attribute, request_id)
        return True
