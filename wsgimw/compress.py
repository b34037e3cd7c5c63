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
    SECOND_START,
    BodyFilter,
    Exchange,
    forward_start,
    header_value,
    remove_header,
)
from .types import Environ, ExcInfo, Headers, StartResponse, Write, WSGIApp


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
#: Response headers that decide whether a response may be compressed, and
#: Vary, which a response we may compress gets Accept-Encoding in.
_DECIDING = frozenset(
    {"content-type", "content-encoding", "content-length", "cache-control", "vary"}
)
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
#: Values up to this long are cached (_CACHED_VALUES of them: about 300 KB at
#: most); longer ones are parsed each time, so a client cannot fill memory.
_CACHED_LENGTH: Final = 128
_CACHED_VALUES: Final = 1024


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


_negotiate_cached = lru_cache(maxsize=_CACHED_VALUES)(_negotiate)


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


# What one pass over a response's status and headers says (`Compress._verdict`).
_STATUS_RULES_OUT: Final = 0  # 1xx, 3xx (a 304 may need its ETag fixed), 204, 206
_HEADERS_RULE_OUT: Final = 1  # no wanted Content-Type, encoded, short, no-transform
_MAY_COMPRESS: Final = 2  # and no Vary header yet
_MAY_COMPRESS_VARIES: Final = 3  # and a Vary header to merge Accept-Encoding into

#: Caches for the per-response scan, filled as statuses and header names are
#: seen. Apps send the same few, so a dict lookup replaces slicing the status
#: and lower-casing each name. They (and each Compress's Content-Type cache)
#: stop growing at _CACHE_BOUND entries: past it, values are worked out each
#: time, so an app echoing odd names cannot fill memory.
_CACHE_BOUND: Final = 512
_status_allows: dict[str, bool] = {}
_deciding_name: dict[str, str] = {}  # name as sent: lower-case if deciding, else ""


def _learn_status(status: str) -> bool:
    """Whether a response with this status may be compressed at all."""
    code = status[:3]
    allows = not (code[0] in "13" or code in ("204", "206"))
    if len(_status_allows) < _CACHE_BOUND:
        _status_allows[status] = allows
    return allows


def _learn_name(name: str) -> str:
    """The lower-case form of a header name that decides (see `_DECIDING`),
    or "" for the rest."""
    lower = name.lower()
    deciding = lower if lower in _DECIDING else ""
    if len(_deciding_name) < _CACHE_BOUND:
        _deciding_name[name] = deciding
    return deciding


def _with_vary(headers: Headers, verdict: int) -> Headers:
    """`_merge_vary` for a response `Compress._verdict` found we may compress:
    when it has no Vary header, appending one is all there is to do."""
    if verdict == _MAY_COMPRESS:
        return [*headers, ("Vary", "Accept-Encoding")]
    return _merge_vary(headers)


#: minimum_size up to this lists every length below it (see `_short_lengths`).
_LISTED_LENGTHS: Final = 1024


