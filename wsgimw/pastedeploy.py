"""PasteDeploy filter factories: every wsgimw middleware in an .ini pipeline.

wsgimw registers one ``paste.filter_factory`` entry point per middleware, so
a PasteDeploy file can put them in a pipeline::

    [pipeline:main]
    pipeline = errors gzip myapp

    [filter:gzip]
    use = egg:wsgimw#compress
    minimum_size = 500

Each factory takes PasteDeploy's ``(global_conf, **local_conf)``, turns the
.ini strings into the middleware's keyword options and returns the
middleware instance, which is the ``app -> app`` callable PasteDeploy
expects of a filter. An option the middleware does not have, or a value
that cannot be converted, is a `ValueError` that names the option and the
filter; the middleware's own checks then run as they do in Python.

``global_conf`` (the ``[DEFAULT]`` section, ``here`` and ``__file__``) is
read for one thing, as PasteDeploy's convention has it: ``debug`` for
``egg:wsgimw#errors`` when the filter's section does not set it. Any other
option of a filter that ``[DEFAULT]`` also defines is refused: PasteDeploy
drops such a name from every section, so the section's own value would be
ignored without a word.

This module never imports PasteDeploy: it only converts strings.
"""

from __future__ import annotations

import builtins
import difflib
import importlib
import logging
import math
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from .accesslog import AccessLog
from .auth import BasicAuth, BearerAuth
from .compress import Compress
from .conditional import ConditionalGet
from .cors import CORS
from .csrf import CrossOriginGuard
from .environlog import EnvironLog
from .errors import ErrorHandler
from .hosts import HTTPSRedirect, TrustedHost
from .mount import Mount, check_prefix
from .proxy import ProxyHeaders
from .query import QueryParser
from .requestid import RequestId
from .rewrite import Rewrite
from .security import SecurityHeaders
from .static import StaticFiles

if TYPE_CHECKING:
    from .metrics import Metrics
    from .ratelimit import RateLimit

__all__ = [
    "accesslog",
    "basic_auth",
    "bearer_auth",
    "compress",
    "conditional",
    "cors",
    "cross_origin_guard",
    "environlog",
    "errors",
    "https_redirect",
    "metrics",
    "proxy_headers",
    "query",
    "ratelimit",
    "request_id",
    "rewrite",
    "security_headers",
    "static",
    "trusted_host",
    "urlmap",
]

_M = TypeVar("_M")

_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_LIST_SEPARATOR = re.compile(r"[\s,]+")
#: RFC 6750 b64token text as long as BearerAuth's shortest token: a "user
#: name" like this is a token written in the wrong place.
_TOKEN_LIKE = re.compile(r"[A-Za-z0-9\-._~+/]{16,}=*\Z")
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


@dataclass(frozen=True)
class _Form:
    """How one kind of .ini value becomes a Python value. ``parse`` raises
    `ValueError` with what was wrong; the factory adds the option's name,
    the filter's and ``expected``."""

    expected: str
    parse: Callable[[str], object]


# -- the converters ---------------------------------------------------------------


def _text(text: str) -> str:
    return text


def _words(text: str) -> list[str]:
    return [word for word in _LIST_SEPARATOR.split(text) if word]


def _integer(text: str) -> int:
    if not _INTEGER.match(text.strip()):
        raise ValueError(f"got {text!r}")
    return int(text)


def _limit(text: str) -> int | None:
    return None if text.strip().lower() == "none" else _integer(text)


def _number(text: str) -> float:
    if _INTEGER.match(text.strip()):
        return int(text)  # 60 stays 60, as it would be written in Python
    # Plain decimal notation only: float() would also take "1_000", "nan"
    # and digits of other scripts.
    if not _DECIMAL.match(text.strip()):
        raise ValueError(f"got {text!r}")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"got {text!r}")
    return value


def _boolean(text: str) -> bool:
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"got {text!r}")


