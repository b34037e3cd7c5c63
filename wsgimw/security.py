"""SecurityHeaders: the response headers that tell a browser how to treat a site.

Every value is checked when the instance is made and the header list is
built once; a request adds only what the app did not set itself (as
Django's SecurityMiddleware does), so an app can still send its own policy
for one page. HSTS goes out on https only (``wsgi.url_scheme``, which
ProxyHeaders sets from a trusted proxy). A Content-Security-Policy that
holds ``{nonce}`` gets a fresh nonce per request, from `secrets`, both in
the header and in ``environ["wsgimw.csp_nonce"]`` for the page's own
``<script nonce="...">``.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from ._browser import CONTROL
from ._options import flag
from ._response import forward_start
from .types import Environ, ExcInfo, Headers, StartResponse, Write, WSGIApp

__all__ = ["NONCE_KEY", "SecurityHeaders"]

#: Where `SecurityHeaders` puts the request's CSP nonce.
NONCE_KEY: Final = "wsgimw.csp_nonce"

#: CSP Level 3 directives (and the few older ones browsers still read).
CSP_DIRECTIVES: Final = frozenset(
    {
        "base-uri",
        "block-all-mixed-content",
        "child-src",
        "connect-src",
        "default-src",
        "fenced-frame-src",
        "font-src",
        "form-action",
        "frame-ancestors",
        "frame-src",
        "img-src",
        "manifest-src",
        "media-src",
        "object-src",
        "report-to",
        "report-uri",
        "require-trusted-types-for",
        "sandbox",
        "script-src",
        "script-src-attr",
        "script-src-elem",
        "style-src",
        "style-src-attr",
        "style-src-elem",
        "trusted-types",
        "upgrade-insecure-requests",
        "webrtc",
        "worker-src",
    }
)
REFERRER_POLICIES: Final = (
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
)
OPENER_POLICIES: Final = (
    "same-origin",
    "same-origin-allow-popups",
    "noopener-allow-popups",
    "unsafe-none",
)
RESOURCE_POLICIES: Final = ("same-origin", "same-site", "cross-origin")
FRAME_OPTIONS: Final = ("DENY", "SAMEORIGIN")
#: What hstspreload.org asks of a domain before it joins browsers' lists.
PRELOAD_MIN_AGE: Final = 31_536_000

_NONCE: Final = "{nonce}"
#: The most spellings of other header names `_Names` remembers.
_LEARNED: Final = 256
_DIRECTIVE_NAME: Final = re.compile(r"[a-z][a-z0-9-]*\Z")
_PERMISSION: Final = re.compile(r"[a-z][a-z0-9-]*=(\*|\(\s*[^()]*\))\Z")


def _choice(option: str, value: object, allowed: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"{option} must be one of {choices} or None, got {value!r}")
    return value


def _referrer(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"referrer_policy must be a str or None, got {value!r}")
    tokens = [token.strip() for token in value.split(",")]
    for token in tokens:
        if token not in REFERRER_POLICIES:
            raise ValueError(
                f"referrer_policy holds {token!r}, which is not a policy; use one "
                f"of {', '.join(REFERRER_POLICIES)} (or several, comma-separated, "
                "the last one a browser knows wins)"
            )
    return ", ".join(tokens)


def _permissions(value: object) -> str | None:
    """Permissions-Policy: a str, or a mapping of feature to allowlist
    (``{"camera": "()", "geolocation": "(self)"}``)."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        items = []
        for feature, allow in value.items():
            if not isinstance(feature, str) or not isinstance(allow, str):
                raise TypeError(
                    "permissions_policy maps feature names to allowlists, both "
                    f"str, e.g. {{'camera': '()'}}; got {feature!r}: {allow!r}"
                )
            items.append(f"{feature}={allow}")
        text = ", ".join(items)
    elif isinstance(value, str):
        text = value
    else:
        raise TypeError(
            "permissions_policy must be a str such as 'camera=(), "
            f"geolocation=(self)', a mapping, or None; got {value!r}"
        )
    _no_control("permissions_policy", text)
    for item in text.split(","):
        if not _PERMISSION.match(item.strip()):
            raise ValueError(
                f"permissions_policy holds {item.strip()!r}; each entry is "
                "feature=(allowlist) or feature=*, e.g. 'camera=()' or "
                "'geolocation=(self \"https://maps.example.com\")'"
            )
    return text


