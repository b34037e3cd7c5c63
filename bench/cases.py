"""The rows of the benchmark: what each wraps around the app, its peer and
the architecture §6 budget it is held to."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from bench import apps, fused, stacks, streams
from bench.budgets import Budget
from wsgimw.types import Environ, ExcInfo, Headers, Write, WSGIApp

# How a row's requests get their environ.
SHARED = "shared"  # one dict for every request: the layers leave it alone
FRESH = "fresh"  # a copy of the template per request: the layers write to it
FRESH_QUERY = "fresh, with query"  # the same, the template carrying QUERY
# Shared too, for Compress's rows: no Accept-Encoding; a HEAD request.
PLAIN = "shared, no Accept-Encoding"
HEAD = "shared, HEAD"
# Fresh copies for the full stacks (`bench.stacks`), all with QUERY: the
# public path accepting gzip, the same without Accept-Encoding, and the
# checked path with credentials, accepting gzip.
STACK_GZIP = "fresh, stack, gzip"
STACK_PLAIN = "fresh, stack, no Accept-Encoding"
STACK_AUTH = "fresh, stack, credentials"
# The default configuration's request (`bench.stacks.make_default_environ`):
# a browser's GET of a protected path with credentials and a query string.
DEFAULT = "fresh, default configuration"
_FRESH_KINDS = frozenset(
    {FRESH, FRESH_QUERY, STACK_GZIP, STACK_PLAIN, STACK_AUTH, DEFAULT}
)


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    wrap: Callable[[WSGIApp], WSGIApp]
    peer: str | None = None
    budget: Budget | None = None
    #: How the row is named when it is another row's peer.
    short: str = ""
    #: The app inside the layers.
    app: WSGIApp = apps.hello_app
    environ: str = SHARED
    #: What a request must answer; None: any non-empty body.
    status: str = apps.STATUS
    body: bytes | None = apps.BODY
    #: The body must be gzip that decodes to ``body``.
    gzipped: bool = False
    #: A further check after one request, e.g. on the log line built.
    verify: Callable[[], None] | None = None
    #: A heading printed above the row in the table.
    section: str = ""
    #: The row its extra ns is measured over, when not the bare app served
    #: the same kind of environ: the bare app of the same response.
    over: str | None = None

    @property
    def fresh(self) -> bool:
        return self.environ in _FRESH_KINDS

    @property
    def baseline(self) -> str | None:
        """The row its extra ns is measured over (None for the bare app)."""
        if self.key == BARE:
            return None
        if self.over is not None:
            return self.over
        if self.key in BASELINES.values():
            return BARE  # the copy's own cost
        return BASELINES.get(self.environ, BARE)


BARE = "bare"
#: For each kind of environ, the bare app served that way.
BASELINES = {
    SHARED: BARE,
    FRESH: "bare_fresh",
    FRESH_QUERY: "bare_fresh_query",
    # One bare row for the three stack requests: their copies differ by a
    # key or two, a few ns.
    STACK_GZIP: "bare_stack",
    STACK_PLAIN: "bare_stack",
    STACK_AUTH: "bare_stack",
    DEFAULT: "bare_default",
}
# architecture §6 sets its budgets in ns "measured on this kind of machine", where
# the bare app costs about this much; the report shows how this machine
# compares, and gives a second verdict with the ns budgets scaled by it.
REFERENCE_BARE_NS = 130.0

# "A middleware that decides not to act: at most 150 ns per request."
NOT_ACTING = Budget("extra <= 150 ns", max_extra_ns=150)
# "A layer that wraps the body to see close(): at most 300 ns per request."
CLOSING_LAYER = Budget("extra <= 300 ns", max_extra_ns=300)
# "The full stack above on a small response: within 10 µs of the bare app,
# and at least 2x faster than the equivalent Paste/Werkzeug/WebOb stack."
FULL_STACK = Budget("extra <= 10 µs, >= 2x peer", max_extra_ns=10_000, min_ratio=2.0)


def _bare(app: WSGIApp) -> WSGIApp:
    return app


_COMBINED_LINE = re.compile(
    r"127\.0\.0\.1 - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "
    r'"GET /hello HTTP/1\.1" 200 13 "-" "Mozilla/5\.0 [^"]+"'
)


class _KeepsLastLine(Protocol):
    last: str


def _logged(handler: _KeepsLastLine, pattern: re.Pattern[str]) -> Callable[[], None]:
    def verify() -> None:
        line, handler.last = handler.last, ""
        if not pattern.fullmatch(line):
            raise RuntimeError(f"unexpected log line {line!r}")

    return verify


def _stack_line(path: str, user: str, size: str) -> re.Pattern[str]:
    """The combined line either stack logs for one of its requests."""
    return re.compile(
        rf"127\.0\.0\.1 - {user} \[\d\d/[A-Z][a-z]{{2}}/\d{{4}}:\d\d:\d\d:\d\d [+-]\d{{4}}\] "
        rf'"GET {path}\?{re.escape(apps.QUERY)} HTTP/1\.1" 200 {size} "-" "Mozilla/5\.0 [^"]+"'
    )


_TRACEBACK = re.compile(
    rf"error in GET /hello\nTraceback \(most recent call last\):\n.*"
    rf"ValueError: {apps.ERROR_MESSAGE}",
    re.DOTALL,
)
_SERVER_ERROR = "500 Internal Server Error"

CASES: tuple[Case, ...] = (
    # The headline: what a user who copies the README runs (bench.stacks).
    Case(
        "default",
        "wsgimw, default configuration",
        stacks.default_stack,
        "paste_default",
        FULL_STACK,
        short="wsgimw default",
        app=stacks.query_app,
        environ=DEFAULT,
        verify=_logged(
            stacks.DEFAULT_LOG_HANDLER,
            _stack_line(stacks.DEFAULT_PATH, stacks.USER, "13"),
        ),
        section="The default configuration: the README's stack, AccessLog "
        "through logging to a handler that formats each record, Basic "
        "credentials checked against a {SHA} htpasswd line, a query string "
        "the app reads (bench.stacks); extra ns over the bare app served a copy",
    ),
    Case(
        "paste_default",
        "Paste/WebOb stack, same jobs",
        stacks.paste_default_stack,
        short="Paste stack",
        app=stacks.webob_query_app,
        environ=DEFAULT,
        gzipped=True,
        verify=_logged(
            stacks.DEFAULT_PASTE_LOG_HANDLER,
            _stack_line(stacks.DEFAULT_PATH, stacks.USER, "33"),
        ),
    ),
    Case(
        "bare_default",
        "bare app, default request copied",
        _bare,
        short="bare+copy",
        environ=DEFAULT,
    ),
    # What the default configuration's jobs cost at least in pure Python:
    # the same five jobs hand-fused into one callable (bench.fused), a
    # measuring stick for issue 12, not a product.
    Case(
        "fused_floor",
        "same jobs hand-fused: the floor",
        fused.fused_default_stack,
        "paste_default",
        short="fused floor",
        app=stacks.query_app,
        environ=DEFAULT,
        verify=_logged(
            fused.FUSED_LOG_HANDLER,
            _stack_line(stacks.DEFAULT_PATH, stacks.USER, "13"),
        ),
    ),
    Case(
        BARE,
        "bare hello-world app",
        _bare,
        section="Each layer and its peer, on a shared environ; extra ns over "
        "the bare app",
    ),
    Case(
        "pass_through",
        "pass-through function layer",
        apps.pass_through,
        None,
        NOT_ACTING,
    ),
    Case(
        "nested",
        "hand nesting m1(m2(m3(app)))",
        apps.nested_three,
        short="hand nesting",
    ),
    Case(
        "compose",
        "compose(m1, m2, m3)(app)",
        apps.composed_three,
        "nested",
        # "As fast as the same nesting by hand", allowing 5% for noise.
        Budget("peer/this >= 0.95", min_ratio=0.95),
    ),
    Case(
        "closing_wsgimw",
        "wsgimw ClosingIterator layer",
        apps.wsgimw_closing,
        "closing_werkzeug",
        Budget("extra <= 300 ns, > werkzeug", max_extra_ns=300, min_ratio=1.0),
    ),
    Case(
        "closing_werkzeug",
        "werkzeug ClosingIterator layer",
        apps.werkzeug_closing,
        short="werkzeug",
    ),
    Case(
        "exchange_pass",
        "Exchange, not acting (app's iterable)",
        apps.bystander_exchange,
        None,
        NOT_ACTING,
    ),
    Case(
        "exchange_close",
        "Exchange, observes_close (Body)",
        apps.observing_exchange,
        None,
        CLOSING_LAYER,
    ),
    Case(
        "observed",
        "Observed (counts bytes, sees close)",
        apps.observer,
        None,
        CLOSING_LAYER,
    ),
    Case(
        "rewrite_headers", "Rewrite(headers=hook), pass-through", apps.rewrite_headers()
    ),
    Case("rewrite_body", "Rewrite(body=per-chunk identity)", apps.rewrite_body()),
    Case(
        "access_log",
        "AccessLog(format='combined')",
        apps.access_log,
        "translogger",
        verify=_logged(apps.ACCESS_LOG_HANDLER, _COMBINED_LINE),
        section="AccessLog vs Paste TransLogger: one combined line each, "
        "built by a logger at INFO whose handler formats and drops it",
    ),
    Case(
        "translogger",
        "Paste TransLogger",
        apps.trans_logger,
        short="TransLogger",
        verify=_logged(apps.TRANS_LOG_HANDLER, _COMBINED_LINE),
    ),
    Case(
        "bare_fresh",
        "bare app, environ copied per request",
        _bare,
        short="bare+copy",
        environ=FRESH,
        section="environ copied per request (these layers write to it); "
        "extra ns over the bare app served the same way",
    ),
    Case(
        "errors_pass",
        "ErrorHandler, app succeeds",
        apps.errors_quiet,
        "paste_pass",
        # It must see the body to catch what the app raises while iterating.
        CLOSING_LAYER,
        environ=FRESH,
    ),
    Case(
        "paste_pass",
        "Paste ErrorMiddleware, app succeeds",
        apps.paste_errors,
        short="Paste",
        environ=FRESH,
    ),
    Case(
        "errors_raise",
        "ErrorHandler, app raises, logging off",
        apps.errors_quiet,
        "paste_raise",
        app=apps.raising_app,
        environ=FRESH,
        status=_SERVER_ERROR,
        body=None,
    ),
    Case(
        "errors_raise_logged",
        "ErrorHandler, app raises, logging on",
        apps.errors_logged,
        "paste_raise",
        app=apps.raising_app,
        environ=FRESH,
        status=_SERVER_ERROR,
        body=None,
        verify=_logged(apps.ERRORS_LOG_HANDLER, _TRACEBACK),
    ),
    Case(
        "paste_raise",
        "Paste ErrorMiddleware, app raises",
        apps.paste_errors,
        short="Paste",
        app=apps.raising_app,
        environ=FRESH,
        status=_SERVER_ERROR,
        body=None,
    ),
    Case(
        "bare_fresh_query",
        "bare app, query environ copied",
        _bare,
        short="bare+copy",
        environ=FRESH_QUERY,
    ),
    Case(
        "query_pass",
        "QueryParser, app never reads it",
        apps.query_parser,
        "bare_fresh_query",
        NOT_ACTING,
        environ=FRESH_QUERY,
    ),
    Case(
        "query_read",
        "QueryParser, app reads getall('tag')",
        apps.query_parser,
        "webob_read",
        app=apps.query_reading_app,
        environ=FRESH_QUERY,
    ),
    Case(
        "webob_read",
        "WebOb Request(environ).GET.getall",
        _bare,
        short="WebOb",
        app=apps.webob_reading_app,
        environ=FRESH_QUERY,
    ),
    Case(
        "bare_page",
        "bare app, 2 KiB text/html",
        _bare,
        short="bare page",
        app=apps.page_app,
        body=apps.PAGE,
        section="Compress() when it does not act, vs Paste's gzipper (Django's "
        "GZipMiddleware: see notes); extra ns over the bare app answering the "
        "same response",
    ),
    Case(
        "compress_plain",
        "Compress, no Accept-Encoding",
        streams.compress_layer,
        "paste_plain",
        NOT_ACTING,
        app=apps.page_app,
        environ=PLAIN,
        body=apps.PAGE,
        over="bare_page",
    ),
    Case(
        "paste_plain",
        "Paste gzipper, no Accept-Encoding",
        streams.paste_gzipper,
        short="Paste",
        app=apps.page_app,
        environ=PLAIN,
        body=apps.PAGE,
        over="bare_page",
    ),
    Case(
        "compress_head",
        "Compress, HEAD (GET's headers)",
        streams.compress_layer,
        "paste_head",
        NOT_ACTING,
        app=apps.page_app,
        environ=HEAD,
        body=apps.PAGE,
        over="bare_page",
    ),
    Case(
        "paste_head",
        "Paste gzipper, HEAD",
        streams.paste_gzipper,
        short="Paste",
        app=apps.page_app,
        environ=HEAD,
        body=apps.PAGE,
        over="bare_page",
    ),
    Case(
        "bare_png",
        "bare app, 2 KiB image/png",
        _bare,
        short="bare png",
        app=apps.png_app,
        body=apps.PNG,
    ),
    Case(
        "compress_png",
        "Compress, image/png, gzip accepted",
        streams.compress_layer,
        "paste_png",
        NOT_ACTING,
        app=apps.png_app,
        body=apps.PNG,
        over="bare_png",
    ),
    Case(
        "paste_png",
        "Paste gzipper, image/png",
        streams.paste_gzipper,
        short="Paste",
        app=apps.png_app,
        body=apps.PNG,
        over="bare_png",
    ),
    Case(
        "bare_stack",
        "bare app, stack request copied",
        _bare,
        short="bare+copy",
        environ=STACK_GZIP,
        section="The full stack (architecture §1) vs Paste's and WebOb's layers for "
        "the same jobs (bench.stacks), the hello-world app inside, a query "
        "string on every request; extra ns over the bare app served a copy",
    ),
    Case(
        "stack_gzip",
        "wsgimw stack, public, gzip accepted",
        stacks.wsgimw_stack,
        "paste_stack_gzip",
        FULL_STACK,
        environ=STACK_GZIP,
        verify=_logged(stacks.STACK_STREAM, _stack_line("/health", "-", "13")),
    ),
    Case(
        "paste_stack_gzip",
        "Paste stack, public, gzip accepted",
        stacks.paste_stack,
        short="Paste stack",
        environ=STACK_GZIP,
        gzipped=True,
        verify=_logged(stacks.PASTE_LOG_HANDLER, _stack_line("/health", "-", "33")),
    ),
    Case(
        "stack_plain",
        "wsgimw stack, public, no Accept-Encoding",
        stacks.wsgimw_stack,
        "paste_stack_plain",
        FULL_STACK,
        environ=STACK_PLAIN,
        verify=_logged(stacks.STACK_STREAM, _stack_line("/health", "-", "13")),
    ),
    Case(
        "paste_stack_plain",
        "Paste stack, public, no Accept-Encoding",
        stacks.paste_stack,
        short="Paste stack",
        environ=STACK_PLAIN,
        verify=_logged(stacks.PASTE_LOG_HANDLER, _stack_line("/health", "-", "13")),
    ),
    Case(
        "stack_auth",
        "wsgimw stack, credentials, gzip",
        stacks.wsgimw_stack,
        "paste_stack_auth",
        FULL_STACK,
        environ=STACK_AUTH,
        verify=_logged(stacks.STACK_STREAM, _stack_line("/hello", stacks.USER, "13")),
    ),
    Case(
        "paste_stack_auth",
        "Paste stack, credentials, gzip",
        stacks.paste_stack,
        short="Paste stack",
        environ=STACK_AUTH,
        gzipped=True,
        verify=_logged(
            stacks.PASTE_LOG_HANDLER, _stack_line("/hello", stacks.USER, "33")
        ),
    ),
    Case(
        "stack_logged_gzip",
        "wsgimw stack, AccessLog to a logger",
        stacks.wsgimw_logged_stack,
        "paste_stack_gzip",
        FULL_STACK,
        environ=STACK_GZIP,
        verify=_logged(stacks.STACK_LOG_HANDLER, _stack_line("/health", "-", "13")),
    ),
    Case(
        "stack_page",
        "wsgimw stack, 2 KiB page gzipped",
        stacks.wsgimw_stack,
        "paste_stack_page",
        app=apps.page_app,
        environ=STACK_GZIP,
        body=apps.PAGE,
        gzipped=True,
    ),
    Case(
        "paste_stack_page",
        "Paste stack, 2 KiB page gzipped",
        stacks.paste_stack,
        short="Paste stack",
        app=apps.page_app,
        environ=STACK_GZIP,
        body=apps.PAGE,
        gzipped=True,
    ),
)


def template_environ(kind: str) -> Environ:
    """The environ a row of this kind is served (or copies per request)."""
    if kind == SHARED:
        return apps.make_environ()
    if kind == PLAIN:
        return apps.make_plain_environ()
    if kind == HEAD:
        return apps.make_head_environ()
    if kind == DEFAULT:
        return stacks.make_default_environ()
    if kind in (STACK_GZIP, STACK_PLAIN, STACK_AUTH):
        return stacks.make_environ(
            gzip=kind != STACK_PLAIN, credentials=kind == STACK_AUTH
        )
    return apps.make_fresh_environ(apps.QUERY if kind == FRESH_QUERY else "")


def check(case: Case, app: WSGIApp, environ: Environ) -> None:
    """Serve one request as the timer will and make sure the row answers what
    it should (hello world, or the error page), so a broken layer fails
    loudly instead of timing nothing."""
    if case.fresh:
        environ = environ.copy()
    statuses: list[str] = []

    def recording_start_response(
        status: str, headers: Headers, exc_info: ExcInfo | None = None
    ) -> Write:
        statuses.append(status)
        return apps.start_response(status, headers, exc_info)

    iterable = app(environ, recording_start_response)
    try:
        body = b"".join(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    if case.gzipped:
        body = gzip.decompress(body)
    good_body = bool(body) if case.body is None else body == case.body
    if statuses != [case.status] or not good_body:
        expected = "a body" if case.body is None else repr(case.body)
        raise RuntimeError(
            f"{case.label}: expected {case.status!r} and {expected}, "
            f"got statuses {statuses!r} and body {body!r}"
        )
    if case.verify is not None:
        case.verify()