def _resolve(text: str) -> object:
    """The object a ``module:attribute`` reference names."""
    module_name, colon, attribute = text.strip().partition(":")
    if not (colon and _DOTTED.match(module_name) and _DOTTED.match(attribute)):
        raise ValueError(f"got {text!r}")
    try:
        target: object = importlib.import_module(module_name)
    except Exception as error:  # the module itself may fail, not only be absent
        raise ValueError(
            f"cannot import {module_name!r}: {type(error).__name__}: {error}"
        ) from None
    for name in attribute.split("."):
        try:
            target = getattr(target, name)
        except AttributeError:
            raise ValueError(
                f"{module_name!r} has no attribute {attribute!r}"
            ) from None
    return target


def _callable(text: str) -> Callable[..., object]:
    target = _resolve(text)
    if not callable(target):
        raise ValueError(
            f"{text.strip()} is not callable: its type is {type(target).__name__}"
        )
    return target


def _exception_class(text: str) -> object:
    """A ``module:Class`` reference, or the name of a built-in exception."""
    found = _resolve(text) if ":" in text else getattr(builtins, text, None)
    if not (isinstance(found, type) and issubclass(found, Exception)):
        kind = "an" if ":" in text else "a built-in"
        raise ValueError(
            f"{text!r} is not {kind} Exception class (ErrorHandler never "
            "handles BaseException such as KeyboardInterrupt)"
        )
    return found


def _path(text: str) -> str:
    """An absolute file path: a relative one would depend on the folder the
    server starts in, and in a section included from another .ini file
    even ``here`` names the wrong folder."""
    path = text.strip()
    if not os.path.isabs(path):
        raise ValueError(
            f"got {text!r}, which is not absolute; for a file next to the .ini "
            "write %(here)s/NAME"
        )
    return path


def _token_entry(text: str) -> str:
    """The user name after a token, checked against tokens in its place."""
    if _TOKEN_LIKE.match(text):
        raise ValueError(
            "the user name after the token looks like a token itself (16 or "
            "more token characters); write each token on a line of its own, "
            "the token first, then a short user name"
        )
    if len(text.split()) > 1:
        raise ValueError(
            "a line holds more than a token and a user name; write each "
            "token on a line of its own"
        )
    return text


def _logger(text: str) -> logging.Logger:
    name = text.strip()
    if not name:
        raise ValueError("got an empty name")
    return logging.getLogger(name)


def _stream(text: str) -> object:
    word = text.strip().lower()
    if word not in ("stdout", "stderr"):
        raise ValueError(f"got {text!r}")
    return getattr(sys, word)


def _pairs(
    separator: str | None,
    key: Callable[[str], object],
    value: Callable[[str], object],
    *,
    secret: bool,
    default: str | None = None,
) -> Callable[[str], dict[object, object]]:
    """A mapping written one ``key<separator>value`` per line (``None``: any
    whitespace). Errors count entries, the lines that are not blank (a value
    that starts on the next line begins with an empty one, and the .ini
    parser drops comment lines). With ``secret``, an error names the entry,
    never its text."""

    def parse(text: str) -> dict[object, object]:
        mapping: dict[object, object] = {}
        first_entry: dict[object, int] = {}
        entries = [line.strip() for line in text.splitlines() if line.strip()]
        for number, entry in enumerate(entries, 1):
            parts = entry.split(separator, 1)
            if len(parts) == 2:
                raw_key, raw_value = parts
            elif default is not None:
                raw_key, raw_value = parts[0], default
            else:
                shown = f"entry {number}" if secret else repr(entry)
                missing = repr(separator) if separator else "value"
                raise ValueError(f"{shown} has no {missing}")
            try:
                item = key(raw_key.strip())
                mapping[item] = value(raw_value.strip())
            except ValueError as error:
                raise ValueError(f"entry {number}: {error}") from None
            if item in first_entry:
                raise ValueError(
                    f"entry {number} repeats the key of entry {first_entry[item]}"
                )
            first_entry[item] = number
        return mapping

    return parse


