"""StaticFiles: serve a directory of files under a URL prefix, WhiteNoise-class.

GET and HEAD, validators (ETag, Last-Modified) and 304s, one byte range
(206, 416), precompressed ``.br`` / ``.zst`` / ``.gz`` siblings chosen by
Compress's own negotiation, long-lived caching for content-hashed names,
``wsgi.file_wrapper`` (sendfile) when the server offers it, and no way out of
the directory. Other paths go on to the wrapped app.

The files are indexed when the instance is made; ``autorefresh=True`` looks
in the directory on every request instead (for development). ``python -m
wsgimw.static compress DIR`` writes the precompressed siblings.
"""

from __future__ import annotations

import argparse
import gzip
import logging
import mimetypes
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from email.utils import formatdate
from typing import Any, BinaryIO, Final

from ._options import flag
from ._response import plain_response
from ._static_http import (
    IGNORE,
    UNSATISFIABLE,
    etag_matches,
    http_date,
    parse_range,
    strong_match,
)
from .compress import available_encodings, brotli, negotiate, zstandard
from .types import Environ, Headers, StartResponse, WSGIApp

__all__ = ["DEFAULT_IMMUTABLE", "SIBLINGS", "StaticFiles", "compress_directory"]

logger = logging.getLogger("wsgimw.static")

#: The default pattern for content-hashed names such as ``app.3f2a9c1b.js``
#: (searched in the file's name): a dot, 8 or more hex digits, a dot.
DEFAULT_IMMUTABLE: Final = r"\.[0-9a-f]{8,}\."
#: The coding of each precompressed sibling, by suffix, in the order a
#: tie between them is won (Compress's own preference).
SIBLINGS: Final = (("br", ".br"), ("zstd", ".zst"), ("gzip", ".gz"))
_SUFFIX: Final = dict(SIBLINGS)
_ONE_YEAR: Final = 365 * 24 * 3600
_BLOCK: Final = 64 * 1024
_ALLOW: Final = "GET, HEAD"
#: Types Python's mimetypes gets wrong or leaves to the system's tables.
_WEB_TYPES: Final = {
    ".css": "text/css",
    ".html": "text/html",
    ".htm": "text/html",
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".json": "application/json",
    ".map": "application/json",
    ".webmanifest": "application/manifest+json",
    ".svg": "image/svg+xml",
    ".wasm": "application/wasm",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".txt": "text/plain",
    ".xml": "application/xml",
    ".mp4": "video/mp4",
    ".webm": "video/webm",
    ".gz": "application/gzip",
    ".br": "application/x-brotli",
    ".zst": "application/zstd",
}
#: Escapes that a path must never hold once the server has decoded it: a
#: second layer of encoding of a dot, a slash, a backslash or NUL.
_ENCODED: Final = re.compile(r"%(?:2e|2f|5c|00)", re.IGNORECASE)
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f\\]")


class _File:
    """One file as it is served: where it is, its validators, its headers,
    and (for an original) its precompressed siblings by coding."""

    __slots__ = (
        "etag",
        "headers",
        "mtime",
        "not_modified",
        "offers",
        "path",
        "size",
        "stamp",
        "variants",
    )

    def __init__(self, path: bytes, st: os.stat_result) -> None:
        self.path = path
        self.size = st.st_size
        self.stamp = (st.st_size, st.st_mtime_ns)
        self.mtime = int(st.st_mtime)
        self.etag = f'"{st.st_mtime_ns:x}-{st.st_size:x}"'
        self.variants: dict[str, _File] = {}
        self.offers: tuple[str, ...] = ()
        self.headers: Headers = []
        self.not_modified: Headers = []

    def finish(
        self, content_type: str, cache_control: str | None, coding: str | None
    ) -> None:
        """Make the headers of a 200 and of a 304 (RFC 9110 §15.4.5: the
        validators and what a cache needs, nothing about the body)."""
        if coding is not None:
            # Its own tag, even beside a sibling of the same size and time;
            # ".gz", not "-gzip": Compress strips "-gzip" from If-None-Match.
            self.etag = f'{self.etag[:-1]}{_SUFFIX[coding]}"'
        last_modified = formatdate(self.mtime, usegmt=True)
        common = [("ETag", self.etag), ("Last-Modified", last_modified)]
        if cache_control is not None:
            common.append(("Cache-Control", cache_control))
        if coding is not None or self.variants:
            common.append(("Vary", "Accept-Encoding"))
        self.not_modified = common
        headers = [
            ("Content-Type", content_type),
            ("Content-Length", str(self.size)),
            ("Accept-Ranges", "bytes"),
            *common,
        ]
        if coding is not None:
            headers.append(("Content-Encoding", coding))
        self.headers = headers


