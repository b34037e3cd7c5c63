"""Password hashes as Apache's ``htpasswd`` writes them, for `BasicAuth`.

* `parse_hash` recognises one stored hash: bcrypt (``$2y$``, ``$2b$``,
  ``$2a$``), apr1 MD5 (``$apr1$``), SHA-256/512-crypt (``$5$``, ``$6$``),
  ``{SHA}``, and plain text when allowed. Anything else, crypt() DES
  included, is refused with a message that says how to fix it.
* `parse_htpasswd` reads a whole file's bytes into a mapping of user to hash.
* `Credentials` is one immutable table of users, a dummy hash for unknown
  users (so they cost the same work as known ones) and a small cache of
  credentials verified against a slow hash.
* `HtpasswdFile` keeps the table of a file on disk up to date: it looks at
  the file at most once a second and swaps in a new `Credentials` when the
  file changed. It fails closed: a line that cannot be used refuses its
  user, and a file that stays unreadable (or empty) for a second check
  refuses everyone; see `HtpasswdFile`.

Hashing is done by maintained libraries, never here: ``bcrypt`` for bcrypt,
``libpass`` (passlib's maintained fork) for apr1 and SHA-crypt, and
``hashlib`` with `hmac.compare_digest` for ``{SHA}``. Nothing in this module
logs, shows or repr()s a password or a hash.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import os
import re
import secrets
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Mapping
from time import monotonic
from typing import Any, Final

__all__ = [
    "SLOW_KINDS",
    "Credentials",
    "HtpasswdError",
    "HtpasswdFile",
    "PasswordHash",
    "make_dummy",
    "parse_hash",
    "parse_htpasswd",
]

logger = logging.getLogger("wsgimw.auth")

#: How often, at most, `HtpasswdFile` looks at the file (seconds).
CHECK_INTERVAL: Final = 1.0
#: bcrypt uses the first 72 bytes of a password, as Apache's htpasswd does.
BCRYPT_MAX_BYTES: Final = 72
#: The bcrypt costs htpasswd writes (``-C``). Each step doubles the work: a
#: cost of 31 would take hours, for the dummy hash made at construction too.
BCRYPT_COSTS: Final = range(4, 18)

BCRYPT: Final = "bcrypt"
APR1: Final = "apr1"
SHA256_CRYPT: Final = "sha256-crypt"
SHA512_CRYPT: Final = "sha512-crypt"
SHA1: Final = "{SHA}"
PLAIN: Final = "plain"
#: Hashes that are slow on purpose: worth caching a verified password for.
SLOW_KINDS: Final = frozenset({BCRYPT, APR1, SHA256_CRYPT, SHA512_CRYPT})

#: "$2b$" (or 2a, 2y), two digits of cost, "$", a 22-character salt and a
#: 31-character hash, in bcrypt's base64 alphabet: 60 characters.
_BCRYPT = re.compile(r"\$2[aby]\$([0-9]{2})\$[./A-Za-z0-9]{21}(.)[./A-Za-z0-9]{31}\Z")
#: The salt's last character holds 2 bits: bcrypt refuses any but these.
_BCRYPT_SALT_ENDS: Final = frozenset(".Oeu")
_DES = re.compile(r"[./0-9A-Za-z]{13}\Z")
_PREFIX = re.compile(r"\$[^$]{0,8}\$|\{[^}]{0,8}\}")
#: Other formats a file may hold, named in the error (the hash never is).
_OTHER_FORMATS: Final = {
    "$1$": "MD5-crypt ($1$, which htpasswd never writes)",
    "$2x$": "bcrypt $2x$ (a workaround for an old bug)",
    "$y$": "yescrypt ($y$)",
    "$7$": "scrypt ($7$)",
    "$md5$": "Sun MD5 ($md5$)",
    "{SSHA}": "salted SHA-1 ({SSHA})",
    "{SHA256}": "{SHA256}",
    "{SHA512}": "{SHA512}",
    "{MD5}": "{MD5}",
    "{CRYPT}": "{CRYPT}",
}
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_INSTALL = "install it with: pip install 'wsgimw[htpasswd]'"
_RECREATE = "re-create the password with htpasswd -B"


class HtpasswdError(ValueError):
    """A hash, a line or a file that cannot be used. The message says where
    and how to fix it, and never holds a hash or a password. `parse_hash`'s
    messages end with "re-create the password with htpasswd -B", for the
    caller to finish with the file and user."""


# -- verifying, one function per kind (tests may swap them) ---------------------


def _passlib(name: str) -> Any:
    """A passlib hasher by name (``apr_md5_crypt``...): libpass has no type
    hints, so it is reached only through here and the typed wrappers below."""
    try:
        import passlib.hash  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - libpass is installed for the tests
        raise HtpasswdError(
            f"this hash needs the libpass package: {_INSTALL}"
        ) from None
    return getattr(passlib.hash, name)


def _verify_bcrypt(password: bytes, stored: bytes) -> bool:
    import bcrypt

    # bcrypt 5 refuses more than 72 bytes; htpasswd (crypt_blowfish) and
    # bcrypt 4 use the first 72, so a long password made by htpasswd works.
    return bcrypt.checkpw(password[:BCRYPT_MAX_BYTES], stored)


def _verify_passlib(handler: str) -> Callable[[bytes, str], bool]:
    def verify(password: bytes, stored: str) -> bool:
        return bool(_passlib(handler).verify(password, stored))

    verify.__name__ = f"_verify_{handler}"
    return verify


def _verify_sha1(password: bytes, stored: bytes) -> bool:
    return hmac.compare_digest(hashlib.sha1(password).digest(), stored)


def _verify_plain(password: bytes, stored: bytes) -> bool:
    # Digests of both, so the comparison takes the same time whatever the
    # lengths (compare_digest alone tells the length apart).
    return hmac.compare_digest(hashlib.sha256(password).digest(), stored)


#: kind -> verify(password bytes, stored value) -> bool
VERIFY: dict[str, Callable[[bytes, Any], bool]] = {
    BCRYPT: _verify_bcrypt,
    APR1: _verify_passlib("apr_md5_crypt"),
    SHA256_CRYPT: _verify_passlib("sha256_crypt"),
    SHA512_CRYPT: _verify_passlib("sha512_crypt"),
    SHA1: _verify_sha1,
    PLAIN: _verify_plain,
}


class PasswordHash:
    """One stored password hash, ready to verify against. Its repr shows the
    kind and cost only: never the hash."""

    __slots__ = ("_stored", "cost", "kind")

    def __init__(self, kind: str, stored: object, cost: int = 0) -> None:
        self.kind = kind
        #: bcrypt's cost, SHA-crypt's rounds; 0 for the others.
        self.cost = cost
        self._stored = stored

    def verify(self, password: bytes) -> bool:
        """Whether ``password`` (UTF-8 bytes) matches, in constant time for
        the fast kinds and in the hash's own time for the slow ones."""
        return VERIFY[self.kind](password, self._stored)

    def __repr__(self) -> str:
        cost = f" cost {self.cost}" if self.cost else ""
        return f"<{self.kind} hash{cost}>"


