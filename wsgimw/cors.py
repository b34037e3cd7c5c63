"""CORS: let pages on other origins call an API, and no one else.

A request without an Origin header is not a CORS request and passes
untouched. An allowed origin's response gets ``Access-Control-Allow-Origin``
(and the credentials and exposed-headers headers configured); a disallowed
origin's gets none. Whenever the answer depends on the Origin, ``Vary:
Origin`` is merged into the app's Vary, so a cache never serves one origin's
answer to another (flask-cors #148). A preflight (OPTIONS with
Access-Control-Request-Method) is answered here, never by the app: 204 with
exactly what is allowed, or a 403 that says what was not.

Origins are matched exactly, against ``https://*.example.com`` patterns
(one or more labels in front of the domain, never the domain itself), or
against ``origin_regex``, which must match the **whole** origin (a search
or a start-only match let ``https://example.org.evil.com`` in at Starlette,
#800). Paths in ``paths=`` are prefixes on whole segments, matched case
sensitively against PATH_INFO as the server decoded it, once (flask-cors
CVE-2024-6866, -6844, -6839).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from typing import Final

from ._browser import ORIGIN, check_origin, check_prefixes, merge_vary, under
from ._options import flag, logger_option
from ._response import plain_response, rewrite_start_response
from .types import Environ, Headers, StartResponse, WSGIApp

__all__ = ["CORS"]

_Hook = Callable[[str, Headers], tuple[str, Headers]]

#: An HTTP token (RFC 9110), the syntax of method and header names.
_TOKEN: Final = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
#: The labels a ``*`` stands for in ``https://*.example.com``.
_LABELS: Final = re.compile(
    r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*\Z"
)
_ORIGIN_VARY: Final = ("Origin",)
_PREFLIGHT_VARY: Final = (
    "Origin",
    "Access-Control-Request-Method",
    "Access-Control-Request-Headers",
)
_SAFE_METHODS: Final = ("GET", "HEAD", "POST")
#: Longer Origin values never reach a pattern or origin_regex: a scheme,
#: a 253-character host name and a port fit well within it.
_LONGEST_ORIGIN: Final = 300
#: Response headers that send a CORS response off the one-pass path.
_SPECIAL: Final = frozenset({"vary", "access-control-allow-origin"})


def _tokens(value: object, option: str, *, lower: bool) -> tuple[str, ...]:
    if isinstance(value, str):
        raise TypeError(f"{option} takes a list, e.g. {option}=[{value!r}]")
    if not isinstance(value, Iterable):
        raise TypeError(f"{option} must be a list of names, got {value!r}")
    names: list[str] = []
    for name in value:
        if not isinstance(name, str) or not (name == "*" or _TOKEN.match(name)):
            raise ValueError(
                f"{option} holds {name!r}, which is not an HTTP token "
                "(letters, digits and !#$%&'*+-.^_`|~)"
            )
        names.append(name.lower() if lower else name)
    if "*" in names and len(names) > 1:
        raise ValueError(f"{option}: '*' already means every name; list nothing else")
    return tuple(dict.fromkeys(names))


def _wildcard(origin: str, option: str) -> tuple[str, str]:
    """``https://*.example.com[:port]`` as what an origin starts and ends with."""
    scheme, _, rest = origin.partition("://*.")
    checked = check_origin(f"{scheme}://{rest}", option)
    if "." not in rest.partition(":")[0] or rest.startswith("["):
        raise ValueError(
            f"{option} holds {origin!r}: a '*' pattern needs a domain with a "
            "dot after it, e.g. 'https://*.example.com'"
        )
    return f"{scheme}://", checked[len(scheme) + 3 :]