class _FileBody:
    """A file's bytes from its current position, ``length`` of them at
    most, in blocks; ``close()`` closes the file (once)."""

    __slots__ = ("_file", "_remaining")

    def __init__(self, file: BinaryIO, length: int) -> None:
        self._file: BinaryIO | None = file
        self._remaining = length

    def __iter__(self) -> _FileBody:
        return self

    def __next__(self) -> bytes:
        file = self._file
        remaining = self._remaining
        if file is None or remaining <= 0:
            raise StopIteration
        data = file.read(min(_BLOCK, remaining))
        if not data:  # the file shrank since it was measured
            raise StopIteration
        self._remaining = remaining - len(data)
        return data

    def close(self) -> None:
        file = self._file
        if file is not None:
            self._file = None
            file.close()


def _bad_path(relative: str) -> bool:
    """Whether a path under the prefix tries to leave the directory or to
    smuggle something past a check: an absolute path, a dot segment, a
    backslash, NUL or another control character, a second layer of
    percent-encoding."""
    if relative.startswith("/") or _CONTROL.search(relative):
        return True
    if "%" in relative and _ENCODED.search(relative):
        return True
    return any(segment in (".", "..") for segment in relative.split("/"))


def _hidden(name: bytes) -> bool:
    """A dot file or folder (``.env``, ``.git``): never served, except
    ``.well-known`` (RFC 8615), which exists to be."""
    return name.startswith(b".") and name != b".well-known"


def _inside(real: bytes, root: bytes) -> bool:
    return real.startswith(root) and real[len(root) : len(root) + 1] in (b"/", b"")


