"""BasicAuth and BearerAuth: HTTP authentication in front of a WSGI app.

Both check the ``Authorization`` header before the app runs and either call
the app, with ``REMOTE_USER``, ``AUTH_TYPE`` and ``environ["wsgimw.user"]``
set, or answer themselves with a short plain-text response:

* **400 Bad Request** for a header that is malformed (no credentials after
  the scheme, bad base64, no ``:``, invalid UTF-8, control characters,
  several credentials in one header);
* **401 Unauthorized** with a ``WWW-Authenticate`` challenge when there are
  no credentials, credentials for another scheme, or wrong ones;
* **403 Forbidden** (BearerAuth with ``scopes=``) for a valid token that
  lacks a required scope.

Bad client input never becomes a 500. The app's own iterable is returned
untouched. ``exempt=``, ``protect=`` and ``allow_preflight=`` choose which
requests are checked at all; see `BasicAuth` for how paths are matched.
"""

from __future__ import annotations

import binascii
import hmac
import logging
import math
import os
import re
import secrets
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from typing import Final
from urllib.parse import unquote

from ._htpasswd import (
    Credentials,
    HtpasswdError,
    HtpasswdFile,
    PasswordHash,
    check_user_name,
    parse_hash,
)
from ._redact import loggable
from ._response import plain_response
from .types import Environ, StartResponse, WSGIApp

__all__ = ["CLAIMS_KEY", "USER_KEY", "BasicAuth", "BearerAuth"]

logger = logging.getLogger("wsgimw.auth")

#: Where both middleware put the authenticated user name (a real ``str``).
USER_KEY: Final = "wsgimw.user"
#: Where `BearerAuth` puts the mapping a ``verify=`` callable returned.
CLAIMS_KEY: Final = "wsgimw.claims"

#: The longest decoded Basic credentials accepted (bytes), and the longest
#: bearer token (characters). Longer ones get a 400.
MAX_CREDENTIALS: Final = 4096
#: The shortest token `BearerAuth` accepts in ``tokens=``.
MIN_TOKEN_LENGTH: Final = 16

Check = Callable[[str, str], bool]
Claims = Mapping[str, object]
Verify = Callable[[str], "str | Claims | None"]

_SCHEME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BASE64 = re.compile(r"([A-Za-z0-9+/]*)(={0,2})\Z")
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*\Z")
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+\Z")
_HEADER_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: C0, DEL and C1: RFC 7617 forbids control characters in credentials.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
#: The usual header: "Basic", one space and base64 padded to whole groups
#: of four (checked apart): what `_credentials` and `_decode_basic` accept
#: as it is.
_USUAL_BASIC = re.compile(r"[Bb][Aa][Ss][Ii][Cc] ([A-Za-z0-9+/]+={0,2})\Z")
_USUAL_MAX: Final = MAX_CREDENTIALS * 4 // 3 + 4
#: The scheme again after a comma: two credentials joined into one header.
_BASIC_AGAIN = re.compile(r",[ \t]*basic(?:[ \t]|\Z)", re.IGNORECASE)
_BEARER_AGAIN = re.compile(r",[ \t]*bearer(?:[ \t]|\Z)", re.IGNORECASE)


class _BadRequest(Exception):
    """A malformed request. The message is safe to send back: it never
    quotes the request."""


def _bad_header(reason: str) -> _BadRequest:
    return _BadRequest(f"bad Authorization header: {reason}")


# -- the Authorization header ---------------------------------------------------


def _credentials(header: str | None, scheme: str, again: re.Pattern[str]) -> str | None:
    """What follows ``scheme`` (lowercase) in an Authorization header: None
    when there is no header or it is for another scheme. Raises `_BadRequest`
    when it is malformed; ``again`` finds ``scheme`` after a comma."""
    if header is None:
        return None
    value = header.strip(" \t")
    if not value:
        raise _bad_header("the Authorization header is empty")
    if _HEADER_CONTROL.search(value):
        raise _bad_header("the Authorization header holds a control character")
    name, _, rest = value.partition(" ")
    if name.lower() != scheme:
        if not _SCHEME.match(name):
            raise _bad_header("the Authorization header does not start with a scheme")
        if again.search(value):
            raise _bad_header("several credentials in one Authorization header")
        return None
    rest = rest.lstrip(" ")
    if not rest:
        raise _bad_header(f"no credentials after {name}")
    if "," in rest:
        raise _bad_header("several credentials in one Authorization header")
    return rest


