"""Compress: streaming gzip, brotli and zstd that never break a response.

The coding comes from the request's Accept-Encoding (RFC 9110 §12.5.3:
q-values, ``*``, ``identity``), ties going to the server's preference. The
body is compressed chunk by chunk as the app yields it, with one chunk out
for every chunk in, so memory does not grow with the body; streaming media
types are flushed after every chunk so each event reaches the client at
once. Anything that should not be compressed passes through untouched.
"""

from __future__ import annotations

import importlib
import re
import secrets
import struct
import zlib
from collections.abc import Callable, Iterable
from functools import lru_cache, partial
from queue import Empty, SimpleQueue
from typing import Any, Final, Literal

from ._options import flag
from ._response import (
    BodyFilter,
    Exchange,
    header_value,
    remove_header,
    rewrite_start_response,
)
from .types import Environ, Headers, StartResponse, WSGIApp


def _optional(module: str) -> Any:
    """The module, or None when its extra is not installed."""
    try:
        return importlib.import_module(module)
    except ImportError:  # pragma: no cover - the test set-up installs every extra
        return None


# The extras: pip install wsgimw[brotli], wsgimw[zstd].
brotli: Any = _optional("brotli")
zstandard: Any = _optional("zstandard")

__all__ = [
    "DEFAULT_CONTENT_TYPES",
    "STREAMING_CONTENT_TYPES",
    "Compress",
    "available_encodings",
    "negotiate",
]

#: Media types compressed by default: text, and the structured and font
#: formats that compress well. ``type/*`` and ``type/*+suffix`` match families.
DEFAULT_CONTENT_TYPES = (
    "text/*",
    "application/json",
    "application/*+json",
    "application/javascript",
    "application/ecmascript",
    "application/xml",
    "application/*+xml",
    "application/x-ndjson",
    "application/wasm",
    "application/vnd.ms-fontobject",
    "image/svg+xml",
    "image/x-icon",
    "image/vnd.microsoft.icon",
    "font/ttf",
    "font/otf",
)

#: Media types that are streams of events: with ``flush="auto"`` every chunk
#: is flushed so it reaches the client as soon as the app yields it.
STREAMING_CONTENT_TYPES = (
    "text/event-stream",
    "application/x-ndjson",
    "application/stream+json",
    "multipart/x-mixed-replace",
)

_PREFERENCE = ("br", "zstd", "gzip")
#: Response headers besides Content-Type that can rule compression out.
_DECIDING = frozenset({"content-encoding", "content-length", "cache-control"})
_DECIDING_OR_VARY = _DECIDING | {"vary"}
_PAD_TABLE = bytes(ord("a") + byte % 26 for byte in range(256))
_LEVELS = {"gzip": (1, 9), "br": (0, 11), "zstd": (1, 22)}
_ALIASES = {"x-gzip": "gzip"}


def available_encodings() -> tuple[str, ...]:
    """The codings this installation can produce, in default preference order."""
    installed = {"gzip": True, "br": brotli is not None, "zstd": zstandard is not None}
    return tuple(coding for coding in _PREFERENCE if installed[coding])


# RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_QVALUE = re.compile(r"(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)\Z")


def _qvalue(text: str) -> float | None:
    text = text.strip()
    return float(text) if _QVALUE.match(text) else None


#: An Accept-Encoding longer than this many characters, or with more than
#: MAX_ACCEPT_ENCODING_MEMBERS elements, is not parsed: the response goes out
#: uncompressed (identity is always acceptable). Browsers send about 25.
MAX_ACCEPT_ENCODING_LENGTH: Final = 1024
MAX_ACCEPT_ENCODING_MEMBERS: Final = 64
#: Values up to this long are cached (1,024 of them: about 300 KB at most);
#: longer ones are parsed each time, so a client cannot fill memory with them.
_CACHED_LENGTH: Final = 128