class StaticFiles:
    """Serve the files of ``directory`` at ``prefix``; everything else goes
    on to the wrapped app.

    Args:
        directory: the folder to serve. Nothing outside it is ever read:
            symbolic links that lead out of it are not followed. Dot files
            and folders (``.env``, ``.git``) are not served either, except
            ``.well-known``.
        prefix: the URL path the files appear under, starting and ending
            with ``/`` (``"/"`` serves them at the root).
        max_age: ``Cache-Control: public, max-age=N`` for files whose names
            are not content-hashed; None sends no Cache-Control for them.
        immutable: a regular expression searched in each file's name; a
            match is a content-hashed name, cached for a year with
            ``immutable``. None: no name is. Default `DEFAULT_IMMUTABLE`.
        fallthrough: a path under the prefix that names no file goes on to
            the app (True, the default) or gets a 404 here (False). Paths
            that try to leave the directory always get a 404.
        autorefresh: look in the directory on every request, so files added
            or changed later are served (for development: it costs a few
            system calls per request).
        content_types: extra media types by suffix, e.g. ``{".md":
            "text/markdown"}``; ``text/*`` types get ``; charset=utf-8``.
    """

    __slots__ = (
        "_autorefresh",
        "_content_types",
        "_fallthrough",
        "_files",
        "_immutable",
        "_max_age",
        "_prefix",
        "_root",
        "_settings",
    )

    def __init__(
        self,
        *,
        directory: str | os.PathLike[str],
        prefix: str = "/static/",
        max_age: int | None = 60,
        immutable: str | None = DEFAULT_IMMUTABLE,
        fallthrough: bool = True,
        autorefresh: bool = False,
        content_types: Mapping[str, str] | None = None,
    ) -> None:
        if not isinstance(directory, (str, os.PathLike)):
            raise TypeError(f"directory must be a path, got {directory!r}")
        root = os.path.realpath(os.fsencode(directory))
        if not os.path.isdir(root):
            raise ValueError(
                f"directory {os.fsdecode(directory)!r} is not a folder that exists; "
                "give the folder that holds the files to serve"
            )
        self._root = root
        if not isinstance(prefix, str):
            raise TypeError(f"prefix must be a str such as '/static/', got {prefix!r}")
        if not (prefix.startswith("/") and prefix.endswith("/")):
            raise ValueError(
                f"prefix must start and end with '/', e.g. '/static/'; got {prefix!r}"
            )
        if _bad_path(prefix[1:]) or "//" in prefix or "?" in prefix or "#" in prefix:
            raise ValueError(
                f"prefix {prefix!r} is not a plain URL path (no '//', dot "
                "segments, '?', '#', backslashes or control characters)"
            )
        self._prefix = prefix
        if max_age is not None and (
            isinstance(max_age, bool) or not isinstance(max_age, int)
        ):
            raise TypeError(
                f"max_age must be an int of seconds or None, got {max_age!r}"
            )
        if max_age is not None and max_age < 0:
            raise ValueError(f"max_age must be >= 0 seconds, got {max_age}")
        self._max_age = max_age
        if immutable is not None and not isinstance(immutable, str):
            raise TypeError(
                f"immutable must be a regular expression (a str) or None, got {immutable!r}"
            )
        try:
            self._immutable = None if immutable is None else re.compile(immutable)
        except re.error as error:
            raise ValueError(
                f"immutable is not a valid regular expression: {error}"
            ) from None
        self._fallthrough = flag("fallthrough", fallthrough)
        self._autorefresh = flag("autorefresh", autorefresh)
        self._content_types = _check_types(content_types)
        self._settings = (
            os.fsdecode(directory),
            prefix,
            max_age,
            immutable,
            fallthrough,
            autorefresh,
            content_types,
        )
        self._files: dict[str, _File] = {} if autorefresh else self._index()

    def __repr__(self) -> str:
        names = (
            "directory",
            "prefix",
            "max_age",
            "immutable",
            "fallthrough",
            "autorefresh",
            "content_types",
        )
        defaults = StaticFiles.__init__.__kwdefaults__ or {}
        parts = [
            f"{name}={value!r}"
            for name, value in zip(names, self._settings, strict=True)
            if name == "directory" or value != defaults.get(name)
        ]
        return f"StaticFiles({', '.join(parts)})"

    @property
    def files(self) -> list[str]:
        """The URL paths (under the prefix) of the indexed files, sorted."""
        return sorted(self._prefix + key for key in self._files)

    # -- the index ---------------------------------------------------------------

    def _index(self) -> dict[str, _File]:
        root = self._root
        found: dict[bytes, os.stat_result] = {}
        seen = {root}
        for folder, folders, names in os.walk(root, followlinks=True):
            keep = []
            for name in folders:
                if _hidden(name):
                    continue
                real = os.path.realpath(os.path.join(folder, name))
                if _inside(real, root) and real not in seen:
                    seen.add(real)
                    keep.append(name)
            folders[:] = keep
            for name in names:
                if _hidden(name):
                    continue
                path = os.path.join(folder, name)
                st = self._regular(path)
                if st is not None:
                    found[os.path.relpath(path, root)] = st
        files: dict[str, _File] = {}
        for relative, st in found.items():
            entry = _File(os.path.join(root, relative), st)
            for coding, suffix in SIBLINGS:
                sibling_st = found.get(relative + suffix.encode())
                if sibling_st is not None:
                    entry.variants[coding] = _File(
                        entry.path + suffix.encode(), sibling_st
                    )
            self._finish(entry, relative)
            files[relative.decode("latin-1")] = entry
        return files

    def _regular(self, path: bytes) -> os.stat_result | None:
        """The stat of a regular file inside the directory, else None."""
        if not _inside(os.path.realpath(path), self._root):
            return None  # a symbolic link out of the directory
        try:
            st = os.stat(path)
        except OSError:
            return None
        return st if stat.S_ISREG(st.st_mode) else None

    def _finish(self, entry: _File, relative: bytes) -> None:
        name = os.fsdecode(os.path.basename(relative))
        content_type = self._content_type(name)
        cache_control = self._cache_control(name)
        entry.offers = tuple(
            coding for coding, _ in SIBLINGS if coding in entry.variants
        )
        entry.finish(content_type, cache_control, None)
        for coding, variant in entry.variants.items():
            variant.finish(content_type, cache_control, coding)

    def _content_type(self, name: str) -> str:
        suffix = os.path.splitext(name)[1].lower()
        found = self._content_types.get(suffix) or _WEB_TYPES.get(suffix)
        if found is None:
            found = mimetypes.guess_type(name, strict=False)[0]
        if found is None:
            return "application/octet-stream"
        return found + "; charset=utf-8" if found.startswith("text/") else found

    def _cache_control(self, name: str) -> str | None:
        if self._immutable is not None and self._immutable.search(name):
            return f"public, max-age={_ONE_YEAR}, immutable"
        if self._max_age is None:
            return None
        return f"public, max-age={self._max_age}"

    def _look(self, relative: str) -> _File | None:
        """``autorefresh``: the file as it is in the directory now."""
        if _bad_path(relative):
            return None
        try:
            raw = relative.encode("latin-1")
        except UnicodeEncodeError:  # a server that broke PEP 3333
            return None
        if not raw or any(_hidden(segment) for segment in raw.split(b"/")):
            return None
        path = os.path.join(self._root, raw)
        st = self._regular(path)
        if st is None:
            return None
        entry = _File(path, st)
        for coding, suffix in SIBLINGS:
            sibling_st = self._regular(path + suffix.encode())
            if sibling_st is not None:
                entry.variants[coding] = _File(path + suffix.encode(), sibling_st)
        self._finish(entry, raw)
        return entry

    # -- the WSGI side -------------------------------------------------------------

    def __call__(self, app: WSGIApp) -> WSGIApp:
        if not callable(app):
            raise TypeError(f"StaticFiles wraps a WSGI app (a callable), got {app!r}")
        prefix = self._prefix
        start = len(prefix)
        files = self._files
        look = self._look if self._autorefresh else None
        serve = self._serve
        miss = self._miss

        def static_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            path = environ.get("PATH_INFO") or ""
            if not path.startswith(prefix):
                return app(environ, start_response)
            relative = path[start:]
            entry = files.get(relative) if look is None else look(relative)
            if entry is None:
                return miss(app, environ, start_response, relative)
            return serve(app, environ, start_response, entry)

        return static_app

    def _miss(
        self,
        app: WSGIApp,
        environ: Environ,
        start_response: StartResponse,
        relative: str,
    ) -> Iterable[bytes]:
        if _bad_path(relative):
            logger.info(
                "refused a path that tries to leave the directory: %s",
                ascii(relative)[:200],
            )
            return plain_response(
                environ, start_response, "404 Not Found", "not found\n"
            )
        if self._fallthrough:
            return app(environ, start_response)
        return plain_response(environ, start_response, "404 Not Found", "not found\n")

    def _serve(
        self,
        app: WSGIApp,
        environ: Environ,
        start_response: StartResponse,
        entry: _File,
        recheck: bool = True,
    ) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD")
        if method != "GET" and method != "HEAD":
            return plain_response(
                environ,
                start_response,
                "405 Method Not Allowed",
                "this is a static file: only GET and HEAD are allowed\n",
                [("Allow", _ALLOW)],
            )
        range_header = environ.get("HTTP_RANGE")
        variant = entry
        if entry.offers and range_header is None:
            accept = environ.get("HTTP_ACCEPT_ENCODING")
            if accept:
                coding = negotiate(accept, entry.offers)
                if coding is not None:
                    variant = entry.variants[coding]
        # RFC 9110 §13.2.2, in its order: If-Match / If-Unmodified-Since
        # (rare), then If-None-Match or else If-Modified-Since.
        if (
            "HTTP_IF_MATCH" in environ or "HTTP_IF_UNMODIFIED_SINCE" in environ
        ) and _precondition_failed(environ, variant):
            return plain_response(
                environ,
                start_response,
                "412 Precondition Failed",
                "precondition failed\n",
            )
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match is not None:
            # A browser sends back the tag it got: compare that first.
            if if_none_match == variant.etag or etag_matches(
                if_none_match, variant.etag
            ):
                start_response("304 Not Modified", list(variant.not_modified))
                return []
        elif "HTTP_IF_MODIFIED_SINCE" in environ:
            date = http_date(environ["HTTP_IF_MODIFIED_SINCE"])
            if date is not None and variant.mtime <= date:
                start_response("304 Not Modified", list(variant.not_modified))
                return []
        first, length = 0, variant.size
        status, headers = "200 OK", variant.headers
        if range_header is not None and method == "GET" and _if_range(environ, variant):
            wanted = parse_range(range_header, variant.size)
            if wanted == UNSATISFIABLE:
                return plain_response(
                    environ,
                    start_response,
                    "416 Range Not Satisfiable",
                    "range not satisfiable\n",
                    [("Content-Range", f"bytes */{variant.size}")],
                )
            if wanted != IGNORE:
                assert isinstance(wanted, tuple)
                first, last = wanted
                length = last - first + 1
                status = "206 Partial Content"
                headers = [
                    ("Content-Range", f"bytes {first}-{last}/{variant.size}")
                    if name == "Content-Length"
                    else (name, value)
                    for name, value in headers
                ]
                headers.append(("Content-Length", str(length)))
        if method == "HEAD":
            start_response(status, list(headers))
            return []
        try:
            file: BinaryIO = open(variant.path, "rb", buffering=0)  # noqa: SIM115
        except OSError as error:
            logger.warning(
                "cannot open %s: %s", ascii(os.fsdecode(variant.path)), error.strerror
            )
            return self._miss(app, environ, start_response, "")
        try:
            now = os.fstat(file.fileno())
            if recheck and (now.st_size, now.st_mtime_ns) != variant.stamp:
                file.close()
                return self._changed(app, environ, start_response, entry)
            if first:
                file.seek(first)
            start_response(status, list(headers))
        except BaseException:
            file.close()
            raise
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None and length == variant.size:
            return wrapper(file, _BLOCK)  # type: ignore[no-any-return]
        return _FileBody(file, length)

    def _changed(
        self,
        app: WSGIApp,
        environ: Environ,
        start_response: StartResponse,
        entry: _File,
    ) -> Iterable[bytes]:
        """A file changed size since it was indexed: index it again, and
        answer from what it is now."""
        relative = os.path.relpath(entry.path, self._root)
        fresh = self._look(relative.decode("latin-1"))
        if fresh is None:
            self._files.pop(relative.decode("latin-1"), None)
            return self._miss(app, environ, start_response, "")
        if not self._autorefresh:  # pragma: no branch - else a race: stat, change, open
            self._files[relative.decode("latin-1")] = fresh
        logger.info("%s changed on disk: indexed again", ascii(os.fsdecode(relative)))
        return self._serve(app, environ, start_response, fresh, recheck=False)