def _decode_basic(token: str) -> tuple[str, str]:
    """The user name and password in Basic credentials (RFC 7617)."""
    if len(token) > MAX_CREDENTIALS * 4 // 3 + 4:
        raise _bad_header(f"the credentials are longer than {MAX_CREDENTIALS} bytes")
    match = _BASE64.match(token)
    if match is None:
        raise _bad_header("the credentials are not valid base64")
    data, padding = match.groups()
    if len(data) % 4 == 1 or (padding and (len(data) + len(padding)) % 4):
        raise _bad_header("the credentials are not valid base64")
    # Padding is optional, as in Apache: some clients leave it out.
    raw = binascii.a2b_base64(data + "=" * (-len(data) % 4))
    if len(raw) > MAX_CREDENTIALS:
        raise _bad_header(f"the credentials are longer than {MAX_CREDENTIALS} bytes")
    user, colon, password = raw.partition(b":")
    if not colon:
        raise _bad_header("no ':' between the user name and the password")
    try:
        text_user, text_password = user.decode("utf-8"), password.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad_header("the user name or password is not valid UTF-8") from None
    if _CONTROL.search(text_user) or _CONTROL.search(text_password):
        raise _bad_header("the user name or password holds a control character")
    return text_user, text_password


def _usual_basic(header: str) -> tuple[str, str] | None:
    """The user name and password of a usual Basic header, as
    `_credentials` and `_decode_basic` find them; None for any other header
    (they decide it). One match and one decode instead of their steps."""
    if len(header) > _USUAL_MAX + 6:
        return None
    raw = _usual_token(header)
    if raw is None or len(raw) > MAX_CREDENTIALS:
        return None
    try:
        # ':' is ASCII, never part of a UTF-8 sequence: decoding the whole
        # is decoding both halves, and a control character in the whole is
        # one in a half.
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    # Printable ASCII (the usual case) holds no control character.
    if not (text.isascii() and text.isprintable()) and _CONTROL.search(text):
        return None
    user, colon, password = text.partition(":")
    return (user, password) if colon else None


def _usual_token_by_pattern(header: str) -> bytes | None:
    """The decoded token of a header `_USUAL_BASIC` matches, else None."""
    match = _USUAL_BASIC.match(header)
    if match is None or len(token := match.group(1)) % 4:
        return None
    return binascii.a2b_base64(token)


def _usual_token_strictly(header: str) -> bytes | None:
    """What `_usual_token_by_pattern` gives, without the regular expression
    (it cost more than the rest of the header's checks): the scheme in any
    case, one space, then base64 in whole groups of four that binascii's
    strict mode accepts: the pattern's."""
    scheme, token = header[:6], header[6:]
    if not (scheme.isascii() and scheme.lower() == "basic ") or not token:
        return None
    if len(token) % 4:  # strict mode lets a surplus "=" through
        return None
    try:
        return binascii.a2b_base64(token, strict_mode=True)  # type: ignore[call-arg,unused-ignore]
    except (binascii.Error, ValueError):  # ValueError: not ASCII
        return None


#: Python 3.11 gave binascii a strict mode; 3.10 keeps the pattern.
_usual_token = (
    _usual_token_strictly if sys.version_info >= (3, 11) else _usual_token_by_pattern
)


def _native(text: str) -> str:
    """``text`` as PEP 3333 holds CGI values: its UTF-8 bytes as latin-1."""
    return text if text.isascii() else text.encode("utf-8").decode("latin-1")


