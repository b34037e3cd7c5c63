"""ConditionalGet: answer If-None-Match / If-Modified-Since with a 304.

A 200 response to a GET or HEAD that carries an ETag or a Last-Modified, to
a request whose If-None-Match (by the weak comparison) or, when there is
none, If-Modified-Since matches it, becomes ``304 Not Modified`` with the
validators and the caching headers and no body. The app's body is closed
without being read. With ``etag=True``, a 200 GET response whose body is a
list or tuple gets a strong ETag made from its bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from typing import Final

from ._options import flag
from ._response import close_iterable, header_value
from ._static_http import etag_matches, http_date
from .types import Environ, ExcInfo, Headers, StartResponse, Write, WSGIApp

__all__ = ["ConditionalGet"]

#: What a 304 leaves out: it has no body to describe (RFC 9110 §15.4.5).
_BODY_HEADERS: Final = frozenset(
    {"content-length", "content-type", "content-range", "content-encoding"}
)


def _not_modified_headers(headers: Headers) -> Headers:
    return [
        (name, value) for name, value in headers if name.lower() not in _BODY_HEADERS
    ]


def _matches(
    if_none_match: str | None, if_modified_since: str | None, headers: Headers
) -> bool:
    """RFC 9110 §13.1.2-3: If-None-Match by the weak comparison; only when
    it is absent, If-Modified-Since against Last-Modified."""
    if if_none_match is not None:
        etag = header_value(headers, "ETag")
        # "*" matches any current representation; a tag matches an ETag only.
        return (
            etag_matches(if_none_match, etag)
            if etag is not None
            else (if_none_match.strip() == "*")
        )
    if if_modified_since is None:
        return False
    last_modified = header_value(headers, "Last-Modified")
    if last_modified is None:
        return False
    since, modified = http_date(if_modified_since), http_date(last_modified)
    return since is not None and modified is not None and modified <= since


class ConditionalGet:
    """Turn a matching conditional GET/HEAD into a 304 Not Modified.

    Args:
        etag: also make a strong ETag (a BLAKE2b digest of the bytes) for a
            200 GET response that has none and whose body is a list or tuple
            (so it is in memory already). Streamed bodies and HEAD responses
            are left as they are: their bytes are not at hand.
    """

    __slots__ = ("_etag",)

    def __init__(self, *, etag: bool = False) -> None:
        self._etag = flag("etag", etag)

    def __repr__(self) -> str:
        return "ConditionalGet(etag=True)" if self._etag else "ConditionalGet()"

    def __call__(self, app: WSGIApp) -> WSGIApp:
        if not callable(app):
            raise TypeError(
                f"ConditionalGet wraps a WSGI app (a callable), got {app!r}"
            )
        make_etags = self._etag

        def conditional_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            method = environ.get("REQUEST_METHOD")
            if method != "GET" and method != "HEAD":
                return app(environ, start_response)
            if_none_match = environ.get("HTTP_IF_NONE_MATCH")
            if_modified_since = environ.get("HTTP_IF_MODIFIED_SINCE")
            make_etag = make_etags and method == "GET"
            if if_none_match is None and if_modified_since is None and not make_etag:
                return app(environ, start_response)
            exchange = _Conditional(
                environ, start_response, if_none_match, if_modified_since, make_etag
            )
            return exchange.respond(app)

        return conditional_app


class _Conditional:
    """One conditional request: decides at start_response; a 304 closes
    the app's body unread."""

    __slots__ = (
        "_calling",
        "_held",
        "_if_modified_since",
        "_if_none_match",
        "_make_etag",
        "_server_start_response",
        "_server_write",
        "environ",
        "not_modified",
        "started",
    )
    _server_write: Write

    def __init__(
        self,
        environ: Environ,
        start_response: StartResponse,
        if_none_match: str | None,
        if_modified_since: str | None,
        make_etag: bool,
    ) -> None:
        self.environ = environ
        self._server_start_response = start_response
        self._if_none_match = if_none_match
        self._if_modified_since = if_modified_since
        self._make_etag = make_etag
        self._calling = False
        self._held: tuple[str, Headers] | None = None
        self.not_modified = False
        self.started = False

    def respond(self, app: WSGIApp) -> Iterable[bytes]:
        self._calling = True
        try:
            iterable = app(self.environ, self.start_response)
        finally:
            self._calling = False
        held, self._held = self._held, None
        if held is not None:
            status, headers = held
            tag = _strong_etag(iterable) if type(iterable) in (list, tuple) else None
            if tag is not None:
                headers = [*headers, ("ETag", tag)]
            try:
                self._start(status, headers)
            except Exception:
                close_iterable(iterable)
                raise
        if self.not_modified:
            close_iterable(iterable)  # unread, once
            return []
        if self.started:
            return iterable  # decided: the app's own iterable, untouched
        return _LazyBody(iterable, self)

    def start_response(
        self, status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Write:
        if exc_info is not None:
            # An error page replaces whatever was decided.
            self._held = None
            self.not_modified = False
            self.started = True
            self._server_write = self._server_start_response(status, headers, exc_info)
            return self._write
        if (
            self._calling
            and self._make_etag
            and status[:3] == "200"
            and header_value(headers, "ETag") is None
        ):
            self._held = (status, headers)  # until the body is seen
            return self._write
        self._start(status, headers)
        return self._write

    def _start(self, status: str, headers: Headers) -> None:
        self.started = True
        if status[:3] == "200" and _matches(
            self._if_none_match, self._if_modified_since, headers
        ):
            self.not_modified = True
            self._server_write = self._server_start_response(
                "304 Not Modified", _not_modified_headers(headers)
            )
            return
        self._server_write = self._server_start_response(status, headers)

    def _write(self, data: bytes) -> None:
        held = self._held
        if held is not None:  # write() before returning: no ETag to make
            self._held = None
            self._start(*held)
        if not self.not_modified:
            self._server_write(data)


def _strong_etag(body: Iterable[bytes]) -> str | None:
    try:
        data = b"".join(body)
    except TypeError:  # not bytes: the app's error, for a validator to report
        return None
    return f'"{hashlib.blake2b(data, digest_size=16).hexdigest()}"'


class _LazyBody:
    """The body of an app that had not started when it returned: each
    ``next()`` may be the one that starts it, and a 304 then ends it."""

    __slots__ = ("_exchange", "_iterable", "_iterator")

    def __init__(self, iterable: Iterable[bytes], exchange: _Conditional) -> None:
        self._iterable: Iterable[bytes] | None = iterable
        self._iterator: Iterator[bytes] | None = None
        self._exchange = exchange

    def __iter__(self) -> _LazyBody:
        return self

    def __next__(self) -> bytes:
        iterable = self._iterable
        if iterable is None:  # closed, or ended by a 304
            raise StopIteration
        iterator = self._iterator
        if iterator is None:
            iterator = self._iterator = iter(iterable)
        chunk = next(iterator)
        if self._exchange.not_modified:
            self.close()
            raise StopIteration
        return chunk

    def close(self) -> None:
        iterable = self._iterable
        if iterable is not None:
            self._iterable = self._iterator = None
            close_iterable(iterable)