_TEXT = _Form("text", _text)
_OPTIONAL_TEXT = _Form(
    "text, or none to leave it out",
    lambda text: None if text.strip().lower() == "none" else text.strip(),
)
_ONE_LINE = _Form("text, which may span lines", lambda text: " ".join(text.split()))
_POLICY = _Form(
    "a policy, one directive (or several, split by ';') per line",
    lambda text: "; ".join(
        line.strip().rstrip(";") for line in text.splitlines() if line.strip()
    ),
)
_WORDS = _Form("words separated by spaces, commas or newlines", _words)
_PATH = _Form("an absolute path, e.g. %(here)s/site.htpasswd", _path)
_INT = _Form("a whole number, e.g. 500", _integer)
_LIMIT = _Form("a whole number, or none for no limit", _limit)
_NUMBER = _Form("a number, e.g. 60 or 0.5", _number)
_BOOL = _Form("true or false (or yes/no, on/off, 1/0)", _boolean)
_CALLABLE = _Form(
    "a reference module:attribute to a callable, e.g. myapp.hooks:report", _callable
)
_LOGGER = _Form("a logger name, e.g. myapp.access", _logger)
_STREAM = _Form("stdout or stderr", _stream)
_USERS = _Form(
    "one user:hash per line, as htpasswd -nB USER prints it",
    _pairs(":", _text, _text, secret=True),
)
_TOKENS = _Form(
    "one token per line, each optionally followed by its user name",
    _pairs(None, _text, _token_entry, secret=True, default="bearer"),
)
_STATUSES = _Form(
    "one exception class and status per line, e.g. PermissionError 403 "
    "or myapp.errors:Gone 410",
    _pairs(None, _exception_class, _integer, secret=False),
)

# -- one table per middleware: every keyword option, by .ini form -------------------

_ERRORS = {
    "debug": _BOOL,
    "on_error": _CALLABLE,
    "statuses": _STATUSES,
    "http_exceptions": _BOOL,
    "logger": _LOGGER,
}
_QUERY = {
    "charset": _TEXT,
    "errors": _TEXT,
    "max_length": _LIMIT,
    "max_fields": _LIMIT,
}
_ACCESSLOG = {
    "format": _TEXT,
    "logger": _LOGGER,
    "stream": _STREAM,
    "trusted_proxies": _INT,
    "redact": _WORDS,
}
_ENVIRONLOG = {
    "include": _WORDS,
    "exclude": _WORDS,
    "redact": _WORDS,
    "response": _BOOL,
    "logger": _LOGGER,
}
_COMPRESS = {
    "minimum_size": _INT,
    "content_types": _WORDS,
    "encodings": _WORDS,
    "gzip_level": _INT,
    "brotli_quality": _INT,
    "zstd_level": _INT,
    "flush": _TEXT,
    "etag": _TEXT,
    "file_wrapper": _BOOL,
    "breach_padding": _INT,
}
_AUTH = {
    "realm": _TEXT,
    "exempt": _WORDS,
    "protect": _WORDS,
    "allow_preflight": _BOOL,
}
_BASIC_AUTH = {
    "htpasswd": _PATH,
    "users": _USERS,
    "check": _CALLABLE,
    "allow_plaintext": _BOOL,
    "cache_seconds": _NUMBER,
    "cache_size": _INT,
    **_AUTH,
}
_BEARER_AUTH = {
    "tokens": _TOKENS,
    "verify": _CALLABLE,
    "scopes": _WORDS,
    **_AUTH,
}
_REWRITE = {
    "headers": _CALLABLE,
    "body": _CALLABLE,
    "text": _CALLABLE,
    "buffered": _BOOL,
    "max_size": _INT,
    "content_types": _WORDS,
}
_SECURITY_HEADERS = {
    "hsts_max_age": _LIMIT,
    "hsts_include_subdomains": _BOOL,
    "hsts_preload": _BOOL,
    "content_type_options": _BOOL,
    "frame_options": _OPTIONAL_TEXT,
    "referrer_policy": _OPTIONAL_TEXT,
    "cross_origin_opener_policy": _OPTIONAL_TEXT,
    "cross_origin_resource_policy": _OPTIONAL_TEXT,
    "permissions_policy": _ONE_LINE,
    "content_security_policy": _POLICY,
    "csp_report_only": _BOOL,
}
_CORS = {
    "origins": _WORDS,
    "origin_regex": _TEXT,
    "methods": _WORDS,
    "headers": _WORDS,
    "expose_headers": _WORDS,
    "allow_credentials": _BOOL,
    "max_age": _LIMIT,
    "allow_private_network": _BOOL,
    "paths": _WORDS,
    "always_vary": _BOOL,
    "logger": _LOGGER,
}
_CROSS_ORIGIN_GUARD = {
    "trusted_origins": _WORDS,
    "exempt": _WORDS,
    "report_only": _BOOL,
    "logger": _LOGGER,
}
_PROXY_HEADERS = {"trusted": _WORDS, "headers": _TEXT}
_TRUSTED_HOST = {"hosts": _WORDS}
_HTTPS_REDIRECT = {"exempt": _WORDS, "port": _INT}
_REQUEST_ID = {"header": _TEXT, "incoming": _BOOL, "generator": _CALLABLE}