def _precondition_failed(environ: Environ, variant: _File) -> bool:
    """If-Match (the strong comparison), or only without it
    If-Unmodified-Since: whether the request must get a 412."""
    if_match = environ.get("HTTP_IF_MATCH")
    if if_match is not None:
        return not strong_match(if_match, variant.etag)
    date = http_date(environ["HTTP_IF_UNMODIFIED_SINCE"])
    return date is not None and variant.mtime > date


def _if_range(environ: Environ, variant: _File) -> bool:
    """Whether the Range applies: no If-Range, or one that names the
    current representation (a strong ETag, or exactly its date)."""
    if_range = environ.get("HTTP_IF_RANGE")
    if if_range is None:
        return True
    if_range = if_range.strip()
    if if_range.startswith(('"', "W/")):
        return not if_range.startswith("W/") and if_range == variant.etag
    return http_date(if_range) == variant.mtime


def _check_types(content_types: Mapping[str, str] | None) -> dict[str, str]:
    if content_types is None:
        return {}
    if not isinstance(content_types, Mapping):
        raise TypeError(
            "content_types maps suffixes to media types, e.g. "
            f"{{'.md': 'text/markdown'}}; got {content_types!r}"
        )
    checked = {}
    for suffix, media_type in content_types.items():
        if not (isinstance(suffix, str) and suffix.startswith(".") and len(suffix) > 1):
            raise ValueError(
                f"content_types keys are suffixes such as '.md', got {suffix!r}"
            )
        if not (
            isinstance(media_type, str)
            and re.fullmatch(r"[\w.+-]+/[\w.+-]+(?:; ?[\w.+-]+=[\w.+-]+)*", media_type)
        ):
            raise ValueError(
                f"content_types[{suffix!r}] must be a media type such as "
                f"'text/markdown', got {media_type!r}"
            )
        checked[suffix.lower()] = media_type
    return checked