def _short_lengths(minimum_size: int) -> frozenset[str]:
    """Every Content-Length value below ``minimum_size`` as apps write
    them (decimal, no leading zeros), when there are few enough to list:
    then a value not in the set is no such length, whatever it is."""
    if minimum_size > _LISTED_LENGTHS:
        return frozenset()
    return frozenset(map(str, range(minimum_size)))


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
        "_lists_lengths",
        "_minimum_size",
        "_padding",
        "_settings",
        "_short_lengths",
        "_streaming_type",
        "_type_matches",
        "_wanted_types",
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
        self._short_lengths = _short_lengths(minimum_size)
        self._lists_lengths = minimum_size <= _LISTED_LENGTHS
        self._type_matches = _type_matcher(content_types, "content_types")
        # By the header's whole value: apps send the same few, so a dict
        # answers without even splitting off the parameters.
        self._wanted_types: dict[str, bool] = {}
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
        verdict = self._verdict
        # Accept-Encoding value -> the coding (or "identity"): browsers send
        # a few values, so one dict lookup usually replaces negotiate().
        chosen: dict[str, str] = {}

        def choose(accept: str) -> str:
            coding = negotiate(accept, offers) or "identity"
            if len(accept) <= _CACHED_LENGTH and len(chosen) < _CACHED_VALUES:
                chosen[accept] = coding
            return coding

        def compress_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            if "HTTP_RANGE" in environ:
                return app(environ, start_response)
            accept = environ.get("HTTP_ACCEPT_ENCODING")
            coding = (chosen.get(accept) or choose(accept)) if accept else "identity"
            if coding == "identity":
                # Never compressed: only the headers change (Vary), through
                # a start_response written out here, the cheapest kind.
                def vary_start(
                    status: str, headers: Headers, exc_info: ExcInfo | None = None
                ) -> Write:
                    found = verdict(status, headers)
                    if found >= _MAY_COMPRESS:
                        headers = _with_vary(headers, found)
                    return forward_start(start_response, status, headers, exc_info)

                return app(environ, vary_start)
            validator = environ.get("HTTP_IF_NONE_MATCH", "")
            if suffixes:
                for key in ("HTTP_IF_NONE_MATCH", "HTTP_IF_MATCH"):
                    if key in environ:
                        environ[key] = _strip_suffixes(environ[key], offers)
            # HEAD too: its headers must be the ones a GET gets, and for a
            # file_wrapper or a short list body that depends on the iterable.
            # (The core sends no body and runs no filter on a HEAD.)
            deciding = _Deciding(environ, start_response, self, coding, validator)
            return deciding.returned(app(environ, deciding.start_response))

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
        return self._verdict(status, headers) >= _MAY_COMPRESS

    def _verdict(self, status: str, headers: Headers) -> int:
        """What the status and headers say, in one pass: one of
        `_STATUS_RULES_OUT`, `_HEADERS_RULE_OUT`, `_MAY_COMPRESS` and
        `_MAY_COMPRESS_VARIES`. Every response under Compress runs this."""
        allows = _status_allows.get(status)
        if allows is None:
            allows = _learn_status(status)
        if not allows:
            return _STATUS_RULES_OUT
        content_type = None
        varies = False
        for name, value in headers:
            lower = _deciding_name.get(name)
            if lower is None:
                lower = _learn_name(name)
            if not lower:
                continue  # most headers: one dict lookup
            if lower == "content-type":
                content_type = value
            elif lower == "vary":
                varies = True
            elif lower == "content-encoding":
                return _HEADERS_RULE_OUT
            elif lower == "content-length":
                # Lengths as apps write them are settled by the set alone
                # (see `_short_lengths`); one with a leading zero (or no
                # digit) sorts below "1" and is read as a number.
                if value in self._short_lengths or (
                    (value < "1" or not self._lists_lengths)
                    and value.isascii()
                    and value.isdigit()
                    and int(value) < self._minimum_size
                ):
                    return _HEADERS_RULE_OUT
            elif "no-transform" in value.lower():  # cache-control
                return _HEADERS_RULE_OUT
        if content_type is None:
            return _HEADERS_RULE_OUT
        wanted = self._wanted_types.get(content_type)
        if wanted is None:
            wanted = self._learn_type(content_type)
        if not wanted:
            return _HEADERS_RULE_OUT
        return _MAY_COMPRESS_VARIES if varies else _MAY_COMPRESS

    def _learn_type(self, content_type: str) -> bool:
        """Whether a Content-Type value is one to compress (bounded cache)."""
        wanted = self._type_matches(_media_type(content_type))
        if len(self._wanted_types) < _CACHE_BOUND:
            self._wanted_types[content_type] = wanted
        return wanted

    def _vary_if_eligible(self, status: str, headers: Headers) -> tuple[str, Headers]:
        """Not compressing: a cache must still learn that the response
        depends on Accept-Encoding, when it is one we would compress."""
        verdict = self._verdict(status, headers)
        if verdict >= _MAY_COMPRESS:
            headers = _with_vary(headers, verdict)
        return status, headers

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
    """One response under Compress, for a client that accepts ``coding``,
    once `_Deciding` has handed it over. Responses that the headers alone
    settle are `_Deciding`'s: a start held here is one we may compress, so
    there is no `on_start_early`."""

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


# Where a response under `_Deciding` stands.
_FRESH: Final = 0  # the app has not started it
_HELD: Final = 1  # started, may be compressed: held until the iterable is known
_SENT: Final = 2  # started, left alone: the server has the headers
_PASSED: Final = 3  # left alone, and the server has the app's own iterable
_HANDED_OVER: Final = 4  # a `_Compressing` exchange runs it from here