# -- parsing -------------------------------------------------------------------


def _load_bcrypt() -> None:
    try:
        import bcrypt  # noqa: F401
    except ImportError:  # pragma: no cover - bcrypt is installed for the tests
        raise HtpasswdError(
            f"bcrypt hashes need the bcrypt package: {_INSTALL}"
        ) from None


def _libpass_parse(handler: str, value: str, what: str) -> Any:
    """``value`` parsed by a libpass handler; refused when it is malformed or
    a "config string" (a salt without a checksum), which could never
    verify: libpass raises when asked to."""
    try:
        parsed = _passlib(handler).from_string(value)
    except ValueError:
        parsed = None
    if parsed is None or not parsed.checksum:
        raise HtpasswdError(f"malformed {what}; {_RECREATE}")
    return parsed


#: The most SHA-crypt rounds accepted (``htpasswd -r``; 5000 when not
#: given). Ten million take about 5 s a check on a 2026 server core, as
#: bcrypt's top cost does; the format allows nearly a billion, which would
#: stall every login, and the dummy hash made at construction, for minutes.
MAX_SHA_CRYPT_ROUNDS: Final = 10_000_000


def _sha_crypt(kind: str, flag: str, value: str) -> PasswordHash:
    parsed = _libpass_parse(
        kind.replace("-", "_"), value, f"{kind} hash (htpasswd {flag} writes them)"
    )
    rounds = int(parsed.rounds)
    if rounds > MAX_SHA_CRYPT_ROUNDS:
        raise HtpasswdError(
            f"{kind} with {rounds:,} rounds is refused: more than "
            f"{MAX_SHA_CRYPT_ROUNDS:,} would make every check take seconds to "
            f"minutes; re-create the password with htpasswd {flag} and -r 5000 "
            "to 1000000"
        )
    return PasswordHash(kind, value, rounds)