# -- python -m wsgimw.static compress DIR ---------------------------------------

#: Suffixes of files that are compressed already: never worth a sibling.
_COMPRESSED: Final = frozenset(
    [
        ".gz",
        ".br",
        ".zst",
        ".zip",
        ".bz2",
        ".xz",
        ".7z",
        ".png",
        ".jpg",
        ".jpeg",
        ".gif",
        ".webp",
        ".avif",
        ".heic",
        ".woff",
        ".woff2",
        ".mp3",
        ".mp4",
        ".m4a",
        ".ogg",
        ".oga",
        ".ogv",
        ".webm",
        ".mov",
        ".flac",
        ".pdf",
    ]
)
#: A sibling must be at least this much smaller than the file, or it is skipped.
_MIN_SAVING: Final = 0.05


def _compressors() -> dict[str, Callable[[bytes], bytes]]:
    makers: dict[str, Callable[[bytes], bytes]] = {
        "gzip": lambda data: gzip.compress(data, compresslevel=9, mtime=0)
    }
    if brotli is not None:  # pragma: no branch - the test set-up installs every extra
        makers["br"] = lambda data: brotli.compress(data, quality=11)
    if zstandard is not None:  # pragma: no branch
        zstd: Any = zstandard.ZstdCompressor(level=19)
        makers["zstd"] = zstd.compress
    return makers