def _no_control(option: str, text: str) -> None:
    if CONTROL.search(text):
        raise ValueError(
            f"{option} must not hold control characters (CR and LF would "
            f"split the header): {text!r}"
        )
    if not text.isascii():
        raise ValueError(f"{option} must be ASCII, got {text!r}")


def _csp(value: object, option: str) -> str | None:
    """A policy as a str (``"default-src 'self'; img-src *"``) or a mapping
    of directive to sources (a str or a list of them), checked."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        parts = []
        for name, sources in value.items():
            if isinstance(sources, str):
                sources = [sources] if sources else []
            if not isinstance(name, str) or not isinstance(sources, Iterable):
                raise TypeError(
                    f"{option} maps directive names to sources, e.g. "
                    f"{{'default-src': [\"'self'\"]}}; got {name!r}: {sources!r}"
                )
            listed = list(sources)
            if not all(isinstance(source, str) for source in listed):
                raise TypeError(f"{option}: sources of {name!r} must be str")
            parts.append(" ".join([name, *listed]))
        text = "; ".join(parts)
    elif isinstance(value, str):
        text = value
    else:
        raise TypeError(
            f"{option} must be a str such as \"default-src 'self'\", a mapping "
            f"of directive to sources, or None; got {value!r}"
        )
    _no_control(option, text)
    if "," in text:
        raise ValueError(
            f"{option} must not hold ',': a comma starts a second policy in "
            "the header, and every policy is enforced"
        )
    seen: set[str] = set()
    directives = []
    for directive in text.split(";"):
        words = directive.split()
        if not words:
            continue
        name = words[0].lower()
        if not _DIRECTIVE_NAME.match(name) or name not in CSP_DIRECTIVES:
            raise ValueError(
                f"{option} holds an unknown directive {words[0]!r}; browsers "
                "ignore it. Known directives: " + ", ".join(sorted(CSP_DIRECTIVES))
            )
        if name in seen:
            raise ValueError(
                f"{option} names {name!r} twice; browsers keep only the first"
            )
        seen.add(name)
        for word in words[1:]:
            if word.lower() in CSP_DIRECTIVES:
                raise ValueError(
                    f"{option}: {name!r} lists {word!r} as a source; a ';' "
                    f"is missing before {word!r}"
                )
            if _NONCE in word and word != f"'nonce-{_NONCE}'":
                raise ValueError(
                    f"{option}: write the nonce as 'nonce-{{nonce}}' (with the "
                    f"quotes) in a source list, got {word!r}"
                )
        directives.append(" ".join([name, *words[1:]]))
    if not directives:
        raise ValueError(f"{option} is empty; leave it out (None) for no policy")
    policy = "; ".join(directives)
    if "{" in policy.replace(_NONCE, "") or "}" in policy.replace(_NONCE, ""):
        raise ValueError(f"{option}: only {{nonce}} may appear in braces")
    return policy


class _Names:
    """Which of a response's header names are ours, case-insensitively.

    ``plain`` learns the exact spellings the app uses for other headers
    (``Content-Type``...), up to `_LEARNED` of them, so the common response
    is checked with one set lookup per header instead of a ``lower()``. The
    names come from the app's responses, never from a client."""

    __slots__ = ("ours", "plain")

    def __init__(self, ours: Iterable[str]) -> None:
        self.ours = frozenset(name.lower() for name in ours)
        self.plain: set[str] = set()

    def added(self, headers: Headers, extra: Headers) -> Headers:
        """``headers`` and each of ``extra`` that it lacks."""
        present = set()
        plain, ours = self.plain, self.ours
        for name, _ in headers:
            lowered = name.lower()
            present.add(lowered)
            if lowered not in ours and len(plain) < _LEARNED:
                plain.add(name)
        return headers + [pair for pair in extra if pair[0].lower() not in present]