def negotiate(accept_encoding: str, offers: tuple[str, ...]) -> str | None:
    """The coding for an Accept-Encoding value, or None to send identity.

    ``offers`` are the server's codings, most preferred first; they win
    ties. Tokens are case-insensitive and whole (``gzipx`` is not gzip);
    ``q=0`` refuses; ``*`` covers codings not named; ``identity``, when
    weighed by name or through ``*``, beats a coding with a lower q. Elements
    with an invalid q-value are ignored. A value longer than
    `MAX_ACCEPT_ENCODING_LENGTH` characters or with more than
    `MAX_ACCEPT_ENCODING_MEMBERS` elements gets identity, unparsed. Values of
    up to 128 characters are cached (1,024 of them).
    """
    if len(accept_encoding) <= _CACHED_LENGTH:
        return _negotiate_cached(accept_encoding, offers)
    if (
        len(accept_encoding) > MAX_ACCEPT_ENCODING_LENGTH
        or accept_encoding.count(",") >= MAX_ACCEPT_ENCODING_MEMBERS
    ):
        return None
    return _negotiate(accept_encoding, offers)


def _negotiate(accept_encoding: str, offers: tuple[str, ...]) -> str | None:
    if not accept_encoding:
        return None
    weights: dict[str, float] = {}
    for element in accept_encoding.split(","):
        name, _, params = element.partition(";")
        name = name.strip().lower()
        if not name:
            continue
        q: float | None = 1.0
        for param in params.split(";") if params else ():
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                q = _qvalue(value)
        if q is None:
            continue
        name = _ALIASES.get(name, name)
        weights[name] = max(q, weights.get(name, 0.0))
    star = weights.get("*")
    best, best_q = None, 0.0
    for coding in offers:
        q = weights.get(coding, star if star is not None else 0.0)
        if q > best_q:
            best, best_q = coding, q
    # Identity is acceptable by default (RFC 9110 §12.5.3) but competes
    # only when the client weighs it, by name or through "*".
    identity_q = weights.get("identity", star)
    if best is None or (identity_q is not None and identity_q > best_q):
        return None
    return best


_negotiate_cached = lru_cache(maxsize=1024)(_negotiate)


def _media_type(content_type: str) -> str:
    return content_type.partition(";")[0].strip().lower()


def _type_matcher(patterns: Iterable[str], option: str) -> Callable[[str], bool]:
    if isinstance(patterns, str):
        raise TypeError(f"{option} takes a list of media types, e.g. [{patterns!r}]")
    exact: set[str] = set()
    families: list[tuple[str, str]] = []
    for pattern in patterns:
        kind, _, subtype = (
            pattern.strip().lower().partition("/")
            if isinstance(pattern, str)
            else ("", "", "")
        )
        if not kind or not subtype or "/" in subtype or ";" in subtype or "*" in kind:
            raise ValueError(
                f"{option} entries look like 'text/html', 'text/*' or "
                f"'application/*+json' (no parameters, no '*/*'); got {pattern!r}"
            )
        pattern = f"{kind}/{subtype}"
        if subtype.startswith("*"):
            families.append((kind + "/", subtype[1:]))
        else:
            exact.add(pattern)

    @lru_cache(maxsize=256)
    def matches(media_type: str) -> bool:
        if media_type in exact:
            return True
        return any(
            media_type.startswith(prefix) and media_type.endswith(suffix)
            for prefix, suffix in families
        )

    return matches


def _merge_vary(headers: Headers) -> Headers:
    """``headers`` with Accept-Encoding in Vary: never twice (across every
    Vary header), never beside ``*``. A copy when anything changes."""
    first = None
    for index, (name, value) in enumerate(headers):
        if name.lower() != "vary":
            continue
        fields = {field.strip().lower() for field in value.split(",")}
        if "*" in fields or "accept-encoding" in fields:
            return headers
        if first is None:
            first = index
    if first is None:
        return [*headers, ("Vary", "Accept-Encoding")]
    headers = list(headers)
    name, value = headers[first]
    headers[first] = (
        name,
        f"{value}, Accept-Encoding" if value.strip() else "Accept-Encoding",
    )
    return headers