def compress_directory(
    directory: str | os.PathLike[str],
    *,
    encodings: Sequence[str] | None = None,
    report: Callable[[str], object] | None = None,
) -> tuple[int, int]:
    """Write the precompressed siblings (``.br``, ``.zst``, ``.gz``) of every
    file in ``directory`` and its folders, as `StaticFiles` serves them.

    A sibling is written only when it is at least 5% smaller than the file;
    files that are compressed already (images, fonts, archives, siblings)
    are skipped. Each sibling gets its file's modification time. ``report``
    is called with a line per file. Returns (siblings written, files
    skipped).
    """
    makers = _compressors()
    chosen = list(available_encodings() if encodings is None else encodings)
    for coding in chosen:
        if coding not in makers:
            raise ValueError(
                f"cannot write {coding!r} siblings: use {', '.join(sorted(makers))}"
            )
    written = skipped = 0
    root = os.fsencode(directory)
    for folder, folders, names in os.walk(root):
        folders[:] = sorted(name for name in folders if not _hidden(name))
        for name in sorted(names):
            if _hidden(name):
                continue
            path = os.path.join(folder, name)
            shown = os.fsdecode(os.path.relpath(path, root))
            suffix = os.path.splitext(name)[1].decode("latin-1").lower()
            if (
                suffix in _COMPRESSED
                or os.path.islink(path)
                or not os.path.isfile(path)
            ):
                continue
            with open(path, "rb") as file:
                data = file.read()
            st = os.stat(path)
            made = []
            for coding in chosen:
                packed = makers[coding](data)
                if len(packed) > len(data) * (1 - _MIN_SAVING):
                    continue
                extension = _SUFFIX[coding].encode()
                _write_atomically(path + extension, packed, st)
                made.append(f"{coding} {len(packed)}")
            if made:
                written += len(made)
                line = f"compressed {shown}: {len(data)} bytes -> {', '.join(made)}"
            else:
                skipped += 1
                line = f"skipped {shown}: {len(data)} bytes, does not shrink"
            if report is not None:
                report(line)
    return written, skipped


def _write_atomically(path: bytes, data: bytes, st: os.stat_result) -> None:
    folder = os.path.dirname(path)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=b".wsgimw-")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        os.chmod(temporary, stat.S_IMODE(st.st_mode))
        os.utime(temporary, ns=(st.st_atime_ns, st.st_mtime_ns))
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):  # pragma: no branch - replace() failed
            os.unlink(temporary)
        raise


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m wsgimw.static compress DIR [--verbose]``."""
    parser = argparse.ArgumentParser(
        prog="python -m wsgimw.static",
        description="Tools for StaticFiles.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser(
        "compress",
        help="write .br / .zst / .gz siblings of the files in DIR",
        description="Write precompressed siblings of every file in DIR (and its "
        "folders) that shrinks by at least 5%%, for StaticFiles to serve.",
    )
    command.add_argument("directory", metavar="DIR")
    command.add_argument(
        "--encodings",
        help="comma-separated codings to write (default: every one installed, "
        f"here {','.join(available_encodings())})",
    )
    command.add_argument(
        "--verbose", "-v", action="store_true", help="print a line per file"
    )
    args = parser.parse_args(argv)
    if not os.path.isdir(args.directory):
        parser.error(f"{args.directory!r} is not a folder")
    encodings = None
    if args.encodings is not None:
        encodings = [word.strip() for word in args.encodings.split(",") if word.strip()]
    try:
        written, skipped = compress_directory(
            args.directory,
            encodings=encodings,
            report=print if args.verbose else None,
        )
    except ValueError as error:
        parser.error(str(error))
    print(f"{written} siblings written, {skipped} files skipped (they do not shrink)")
    return 0


if __name__ == "__main__":  # pragma: no cover - run through main() in the tests
    sys.exit(main())
