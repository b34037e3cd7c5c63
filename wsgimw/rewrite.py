"""Rewrite: change a response's status, headers or body, respecting close().

A header hook sees every response. A body transform (bytes or text) applies
to responses that have a body and whose media type is allowed, either chunk
by chunk (streaming; Content-Length is dropped) or on the whole body
(buffered up to ``max_size``; Content-Length is set to the new length).
Everything the middleware does not change passes through untouched.
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Callable, Iterable

from ._options import flag
from ._redact import loggable
from ._response import (
    BodyFilter,
    Buffer,
    Exchange,
    has_body,
    header_value,
    remove_header,
    rewrite_start_response,
)
from .types import Environ, Headers, StartResponse, WSGIApp

__all__ = ["Rewrite"]

logger = logging.getLogger("wsgimw.rewrite")

HeaderHook = Callable[[str, Headers], tuple[str, Headers]]


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def _charset(content_type: str) -> str:
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"') or "utf-8"
    return "utf-8"


def _normalise_content_types(content_types: Iterable[str] | None) -> tuple[str, ...]:
    if content_types is None:
        return ()
    if isinstance(content_types, str):
        raise TypeError(
            "content_types takes a list of media types, e.g. ['text/plain'], "
            f"not the single string {content_types!r}"
        )
    patterns = []
    for item in content_types:
        if not isinstance(item, str) or "/" not in item:
            raise ValueError(
                f"content_types entries look like 'text/html' or 'text/*'; got {item!r}"
            )
        item = item.strip().lower()
        patterns.append(item[:-1] if item.endswith("/*") else item)
    if not patterns:
        raise ValueError("content_types is empty: no response would be rewritten")
    return tuple(patterns)


class _ChunkFilter:
    """Applies a bytes function to each chunk."""

    __slots__ = ("_transform",)

    def __init__(self, transform: Callable[[bytes], bytes]) -> None:
        self._transform = transform

    def feed(self, chunk: bytes) -> bytes:
        return self._transform(chunk) if chunk else b""

    def finish(self) -> bytes:
        return b""


class _TextChunkFilter:
    """Decodes incrementally (so a character split across chunks survives),
    applies a str function, encodes with the same charset. Undecodable bytes
    travel through as surrogates and come back unchanged."""

    __slots__ = ("_decoder", "_encoder", "_transform")

    def __init__(self, transform: Callable[[str], str], charset: str) -> None:
        self._transform = transform
        # Incremental both ways: a stateful charset (utf-16, utf-8-sig)
        # writes its BOM once, not once per chunk.
        self._decoder = codecs.getincrementaldecoder(charset)("surrogateescape")
        self._encoder = codecs.getincrementalencoder(charset)("surrogateescape")

    def feed(self, chunk: bytes) -> bytes:
        text = self._decoder.decode(chunk)
        return self._encoder.encode(self._transform(text)) if text else b""

    def finish(self) -> bytes:
        text = self._decoder.decode(b"", True)
        tail = self._transform(text) if text else ""
        return self._encoder.encode(tail, True)


def _text_to_bytes(
    transform: Callable[[str], str], charset: str
) -> Callable[[bytes], bytes]:
    def transform_bytes(body: bytes) -> bytes:
        text = body.decode(charset, "surrogateescape")
        return transform(text).encode(charset, "surrogateescape")

    return transform_bytes


class Rewrite:
    """Rewrite responses: a header hook and/or a body transform.

    Args:
        headers: ``hook(status, headers) -> (status, headers)``, called for
            every response with a copy of the app's header list.
        body: ``transform(bytes) -> bytes``, per chunk or on the whole body.
        text: ``transform(str) -> str``, the same on text decoded with the
            response's charset (UTF-8 when none is given). Exclusive with
            ``body``.
        buffered: transform the whole body at once (held in memory up to
            ``max_size``, Content-Length set exactly) instead of each chunk.
        max_size: in buffered mode, a larger body passes through unchanged
            and a warning is logged on ``wsgimw.rewrite``.
        content_types: media types whose bodies are transformed, such as
            ``["text/html", "application/json", "text/*"]``; None for all.
    """

    __slots__ = (
        "_body",
        "_buffered",
        "_content_types",
        "_headers",
        "_max_size",
        "_text",
    )

    def __init__(
        self,
        *,
        headers: HeaderHook | None = None,
        body: Callable[[bytes], bytes] | None = None,
        text: Callable[[str], str] | None = None,
        buffered: bool = False,
        max_size: int = 1 << 20,
        content_types: Iterable[str] | None = None,
    ) -> None:
        for name, value in (("headers", headers), ("body", body), ("text", text)):
            if value is not None and not callable(value):
                raise TypeError(f"{name} must be a callable, got {value!r}")
        if headers is None and body is None and text is None:
            raise ValueError(
                "Rewrite needs something to do: pass headers=, body= or text="
            )
        if body is not None and text is not None:
            raise ValueError("pass either body= (bytes) or text= (str), not both")
        if isinstance(max_size, bool) or not isinstance(max_size, int):
            raise TypeError(f"max_size must be an int, got {max_size!r}")
        if max_size < 0:
            raise ValueError(f"max_size must be >= 0, got {max_size}")
        self._headers = headers
        self._body = body
        self._text = text
        self._buffered = flag("buffered", buffered)
        self._max_size = max_size
        self._content_types = _normalise_content_types(content_types)

    def __call__(self, app: WSGIApp) -> WSGIApp:
        hook = self._headers
        if hook is not None and self._body is None and self._text is None:
            # Headers only: no body to reach, so no Exchange; the hook sees
            # every start_response (an error page's too), the app's iterable
            # goes to the server untouched.
            def copying_hook(status: str, headers: Headers) -> tuple[str, Headers]:
                return hook(status, list(headers))

            def rewrite_headers_app(
                environ: Environ, start_response: StartResponse
            ) -> Iterable[bytes]:
                return app(
                    environ, rewrite_start_response(start_response, copying_hook)
                )

            return rewrite_headers_app

        def rewrite_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            return _RewriteExchange(environ, start_response, self).respond(app)

        return rewrite_app

    def __repr__(self) -> str:
        parts = []
        for name in ("headers", "body", "text"):
            hook = getattr(self, "_" + name)
            if hook is not None:
                parts.append(f"{name}={getattr(hook, '__qualname__', hook)!s}")
        if self._buffered:
            parts.append(f"buffered=True, max_size={self._max_size}")
        if self._content_types:
            parts.append(f"content_types={list(self._content_types)!r}")
        return f"Rewrite({', '.join(parts)})"

    # -- per response -----------------------------------------------------------

    def _wants_body(self, environ: Environ, status: str, headers: Headers) -> bool:
        # Only called with a body or text transform (see __call__).
        if not has_body(environ, status) or status[:3] == "206":
            return False  # no body, or a byte range of one: not ours to change
        encoding = header_value(headers, "Content-Encoding")
        if encoding is not None and encoding.strip().lower() != "identity":
            return False  # compressed bytes: a transform would corrupt them
        if not self._content_types:
            return True
        media_type = _media_type(header_value(headers, "Content-Type") or "")
        return any(
            media_type.startswith(p) if p.endswith("/") else media_type == p
            for p in self._content_types
        )

    def _filter(self, headers: Headers) -> BodyFilter | None:
        transform = self._body
        if self._text is not None:
            charset = _charset(header_value(headers, "Content-Type") or "")
            try:
                codecs.lookup(charset)
            except LookupError:
                logger.warning("not rewriting a body in unknown charset %r", charset)
                return None
            if not self._buffered:
                return _TextChunkFilter(self._text, charset)
            transform = _text_to_bytes(self._text, charset)
        assert transform is not None  # _wants_body checked there is one
        if self._buffered:
            return Buffer(transform, self._max_size, _log_overflow)
        return _ChunkFilter(transform)

    def start(
        self, environ: Environ, status: str, headers: Headers
    ) -> tuple[str, Headers, BodyFilter | None]:
        if self._headers is not None:
            status, headers = self._headers(status, list(headers))
        if not self._wants_body(environ, status, headers):
            return status, headers, None
        body_filter = self._filter(headers)
        if body_filter is None:
            return status, headers, None
        headers = remove_header(headers, "Content-Length")
        etag = header_value(headers, "ETag")
        if etag is not None and not etag.startswith("W/"):
            # The bytes change, so a strong validator no longer holds.
            headers = [*remove_header(headers, "ETag"), ("ETag", "W/" + etag)]
        return status, headers, body_filter


def _log_overflow(exchange: Exchange) -> None:
    environ = exchange.environ
    # Escaped: a client must not forge log lines with %0A in its path.
    request = loggable(f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}")
    logger.warning("response to %s is larger than max_size; sent unchanged", request)


class _RewriteExchange(Exchange):
    __slots__ = ("_rewrite",)

    def __init__(
        self, environ: Environ, start_response: StartResponse, rewrite: Rewrite
    ) -> None:
        super().__init__(environ, start_response)
        self._rewrite = rewrite

    def on_start(
        self, status: str, headers: Headers
    ) -> tuple[str, Headers, BodyFilter | None]:
        return self._rewrite.start(self.environ, status, headers)

    def on_restart_passed(self, status: str, headers: Headers) -> tuple[str, Headers]:
        # The header hook sees every response, an error page sent after the
        # app returned too; the body transform cannot reach it any more.
        hook = self._rewrite._headers
        return (status, headers) if hook is None else hook(status, list(headers))