def _strip_suffixes(validators: str, codings: tuple[str, ...]) -> str:
    """If-None-Match / If-Match with the coding suffixes we add taken off,
    so the app compares against its own ETags."""
    for coding in codings:
        validators = validators.replace(f'-{coding}"', '"')
    return validators


class _Whole:
    """Compression whose feed and finish are the compressor's own C methods:
    no Python frame per chunk, for throughput."""

    __slots__ = ("feed", "finish")

    def __init__(
        self, feed: Callable[[bytes], bytes], finish: Callable[[], bytes]
    ) -> None:
        self.feed = feed
        self.finish = finish


class _Flushing:
    """Compression flushed after every chunk, so each reaches the client."""

    __slots__ = ("_compress", "_flush", "finish")

    def __init__(
        self,
        compress: Callable[[bytes], bytes],
        flush: Callable[[], bytes],
        finish: Callable[[], bytes],
    ) -> None:
        self._compress = compress
        self._flush = flush
        self.finish = finish

    def feed(self, chunk: bytes) -> bytes:
        if not chunk:
            return b""
        return self._compress(chunk) + self._flush()


class _PaddedGzip:
    """gzip (RFC 1952) with a random-length comment in its header.

    BREACH length hiding: the compressed size no longer tells an attacker
    exactly how well a guess compressed. The comment is skipped by every
    gzip decoder, so the decompressed body is unchanged.
    """

    __slots__ = ("_crc", "_deflate", "_flushing", "_header", "_size")

    def __init__(self, level: int, padding: int, flushing: bool) -> None:
        # Random letters (a gzip comment is NUL-terminated latin-1 text).
        comment = secrets.token_bytes(secrets.randbelow(padding + 1)).translate(
            _PAD_TABLE
        )
        # ID1 ID2 CM=deflate FLG=FCOMMENT MTIME=0 XFL=0 OS=unknown, comment, NUL
        self._header: bytes | None = b"\x1f\x8b\x08\x10\0\0\0\0\0\xff" + comment + b"\0"
        self._deflate = zlib.compressobj(level, zlib.DEFLATED, -15)
        self._flushing = flushing
        self._crc = 0
        self._size = 0

    def feed(self, chunk: bytes) -> bytes:
        self._crc = zlib.crc32(chunk, self._crc)
        self._size += len(chunk)
        out = self._deflate.compress(chunk)
        if self._flushing and chunk:
            out += self._deflate.flush(zlib.Z_SYNC_FLUSH)
        return self._with_header(out)

    def finish(self) -> bytes:
        trailer = struct.pack("<II", self._crc, self._size & 0xFFFFFFFF)
        return self._with_header(self._deflate.flush() + trailer)

    def _with_header(self, out: bytes) -> bytes:
        header, self._header = self._header, None
        return header + out if header is not None else out


class _Precompressed:
    """A body already in memory, compressed at once so Content-Length can be
    exact; its chunks are then only counted off."""

    __slots__ = ("_body",)

    def __init__(self, body: bytes) -> None:
        self._body = body

    def feed(self, chunk: bytes) -> bytes:
        return b""

    def finish(self) -> bytes:
        return self._body