def parse_hash(value: str, *, allow_plaintext: bool = False) -> PasswordHash:
    """Recognise one stored hash. Raises `HtpasswdError` for a format that
    is unknown, malformed or refused (the message never quotes the hash)."""
    if not value:
        raise HtpasswdError(f"no password hash; {_RECREATE}")
    if value.startswith(("$2y$", "$2b$", "$2a$")):
        match = _BCRYPT.match(value)
        if match is None:
            raise HtpasswdError(f"malformed bcrypt hash; {_RECREATE}")
        cost = int(match[1])
        if cost not in BCRYPT_COSTS:
            raise HtpasswdError(
                f"bcrypt cost {cost} is not supported: htpasswd -B -C writes "
                f"{BCRYPT_COSTS[0]} to {BCRYPT_COSTS[-1]} (each step doubles the "
                f"time a check takes); {_RECREATE}"
            )
        if match[2] not in _BCRYPT_SALT_ENDS:
            raise HtpasswdError(
                f"malformed bcrypt hash (a salt bcrypt never makes); {_RECREATE}"
            )
        _load_bcrypt()
        return PasswordHash(BCRYPT, value.encode("ascii"), cost)
    if value.startswith("$apr1$"):
        _libpass_parse("apr_md5_crypt", value, "apr1 MD5 hash")
        return PasswordHash(APR1, value)
    if value.startswith("$5$"):
        return _sha_crypt(SHA256_CRYPT, "-2", value)
    if value.startswith("$6$"):
        return _sha_crypt(SHA512_CRYPT, "-5", value)
    if value.startswith("{SHA}"):
        try:
            digest = base64.b64decode(value[5:], validate=True)
        except (binascii.Error, ValueError):  # ValueError: not ASCII
            digest = b""
        if len(digest) != 20:
            raise HtpasswdError(f"malformed {{SHA}} hash; {_RECREATE}")
        return PasswordHash(SHA1, digest)
    prefix = _PREFIX.match(value)
    if prefix is not None:
        known = _OTHER_FORMATS.get(prefix[0])
        # Only a known format is named: the text could be a password.
        shown = f"the {known} format" if known else "an unknown format"
        raise HtpasswdError(
            f"{shown} is not supported; supported are bcrypt (htpasswd -B), "
            f"SHA-512/256-crypt (-5, -2), apr1 MD5 (-m) and {{SHA}} (-s); {_RECREATE}"
        )
    if _DES.match(value):
        raise HtpasswdError(
            "crypt() DES hashes (htpasswd -d) are not supported: they use only the "
            "first 8 characters of the password and are cracked in minutes; "
            f"{_RECREATE}"
        )
    if not allow_plaintext:
        raise HtpasswdError(
            "not a known hash format: a plain-text password (htpasswd -p)? Plain "
            "text is accepted only with allow_plaintext=True, which is for tests; "
            f"{_RECREATE}"
        )
    return PasswordHash(PLAIN, hashlib.sha256(value.encode("utf-8")).digest())