class CORS:
    """Answer CORS preflights and add CORS headers for allowed origins.

    Args:
        origins: the allowed origins: exact (``"https://app.example.com"``,
            with a port when it is not the default), patterns
            (``"https://*.example.com"``: any subdomain, not the domain
            itself), or ``["*"]`` for any origin (no credentials then).
        origin_regex: a regular expression (str or compiled) that must match
            the whole origin, e.g. ``r"https://pr-[0-9]+\\.preview\\.example\\.com"``.
        methods: what a preflight may ask for; ``["*"]`` for any (without
            credentials).
        headers: request headers a preflight may ask for, e.g.
            ``["content-type", "authorization"]``; ``["*"]`` for any
            (without credentials; browsers never read it as Authorization).
        expose_headers: response headers the page's script may read.
        allow_credentials: let cookies and HTTP auth go with the request and
            the page read the answer. Refused with ``origins=["*"]``.
        max_age: seconds a browser may keep a preflight's answer, or None.
        allow_private_network: answer Chrome's Private Network Access
            preflight (a public page calling a server on a private address);
            off by default, as a request from the internet to your intranet
            should be.
        paths: path prefixes CORS applies to, e.g. ``["/api"]``; None for
            every path.
        always_vary: also add ``Vary: Origin`` to responses to requests that
            carry no Origin (see the reference page: it costs a header
            rewrite on every request).
        logger: where refused preflights are logged (DEBUG); default
            ``logging.getLogger("wsgimw.cors")``.
    """

    __slots__ = (
        "_always_vary",
        "_any",
        "_credentials",
        "_exact",
        "_expose",
        "_headers",
        "_logger",
        "_max_age",
        "_methods",
        "_prefixes",
        "_private_network",
        "_regex",
        "_shown",
        "_wildcards",
    )

    def __init__(
        self,
        *,
        origins: Iterable[str] = (),
        origin_regex: str | re.Pattern[str] | None = None,
        methods: Iterable[str] = _SAFE_METHODS,
        headers: Iterable[str] = (),
        expose_headers: Iterable[str] = (),
        allow_credentials: bool = False,
        max_age: int | None = 600,
        allow_private_network: bool = False,
        paths: Iterable[str] | None = None,
        always_vary: bool = False,
        logger: logging.Logger | logging.LoggerAdapter[logging.Logger] | None = None,
    ) -> None:
        if isinstance(origins, str):
            raise TypeError(f"origins takes a list, e.g. origins=[{origins!r}]")
        listed = list(origins)
        credentials = flag("allow_credentials", allow_credentials)
        self._any = "*" in listed
        if self._any and len(listed) > 1:
            raise ValueError(
                "origins: '*' already allows every origin; list nothing else"
            )
        if self._any and credentials:
            raise ValueError(
                "allow_credentials=True with origins=['*'] would let every site "
                "read your users' answers with their cookies; list the origins "
                "(or use origin_regex) instead"
            )
        if self._any and origin_regex is not None:
            raise ValueError(
                "origins=['*'] already allows every origin; drop origin_regex"
            )
        exact: list[str] = []
        wildcards: list[tuple[str, str]] = []
        for origin in listed:
            if self._any:
                break
            if isinstance(origin, str) and "://*." in origin:
                wildcards.append(_wildcard(origin.lower(), "origins"))
            elif isinstance(origin, str) and "*" in origin:
                raise ValueError(
                    f"origins holds {origin!r}: '*' may only stand for the "
                    "subdomain labels, as in 'https://*.example.com'"
                )
            else:
                exact.append(check_origin(origin, "origins"))
        self._exact = frozenset(exact)
        self._wildcards = tuple(wildcards)
        if origin_regex is None:
            self._regex: re.Pattern[str] | None = None
        elif isinstance(origin_regex, (str, re.Pattern)):
            try:
                self._regex = re.compile(origin_regex)
            except re.error as error:
                raise ValueError(f"origin_regex does not compile: {error}") from None
        else:
            raise TypeError(
                f"origin_regex must be a str or re.Pattern, got {origin_regex!r}"
            )
        if not (self._any or exact or wildcards or self._regex is not None):
            raise ValueError(
                "CORS needs origins=[...] (or origin_regex=...): with neither, "
                "no origin would ever be allowed"
            )
        self._methods = _tokens(methods, "methods", lower=False)
        self._headers = _tokens(headers, "headers", lower=True)
        self._expose = _tokens(expose_headers, "expose_headers", lower=False)
        for option, names in (
            ("methods", self._methods),
            ("headers", self._headers),
            ("expose_headers", self._expose),
        ):
            if credentials and names == ("*",):
                raise ValueError(
                    f"{option}=['*'] with allow_credentials=True: browsers take "
                    "'*' literally on credentialed requests; list the names"
                )
        if not self._methods:
            raise ValueError("methods must name at least one method, e.g. ['GET']")
        self._credentials = credentials
        if max_age is not None and (
            isinstance(max_age, bool) or not isinstance(max_age, int) or max_age < 0
        ):
            raise ValueError(
                f"max_age must be an int of seconds >= 0 or None, got {max_age!r}"
            )
        self._max_age = max_age
        self._private_network = flag("allow_private_network", allow_private_network)
        self._prefixes = check_prefixes(paths, "paths")
        self._always_vary = flag("always_vary", always_vary)
        self._logger = logger_option("logger", logger, "wsgimw.cors")
        shown = [f"origins={listed!r}"]
        if self._regex is not None:
            shown.append(f"origin_regex={self._regex.pattern!r}")
        if self._methods != _SAFE_METHODS:
            shown.append(f"methods={list(self._methods)!r}")
        for name, value in (
            ("headers", self._headers),
            ("expose_headers", self._expose),
            ("paths", self._prefixes),
        ):
            if value:
                shown.append(f"{name}={list(value)!r}")
        if credentials:
            shown.append("allow_credentials=True")
        if max_age != 600:
            shown.append(f"max_age={max_age!r}")
        if self._private_network:
            shown.append("allow_private_network=True")
        if self._always_vary:
            shown.append("always_vary=True")
        self._shown = ", ".join(shown)

    def __repr__(self) -> str:
        return f"CORS({self._shown})"

    def allows(self, origin: str) -> bool:
        """Whether ``origin`` (an Origin header's value) is allowed."""
        if self._any or origin in self._exact:
            return True
        if (
            not (self._wildcards or self._regex is not None)
            or len(origin) > _LONGEST_ORIGIN
            or not ORIGIN.match(origin)
        ):
            return False
        for start, end in self._wildcards:
            if origin.startswith(start) and origin.endswith(end):
                labels = origin[len(start) : -len(end)]
                if labels.endswith(".") and _LABELS.match(labels[:-1]):
                    return True
        return self._regex is not None and self._regex.fullmatch(origin) is not None

    def _response_headers(self, origin: str) -> Headers:
        """What an allowed origin's actual response gets."""
        headers = [("Access-Control-Allow-Origin", "*" if self._any else origin)]
        if self._credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        if self._expose:
            headers.append(("Access-Control-Expose-Headers", ", ".join(self._expose)))
        return headers

    def _preflight_headers(self, origin: str, private_network: bool) -> Headers:
        headers = self._response_headers(origin)[:1]
        if self._credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        headers.append(("Access-Control-Allow-Methods", ", ".join(self._methods)))
        if self._headers:
            headers.append(("Access-Control-Allow-Headers", ", ".join(self._headers)))
        if self._max_age is not None:
            headers.append(("Access-Control-Max-Age", str(self._max_age)))
        if private_network:
            headers.append(("Access-Control-Allow-Private-Network", "true"))
        headers.append(("Vary", ", ".join(_PREFLIGHT_VARY)))
        return headers

    def _refusal(self, environ: Environ) -> str | None:
        """Why a preflight from an allowed origin is refused, or None."""
        method = environ["HTTP_ACCESS_CONTROL_REQUEST_METHOD"]
        if not _TOKEN.match(method):
            return "Access-Control-Request-Method is not a method name"
        if self._methods != ("*",) and method not in self._methods:
            return (
                f"method {method!r} is not allowed; allowed: {', '.join(self._methods)}"
            )
        asked = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "")
        for name in asked.split(","):
            name = name.strip().lower()
            if not name:
                continue
            if not _TOKEN.match(name):
                return "Access-Control-Request-Headers holds a name that is not a token"
            if self._headers != ("*",) and name not in self._headers:
                return f"header {name!r} is not allowed" + (
                    f"; allowed: {', '.join(self._headers)}" if self._headers else ""
                )
        pna = environ.get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK", "")
        if pna.lower() == "true" and not self._private_network:
            return "private network access is not allowed (allow_private_network)"
        return None

    def __call__(self, app: WSGIApp) -> WSGIApp:
        if not callable(app):
            raise TypeError(f"CORS wraps a WSGI app (a callable), got {app!r}")
        prefixes = self._prefixes
        allows = self.allows
        always_vary = self._always_vary
        # With '*' the answer is the same whatever the Origin: no Vary.
        vary = () if self._any else _ORIGIN_VARY

        def vary_only(status: str, headers: Headers) -> tuple[str, Headers]:
            return status, merge_vary(headers, _ORIGIN_VARY)

        def adder(ours: Headers) -> _Hook:
            fast = [*ours, ("Vary", ", ".join(vary))] if vary else ours

            def hook(status: str, headers: Headers) -> tuple[str, Headers]:
                for name, _ in headers:
                    if name.lower() in _SPECIAL:
                        break
                else:  # the common case: one pass, one new list
                    return status, headers + fast
                for name, _ in headers:
                    if name.lower() == "access-control-allow-origin":
                        break  # the app answered CORS itself
                else:
                    headers = headers + ours
                return status, merge_vary(headers, vary) if vary else headers

            return hook

        # Exact origins (and '*') get hooks made once.
        hooks = {
            origin: adder(self._response_headers(origin)) for origin in self._exact
        }
        any_hook = adder(self._response_headers("*")) if self._any else None

        def preflight(
            environ: Environ, start_response: StartResponse, origin: str
        ) -> list[bytes]:
            why = "origin not allowed" if not allows(origin) else self._refusal(environ)
            if why is not None:
                self._logger.debug(
                    "refused a CORS preflight from %r to %r: %s",
                    origin,
                    environ.get("PATH_INFO", ""),
                    why,
                )
                return plain_response(
                    environ,
                    start_response,
                    "403 Forbidden",
                    f"CORS preflight refused: {why}\n",
                    [("Vary", ", ".join(_PREFLIGHT_VARY))],
                )
            private = (
                environ.get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK", "").lower()
                == "true"
            )
            return plain_response(
                environ,
                start_response,
                "204 No Content",
                "",
                self._preflight_headers(origin, private),
            )

        def cors_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            origin = environ.get("HTTP_ORIGIN")
            if origin is None:
                if (
                    always_vary
                    and vary
                    and (not prefixes or under(environ.get("PATH_INFO", ""), prefixes))
                ):
                    return app(
                        environ, rewrite_start_response(start_response, vary_only)
                    )
                return app(environ, start_response)
            if prefixes and not under(environ.get("PATH_INFO", ""), prefixes):
                return app(environ, start_response)
            if (
                environ.get("REQUEST_METHOD") == "OPTIONS"
                and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
            ):
                return preflight(environ, start_response, origin)
            hook = any_hook or hooks.get(origin)
            if hook is None:
                if allows(origin):
                    hook = adder(self._response_headers(origin))
                else:
                    hook = vary_only
            return app(environ, rewrite_start_response(start_response, hook))

        return cors_app