class _Deciding:
    """One response under Compress, for a client that accepts ``coding``,
    until its headers show whether there is anything to do.

    Most responses are left alone (images, short bodies, already encoded)
    and their first start_response says so: it goes to the server at once
    (a 304's ETag fixed, as `Compress.not_modified` says) and the server gets
    the app's own iterable, with no `Exchange` made at all. Everything else
    is handed to a `_Compressing` exchange, fed the calls the app has made,
    so that it behaves exactly as if it had been there from the start: a
    response we may compress (held, as a late decider's start is, until the
    app returns its iterable or writes), a lazy app, and an exc_info re-call
    before the app returns (a replacement page, decided afresh).

    `_Compressing` watches neither errors nor the end of a response (no
    `on_error`, no `on_close`), so an app that raises leaves nothing to run.
    """

    __slots__ = (
        "_coding",
        "_compress",
        "_environ",
        "_exchange",
        "_exchange_write",
        "_held",
        "_sent",
        "_server_start_response",
        "_server_write",
        "_state",
        "_validator",
    )
    _exchange: _Compressing
    _exchange_write: Write
    _held: tuple[str, Headers, ExcInfo | None] | None
    _sent: tuple[str, Headers]
    _server_write: Write

    def __init__(
        self,
        environ: Environ,
        start_response: StartResponse,
        compress: Compress,
        coding: str,
        validator: str,
    ) -> None:
        self._environ = environ
        self._server_start_response = start_response
        self._compress = compress
        self._coding = coding
        self._validator = validator
        self._state = _FRESH

    def start_response(
        self, status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Write:
        """The ``start_response`` given to the app. Its first call, the
        usual case, is decided here: sent now when the headers settle that
        the response is left alone, else held."""
        if self._state != _FRESH:
            return self._start_again(status, headers, exc_info)
        compress = self._compress
        verdict = compress._verdict(status, headers)
        if verdict >= _MAY_COMPRESS:
            self._held = (status, headers, exc_info)
            self._state = _HELD
            return self.write
        self._sent = (status, headers)  # as the app gave them
        if verdict == _STATUS_RULES_OUT:
            headers = compress.not_modified(
                status, headers, self._coding, self._validator
            )
        # Counted as started before the server answers, as the exchange
        # does: a start the server refused is still not to be repeated.
        self._state = _SENT
        self._held = None  # drop a replaced start's exc_info: no cycle
        self._server_write = forward_start(
            self._server_start_response, status, headers, exc_info
        )
        return self.write

    def _start_again(
        self, status: str, headers: Headers, exc_info: ExcInfo | None
    ) -> Write:
        """A later call: a replacement through exc_info, or a mistake."""
        state = self._state
        if state == _HANDED_OVER:
            # What the exchange returns, as the app would have had it; the
            # write() given out before the hand-over goes to the exchange's.
            return self._exchange.start_response(status, headers, exc_info)
        if exc_info is None:
            raise AssertionError(SECOND_START)
        if state == _PASSED:
            # A replacement (an error page) after the server got the app's
            # own iterable: nothing can reach that body; it goes as it is,
            # and so does what the app writes with the write() of this call.
            self._server_write = self._server_start_response(status, headers, exc_info)
            return self._server_write
        if state == _SENT:
            # A replacement before the app returned: it may be compressed.
            # The exchange is told of the start already sent first, as it
            # would have seen it, without the server being called again.
            exchange = self._hand_over(
                _sent_already(self._server_start_response, self._server_write)
            )
            exchange.start_response(*self._sent)
            self._exchange_write = exchange.start_response(status, headers, exc_info)
            return self.write
        # Held: its replacement is decided as the first start was.
        self._state = _FRESH
        return self.start_response(status, headers, exc_info)

    def write(self, data: bytes) -> None:
        """The ``write()`` given to the app: it goes wherever the response
        stands now, so one kept from an earlier call never goes stale."""
        state = self._state
        if state == _HANDED_OVER:
            self._exchange_write(data)
        elif state == _HELD:
            # Written before the app returned: the exchange decides now,
            # without the iterable, as it does for a late decider.
            held, self._held = self._held, None
            assert held is not None  # _HELD says so
            self._exchange_write = self._hand_over().start_response(*held)
            held = None  # no exc_info kept in a live frame
            self._exchange_write(data)
        elif data:  # as the exchange does: nothing to send for b""
            self._server_write(data)

    def returned(self, iterable: Iterable[bytes]) -> Iterable[bytes]:
        """What to give the server, now that the app has returned."""
        if self._state == _SENT:
            self._state = _PASSED
            return iterable
        # The exchange finishes the response through its own respond(): a
        # held start is made again there, as the app made it, and the
        # exchange then decides with the iterable in hand.
        held = self._held if self._state == _HELD else None
        self._held = None
        exchange = self._exchange if self._state == _HANDED_OVER else self._hand_over()

        def replay(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            if held is not None:
                self._exchange_write = start_response(*held)
            return iterable

        return exchange.respond(replay)

    def _hand_over(self, start_response: StartResponse | None = None) -> _Compressing:
        """A `_Compressing` exchange for this response, in the state its
        respond() keeps while the app runs: from now on, it decides. It
        calls ``start_response``, by default the server's."""
        exchange = _Compressing(
            self._environ,
            start_response or self._server_start_response,
            self._compress,
            self._coding,
            self._validator,
        )
        exchange.iterable = None  # the app has not returned one yet
        self._exchange = exchange
        self._state = _HANDED_OVER
        return exchange


def _sent_already(start_response: StartResponse, write: Write) -> StartResponse:
    """The server's ``start_response`` for an exchange that takes over a
    response whose start went out already: the first call, that start made
    again, only returns the ``write`` the server gave for it."""
    calls = 0

    def start(status: str, headers: Headers, exc_info: ExcInfo | None = None) -> Write:
        nonlocal calls
        calls += 1
        if calls == 1:
            return write
        return forward_start(start_response, status, headers, exc_info)

    return start