_STATIC = {
    "directory": _PATH,
    "prefix": _TEXT,
    "max_age": _LIMIT,
    "immutable": _Form(
        "a regular expression, or none for no content-hashed names",
        lambda text: None if text.strip().lower() == "none" else text.strip(),
    ),
    "fallthrough": _BOOL,
    "autorefresh": _BOOL,
    "content_types": _Form(
        "one suffix and media type per line, e.g. .md text/markdown",
        _pairs(None, _text, _text, secret=False),
    ),
}
_CONDITIONAL = {"etag": _BOOL}


def _build(
    name: str,
    middleware: Callable[..., _M],
    table: Mapping[str, _Form],
    global_conf: Mapping[str, object],
    local_conf: Mapping[str, object],
) -> _M:
    """``middleware(**options)`` from the .ini strings of filter ``name``."""
    for option in sorted(table.keys() & global_conf.keys() - local_conf.keys()):
        raise ValueError(
            f"egg:wsgimw#{name}: [DEFAULT] defines {option!r}, one of this "
            f"filter's options, so PasteDeploy drops {option!r} from the "
            "filter's section and any value written there would be ignored; "
            "rename the variable in [DEFAULT]"
        )
    for option in local_conf:
        if option not in table:
            near = difflib.get_close_matches(option, table, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise ValueError(
                f"egg:wsgimw#{name} has no option {option!r}{hint}; "
                f"its options are: {', '.join(sorted(table))}"
            )
    options: dict[str, Any] = {}
    for option, text in local_conf.items():
        form = table[option]
        if not isinstance(text, str):
            raise TypeError(
                f"egg:wsgimw#{name} option {option}: .ini values are str, "
                f"got {type(text).__name__}"
            )
        try:
            options[option] = form.parse(text)
        except ValueError as error:
            raise ValueError(
                f"egg:wsgimw#{name} option {option}: expected {form.expected}; {error}"
            ) from None
    return middleware(**options)


# -- the factories: PasteDeploy's filter_factory(global_conf, **local_conf) ---------


def errors(global_conf: Mapping[str, object], **local_conf: str) -> ErrorHandler:
    """`ErrorHandler`. ``debug`` comes from ``[DEFAULT]`` when the section
    does not set it (PasteDeploy's convention for debug pages)."""
    defaults = dict(global_conf)
    debug = defaults.pop("debug", None)
    if "debug" not in local_conf and debug is not None:
        # A program may pass global_conf itself, with a real bool.
        local_conf["debug"] = str(debug)
    return _build("errors", ErrorHandler, _ERRORS, defaults, local_conf)


def query(global_conf: Mapping[str, object], **local_conf: str) -> QueryParser:
    """`QueryParser`."""
    return _build("query", QueryParser, _QUERY, global_conf, local_conf)


def accesslog(global_conf: Mapping[str, object], **local_conf: str) -> AccessLog:
    """`AccessLog`."""
    return _build("accesslog", AccessLog, _ACCESSLOG, global_conf, local_conf)


def environlog(global_conf: Mapping[str, object], **local_conf: str) -> EnvironLog:
    """`EnvironLog`."""
    return _build("environlog", EnvironLog, _ENVIRONLOG, global_conf, local_conf)


def compress(global_conf: Mapping[str, object], **local_conf: str) -> Compress:
    """`Compress`."""
    return _build("compress", Compress, _COMPRESS, global_conf, local_conf)


def basic_auth(global_conf: Mapping[str, object], **local_conf: str) -> BasicAuth:
    """`BasicAuth`. ``htpasswd`` must be an absolute path:
    ``%(here)s/site.htpasswd`` for a file next to the .ini."""
    return _build("basic_auth", BasicAuth, _BASIC_AUTH, global_conf, local_conf)


def bearer_auth(global_conf: Mapping[str, object], **local_conf: str) -> BearerAuth:
    """`BearerAuth`."""
    return _build("bearer_auth", BearerAuth, _BEARER_AUTH, global_conf, local_conf)


def rewrite(global_conf: Mapping[str, object], **local_conf: str) -> Rewrite:
    """`Rewrite`."""
    return _build("rewrite", Rewrite, _REWRITE, global_conf, local_conf)


def security_headers(
    global_conf: Mapping[str, object], **local_conf: str
) -> SecurityHeaders:
    """`SecurityHeaders`. ``none`` leaves out a header that has a default
    (``frame_options = none``); a policy may span lines."""
    return _build(
        "security_headers", SecurityHeaders, _SECURITY_HEADERS, global_conf, local_conf
    )


def cors(global_conf: Mapping[str, object], **local_conf: str) -> CORS:
    """`CORS`. ``max_age = none`` sends no Access-Control-Max-Age."""
    return _build("cors", CORS, _CORS, global_conf, local_conf)


def cross_origin_guard(
    global_conf: Mapping[str, object], **local_conf: str
) -> CrossOriginGuard:
    """`CrossOriginGuard`."""
    return _build(
        "cross_origin_guard",
        CrossOriginGuard,
        _CROSS_ORIGIN_GUARD,
        global_conf,
        local_conf,
    )


def proxy_headers(global_conf: Mapping[str, object], **local_conf: str) -> ProxyHeaders:
    """`ProxyHeaders`. ``trusted`` is required: the proxies' addresses and
    networks, separated by spaces, commas or newlines."""
    return _build(
        "proxy_headers", ProxyHeaders, _PROXY_HEADERS, global_conf, local_conf
    )


def trusted_host(global_conf: Mapping[str, object], **local_conf: str) -> TrustedHost:
    """`TrustedHost`. ``hosts`` is required."""
    return _build("trusted_host", TrustedHost, _TRUSTED_HOST, global_conf, local_conf)


def https_redirect(
    global_conf: Mapping[str, object], **local_conf: str
) -> HTTPSRedirect:
    """`HTTPSRedirect`."""
    return _build(
        "https_redirect", HTTPSRedirect, _HTTPS_REDIRECT, global_conf, local_conf
    )


def request_id(global_conf: Mapping[str, object], **local_conf: str) -> RequestId:
    """`RequestId`."""
    return _build("request_id", RequestId, _REQUEST_ID, global_conf, local_conf)


def static(global_conf: Mapping[str, object], **local_conf: str) -> StaticFiles:
    """`StaticFiles`. ``directory`` must be absolute: ``%(here)s/static``
    for a folder next to the .ini; ``max_age = none`` sends no Cache-Control
    for names that are not content-hashed."""
    return _build("static", StaticFiles, _STATIC, global_conf, local_conf)


def conditional(global_conf: Mapping[str, object], **local_conf: str) -> ConditionalGet:
    """`ConditionalGet`."""
    return _build("conditional", ConditionalGet, _CONDITIONAL, global_conf, local_conf)


def urlmap(
    loader: Any, global_conf: Mapping[str, object], **local_conf: str
) -> Callable[..., Any]:
    """A ``paste.composite_factory`` equivalent to Paste's ``urlmap``: each
    key that starts with ``/`` mounts the app of that name there (a `Mount`
    URL map, the longest prefix first); ``/`` names the app for every other
    path, or ``not_found_app`` does; without either, other paths get a 404.
    ``redirect_slash = true`` redirects ``/api`` to ``/api/``."""
    mounts: dict[str, Any] = {}
    fallback_name = None
    options: dict[str, str] = {}
    for key, value in local_conf.items():
        if not isinstance(value, str):
            raise TypeError(
                f"egg:wsgimw#urlmap {key}: .ini values are str, got {type(value).__name__}"
            )
        if key.startswith("/") and key.strip("/"):
            try:
                prefix = check_prefix(key)
            except ValueError as error:
                raise ValueError(f"egg:wsgimw#urlmap {key}: {error}") from None
            if prefix in mounts:
                raise ValueError(f"egg:wsgimw#urlmap mounts two apps at {prefix!r}")
            mounts[prefix] = value.strip()
        elif key.startswith("/"):
            fallback_name = value.strip()
        elif key in ("not_found_app", "redirect_slash"):
            options[key] = value
        else:
            raise ValueError(
                f"egg:wsgimw#urlmap has no option {key!r}: write a path that "
                "starts with '/' and the name of an app, or not_found_app, "
                "or redirect_slash"
            )
    if "not_found_app" in options:
        if fallback_name is not None:
            raise ValueError(
                "egg:wsgimw#urlmap: both '/' and not_found_app name the app for "
                "other paths; keep one"
            )
        fallback_name = options["not_found_app"].strip()
    if not mounts:
        raise ValueError(
            "egg:wsgimw#urlmap mounts nothing: add lines such as '/api = api'"
        )
    redirect = False
    if "redirect_slash" in options:
        try:
            redirect = _boolean(options["redirect_slash"])
        except ValueError as error:
            raise ValueError(
                f"egg:wsgimw#urlmap option redirect_slash: expected "
                f"{_BOOL.expected}; {error}"
            ) from None
    apps = {
        prefix: loader.get_app(name, global_conf=global_conf)
        for prefix, name in mounts.items()
    }
    if fallback_name is None:
        fallback = _not_found
    else:
        fallback = loader.get_app(fallback_name, global_conf=global_conf)
    return Mount(apps, redirect_slash=redirect)(fallback)


def _not_found(environ: Any, start_response: Any) -> list[bytes]:
    from ._response import plain_response

    return plain_response(environ, start_response, "404 Not Found", "not found\n")


# -- scale-out: imported when used, as each needs its extra ------------------------

_NUMBERS = _Form(
    "numbers separated by spaces or commas, e.g. 0.05 0.25 1 5",
    lambda text: [_number(word) for word in _words(text)],
)
_RATELIMIT = {
    "limit": _TEXT,
    "key": _TEXT,
    "key_function": _CALLABLE,
    "storage": _TEXT,
    "strategy": _TEXT,
    "fail_open": _BOOL,
    "timeout": _NUMBER,
    "exempt": _WORDS,
    "cost": _INT,
    "cost_function": _CALLABLE,
    "headers": _BOOL,
    "scope": _TEXT,
    "log_interval": _NUMBER,
    "logger": _LOGGER,
}
_METRICS = {
    "path": _TEXT,
    "namespace": _TEXT,
    "route": _CALLABLE,
    "max_routes": _INT,
    "buckets": _NUMBERS,
    "check": _CALLABLE,
    "multiprocess": _BOOL,
}


def _rate_limit(**options: Any) -> RateLimit:
    from .ratelimit import RateLimit

    for name in ("key", "cost"):
        function = options.pop(f"{name}_function", None)
        if function is not None:
            if name in options:
                raise ValueError(
                    f"egg:wsgimw#ratelimit: give {name} or {name}_function, not both"
                )
            options[name] = function
    if "limit" not in options:
        raise ValueError(
            "egg:wsgimw#ratelimit needs a limit, e.g. limit = 100/minute "
            "(or 10/second; 1000/hour)"
        )
    return RateLimit(options.pop("limit"), **options)


def ratelimit(global_conf: Mapping[str, object], **local_conf: str) -> RateLimit:
    """`RateLimit` (needs ``wsgimw[ratelimit]``). ``limit`` is required.
    ``key`` takes the names (``client``, ``user``, ``global``,
    ``header:X-Api-Key``); ``key_function`` and ``cost_function`` name
    functions as ``module:attribute``."""
    return _build("ratelimit", _rate_limit, _RATELIMIT, global_conf, local_conf)


def metrics(global_conf: Mapping[str, object], **local_conf: str) -> Metrics:
    """`Metrics` (needs ``wsgimw[metrics]``), counting into
    prometheus-client's global registry; ``route`` and ``check`` name
    functions as ``module:attribute``."""
    from .metrics import Metrics

    return _build("metrics", Metrics, _METRICS, global_conf, local_conf)
