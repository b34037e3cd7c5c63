"""QueryParser: the query string as a `QueryDict` at ``environ["wsgimw.query"]``.

Decoding follows PEP 3333: the server hands ``QUERY_STRING`` over as a native
``str`` that holds the raw bytes as latin-1. The parser recovers those bytes,
splits on ``&`` only (``;`` is data), reads ``+`` as a space, percent-decodes
and then decodes the bytes with the configured charset (UTF-8 by default).

Limits are enforced before the app runs; decoding waits until the app first
reads the mapping, so an app that never looks at the query pays for one small
object per request.
"""

from __future__ import annotations

import codecs
import logging
import re
import sys
from collections.abc import Iterable
from typing import Final, Literal, TypeVar, overload

from ._response import plain_response
from ._webob import MultiDict
from .types import Environ, StartResponse, WSGIApp

__all__ = ["ENVIRON_KEY", "BadQuery", "QueryDict", "QueryParser", "parse_query"]

logger = logging.getLogger("wsgimw.query")

#: Where `QueryParser` puts the parsed query.
ENVIRON_KEY: Final = "wsgimw.query"

Pairs = list[tuple[str, str]]
Errors = Literal["replace", "strict"]
_T = TypeVar("_T")

_NO_LIMIT: Final = sys.maxsize
_BAD_ESCAPE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
# Byte strings that an ASCII-compatible, stateless charset decodes to the same
# text: all of ASCII, then the escapes of ISO-2022, IDNA's "xn--", HZ's "~{"
# and UTF-7's "+...-", which turn plain ASCII into other characters.
_ASCII_PROBES: Final = (
    b"\\u0041",  # first: escape codecs turn it into "A" (and warn on the next)
    bytes(range(128)),
    b"\x1b$B!!\x1b(B",
    b"xn--bcher-kva",
    b"~{!!~}",
    b"+AGE-",
)


def _unquote(part: str, charset: str, errors: str) -> str:
    """Decode one name or value (``+`` already made a space): %XX, then charset.

    ``part`` holds bytes as latin-1 characters. A part that is plain ASCII
    with no escape is already its own decoding (the charset is checked to be
    ASCII-compatible), which is the common case and costs nothing.
    """
    if "%" in part:
        raw = _unquote_to_bytes(part.encode("latin-1"))
        return raw.decode(charset, errors)
    if part.isascii():
        return part
    return part.encode("latin-1").decode(charset, errors)


_HEX_BYTE: Final = {
    f"{a}{b}".encode(): bytes([int(f"{a}{b}", 16)])
    for a in "0123456789abcdefABCDEF"
    for b in "0123456789abcdefABCDEF"
}


def _unquote_to_bytes(data: bytes) -> bytes:
    """Percent-decode: each %XX with two hex digits becomes one byte; any
    other ``%`` stays as it is (as `urllib.parse.unquote_to_bytes` does)."""
    pieces = data.split(b"%")
    out = [pieces[0]]
    hex_byte = _HEX_BYTE
    for piece in pieces[1:]:
        byte = hex_byte.get(piece[:2])
        if byte is None:
            out.append(b"%")
            out.append(piece)
        else:
            out.append(byte)
            out.append(piece[2:])
    return b"".join(out)


def _as_latin1(query: str) -> str:
    """``query`` with one character per byte, whatever the server did.

    PEP 3333 servers give latin-1 text. A server that decoded the bytes as
    UTF-8 instead (with or without ``surrogateescape``) gets them re-encoded,
    so nothing here can raise.
    """
    try:
        query.encode("latin-1")
    except UnicodeEncodeError:
        try:
            raw = query.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raw = query.encode("utf-8", "surrogatepass")
        return raw.decode("latin-1")
    return query


def _count_fields(query: str) -> int:
    """The number of non-empty ``&``-separated fields."""
    return sum(1 for field in query.split("&") if field)


class BadQuery(ValueError):
    """A query string that `QueryParser` with ``errors="strict"`` refuses.

    The message is safe to send to the client: it never quotes the input.
    """


def parse_query(
    query: str, charset: str = "utf-8", errors: Errors = "replace"
) -> Pairs:
    """Parse a PEP 3333 ``QUERY_STRING`` into ``(name, value)`` pairs, in order.

    Args:
        query: the native string, one latin-1 character per byte.
        charset: an ASCII-compatible codec name for the decoded bytes.
        errors: ``"replace"`` turns undecodable bytes into U+FFFD and leaves
            an invalid ``%`` escape as it is; ``"strict"`` raises `BadQuery`.

    Returns:
        The pairs. Empty fields are skipped; a field without ``=`` has the
        value ``""``.

    Raises:
        BadQuery: with ``errors="strict"``, for an invalid percent escape or
            bytes that are not valid in ``charset``.
    """
    if "+" in query:
        query = query.replace("+", " ")
    if not query.isascii():
        query = _as_latin1(query)
    elif "%" not in query:
        # Plain ASCII with no escape (the charset keeps ASCII as it is): the
        # text is its own decoding. partition()[::2] is (name, value), with
        # "" for a field without "=": two C calls a field, one loop.
        return [field.partition("=")[::2] for field in query.split("&") if field]
    pairs: Pairs = []
    append = pairs.append
    number = 0
    strict = errors == "strict"
    for field in query.split("&"):
        if not field:
            continue
        number += 1
        name, _, value = field.partition("=")
        if strict:
            append(
                (
                    _strict_unquote(name, charset, number, "name"),
                    _strict_unquote(value, charset, number, "value"),
                )
            )
        else:
            append(
                (
                    _unquote(name, charset, "replace"),
                    _unquote(value, charset, "replace"),
                )
            )
    return pairs