class Compress:
    """Compress response bodies with gzip, brotli or zstd, streaming.

    Args:
        minimum_size: bodies of known size (Content-Length, or a list or
            tuple body) below this many bytes are sent as they are.
        content_types: media types to compress (see `DEFAULT_CONTENT_TYPES`);
            ``type/*`` and ``type/*+json`` match families.
        encodings: the codings to offer, most preferred first; the default is
            br, zstd, gzip, each if installed (``pip install wsgimw[brotli,zstd]``).
        gzip_level: 1 (fast) to 9 (small); 6 by default.
        brotli_quality: 0 to 11; 4 by default, fast enough for dynamic pages.
        zstd_level: 1 to 22; 3 by default.
        flush: ``"auto"`` flushes after every chunk for streaming media types
            (`STREAMING_CONTENT_TYPES`, or a response with
            ``X-Accel-Buffering: no``) and compresses everything else at full
            ratio; ``"always"`` flushes every chunk; ``"never"`` only at the end.
        etag: a strong ETag no longer matches the compressed bytes:
            ``"weaken"`` makes it weak (``W/"..."``), ``"suffix"`` appends the
            coding (``"abc-gzip"``).
        file_wrapper: also compress ``wsgi.file_wrapper`` responses (they lose
            sendfile); by default they pass through untouched.
        breach_padding: BREACH length hiding, off (0) by default: each gzip
            response carries a random comment of 0 to this many bytes in its
            header, so its length varies from request to request. Only gzip
            is offered while it is on. It makes the attack slower, not
            impossible; see the docs for the trade-off.
    """

    __slots__ = (
        "_encodings",
        "_etag",
        "_file_wrapper",
        "_flush",
        "_levels",
        "_minimum_size",
        "_padding",
        "_settings",
        "_streaming_type",
        "_wanted_type",
        "_zstd_pool",
    )

    def __init__(
        self,
        *,
        minimum_size: int = 500,
        content_types: Iterable[str] = DEFAULT_CONTENT_TYPES,
        encodings: Iterable[str] | None = None,
        gzip_level: int = 6,
        brotli_quality: int = 4,
        zstd_level: int = 3,
        flush: Literal["auto", "always", "never"] = "auto",
        etag: Literal["weaken", "suffix"] = "weaken",
        file_wrapper: bool = False,
        breach_padding: int = 0,
    ) -> None:
        if isinstance(minimum_size, bool) or not isinstance(minimum_size, int):
            raise TypeError(f"minimum_size must be an int, got {minimum_size!r}")
        if minimum_size < 0:
            raise ValueError(f"minimum_size must be >= 0, got {minimum_size}")
        if isinstance(breach_padding, bool) or not isinstance(breach_padding, int):
            raise TypeError(f"breach_padding must be an int, got {breach_padding!r}")
        if not 0 <= breach_padding <= 1024:
            raise ValueError(
                f"breach_padding must be from 0 (off) to 1024 bytes, got {breach_padding}"
            )
        self._padding = breach_padding
        self._encodings = _check_encodings(encodings)
        if breach_padding:
            if "gzip" not in self._encodings:
                raise ValueError(
                    "breach_padding pads gzip only: add 'gzip' to encodings"
                )
            self._encodings = ("gzip",)
        self._levels = {
            "gzip": _check_level("gzip_level", gzip_level, "gzip"),
            "br": _check_level("brotli_quality", brotli_quality, "br"),
            "zstd": _check_level("zstd_level", zstd_level, "zstd"),
        }
        if flush not in ("auto", "always", "never"):
            raise ValueError(
                f"flush must be 'auto', 'always' or 'never', got {flush!r}"
            )
        if etag not in ("weaken", "suffix"):
            raise ValueError(f"etag must be 'weaken' or 'suffix', got {etag!r}")
        self._minimum_size = minimum_size
        wanted_type = _type_matcher(content_types, "content_types")
        # By the header's whole value: apps send the same few, so the cache
        # answers without even splitting off the parameters.
        self._wanted_type = lru_cache(maxsize=256)(
            lambda content_type: wanted_type(_media_type(content_type))
        )
        self._streaming_type = _type_matcher(STREAMING_CONTENT_TYPES, "streaming types")
        self._flush = flush
        self._etag = etag
        self._file_wrapper = flag("file_wrapper", file_wrapper)
        #: zstd compression contexts between responses: making one costs
        #: about 16 µs, and each serves one response at a time.
        self._zstd_pool: SimpleQueue[Any] = SimpleQueue()
        self._settings = (
            minimum_size,
            tuple(content_types),
            gzip_level,
            brotli_quality,
            zstd_level,
            flush,
            etag,
            file_wrapper,
            breach_padding,
        )

    def __call__(self, app: WSGIApp) -> WSGIApp:
        offers = self._encodings
        suffixes = self._etag == "suffix"

        vary = self._vary_if_eligible

        def compress_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            if "HTTP_RANGE" in environ:
                return app(environ, start_response)
            accept = environ.get("HTTP_ACCEPT_ENCODING")
            coding = negotiate(accept, offers) if accept else None
            # The two paths that never compress see only the headers: no
            # Exchange, the core's header-rewriting start_response.
            if coding is None:
                return app(environ, rewrite_start_response(start_response, vary))
            validator = environ.get("HTTP_IF_NONE_MATCH", "")
            if suffixes:
                for key in ("HTTP_IF_NONE_MATCH", "HTTP_IF_MATCH"):
                    if key in environ:
                        environ[key] = _strip_suffixes(environ[key], offers)
            # HEAD too: its headers must be the ones a GET gets, and for a
            # file_wrapper or a short list body that depends on the iterable.
            # (The core sends no body and runs no filter on a HEAD.)
            exchange = _Compressing(environ, start_response, self, coding, validator)
            return exchange.respond(app)

        return compress_app

    def __repr__(self) -> str:
        defaults = Compress.__init__.__kwdefaults__ or {}
        parts = []
        names = (
            "minimum_size",
            "content_types",
            "gzip_level",
            "brotli_quality",
            "zstd_level",
            "flush",
            "etag",
            "file_wrapper",
            "breach_padding",
        )
        for name, value in zip(names, self._settings, strict=True):
            default = defaults.get(name)
            if name == "content_types":
                default = tuple(DEFAULT_CONTENT_TYPES)
            if value != default:
                parts.append(f"{name}={value!r}")
        if self._encodings != available_encodings() and not self._padding:
            parts.append(f"encodings={list(self._encodings)!r}")
        return f"Compress({', '.join(parts)})"

    # -- decisions -----------------------------------------------------------------

    def eligible(self, status: str, headers: Headers) -> bool:
        """Whether this response may be compressed, from its status and headers."""
        code = status[:3]
        if code[0] in "13" or code in ("204", "206"):
            return False
        content_type = None
        for name, value in headers:
            lower = name.lower()
            if lower == "content-type":
                content_type = value
            elif lower not in _DECIDING:
                continue  # most headers: one set lookup
            elif lower == "content-encoding":
                return False
            elif lower == "content-length":
                if (
                    value.isascii()
                    and value.isdigit()
                    and int(value) < self._minimum_size
                ):
                    return False
            elif "no-transform" in value.lower():  # cache-control
                return False
        return content_type is not None and self._wanted_type(content_type)

    def _vary_if_eligible(self, status: str, headers: Headers) -> tuple[str, Headers]:
        """Not compressing: `eligible` and `_merge_vary` in one pass over the
        headers, since a cache must still learn that the response depends
        on Accept-Encoding (the no-coding path runs this per request)."""
        code = status[:3]
        if code[0] in "13" or code in ("204", "206"):
            return status, headers
        content_type = None
        varies = False
        for name, value in headers:
            lower = name.lower()
            if lower == "content-type":
                content_type = value
            elif lower not in _DECIDING_OR_VARY:
                continue  # most headers: one set lookup
            elif lower == "vary":
                varies = True
            elif lower == "content-encoding":
                return status, headers
            elif lower == "content-length":
                if (
                    value.isascii()
                    and value.isdigit()
                    and int(value) < self._minimum_size
                ):
                    return status, headers
            elif "no-transform" in value.lower():  # cache-control
                return status, headers
        if content_type is None or not self._wanted_type(content_type):
            return status, headers
        if not varies:  # what _merge_vary does when there is no Vary
            return status, [*headers, ("Vary", "Accept-Encoding")]
        return status, _merge_vary(headers)

    def not_modified(
        self, status: str, headers: Headers, coding: str, validator: str
    ) -> Headers:
        """A 304 for a representation we sent compressed carries the same
        ETag and Vary the compressed 200 had (RFC 9110 §15.4.5): we know it
        was ours when the client's If-None-Match holds our form of the ETag."""
        if status[:3] != "304":
            return headers
        etag = header_value(headers, "ETag")
        if etag is None or etag.startswith("W/"):
            return headers
        ours = self._our_etag(etag, coding)
        if ours not in validator:
            return headers
        return _merge_vary([*remove_header(headers, "ETag"), ("ETag", ours)])

    def _our_etag(self, etag: str, coding: str) -> str:
        if self._etag == "weaken":
            return "W/" + etag
        return etag[:-1] + f'-{coding}"' if etag.endswith('"') else f"{etag}-{coding}"

    def compressed_headers(self, headers: Headers, coding: str) -> Headers:
        headers = _merge_vary(remove_header(headers, "Content-Length"))
        etag = header_value(headers, "ETag")
        headers.append(("Content-Encoding", coding))
        if etag is None or etag.startswith("W/"):
            return headers
        return [*remove_header(headers, "ETag"), ("ETag", self._our_etag(etag, coding))]

    def make_filter(self, coding: str, headers: Headers) -> BodyFilter:
        """A fresh compressor for one response."""
        level = self._levels[coding]
        flushing = self._flush == "always" or (
            self._flush == "auto"
            and (
                self._streaming_type(
                    _media_type(header_value(headers, "Content-Type") or "")
                )
                or (header_value(headers, "X-Accel-Buffering") or "").lower() == "no"
            )
        )
        compress: Callable[[bytes], bytes]
        flush: Callable[[], bytes]
        finish: Callable[[], bytes]
        if coding == "gzip" and self._padding:
            return _PaddedGzip(level, self._padding, flushing)
        if coding == "gzip":
            gz = zlib.compressobj(level, zlib.DEFLATED, 31)
            compress, flush, finish = (
                gz.compress,
                partial(gz.flush, zlib.Z_SYNC_FLUSH),
                gz.flush,
            )
        elif coding == "br":
            br: Any = brotli.Compressor(quality=level)
            compress, flush, finish = br.process, br.flush, br.finish
        else:
            compress, flush, finish = self._zstd(level)
        if flushing:
            return _Flushing(compress, flush, finish)
        return _Whole(compress, finish)

    def _zstd(
        self, level: int
    ) -> tuple[Callable[[bytes], bytes], Callable[[], bytes], Callable[[], bytes]]:
        """A zstd stream on a context from the pool, which goes back to the
        pool once the stream has finished: a stream cut short (the client
        left) drops its context, which may be mid-frame."""
        pool = self._zstd_pool
        try:
            context: Any = pool.get_nowait()
        except Empty:
            context = zstandard.ZstdCompressor(level=level)
        stream = context.compressobj()  # starts a new frame on the context

        def finish() -> bytes:
            tail: bytes = stream.flush()
            if pool.qsize() < _ZSTD_POOL_SIZE:
                pool.put(context)
            return tail

        flush = partial(stream.flush, zstandard.COMPRESSOBJ_FLUSH_BLOCK)
        return stream.compress, flush, finish