def check_user_name(user: object) -> str:
    """A user name as a file or a ``users=`` mapping may hold it."""
    if not isinstance(user, str):
        raise HtpasswdError(f"user names must be str, got {type(user).__name__}")
    if not user:
        raise HtpasswdError("empty user name")
    if ":" in user or _CONTROL.search(user):
        raise HtpasswdError(
            "a user name must not hold ':' or control characters (RFC 7617)"
        )
    return user


_Lines = dict[str, int]
_Problems = list[tuple[int, str]]


def parse_htpasswd(
    data: bytes, *, allow_plaintext: bool = False, name: str = "htpasswd file"
) -> dict[str, PasswordHash]:
    """Parse an htpasswd file's bytes, as Apache reads them.

    Lines are ``user:hash``; spaces, tabs and a CR (of a CRLF) around a line
    are ignored, as are blank lines and lines that start with ``#``; anything
    after a second ``:`` is ignored too, as Apache does. The file must be
    UTF-8 (a leading byte-order mark is allowed). A user listed twice is an
    error: Apache would silently use the first entry. The first bad line
    raises `HtpasswdError`, which names the line, never its user or hash
    (a line written the wrong way round would put the hash first).
    """
    return _parse(data, allow_plaintext=allow_plaintext, name=name, strict=True)[0]


def _parse(
    data: bytes, *, allow_plaintext: bool, name: str, strict: bool
) -> tuple[dict[str, PasswordHash], _Lines, _Problems]:
    """The users, the line each user is on, and the lines that cannot be
    used with the reason. ``strict``: raise for the first of those instead.
    Otherwise the user of a bad line is left out, and so is a user on two
    lines: a bad line never lets a user in that the file meant to keep out.
    """
    users: dict[str, PasswordHash] = {}
    lines: _Lines = {}
    problems: _Problems = []
    refused: set[str] = set()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    for number, raw in enumerate(data.split(b"\n"), 1):
        user: str | None = None
        try:
            try:
                line = raw.decode("utf-8").strip(" \t\r")
            except UnicodeDecodeError:
                raise HtpasswdError("not valid UTF-8; save the file as UTF-8") from None
            if not line or line.startswith("#"):
                continue
            user, colon, rest = line.partition(":")
            if not colon:
                user = None  # the whole line: it may be a hash
                raise HtpasswdError(
                    "no ':' between user name and hash; add users with "
                    f"htpasswd -B {name} USER"
                )
            check_user_name(user)
            if user in lines:
                raise HtpasswdError(
                    f"the same user name as on line {lines[user]}; remove one of "
                    "the two (Apache would use the first)"
                )
            lines[user] = number
            try:
                users[user] = parse_hash(
                    rest.partition(":")[0], allow_plaintext=allow_plaintext
                )
            except HtpasswdError as exc:
                # Each message ends with "re-create the password with htpasswd
                # -B": finish the command line.
                raise HtpasswdError(f"{exc} {name} USER") from None
        except HtpasswdError as exc:
            if strict:
                raise HtpasswdError(f"{name}, line {number}: {exc}") from None
            problems.append((number, str(exc)))
            if user is not None:
                refused.add(user)
    for user in refused:
        users.pop(user, None)
    return users, lines, problems


# -- the dummy hash: unknown users cost the same work -----------------------------