def _strict_unquote(part: str, charset: str, number: int, which: str) -> str:
    if "%" in part and _BAD_ESCAPE.search(part):
        raise BadQuery(
            f"invalid percent-escape in query field {number} (the {which}): "
            "use %XX with two hex digits, and %25 for a literal %"
        )
    try:
        return _unquote(part, charset, "strict")
    except UnicodeDecodeError:
        raise BadQuery(
            f"query field {number} (the {which}) is not valid {charset.upper()}"
        ) from None


class _ParsedOnFirstUse:
    """The ``_items`` of a `QueryDict` made by `QueryParser`: parsed the first
    time anything reads them, then kept in the instance (whose ``__dict__``
    wins over this non-data descriptor), so later reads cost nothing extra."""

    def __get__(self, instance: object, owner: type | None = None) -> Pairs:
        if instance is None:  # pragma: no cover - class attribute access
            raise AttributeError("_items")
        pending = getattr(instance, "_pending", None)
        pairs = [] if pending is None else parse_query(*pending)
        # setdefault: two threads reading at once share one list.
        items: Pairs = instance.__dict__.setdefault("_items", pairs)
        return items


class QueryDict(MultiDict):  # type: ignore[misc]  # webob has no type hints
    """The parsed query: a `webob.multidict.MultiDict` with `first` and `last`.

    Pairs keep the order of the query string, repeats included. As in WebOb,
    ``d[key]`` and ``d.get(key)`` give the **last** value for ``key``,
    ``d.getall(key)`` every value in order, and ``d.getone(key)`` the only
    value (`KeyError` when there is none or more than one).

    `QueryParser` creates it without parsing; the query string is decoded
    the first time the mapping is read. Changing it does not change
    ``QUERY_STRING``.
    """

    # What QueryParser sets on every request (the query string the mapping
    # was made from, the arguments to parse it): slots are cheaper to set
    # than instance attributes. The parsed ``_items`` live in ``__dict__``.
    __slots__ = ("_pending", "_source")

    _items = _ParsedOnFirstUse()

    def __reduce__(self) -> tuple[object, ...]:
        return (self.__class__, (list(self._items),))

    @overload
    def first(self, key: str) -> str | None: ...
    @overload
    def first(self, key: str, default: _T) -> str | _T: ...
    def first(self, key: str, default: object = None) -> object:
        """The first value for ``key``, or ``default`` when there is none."""
        items: Pairs = self._items
        for name, value in items:
            if name == key:
                return value
        return default

    @overload
    def last(self, key: str) -> str | None: ...
    @overload
    def last(self, key: str, default: _T) -> str | _T: ...
    def last(self, key: str, default: object = None) -> object:
        """The last value for ``key`` (what ``d[key]`` gives), or ``default``."""
        items: Pairs = self._items
        for name, value in reversed(items):
            if name == key:
                return value
        return default


def _check_limit(name: str, value: int | None) -> int:
    if value is None:
        return _NO_LIMIT
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int >= 1 or None (no limit), got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, or None for no limit; got {value}")
    return value


def _check_charset(charset: str) -> str:
    if not isinstance(charset, str):
        raise TypeError(
            f"charset must be a codec name such as 'utf-8', got {charset!r}"
        )
    try:
        name = codecs.lookup(charset).name
    except LookupError:
        raise ValueError(
            f"unknown charset {charset!r}: use a codec name Python knows, such as "
            "'utf-8' (the default), 'latin-1' or 'cp1252'"
        ) from None
    try:
        compatible = all(
            probe.decode(name) == probe.decode("latin-1") for probe in _ASCII_PROBES
        )
    except (LookupError, UnicodeError):
        compatible = False
    if not compatible:
        raise ValueError(
            f"charset {charset!r} cannot decode query strings: it must be a text "
            "encoding that keeps ASCII as it is ('&', '=', '%', '+'), such as "
            "'utf-8' (the default), 'latin-1' or 'cp1252'"
        )
    return name


