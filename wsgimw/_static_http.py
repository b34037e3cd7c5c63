"""HTTP validators and byte ranges (RFC 9110 §8.8, §13, §14), shared by
`StaticFiles` and `ConditionalGet`.

Everything here reads values a client controls: nothing raises on a
malformed one. A header that cannot be parsed is treated as absent, as RFC
9110 asks (an invalid Range is ignored; an invalid date is ignored).
"""

from __future__ import annotations

import re
from datetime import timezone
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Final

__all__ = [
    "IGNORE",
    "UNSATISFIABLE",
    "etag_matches",
    "http_date",
    "parse_range",
    "strong_match",
]

#: An entity-tag (RFC 9110 §8.8.3): optional W/, then a quoted opaque tag.
_ENTITY_TAG: Final = re.compile(r'\s*(W/)?("[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|\Z)')
#: The longest Range header value read; past it the header is ignored (a
#: number of thousands of digits is not a byte position anyone can have).
_MAX_RANGE: Final = 200

#: `parse_range`: the request's Range is to be ignored (a 200 follows).
IGNORE: Final = "ignore"
#: `parse_range`: no byte of the range exists (a 416 follows).
UNSATISFIABLE: Final = "unsatisfiable"


@lru_cache(maxsize=512)
def _tags(header: str) -> tuple[tuple[bool, str], ...] | None:
    """``(weak, opaque-tag)`` for each entity-tag of an If-Match /
    If-None-Match value, or None for ``*``; an empty tuple when the value
    is not a valid list (it then matches nothing)."""
    header = header.strip()
    if header == "*":
        return None
    tags = []
    position = 0
    while position < len(header):
        if header[position] in " ,":  # empty list elements are allowed
            position += 1
            continue
        found = _ENTITY_TAG.match(header, position)
        if found is None:
            return ()
        tags.append((found.group(1) is not None, found.group(2)))
        position = found.end()
    return tuple(tags)


def _opaque(etag: str) -> tuple[bool, str]:
    return (True, etag[2:]) if etag.startswith("W/") else (False, etag)


def etag_matches(header: str, etag: str | None) -> bool:
    """If-None-Match: whether ``header`` names ``etag`` by the weak
    comparison (RFC 9110 §8.8.3.2), or is ``*`` (when there is a current
    representation, which ``etag`` None does not say)."""
    tags = _tags(header)
    if tags is None:
        return True
    if etag is None:
        return False
    _, mine = _opaque(etag)
    return any(tag == mine for _, tag in tags)


def strong_match(header: str, etag: str | None) -> bool:
    """If-Match: whether ``header`` names ``etag`` by the strong comparison
    (both strong and equal), or is ``*``."""
    tags = _tags(header)
    if tags is None:
        return True
    if etag is None or etag.startswith("W/"):
        return False
    return any(not weak and tag == etag for weak, tag in tags)


@lru_cache(maxsize=512)
def http_date(value: str) -> int | None:
    """An HTTP date (RFC 9110 §5.6.7, the three formats) as a Unix time in
    whole seconds, or None when it is not one."""
    if not value or len(value) > 64:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed.tzinfo is None:  # "-0000" parses naive: it is GMT too
        parsed = parsed.replace(tzinfo=timezone.utc)
    return int(parsed.timestamp())


def parse_range(header: str, size: int) -> tuple[int, int] | str:
    """One byte range of a ``size``-byte representation: ``(first, last)``
    inclusive; `IGNORE` for a header to ignore (not ``bytes``, malformed,
    or several ranges: the whole representation is then sent as a 200);
    `UNSATISFIABLE` when no byte of it exists (a 416)."""
    if len(header) > _MAX_RANGE:
        return IGNORE
    unit, equals, spec = header.partition("=")
    if not equals or unit.strip().lower() != "bytes":
        return IGNORE
    spec = spec.strip()
    if "," in spec:
        return IGNORE  # several ranges: the whole file, as RFC 9110 allows
    first_text, dash, last_text = spec.partition("-")
    first_text, last_text = first_text.strip(), last_text.strip()
    if not dash or not _digits(first_text, allow_empty=True):
        return IGNORE
    if not _digits(last_text, allow_empty=True):
        return IGNORE
    if not first_text:  # a suffix: the last N bytes
        if not last_text:
            return IGNORE
        length = int(last_text)
        if length == 0 or size == 0:
            return UNSATISFIABLE
        return max(0, size - length), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return IGNORE  # invalid: RFC 9110 §14.1.1
    if first >= size:
        return UNSATISFIABLE
    last = int(last_text) if last_text else size - 1
    return first, min(last, size - 1)


def _digits(text: str, *, allow_empty: bool) -> bool:
    if not text:
        return allow_empty
    return text.isascii() and text.isdigit()