def make_dummy(
    users: Mapping[str, PasswordHash], previous: PasswordHash | None = None
) -> PasswordHash:
    """A hash of a random password, of the kind and cost most common in
    ``users``: verifying against it costs what a known user costs. Reuses
    ``previous`` when it already fits (a bcrypt hash at cost 12 takes a
    quarter of a second to make)."""
    if not users:
        return previous if previous is not None else make_dummy_of(PLAIN, 0)
    kind, cost = Counter((h.kind, h.cost) for h in users.values()).most_common(1)[0][0]
    if previous is not None and (previous.kind, previous.cost) == (kind, cost):
        return previous
    return make_dummy_of(kind, cost)


def make_dummy_of(kind: str, cost: int) -> PasswordHash:
    secret = secrets.token_urlsafe(24)
    if kind == BCRYPT:
        import bcrypt

        stored = bcrypt.hashpw(secret.encode(), bcrypt.gensalt(cost, prefix=b"2b"))
        return PasswordHash(BCRYPT, stored, cost)
    if kind == APR1:
        return PasswordHash(APR1, _passlib("apr_md5_crypt").hash(secret))
    if kind in (SHA256_CRYPT, SHA512_CRYPT):
        handler = _passlib(kind.replace("-", "_"))
        return PasswordHash(kind, handler.using(rounds=cost).hash(secret), cost)
    if kind == SHA1:
        return PasswordHash(SHA1, hashlib.sha1(secret.encode()).digest())
    return PasswordHash(PLAIN, hashlib.sha256(secret.encode()).digest())


# -- verified credentials, cached briefly ------------------------------------------


