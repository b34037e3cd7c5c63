"""What counts as a secret, and how to hide it in logs and debug pages.

One place for every middleware that shows request data (ErrorHandler's
debug page, AccessLog, EnvironLog), so they agree on what never leaves.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache
from urllib.parse import unquote_to_bytes

__all__ = [
    "REDACTED",
    "SECRET_ENVIRON_KEYS",
    "SECRET_NAME",
    "is_secret_environ_key",
    "loggable",
    "redact_query",
    "redact_url",
    "secret_names",
    "show_environ_value",
    "type_label",
]

REDACTED = "[redacted]"

#: Request headers (as environ keys) whose values are credentials.
SECRET_ENVIRON_KEYS = frozenset(
    {
        "HTTP_AUTHORIZATION",
        "HTTP_PROXY_AUTHORIZATION",
        "HTTP_COOKIE",
        "HTTP_X_API_KEY",
        "HTTP_X_AUTH_TOKEN",
        "HTTP_X_CSRF_TOKEN",
        "HTTP_X_CSRFTOKEN",
    }
)

#: Names (of query parameters, headers, environ keys) that look like they
#: hold a secret. Matched case-insensitively anywhere in the name, except
#: the short ones, which must be the whole name.
SECRET_NAME = re.compile(
    r"pass|pwd|secret|token|api[-_]?key|auth|session|sessid|csrf|xsrf|credential"
    r"|signature|cookie|jwt|oidc|assertion|ticket|totp|saml|cvv|cvc"
    r"|(?:\A|[-_.])(?:private|access|secret|encryption|signing)?[-_]?key\Z"
    r"|(?:\A|[-_.])code\Z|card[-_.]?number"
    r"|\A(?:sig|sid|otp|pin|pw|ssn|mfa)\Z",
    re.IGNORECASE,
)

#: Names longer than this are treated as secret without matching: the
#: pattern costs time per character, and a client chooses the length.
LONGEST_NAME = 128


def secret_names(extra: Iterable[str] = ()) -> re.Pattern[str]:
    """`SECRET_NAME` widened by ``extra`` names, each matched whole.

    A name may be given as a query parameter (``ssn``), a header
    (``X-Tenant-Id``) or an environ key (``HTTP_X_TENANT_ID``): each is also
    added in the other forms, so it is caught wherever it appears.
    """
    forms: dict[str, None] = {}
    for name in extra:
        key = name.upper().replace("-", "_")
        forms[name] = forms[key] = None
        if key.startswith("HTTP_"):
            forms[key[5:]] = None
    if not forms:
        return SECRET_NAME
    names = "|".join(re.escape(form) for form in forms)
    return re.compile(f"{SECRET_NAME.pattern}|\\A(?:{names})\\Z", re.IGNORECASE)


def is_secret_environ_key(key: str, names: re.Pattern[str] = SECRET_NAME) -> bool:
    """Whether an environ key's value must not be shown.

    Cached: the same few dozen keys come with every request, and the name
    pattern costs about a microsecond a search. A key longer than
    `LONGEST_NAME` is secret without a look and never cached, so the cache
    (1,024 keys of at most 128 characters) stays small in bytes too, whatever
    header names clients make up.
    """
    if len(key) > LONGEST_NAME:
        return True
    return _is_secret_key(key, names)


@lru_cache(maxsize=1024)
def _is_secret_key(key: str, names: re.Pattern[str]) -> bool:
    if key in SECRET_ENVIRON_KEYS:
        return True
    name = key[5:] if key.startswith("HTTP_") else key
    return bool(names.search(name))


def redact_query(query: str, names: re.Pattern[str] = SECRET_NAME) -> str:
    """``query`` with the values of secret-looking parameters replaced.

    Works on the raw query string (PEP 3333: bytes held as latin-1) and
    leaves every other byte as it was; names are percent-decoded before
    matching, so ``pass%77ord`` is caught too. Fields are split on ``;`` as
    well as ``&``: some frameworks (WebOb, Pyramid) read ``;`` as a
    separator, and hiding too much is the safe side.
    """
    if not query or "=" not in query:
        return query
    secret = _parameter_check(names)
    # With no ';' a plain split is cheaper; with one, separators sit at odd
    # indexes of the regex split.
    semicolons = ";" in query
    fields = _FIELD_SEPARATORS.split(query) if semicolons else query.split("&")
    changed = False
    for index in range(0, len(fields), 2 if semicolons else 1):
        name, equals, _value = fields[index].partition("=")
        if not equals:
            continue
        # Longer than this, a name decodes to more than LONGEST_NAME bytes
        # (each %XX is one): secret without a look.
        if len(name) > 3 * LONGEST_NAME or secret(name):
            fields[index] = f"{name}={REDACTED}"
            changed = True
    if not changed:
        return query
    return "".join(fields) if semicolons else "&".join(fields)


def _parameter_check(names: re.Pattern[str]) -> Callable[[str], bool]:
    """A cached check of raw query parameter names against ``names``.
    Parameter names repeat from request to request. Keyed by the pattern's
    source, whose hash a str keeps (a compiled pattern hashes its whole
    program at every call), and bounded, so middleware made and dropped
    again and again (app factories, reloaders, tests) leave nothing behind."""
    return _checks_for(names.pattern, names.flags)


@lru_cache(maxsize=64)
def _checks_for(source: str, flags: int) -> Callable[[str], bool]:
    names = re.compile(source, flags)

    def check(raw: str) -> bool:
        # Decoded before matching, so pass%77ord is caught too.
        name = raw
        if "%" in raw or "+" in raw:
            name = unquote_to_bytes(raw.replace("+", " ")).decode("latin-1")
        return len(name) > LONGEST_NAME or bool(names.search(name))

    # Only names of up to LONGEST_NAME characters are cached: 1,024 of them
    # take some 200 KB at most, whatever names clients make up.
    cached = lru_cache(maxsize=1024)(check)

    def secret(raw: str) -> bool:
        return cached(raw) if len(raw) <= LONGEST_NAME else check(raw)

    return secret


_FIELD_SEPARATORS = re.compile(r"([&;])")
_USERINFO = re.compile(r"(?<=://)[^/?#@]*@")


def redact_url(value: str, names: re.Pattern[str] = SECRET_NAME) -> str:
    """Secret-looking ``name=value`` pairs redacted in any text: after a
    ``?`` in a URL (REQUEST_URI, RAW_URI, Referer...), or in a value that is
    itself a query string."""
    if "@" in value:  # https://user:password@host/ gives its password away
        value = _USERINFO.sub(REDACTED + "@", value, count=1)
    head, mark, query = value.partition("?")
    if mark:
        return head + mark + redact_query(query, names)
    return redact_query(value, names)


def loggable(text: str) -> str:
    """``text`` on one line of a log: control characters escaped, so a
    client cannot forge log lines or colour a terminal with a path."""
    return text if text.isprintable() else repr(text)[1:-1]


_SCALARS = frozenset({int, float, bool, type(None)})


def type_label(value: object) -> str:
    """``<int>``, ``<_io.BytesIO>``: how an object is shown instead of its repr."""
    cls = type(value)
    if cls.__module__ == "builtins":
        return f"<{cls.__qualname__}>"
    return f"<{cls.__module__}.{cls.__qualname__}>"


def show_environ_value(
    key: str, value: object, names: re.Pattern[str] = SECRET_NAME
) -> str:
    """How one environ value may be shown in a log or a debug page.

    Secrets are redacted; strings are shown with secret query values
    redacted; numbers, booleans, None and tuples of them as their repr; any
    other object only by its type, since its repr can be huge, can raise or
    can hold secrets (a parsed cookie jar, a cached query dict).
    """
    if is_secret_environ_key(key, names):
        return REDACTED
    if type(value) is str:
        if key == "QUERY_STRING":
            # A query, not a URL: a '?' inside it is data, not where a query
            # starts (token=SECRET&next=/a?b=1 must lose its token).
            return repr(redact_query(value, names))
        return repr(redact_url(value, names))
    if type(value) in _SCALARS or (
        type(value) is tuple and all(type(item) in _SCALARS for item in value)
    ):
        return repr(value)
    return type_label(value)
