"""What counts as a secret, and how to hide it in logs and debug pages.

One place for every middleware that shows request data (ErrorHandler's
debug page, AccessLog, EnvironLog), so they agree on what never leaves.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote_to_bytes

__all__ = [
    "REDACTED",
    "SECRET_ENVIRON_KEYS",
    "SECRET_NAME",
    "is_secret_environ_key",
    "redact_query",
    "secret_names",
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
    r"pass|pwd|secret|token|api[-_]?key|auth|session|csrf|credential|signature"
    r"|\A(?:sig|code|key|otp|pin)\Z",
    re.IGNORECASE,
)


def secret_names(extra: Iterable[str] = ()) -> re.Pattern[str]:
    """`SECRET_NAME` widened by ``extra`` names (each matched whole)."""
    names = [re.escape(name) for name in extra]
    if not names:
        return SECRET_NAME
    return re.compile(
        f"{SECRET_NAME.pattern}|\\A(?:{'|'.join(names)})\\Z", re.IGNORECASE
    )


def is_secret_environ_key(key: str, names: re.Pattern[str] = SECRET_NAME) -> bool:
    """Whether an environ key's value must not be shown."""
    if key in SECRET_ENVIRON_KEYS:
        return True
    name = key[5:] if key.startswith("HTTP_") else key
    return bool(names.search(name))


def redact_query(query: str, names: re.Pattern[str] = SECRET_NAME) -> str:
    """``query`` with the values of secret-looking parameters replaced.

    Works on the raw query string (PEP 3333: bytes held as latin-1) and
    leaves every other byte as it was; names are percent-decoded before
    matching, so ``pass%77ord`` is caught too.
    """
    if not query:
        return query
    fields = query.split("&")
    changed = False
    for index, field in enumerate(fields):
        name, equals, _value = field.partition("=")
        if not equals:
            continue
        decoded = unquote_to_bytes(name.replace("+", " ")).decode("latin-1")
        if names.search(decoded):
            fields[index] = f"{name}={REDACTED}"
            changed = True
    return "&".join(fields) if changed else query