class VerifiedCache:
    """Credentials recently verified against a slow hash, LRU-bounded.

    Keys are keyed BLAKE2b digests (BLAKE2's own MAC mode, a third of an
    HMAC-SHA256's cost) of ``user:password`` under a random key made for
    this cache: no password is stored. (A memory dump holds the key too, so
    it lets guesses be tested at BLAKE2b speed, not bcrypt speed.)
    Only successes are added; an entry lives ``seconds`` at most.
    """

    __slots__ = ("_entries", "_key", "_lock", "_seconds", "_size")

    def __init__(self, seconds: float, size: int) -> None:
        self._seconds = seconds
        self._size = size
        self._key = secrets.token_bytes(32)
        self._entries: OrderedDict[bytes, float] = OrderedDict()
        self._lock = threading.Lock()

    def key(self, user: bytes, password: bytes) -> bytes:
        message = user + b":" + password
        return hashlib.blake2b(message, key=self._key, digest_size=32).digest()

    def __contains__(self, key: bytes) -> bool:
        now = monotonic()
        with self._lock:
            expires = self._entries.get(key)
            if expires is None:
                return False
            if expires <= now:
                del self._entries[key]
                return False
            self._entries.move_to_end(key)
            return True

    def add(self, key: bytes) -> None:
        expires = monotonic() + self._seconds
        with self._lock:
            entries = self._entries
            entries[key] = expires
            entries.move_to_end(key)
            if len(entries) > self._size:
                entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class Credentials:
    """One immutable table of users and hashes, and what verifies against it."""

    __slots__ = ("cache", "dummy", "users", "where")

    def __init__(
        self,
        users: Mapping[str, PasswordHash],
        *,
        cache_seconds: float,
        cache_size: int,
        dummy: PasswordHash | None = None,
        where: Mapping[str, str] | None = None,
    ) -> None:
        self.users: Mapping[str, PasswordHash] = dict(users)
        #: user -> where the hash came from ("line 3 of the htpasswd file
        #: ..."), for a log line that must not show the hash.
        self.where: Mapping[str, str] = where or {}
        self.dummy = make_dummy(self.users, dummy)
        slow = any(h.kind in SLOW_KINDS for h in self.users.values())
        self.cache = (
            VerifiedCache(cache_seconds, cache_size)
            if slow and cache_seconds > 0
            else None
        )

    def verify(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s. An unknown user costs one
        verification against the dummy hash, like a known one. A hash the
        library cannot use is a refusal, logged as an error on
        ``wsgimw.auth``: the client gets what a wrong password gets."""
        secret = password.encode("utf-8")
        cache = self.cache
        key = b""
        if cache is not None:
            key = cache.key(user.encode("utf-8"), secret)
            if key in cache:
                return True
        stored = self.users.get(user)
        if stored is None:
            self.dummy.verify(secret)
            return False
        try:
            verified = stored.verify(secret)
        except Exception as exc:  # a library that raises for this hash
            logger.error(
                "could not check a password against the hash of %s (%s); the "
                "request is refused: re-create that password with htpasswd -B",
                self.where.get(user, "a user"),
                type(exc).__name__,  # not its message: it might quote the hash
            )
            return False
        if not verified:
            return False
        if cache is not None and stored.kind in SLOW_KINDS:
            cache.add(key)
        return True

    def __repr__(self) -> str:
        return f"<Credentials of {len(self.users)} users>"


# -- a file on disk, reloaded when it changes -----------------------------------------

_Signature = tuple[int, int, int, int]


def _signature(stat: os.stat_result) -> _Signature:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns)


def _read(path: str) -> tuple[bytes, _Signature]:
    with open(path, "rb") as file:
        signature = _signature(os.fstat(file.fileno()))
        return file.read(), signature


class HtpasswdFile:
    """An htpasswd file's `Credentials`, kept up to date with the file.

    `current` costs one clock read per request; at most once a second (and
    by one thread at a time) it compares the file's device, inode, size and
    mtime with those last read, and re-reads the file when they differ. The
    path is made absolute at construction, so a later ``chdir`` changes
    nothing.

    It fails closed, so that removing a user always takes effect within a
    couple of checks, and says so on ``wsgimw.auth``:

    * a line that cannot be used (an unsupported hash, a user listed twice...)
      refuses its user; the other lines apply (a warning names the lines);
    * a file that cannot be read, is empty (0 bytes), or changes while it is
      read may be in the middle of being replaced: the last table stays for
      that check (a warning). If it is still unreadable at the next check,
      every request is refused (an error) until it can be read; if it is
      still empty, it is taken as a file with no users; if it is still
      changing, it is taken as read;
    * a valid file with no users is taken as it is: everyone is refused.
    """

    __slots__ = (
        "_allow_plaintext",
        "_cache_seconds",
        "_cache_size",
        "_credentials",
        "_lock",
        "_next_check",
        "_pending",
        "_problem",
        "_seen",
        "path",
    )

    def __init__(
        self,
        path: str,
        *,
        allow_plaintext: bool = False,
        cache_seconds: float = 60,
        cache_size: int = 1024,
    ) -> None:
        #: The absolute path, read at every check.
        self.path = os.path.abspath(path)
        self._allow_plaintext = allow_plaintext
        self._cache_seconds = cache_seconds
        self._cache_size = cache_size
        try:
            data, seen = _read(self.path)
        except OSError as exc:
            raise HtpasswdError(
                f"cannot read the htpasswd file {path!r}: {exc.strerror or exc}; "
                f"create it with htpasswd -c -B {path} USER, or fix its permissions"
            ) from exc
        # Construction is strict: any bad line is an error, named with the
        # path as given.
        users, lines, _ = _parse(
            data, allow_plaintext=allow_plaintext, name=path, strict=True
        )
        if not users:
            raise HtpasswdError(
                f"the htpasswd file {path!r} holds no users, so everyone would be "
                f"refused; add one with htpasswd -B {path} USER"
            )
        self._seen: _Signature | None = seen
        self._credentials = self._make(users, lines, None)
        #: What went wrong at the last check, when it kept the last table.
        self._pending: str | None = None
        #: The problem last logged as an error (each is logged once).
        self._problem: str | None = None
        self._lock = threading.Lock()
        self._next_check = monotonic() + CHECK_INTERVAL

    def _make(
        self,
        users: Mapping[str, PasswordHash],
        lines: Mapping[str, int],
        dummy: PasswordHash | None,
    ) -> Credentials:
        path = self.path
        return Credentials(
            users,
            cache_seconds=self._cache_seconds,
            cache_size=self._cache_size,
            dummy=dummy,
            where={
                user: f"line {number} of the htpasswd file {path}"
                for user, number in lines.items()
            },
        )

    def verify(self, user: str, password: str) -> bool:
        """`Credentials.verify` against the current table: what `current`
        gives, read here directly between checks (this runs per request)."""
        if monotonic() < self._next_check:
            return self._credentials.verify(user, password)
        return self.current().verify(user, password)

    def current(self) -> Credentials:
        """The table to verify this request against."""
        now = monotonic()
        if now < self._next_check or not self._lock.acquire(blocking=False):
            return self._credentials  # another thread is looking already
        try:
            if now >= self._next_check:
                self._next_check = now + CHECK_INTERVAL
                self._reload_if_changed()
        finally:
            self._lock.release()
        return self._credentials

    def _reload_if_changed(self) -> None:
        path = self.path
        pending, self._pending = self._pending, None
        try:
            if _signature(os.stat(path)) == self._seen:
                return
            data, seen = _read(path)
            settled = _signature(os.stat(path)) == seen
        except OSError as exc:
            self._seen = None  # re-read whatever comes back, even identical
            self._trouble(f"cannot read it: {exc.strerror or exc}", pending)
            return
        if pending is None:  # a first look at a change: it may be half done
            if not settled:
                self._pending = "it changed while it was read"
                return  # look again at the next check
            if not data:
                # htpasswd rewrites the file in place, so for a moment it is
                # empty. A file with only comments is taken at its word.
                self._pending = "it is empty, maybe being rewritten"
                self._keep_last(self._pending)
                return
        try:
            users, lines, problems = _parse(
                data, allow_plaintext=self._allow_plaintext, name=path, strict=False
            )
            credentials = self._make(users, lines, self._credentials.dummy)
        except Exception as exc:  # a bug: never a 500, never stuck
            # Only the type: the message might quote a line of the file. The
            # file is read again at the next check, changed or not.
            self._trouble(f"{type(exc).__name__} while reading it", pending)
            return
        self._seen = seen
        self._problem = None
        self._credentials = credentials
        if problems:
            logger.warning(
                "reloaded the htpasswd file %s: %d users; refused %s",
                path,
                len(users),
                _refused_lines(problems),
            )
        elif users:
            logger.info("reloaded the htpasswd file %s: %d users", path, len(users))
        else:
            logger.warning(
                "the htpasswd file %s now holds no users: every request is refused "
                "until one is added",
                path,
            )

    def _trouble(self, problem: str, pending: str | None) -> None:
        """The file cannot be used: keep the last table if it could be used
        at the last check, else refuse everyone."""
        self._pending = problem
        if pending is None:
            self._keep_last(problem)
            return
        self._credentials = self._make({}, {}, self._credentials.dummy)
        if problem != self._problem:  # said already
            self._problem = problem
            logger.error(
                "the htpasswd file %s still cannot be used (%s): every request is "
                "refused until it can",
                self.path,
                problem,
            )

    def _keep_last(self, problem: str) -> None:
        logger.warning(
            "could not reload the htpasswd file %s (%s); still using the %d users "
            "read before for now: if this is still so a second from now, every "
            "request is refused",
            self.path,
            problem,
            len(self._credentials.users),
        )


def _refused_lines(problems: _Problems) -> str:
    """``the user on line 2 (why)``, ``the users on lines 2, 5 (line 2:
    why; line 5: why)``: the reasons name formats, never a hash or a user."""
    if len(problems) == 1:
        ((number, reason),) = problems
        return f"the user on line {number} ({reason})"
    numbers = ", ".join(str(number) for number, _ in problems)
    reasons = "; ".join(f"line {number}: {reason}" for number, reason in problems)
    return f"the users on lines {numbers} ({reasons})"