#: The most idle zstd contexts a Compress keeps (each holds about 1 MiB at
#: level 3): enough for the responses one server process compresses at once.
_ZSTD_POOL_SIZE: Final = 16


def _check_encodings(encodings: Iterable[str] | None) -> tuple[str, ...]:
    installed = available_encodings()
    if encodings is None:
        return installed
    if isinstance(encodings, str):
        raise TypeError(f"encodings takes a list, e.g. [{encodings!r}]")
    chosen = tuple(_ALIASES.get(e.lower(), e.lower()) for e in encodings)
    for coding in chosen:
        if coding not in _PREFERENCE:
            raise ValueError(
                f"unknown coding {coding!r}; wsgimw offers br, zstd and gzip"
            )
        if coding not in installed:
            extra = "brotli" if coding == "br" else "zstd"
            raise ValueError(
                f"coding {coding!r} needs an extra package: pip install wsgimw[{extra}]"
            )
    if not chosen:
        raise ValueError("encodings is empty: nothing would ever be compressed")
    if len(set(chosen)) != len(chosen):
        raise ValueError(f"encodings lists a coding twice: {list(chosen)!r}")
    return chosen


def _check_level(option: str, value: int, coding: str) -> int:
    low, high = _LEVELS[coding]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{option} must be an int, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{option} must be from {low} to {high}, got {value}")
    return value