def _quoted(value: str) -> str:
    """An RFC 9110 quoted-string."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- which requests are checked ---------------------------------------------------


def _prefix(path: object, option: str) -> tuple[str, ...]:
    """A path from ``exempt=`` or ``protect=`` as whole segments, in the
    PEP 3333 form of PATH_INFO (UTF-8 bytes held as latin-1)."""
    if not isinstance(path, str):
        raise TypeError(f"{option} paths must be str, got {path!r}")
    if not path.startswith("/"):
        raise ValueError(f"{option} paths must start with '/', got {path!r}")
    if re.search(r"[?#%\\]|[\x00-\x1f\x7f]", path):
        raise ValueError(
            f"{option} path {path!r} must be a decoded path with no query: "
            "PATH_INFO is matched after the server decoded it, so write "
            "'/café', not '/caf%C3%A9', and leave out '?...'"
        )
    if "*" in path:
        # A glob would be matched as a literal segment: protect=["/admin/*"]
        # would leave /admin/users open.
        raise ValueError(
            f"{option} path {path!r} holds '*', but paths are matched as "
            "prefixes, not patterns: write '/admin' to cover /admin and "
            "everything under it"
        )
    segments = tuple(s for s in path.encode("utf-8").decode("latin-1").split("/") if s)
    if "." in segments or ".." in segments:
        raise ValueError(f"{option} path {path!r} must not hold '.' or '..' segments")
    if not segments:
        raise ValueError(
            f"{option}={path!r} would match every path; "
            + (
                "remove the middleware instead, or list the paths to leave open"
                if option == "exempt"
                else "leave protect= out (None) to protect every path"
            )
        )
    return segments


def _paths(paths: Iterable[str] | None, option: str) -> list[str] | None:
    if paths is None:
        return None
    if isinstance(paths, str):
        raise TypeError(f"{option} takes a list of paths, e.g. {option}=[{paths!r}]")
    return list(paths)


def _prefixes(paths: list[str], option: str) -> tuple[tuple[str, ...], ...]:
    return tuple(dict.fromkeys(_prefix(path, option) for path in paths))


def _protect_prefixes(paths: list[str]) -> tuple[tuple[str, ...], ...]:
    """``protect=`` paths as the segments of their `_fold` form."""
    folded: dict[tuple[str, ...], None] = {}
    for path in paths:
        segments = _segments(_fold("/" + "/".join(_prefix(path, "protect"))))
        if not segments:
            raise ValueError(
                f"protect path {path!r} folds to nothing to match: protect= "
                "ignores case, accents and invisible characters"
            )
        folded[segments] = None
    return tuple(folded)


#: What `_fold` drops: combining marks (accents) and format characters
#: (soft hyphens, zero-width spaces...).
_DROPPED: Final = frozenset({"Mn", "Mc", "Me", "Cf"})
#: Letters a Unicode-aware router takes for ASCII that NFKD and casefold()
#: leave alone: the dotless i (re.IGNORECASE matches it with "i").
_TO_ASCII: Final = str.maketrans({"\u0131": "i"})


#: A non-ASCII path longer than this (in characters) is not folded for
#: ``protect=``: it is treated as protected. Folding 2,048 takes about 0.3 ms.
MAX_FOLDED_PATH: Final = 2048
#: What such a path folds to: no protect= prefix can match it as a plain
#: string, and its ".." segment makes the segment check treat it as protected.
_TOO_LONG_TO_FOLD: Final = "/.."


def _fold(path: str) -> str:
    """A path (PEP 3333: its UTF-8 bytes held as latin-1) as ``protect=``
    compares it: decoded, its compatibility forms decomposed (NFKD), case
    folded, accents and invisible characters dropped. Every spelling that a
    case-insensitive router may take for ``/admin`` (``/ADMIN``, ``/ADMİN``,
    ``/adm\u0131n`` with a dotless i, the fullwidth form, ``/ad\u00admin``
    with a soft hyphen...) folds to ``/admin``. It folds more together than
    any router does (``/über`` and ``/uber``): for protect= that means
    checking more, never less."""
    if path.isascii():
        return path.lower()
    if len(path) > MAX_FOLDED_PATH:
        # Folding costs time per character: a path this long is not folded
        # and counts as inside protect= (credentials are checked).
        return _TOO_LONG_TO_FOLD
    try:
        text = path.encode("latin-1").decode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # not from a PEP 3333 server: fold it as it is
        text = path
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    kept = "".join(c for c in text if unicodedata.category(c) not in _DROPPED)
    return kept.translate(_TO_ASCII)


def _segments(path: str) -> tuple[str, ...] | None:
    """The path's segments without empty and ``.`` ones; None when it holds
    a ``..`` segment (servers leave them in; apps may resolve them)."""
    if "\\" in path:  # some servers and file systems take it for '/'
        path = path.replace("\\", "/")
    segments = tuple(s for s in path.split("/") if s and s != ".")
    return None if ".." in segments else segments


def _under(segments: tuple[str, ...], prefixes: tuple[tuple[str, ...], ...]) -> bool:
    return any(segments[: len(prefix)] == prefix for prefix in prefixes)


def _plain(path: str) -> bool:
    """Whether whole segments of ``path`` are plain string prefixes: no
    empty, ``.`` or ``..`` segment, no ``\\``, a leading ``/``."""
    return not ("/." in path or "//" in path or "\\" in path or path[:1] != "/")


def _as_text(
    prefixes: tuple[tuple[str, ...], ...],
) -> tuple[frozenset[str], tuple[str, ...]]:
    """Prefixes as the paths they match exactly, and the starts of the paths
    under them: ``/health`` and ``/health/...``."""
    paths = ["/" + "/".join(prefix) for prefix in prefixes]
    return frozenset(paths), tuple(path + "/" for path in paths)


def _check_realm(realm: object) -> str:
    if not isinstance(realm, str):
        raise TypeError(f"realm must be a str, got {realm!r}")
    if not realm:
        raise ValueError("realm must not be empty: name what the user logs in to")
    try:
        realm.encode("latin-1")
    except UnicodeEncodeError:
        raise ValueError(
            f"realm {realm!r} must be latin-1 text (HTTP headers are); "
            "plain ASCII is safest"
        ) from None
    if _CONTROL.search(realm):
        raise ValueError(f"realm {realm!r} must not hold control characters")
    return realm


class _Auth:
    """What BasicAuth and BearerAuth share: the realm and which requests are
    checked (``exempt=``, ``protect=``, ``allow_preflight=``)."""

    __slots__ = (
        "_allow_preflight",
        "_exempt",
        "_exempt_text",
        "_protect",
        "_protect_text",
        "_realm",
        "_shown",
    )

    def __init__(
        self,
        *,
        realm: str,
        exempt: Iterable[str],
        protect: Iterable[str] | None,
        allow_preflight: bool,
    ) -> None:
        self._realm = _check_realm(realm)
        exempt_paths = _paths(exempt, "exempt") or []
        protect_paths = _paths(protect, "protect")
        self._exempt = _prefixes(exempt_paths, "exempt")
        self._protect: tuple[tuple[str, ...], ...] | None = None
        if protect_paths is not None:
            if not protect_paths:
                raise ValueError(
                    "protect=[] protects nothing; list the paths to protect, or "
                    "leave protect= out (None) to protect every path"
                )
            # protect= matches folded (case, accents...): an app that routes
            # /ADMIN or /ADMİN to /admin must not get it unchecked. exempt=
            # matches exactly: the other way round, folding would open more.
            self._protect = _protect_prefixes(protect_paths)
        self._exempt_text = _as_text(self._exempt)
        self._protect_text = _as_text(self._protect or ())
        self._allow_preflight = bool(allow_preflight)
        self._shown = (exempt_paths, protect_paths)

    def _skipper(self) -> Callable[[Environ], bool] | None:
        """``skips(environ)``: whether a request goes to the app unchecked;
        None when every request is checked.

        Apps route on PATH_INFO, and SCRIPT_NAME may come from a client (a
        proxy-prefix middleware that trusts a header). So both the full path,
        SCRIPT_NAME + PATH_INFO, and PATH_INFO alone are looked at, and a
        request goes unchecked only when both may: each is outside
        ``protect=`` or inside ``exempt=``."""
        preflight = self._allow_preflight
        if not (self._exempt or self._protect is not None or preflight):
            return None
        skips_path = self._skips_path

        def skips(environ: Environ) -> bool:
            if (
                preflight
                and environ.get("REQUEST_METHOD") == "OPTIONS"
                and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
            ):
                return True
            path_info = environ.get("PATH_INFO", "")
            if not skips_path(path_info):
                return False
            script_name = environ.get("SCRIPT_NAME", "")
            return not script_name or skips_path(script_name + path_info)

        return skips

    def _skips_path(self, path: str) -> bool:
        """Whether one path is outside ``protect=`` or inside ``exempt=``.
        A path with a ``..`` segment is neither."""
        # `_plain` written out, and worked out once: this runs per request.
        plain = not ("/." in path or "//" in path or "\\" in path or path[:1] != "/")
        protect = self._protect
        if protect is not None:
            if path.isascii():
                # lower() leaves "/", "." and "\\" alone: as plain as the path.
                folded, folded_plain = path.lower(), plain
            else:
                folded = _fold(path)
                folded_plain = _plain(folded)
            if folded_plain:
                # Whole segments are plain string prefixes.
                exact, starts = self._protect_text
                if not (folded in exact or folded.startswith(starts)):
                    return True
            else:
                segments = _segments(folded)
                if segments is not None and not _under(segments, protect):
                    return True
        if not self._exempt:
            return False
        if plain:
            exact, starts = self._exempt_text
            return path in exact or path.startswith(starts)
        segments = _segments(path)
        return segments is not None and _under(segments, self._exempt)

    def _shown_options(self) -> list[str]:
        parts = []
        if self._realm != "restricted":
            parts.append(f"realm={self._realm!r}")
        exempt, protect = self._shown
        if exempt:
            parts.append(f"exempt={exempt!r}")
        if protect is not None:
            parts.append(f"protect={protect!r}")
        if self._allow_preflight:
            parts.append("allow_preflight=True")
        return parts


def _check_app(app: object, name: str) -> None:
    if not callable(app):
        raise TypeError(f"{name} wraps a WSGI app (a callable), got {app!r}")


def _bad_request(
    environ: Environ,
    start_response: StartResponse,
    error: _BadRequest,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    logger.debug("refused an Authorization header: %s", error)
    return plain_response(
        environ,
        start_response,
        "400 Bad Request",
        f"{error}\n",
        headers,
    )


def _log_refusal(environ: Environ, what: str) -> None:
    # Never the user name: people type their password into that field.
    # Escaped: a client must not forge log lines through what it sent.
    logger.info(
        "refused %s %r from %s: %s",
        loggable(str(environ.get("REQUEST_METHOD"))),
        environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""),
        loggable(str(environ.get("REMOTE_ADDR", "?"))),
        what,
    )


# -- Basic ------------------------------------------------------------------------


class _CheckCall:
    """A ``check(user, password)`` callable that must say True or False."""

    __slots__ = ("_check",)

    def __init__(self, check: Check) -> None:
        self._check = check

    def __call__(self, user: str, password: str) -> bool:
        result = self._check(user, password)
        if result is True or result is False:
            return result
        raise TypeError(
            f"BasicAuth's check must return True or False, got {type(result).__name__}"
        )


def _check_number(name: str, value: object, *, minimum: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
    ):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}, got {value!r}")
    return value


class BasicAuth:
    """HTTP Basic authentication (RFC 7617) in front of an app.

    Exactly one source of users: an htpasswd file, a mapping, or a callable.

    Args:
        htpasswd: the path of a file as Apache's ``htpasswd`` writes it:
            bcrypt (``-B``, recommended), SHA-512/256-crypt (``-5``, ``-2``),
            apr1 MD5 (``-m``) or ``{SHA}`` (``-s``); plain text (``-p``) only
            with ``allow_plaintext``. It is re-read when it changes (checked
            at most once a second), failing closed: a line that cannot be
            used refuses its user, and a file that is still unreadable (or
            empty) at the next check refuses everyone. A relative path is
            made absolute at construction.
        users: a mapping of user name to hash, in the same formats.
        check: ``check(user, password) -> bool`` for anything else (a
            database, LDAP...). It must return True or False; an exception
            it raises is a server error and propagates. Its timing is its own.
        realm: the realm of the ``WWW-Authenticate`` challenge (browsers
            show it in the login prompt). Latin-1, no control characters.
        allow_plaintext: accept plain-text passwords in ``htpasswd``/``users``.
            For tests only.
        cache_seconds: how long a password verified against a slow hash
            (bcrypt, SHA-crypt, apr1) is remembered, so the next request
            with it skips the hash; 0 turns the cache off. A changed password
            or a removed user goes on working from the cache until the file
            is reloaded (within a second for ``htpasswd``) or the entry
            expires.
        cache_size: the most credentials remembered (least recently used go).
        exempt: paths that are never checked, each with everything under it
            on whole segments: ``/health`` covers ``/health`` and
            ``/health/db``, never ``/healthz``. Matched case-sensitively.
        protect: if given, only these paths (and what is under them) are
            checked. Matched with case, accents and compatibility forms
            folded, beyond ASCII: ``/ADMIN``, ``/ADMİN``, ``/adm\u0131n``
            (a dotless i) and the fullwidth form of ``/ADMIN`` are protected
            with ``/admin``. It may match more than the app routes there,
            never less.
        allow_preflight: let CORS preflight requests (``OPTIONS`` with an
            ``Access-Control-Request-Method`` header) through unchecked.

    Paths are matched as the server percent-decoded them, with empty and
    ``.`` segments dropped and ``\\`` read as ``/``, twice: the full path
    ``SCRIPT_NAME + PATH_INFO``, and ``PATH_INFO`` alone (what apps route
    on). A request goes unchecked only when both may: each is outside
    ``protect=`` or inside ``exempt=``. So ``protect=["/admin"]`` still
    protects an app mounted under ``/mysite``, and a mounted app lists its
    exempt paths in both forms: ``exempt=["/health", "/mysite/health"]``. A
    path with a ``..`` segment is never exempt and always protected.

    Raises:
        ValueError: no source or several, no users, a file that cannot be
            read, an unsupported or malformed hash (with its line number and
            how to fix it), a bad realm, path or number.
        TypeError: an option of the wrong type.
    """

    __slots__ = (
        "_allow_plaintext",
        "_auth",
        "_cache_seconds",
        "_cache_size",
        "_challenge",
        "_file",
        "_source",
        "_verify",
    )

    def __init__(
        self,
        *,
        htpasswd: str | os.PathLike[str] | None = None,
        users: Mapping[str, str] | None = None,
        check: Check | None = None,
        realm: str = "restricted",
        allow_plaintext: bool = False,
        cache_seconds: float = 60,
        cache_size: int = 1024,
        exempt: Iterable[str] = (),
        protect: Iterable[str] | None = None,
        allow_preflight: bool = False,
    ) -> None:
        self._auth = _Auth(
            realm=realm, exempt=exempt, protect=protect, allow_preflight=allow_preflight
        )
        given = [
            name
            for name, value in (
                ("htpasswd", htpasswd),
                ("users", users),
                ("check", check),
            )
            if value is not None
        ]
        if not given:
            raise ValueError(
                "BasicAuth needs one source of users: htpasswd='/path/to/file' "
                "(made with htpasswd -c -B), users={'name': hash} or "
                "check=callable(user, password) -> bool"
            )
        if len(given) > 1:
            raise ValueError(
                f"give BasicAuth exactly one of htpasswd=, users= or check=; got "
                f"{' and '.join(f'{name}=' for name in given)}"
            )
        self._cache_seconds = _check_number("cache_seconds", cache_seconds, minimum=0)
        if isinstance(cache_size, bool) or not isinstance(cache_size, int):
            raise TypeError(f"cache_size must be an int, got {cache_size!r}")
        if cache_size < 1:
            raise ValueError(
                f"cache_size must be >= 1, got {cache_size}; "
                "use cache_seconds=0 to turn the cache off"
            )
        self._cache_size = cache_size
        self._allow_plaintext = bool(allow_plaintext)
        self._file: HtpasswdFile | None = None
        if htpasswd is not None:
            if not isinstance(htpasswd, (str, os.PathLike)):
                raise TypeError(f"htpasswd must be a path, got {htpasswd!r}")
            self._file = HtpasswdFile(
                os.fspath(htpasswd),
                allow_plaintext=self._allow_plaintext,
                cache_seconds=self._cache_seconds,
                cache_size=cache_size,
            )
            self._source = f"htpasswd={os.fspath(htpasswd)!r}"
            self._verify: Check = self._file.verify
        elif users is not None:
            parsed, where = _parse_users(users, self._allow_plaintext)
            credentials = Credentials(
                parsed,
                cache_seconds=self._cache_seconds,
                cache_size=cache_size,
                where=where,
            )
            self._source = f"users=<{_count(len(credentials.users), 'user')}>"
            self._verify = credentials.verify
        else:
            if not callable(check):
                raise TypeError(
                    f"check must be a callable(user, password) -> bool, got {check!r}"
                )
            self._source = (
                f"check={getattr(check, '__qualname__', type(check).__name__)}"
            )
            self._verify = _CheckCall(check)
        self._challenge = [
            (
                "WWW-Authenticate",
                f'Basic realm={_quoted(self._auth._realm)}, charset="UTF-8"',
            )
        ]

    def __repr__(self) -> str:
        parts = [self._source, *self._auth._shown_options()]
        if self._allow_plaintext:
            parts.append("allow_plaintext=True")
        if self._cache_seconds != 60:
            parts.append(f"cache_seconds={self._cache_seconds!r}")
        if self._cache_size != 1024:
            parts.append(f"cache_size={self._cache_size}")
        return f"BasicAuth({', '.join(parts)})"

    def __call__(self, app: WSGIApp) -> WSGIApp:
        _check_app(app, "BasicAuth")
        skips = self._auth._skipper()
        verify = self._verify
        challenge = self._challenge

        def basic_auth_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            if skips is not None and skips(environ):
                return app(environ, start_response)
            header = environ.get("HTTP_AUTHORIZATION")
            credentials = _usual_basic(header) if type(header) is str else None
            if credentials is not None:
                user, password = credentials
            else:  # anything else: the full checks, and their messages
                try:
                    token = _credentials(header, "basic", _BASIC_AGAIN)
                    if token is None:
                        return _unauthorized(environ, start_response, challenge)
                    user, password = _decode_basic(token)
                except _BadRequest as exc:
                    return _bad_request(environ, start_response, exc)
            if not verify(user, password):
                _log_refusal(environ, "wrong user name or password")
                return _unauthorized(environ, start_response, challenge)
            environ["REMOTE_USER"] = _native(user)
            environ["AUTH_TYPE"] = "Basic"
            environ[USER_KEY] = user
            return app(environ, start_response)

        return basic_auth_app


def _parse_users(
    users: object, allow_plaintext: bool
) -> tuple[dict[str, PasswordHash], dict[str, str]]:
    """The parsed hashes, and where each came from (for log lines). Entries
    are named by place, never by key: ``{hash: user}``, the wrong way round,
    would put the hash in the message."""
    if not isinstance(users, Mapping):
        raise TypeError(
            f"users must be a mapping of user name to hash, got {type(users).__name__}"
        )
    if not users:
        raise ValueError(
            "users is empty, so everyone would be refused; add at least one "
            "user: {'name': hash}, the hash made with htpasswd -nB name"
        )
    parsed: dict[str, PasswordHash] = {}
    where: dict[str, str] = {}
    for number, (user, hashed) in enumerate(users.items(), 1):
        place = f"the {_ordinal(number)} entry"
        try:
            check_user_name(user)
            if not isinstance(hashed, str):
                raise HtpasswdError(
                    f"the hash must be a str, got {type(hashed).__name__}"
                )
            parsed[user] = parse_hash(hashed, allow_plaintext=allow_plaintext)
        except HtpasswdError as exc:
            message = f"users: {place}: {exc}"
            if message.endswith("htpasswd -B"):
                message += " -n USER"  # prints the line for a new password
            raise ValueError(message) from None
        where[user] = f"{place} of users="
    return parsed, where


def _unauthorized(
    environ: Environ, start_response: StartResponse, challenge: list[tuple[str, str]]
) -> list[bytes]:
    return plain_response(
        environ,
        start_response,
        "401 Unauthorized",
        "authentication required\n",
        challenge,
    )


# -- Bearer -------------------------------------------------------------------------


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _ordinal(n: int) -> str:
    suffix = (
        "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    )
    return f"{n}{suffix}"


class BearerAuth:
    """Bearer token authentication (RFC 6750) in front of an app.

    Exactly one source: a set of tokens, or a verifier.

    Args:
        tokens: the accepted tokens, as a mapping of token to user name
            (``{token: "ci-bot"}``) or a collection of tokens (the user name
            is then ``"bearer"``). Each must be RFC 6750 ``b64token`` text of
            at least 16 characters. They are kept as HMAC-SHA256 digests
            under a random key and looked up by digest, so no comparison
            ever runs over a token's own characters.
        verify: ``verify(token) -> user | claims | None`` for JWTs or tokens
            in a database: None refuses the token (401 invalid_token); a
            ``str`` is the user name; a mapping must hold the user name in
            ``"sub"`` and may hold the granted scopes in ``"scope"`` (a
            space-separated ``str`` or a collection of ``str``), and is put
            in ``environ["wsgimw.claims"]``. An exception it raises is a
            server error and propagates (ErrorHandler makes it a 500); so
            does a result of another type.
        realm: the realm of the ``WWW-Authenticate`` challenge.
        scopes: scopes every token must have been granted (needs
            ``verify=``); a token without them gets a 403
            ``insufficient_scope``.
        exempt: as for `BasicAuth`.
        protect: as for `BasicAuth`.
        allow_preflight: as for `BasicAuth`.

    A token is taken from the ``Authorization`` header only: a request with
    ``access_token`` in its query string gets a 400 ``invalid_request``
    (tokens in URLs end up in logs and browser histories).
    """

    __slots__ = ("_auth", "_key", "_scopes", "_source", "_tokens", "_verify")

    def __init__(
        self,
        *,
        tokens: Mapping[str, str] | Iterable[str] | None = None,
        verify: Verify | None = None,
        realm: str = "restricted",
        scopes: Iterable[str] = (),
        exempt: Iterable[str] = (),
        protect: Iterable[str] | None = None,
        allow_preflight: bool = False,
    ) -> None:
        self._auth = _Auth(
            realm=realm, exempt=exempt, protect=protect, allow_preflight=allow_preflight
        )
        if (tokens is None) == (verify is None):
            raise ValueError(
                "give BearerAuth exactly one of tokens=[...] (or {token: user}) and "
                "verify=callable(token) -> user or None"
            )
        if isinstance(scopes, str):
            raise TypeError(f"scopes takes a list, e.g. scopes=[{scopes!r}]")
        self._scopes = tuple(dict.fromkeys(scopes))
        for scope in self._scopes:
            if not isinstance(scope, str) or not _SCOPE.match(scope):
                raise ValueError(
                    f"scope {scope!r} is not an RFC 6749 scope token (printable "
                    "ASCII without spaces, '\"' or '\\')"
                )
        self._key = secrets.token_bytes(32)
        self._tokens: dict[bytes, str] = {}
        self._verify: Verify | None = None
        if tokens is not None:
            if self._scopes:
                raise ValueError(
                    "scopes= needs verify=: tokens= grants no scopes to check"
                )
            self._tokens = self._digests(tokens)
            self._source = f"tokens=<{_count(len(self._tokens), 'token')}>"
        else:
            if not callable(verify):
                raise TypeError(
                    f"verify must be a callable(token) -> user or None, got {verify!r}"
                )
            self._verify = verify
            self._source = (
                f"verify={getattr(verify, '__qualname__', type(verify).__name__)}"
            )

    def _digest(self, token: str) -> bytes:
        return hmac.digest(self._key, token.encode("ascii"), "sha256")

    def _digests(self, tokens: object) -> dict[bytes, str]:
        if isinstance(tokens, (str, bytes)):
            raise TypeError("tokens takes a collection of tokens, e.g. tokens=[token]")
        if isinstance(tokens, Mapping):
            pairs = list(tokens.items())
            # By place, never by key or value: {user: token}, the wrong way
            # round, would put the token where the user name goes.
            where = [f"the {_ordinal(n)} entry" for n in range(1, len(pairs) + 1)]
        elif isinstance(tokens, Iterable):
            pairs = [(token, "bearer") for token in tokens]
            where = [f"the {_ordinal(n)} token" for n in range(1, len(pairs) + 1)]
        else:
            raise TypeError(
                f"tokens must be a collection of tokens or a mapping of token to "
                f"user name, got {type(tokens).__name__}"
            )
        if not pairs:
            raise ValueError(
                "tokens is empty, so everyone would be refused; give at least one, "
                "e.g. from: python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        digests: dict[bytes, str] = {}
        for (token, user), named in zip(pairs, where, strict=True):
            # Messages name the token's place, never the token.
            if not isinstance(token, str) or not _B64TOKEN.match(token):
                raise ValueError(
                    f"tokens: {named} is not RFC 6750 b64token text (letters, digits "
                    "and -._~+/, then optional '=')"
                )
            if len(token) < MIN_TOKEN_LENGTH:
                raise ValueError(
                    f"tokens: {named} is shorter than {MIN_TOKEN_LENGTH} characters, "
                    "too easy to guess; make one with: python -c 'import secrets; "
                    "print(secrets.token_urlsafe(32))'"
                )
            try:
                check_user_name(user)
            except HtpasswdError as exc:
                raise ValueError(f"tokens: the user name of {named}: {exc}") from None
            digests[self._digest(token)] = user
        return digests

    def __repr__(self) -> str:
        parts = [self._source, *self._auth._shown_options()]
        if self._scopes:
            parts.append(f"scopes={list(self._scopes)!r}")
        return f"BearerAuth({', '.join(parts)})"

    def __call__(self, app: WSGIApp) -> WSGIApp:
        _check_app(app, "BearerAuth")
        skips = self._auth._skipper()
        realm = f"Bearer realm={_quoted(self._auth._realm)}"
        challenge = [("WWW-Authenticate", realm)]
        invalid = [
            (
                "WWW-Authenticate",
                f'{realm}, error="invalid_token", '
                'error_description="the access token is not valid"',
            )
        ]
        forbidden = [
            (
                "WWW-Authenticate",
                f'{realm}, error="insufficient_scope", '
                f'scope="{" ".join(self._scopes)}"',
            )
        ]
        identify = self._identify
        required = frozenset(self._scopes)

        def bearer_auth_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            if skips is not None and skips(environ):
                return app(environ, start_response)
            try:
                if _token_in_query(environ.get("QUERY_STRING", "")):
                    raise _BadRequest(
                        "access_token in the query string is not accepted; "
                        "send the token in the Authorization header"
                    )
                token = _credentials(
                    environ.get("HTTP_AUTHORIZATION"), "bearer", _BEARER_AGAIN
                )
                if token is None:
                    return _unauthorized(environ, start_response, challenge)
                if len(token) > MAX_CREDENTIALS:
                    raise _bad_header(
                        f"the token is longer than {MAX_CREDENTIALS} characters"
                    )
                if not _B64TOKEN.match(token):
                    raise _bad_header("the token is not RFC 6750 b64token text")
            except _BadRequest as exc:
                description = str(exc).replace('"', "'")
                return _bad_request(
                    environ,
                    start_response,
                    exc,
                    [
                        (
                            "WWW-Authenticate",
                            f'{realm}, error="invalid_request", '
                            f'error_description="{description}"',
                        )
                    ],
                )
            found = identify(token)
            if found is None:
                _log_refusal(environ, "invalid bearer token")
                return plain_response(
                    environ,
                    start_response,
                    "401 Unauthorized",
                    "invalid access token\n",
                    invalid,
                )
            user, claims, granted = found
            if required and not required <= granted:
                _log_refusal(environ, "a bearer token without the required scopes")
                return plain_response(
                    environ,
                    start_response,
                    "403 Forbidden",
                    "insufficient scope\n",
                    forbidden,
                )
            environ["REMOTE_USER"] = _native(user)
            environ["AUTH_TYPE"] = "Bearer"
            environ[USER_KEY] = user
            if claims is not None:
                environ[CLAIMS_KEY] = claims
            return app(environ, start_response)

        return bearer_auth_app

    def _identify(self, token: str) -> tuple[str, Claims | None, frozenset[str]] | None:
        """The user, claims and scopes of ``token``; None if it is not valid."""
        verify = self._verify
        if verify is None:
            user = self._tokens.get(self._digest(token))
            return None if user is None else (user, None, frozenset())
        result = verify(token)
        if result is None:
            return None
        if isinstance(result, str):
            return _verified_user(result), None, frozenset()
        if isinstance(result, Mapping):
            return _verified_user(result.get("sub")), result, _granted(result)
        raise TypeError(
            "BearerAuth's verify must return a user name (str), a mapping with "
            f"'sub', or None; got {type(result).__name__}"
        )


def _verified_user(user: object) -> str:
    if not isinstance(user, str) or not user:
        raise TypeError(
            "BearerAuth's verify gave no user name: return a non-empty str, or a "
            f"mapping whose 'sub' is one; got {user!r}"
        )
    return user


def _granted(claims: Claims) -> frozenset[str]:
    scope = claims.get("scope")
    if scope is None:
        return frozenset()
    if isinstance(scope, str):
        return frozenset(scope.split())
    if isinstance(scope, Iterable) and all(isinstance(s, str) for s in scope):
        return frozenset(scope)
    raise TypeError(
        "BearerAuth's verify returned a 'scope' that is neither a space-separated "
        f"str nor a collection of str: {type(scope).__name__}"
    )


def _token_in_query(query: str) -> bool:
    """Whether the query string has an ``access_token`` field (RFC 6750 §2.3)."""
    if not query or ("access" not in query.lower() and "%" not in query):
        return False
    for field in query.split("&"):
        name = field.partition("=")[0]
        if "%" in name or "+" in name:
            name = unquote(name.replace("+", " "), "latin-1")
        if name == "access_token":
            return True
    return False