class QueryParser:
    """Parse ``QUERY_STRING`` into a `QueryDict` at ``environ["wsgimw.query"]``.

    Limits are checked before the app runs; a request past one gets a short
    plain-text 414 or 400 and the app is not called. The query is decoded
    when the app first reads the mapping (with ``errors="strict"``, a query
    that holds a ``%`` or a non-ASCII byte is decoded up front, so that a bad
    one gets its 400 before the app runs). ``QUERY_STRING`` and the rest of
    the environ are left as they are; when ``wsgimw.query`` is already there
    (an outer QueryParser put it) it is kept, and only the limits apply.

    Args:
        charset: the codec for the decoded bytes; it must keep ASCII as it is
            (``"utf-8"``, ``"latin-1"``, ``"cp1252"``, ...).
        errors: ``"replace"`` (the default) turns bytes that are invalid in
            ``charset`` into U+FFFD and keeps an invalid ``%`` escape as
            literal text; ``"strict"`` answers 400 Bad Request instead.
        max_length: the most bytes of ``QUERY_STRING`` accepted; past it, 414
            URI Too Long. None for no limit.
        max_fields: the most non-empty ``&``-separated fields accepted; past
            it, 400 Bad Request. None for no limit.
    """

    __slots__ = ("_charset", "_errors", "_max_fields", "_max_length")

    def __init__(
        self,
        *,
        charset: str = "utf-8",
        errors: Errors = "replace",
        max_length: int | None = 8192,
        max_fields: int | None = 1000,
    ) -> None:
        self._charset = _check_charset(charset)
        if errors not in ("replace", "strict"):
            raise ValueError(f"errors must be 'replace' or 'strict', got {errors!r}")
        self._errors: Errors = errors
        self._max_length = _check_limit("max_length", max_length)
        self._max_fields = _check_limit("max_fields", max_fields)

    def __repr__(self) -> str:
        parts = []
        if self._charset != "utf-8":
            parts.append(f"charset={self._charset!r}")
        if self._errors != "replace":
            parts.append(f"errors={self._errors!r}")
        for name, value, default in (
            ("max_length", self._max_length, 8192),
            ("max_fields", self._max_fields, 1000),
        ):
            if value != default:
                parts.append(f"{name}={None if value == _NO_LIMIT else value}")
        return f"QueryParser({', '.join(parts)})"

    def __call__(self, app: WSGIApp) -> WSGIApp:
        if not callable(app):
            raise TypeError(f"QueryParser wraps a WSGI app (a callable), got {app!r}")
        max_length = self._max_length
        max_fields = self._max_fields
        charset, errors = self._charset, self._errors
        check_first = self._errors == "strict"
        key = ENVIRON_KEY
        new = object.__new__
        query_dict = QueryDict

        def query_parser_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            query = environ.get("QUERY_STRING") or ""
            if not query:
                existing = environ.get(key)
                if existing is None or getattr(existing, "_source", "") != "":
                    mapping = environ[key] = new(query_dict)  # reads as empty
                    mapping._source = ""
                return app(environ, start_response)
            if len(query) > max_length:
                return _too_long(environ, start_response, len(query), max_length)
            # A query shorter than max_fields cannot hold too many fields:
            # skip the count, the costliest step for the common short query.
            if len(query) >= max_fields and query.count("&") >= max_fields:
                fields = _count_fields(query)
                if fields > max_fields:
                    return _too_many(environ, start_response, fields, max_fields)
            # Parsed already (by a QueryParser outside, or someone else's
            # mapping): reuse it, unless we made it from another query (a
            # subrequest with its own copy of the environ).
            existing = environ.get(key)
            if existing is not None and getattr(existing, "_source", query) == query:
                return app(environ, start_response)
            mapping = new(query_dict)
            mapping._source = query
            if check_first and ("%" in query or not query.isascii()):
                # Only escapes and non-ASCII bytes can be invalid: decode now,
                # so that a bad query gets its 400 whether or not it is read.
                try:
                    # In __dict__, where the parsed-on-first-use ones go too.
                    mapping.__dict__["_items"] = parse_query(query, charset, errors)
                except BadQuery as exc:
                    return _bad_query(environ, start_response, exc)
            else:
                mapping._pending = (query, charset, errors)
            environ[key] = mapping
            return app(environ, start_response)

        return query_parser_app


def _bad_query(
    environ: Environ, start_response: StartResponse, error: BadQuery
) -> list[bytes]:
    logger.debug("refused a query string: %s", error)
    return plain_response(environ, start_response, "400 Bad Request", f"{error}\n")


def _too_long(
    environ: Environ, start_response: StartResponse, length: int, limit: int
) -> list[bytes]:
    logger.debug("refused a query string of %d bytes (max_length %d)", length, limit)
    return plain_response(
        environ,
        start_response,
        "414 URI Too Long",
        f"query string too long: {length} bytes; the limit is {limit}\n",
    )


def _too_many(
    environ: Environ, start_response: StartResponse, fields: int, limit: int
) -> list[bytes]:
    logger.debug("refused a query string of %d fields (max_fields %d)", fields, limit)
    return plain_response(
        environ,
        start_response,
        "400 Bad Request",
        f"too many query fields: {fields}; the limit is {limit}\n",
    )