def _fixed(
    app: WSGIApp,
    ours: Headers,
    plain: set[str],
    added: Callable[[Headers, Headers], Headers],
) -> WSGIApp:
    """``app`` with ``ours`` added to each response that lacks them."""

    def security_headers_app(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        def start(
            status: str, headers: Headers, exc_info: ExcInfo | None = None
        ) -> Write:
            for name, _ in headers:
                if name not in plain:
                    headers = added(headers, ours)
                    break
            else:  # the app set none of ours: the common case
                headers = headers + ours
            return forward_start(start_response, status, headers, exc_info)

        return app(environ, start)

    return security_headers_app


class SecurityHeaders:
    """Add browser security headers to every response the app did not set
    them on.

    Args:
        hsts_max_age: seconds for ``Strict-Transport-Security``, sent on
            https responses only; None (the default) sends none. Start
            small (300) and raise it once https works everywhere: a browser
            that saw it will not use http for that long.
        hsts_include_subdomains: add ``includeSubDomains`` (every subdomain
            must serve https too).
        hsts_preload: add ``preload``; needs ``hsts_include_subdomains``
            and a max-age of at least a year. Leaving the preload list
            takes months.
        content_type_options: send ``X-Content-Type-Options: nosniff``.
        frame_options: ``X-Frame-Options``: ``"DENY"`` (the default),
            ``"SAMEORIGIN"`` or None. For a list of framing sites use the
            CSP ``frame-ancestors`` directive.
        referrer_policy: ``Referrer-Policy``, default ``"same-origin"``.
        cross_origin_opener_policy: ``Cross-Origin-Opener-Policy``, default
            ``"same-origin"``.
        cross_origin_resource_policy: ``Cross-Origin-Resource-Policy``:
            ``"same-origin"``, ``"same-site"``, ``"cross-origin"`` or None
            (the default; an API other sites load must not send
            ``same-origin``).
        permissions_policy: ``Permissions-Policy``, a str or a mapping of
            feature to allowlist; None sends none.
        content_security_policy: the policy, a str or a mapping of directive
            to sources. ``'nonce-{nonce}'`` in it becomes a fresh nonce per
            request, also put in ``environ["wsgimw.csp_nonce"]``.
        csp_report_only: send the policy as
            ``Content-Security-Policy-Report-Only`` (reported, not enforced).
    """

    __slots__ = ("_csp_name", "_csp_template", "_http", "_https", "_shown")

    def __init__(
        self,
        *,
        hsts_max_age: int | None = None,
        hsts_include_subdomains: bool = False,
        hsts_preload: bool = False,
        content_type_options: bool = True,
        frame_options: str | None = "DENY",
        referrer_policy: str | None = "same-origin",
        cross_origin_opener_policy: str | None = "same-origin",
        cross_origin_resource_policy: str | None = None,
        permissions_policy: str | Mapping[str, str] | None = None,
        content_security_policy: str | Mapping[str, str | Iterable[str]] | None = None,
        csp_report_only: bool = False,
    ) -> None:
        subdomains = flag("hsts_include_subdomains", hsts_include_subdomains)
        preload = flag("hsts_preload", hsts_preload)
        if hsts_max_age is None:
            if subdomains or preload:
                raise ValueError(
                    "hsts_include_subdomains and hsts_preload need hsts_max_age "
                    "(seconds), e.g. hsts_max_age=31536000"
                )
            hsts = None
        else:
            if isinstance(hsts_max_age, bool) or not isinstance(hsts_max_age, int):
                raise TypeError(
                    f"hsts_max_age must be an int of seconds or None, got {hsts_max_age!r}"
                )
            if hsts_max_age < 0:
                raise ValueError(
                    f"hsts_max_age must be >= 0 (0 tells browsers to forget it), "
                    f"got {hsts_max_age}"
                )
            if preload and not (subdomains and hsts_max_age >= PRELOAD_MIN_AGE):
                raise ValueError(
                    "hsts_preload needs hsts_include_subdomains=True and "
                    f"hsts_max_age >= {PRELOAD_MIN_AGE} (a year), as the preload "
                    "list requires; think twice: leaving the list takes months"
                )
            hsts = f"max-age={hsts_max_age}"
            if subdomains:
                hsts += "; includeSubDomains"
            if preload:
                hsts += "; preload"
        headers: Headers = []
        if flag("content_type_options", content_type_options):
            headers.append(("X-Content-Type-Options", "nosniff"))
        frame = _choice("frame_options", frame_options, FRAME_OPTIONS)
        if frame is not None:
            headers.append(("X-Frame-Options", frame))
        referrer = _referrer(referrer_policy)
        if referrer is not None:
            headers.append(("Referrer-Policy", referrer))
        coop = _choice(
            "cross_origin_opener_policy", cross_origin_opener_policy, OPENER_POLICIES
        )
        if coop is not None:
            headers.append(("Cross-Origin-Opener-Policy", coop))
        corp = _choice(
            "cross_origin_resource_policy",
            cross_origin_resource_policy,
            RESOURCE_POLICIES,
        )
        if corp is not None:
            headers.append(("Cross-Origin-Resource-Policy", corp))
        permissions = _permissions(permissions_policy)
        if permissions is not None:
            headers.append(("Permissions-Policy", permissions))
        report_only = flag("csp_report_only", csp_report_only)
        policy = _csp(content_security_policy, "content_security_policy")
        self._csp_name = (
            "Content-Security-Policy-Report-Only"
            if report_only
            else "Content-Security-Policy"
        )
        self._csp_template: str | None = None
        if policy is not None:
            if _NONCE in policy:
                self._csp_template = policy
            else:
                headers.append((self._csp_name, policy))
        self._http = tuple(headers)
        self._https = (
            self._http
            if hsts is None
            else (
                ("Strict-Transport-Security", hsts),
                *self._http,
            )
        )
        shown = []
        if hsts is not None:
            shown.append(f"hsts={hsts!r}")
        shown += [f"{name}={value!r}" for name, value in self._http]
        if policy is not None and self._csp_template is not None:
            shown.append(f"{self._csp_name}={policy!r}")
        self._shown = ", ".join(shown)

    def __repr__(self) -> str:
        return f"SecurityHeaders({self._shown})"

    @property
    def headers(self) -> Headers:
        """The headers an https response gets (without a nonce policy)."""
        return list(self._https)

    def __call__(self, app: WSGIApp) -> WSGIApp:
        if not callable(app):
            raise TypeError(
                f"SecurityHeaders wraps a WSGI app (a callable), got {app!r}"
            )
        http, https = self._http, self._https
        template, csp_name = self._csp_template, self._csp_name
        names = _Names(name for name, _ in (*https, (csp_name, "")))
        plain = names.plain
        added = names.added
        # The start_response wrappers below are written out rather than made
        # with the core's rewrite_start_response and a header hook: on this
        # path, which runs for every response, the hook's extra calls cost
        # as much as the header work itself (the budget is 1.2x a
        # layer that only appends the headers). exc_info goes through the
        # core's forward_start.
        if template is None:
            plain_app = _fixed(app, list(http), plain, added)
            if https is http:  # no HSTS: the scheme changes nothing
                return plain_app
            secure_app = _fixed(app, list(https), plain, added)

            def security_headers_app(
                environ: Environ, start_response: StartResponse
            ) -> Iterable[bytes]:
                if environ.get("wsgi.url_scheme") == "https":
                    return secure_app(environ, start_response)
                return plain_app(environ, start_response)

            return security_headers_app
        token = secrets.token_urlsafe
        policy: str = template

        def nonce_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            environ[NONCE_KEY] = nonce = token(18)
            ours = list(https if environ.get("wsgi.url_scheme") == "https" else http)
            ours.append((csp_name, policy.replace(_NONCE, nonce)))

            def start(
                status: str, headers: Headers, exc_info: ExcInfo | None = None
            ) -> Write:
                for name, _ in headers:
                    if name not in plain:
                        headers = added(headers, ours)
                        break
                else:
                    headers = headers + ours
                return forward_start(start_response, status, headers, exc_info)

            return app(environ, start)

        return nonce_app