class _Compressing(Exchange):
    """One response under Compress, for a client that accepts ``coding``."""

    __slots__ = ("_coding", "_compress", "_validator")
    decides_late = True  # to see the iterable: file_wrapper, small list bodies

    def __init__(
        self,
        environ: Environ,
        start_response: StartResponse,
        compress: Compress,
        coding: str,
        validator: str,
    ) -> None:
        super().__init__(environ, start_response)
        self._compress = compress
        self._coding = coding
        self._validator = validator

    def on_start_early(
        self, status: str, headers: Headers
    ) -> tuple[str, Headers, BodyFilter | None] | None:
        # Most responses (images, small bodies, already encoded...) are left
        # alone, and the headers say so: no need to wait for the iterable.
        compress = self._compress
        if compress.eligible(status, headers):
            return None
        headers = compress.not_modified(status, headers, self._coding, self._validator)
        return status, headers, None

    def on_start(
        self, status: str, headers: Headers
    ) -> tuple[str, Headers, BodyFilter | None]:
        compress = self._compress
        if not compress.eligible(status, headers):
            headers = compress.not_modified(
                status, headers, self._coding, self._validator
            )
            return status, headers, None
        iterable = self.iterable
        if self._keeps_sendfile(iterable):
            return status, _merge_vary(headers), None
        if self.environ.get("REQUEST_METHOD") == "HEAD":
            return status, self._head_headers(headers, iterable), None
        if type(iterable) not in (list, tuple):
            headers = compress.compressed_headers(headers, self._coding)
            return status, headers, compress.make_filter(self._coding, headers)
        # The whole body is in memory already: compress it now, so the
        # response can say exactly how long it is.
        data = b"".join(iterable)  # type: ignore[arg-type]
        if len(data) < compress._minimum_size:
            return status, _merge_vary(headers), None
        headers = compress.compressed_headers(headers, self._coding)
        body_filter = compress.make_filter(self._coding, headers)
        body = body_filter.feed(data) + body_filter.finish()
        headers.append(("Content-Length", str(len(body))))
        return status, headers, _Precompressed(body)

    def _head_headers(
        self, headers: Headers, iterable: Iterable[bytes] | None
    ) -> Headers:
        """The headers a GET gets: for a list body that the app gave for
        HEAD too (the server drops it), its size decides, as for the GET; an
        app that sends no body for HEAD leaves only the headers to go by."""
        compress = self._compress
        if (
            type(iterable) in (list, tuple)
            and iterable
            and sum(map(len, iterable)) < compress._minimum_size
        ):
            return _merge_vary(headers)
        return compress.compressed_headers(headers, self._coding)

    def _keeps_sendfile(self, iterable: Iterable[bytes] | None) -> bool:
        wrapper = self.environ.get("wsgi.file_wrapper")
        return (
            not self._compress._file_wrapper
            and isinstance(wrapper, type)
            and isinstance(iterable, wrapper)
        )
