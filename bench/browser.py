"""Rows for the browser-security middleware (issue 14): SecurityHeaders
beside the same header work written by hand, CORS and CrossOriginGuard
against their architecture §6 reference speeds.

`python -m bench` shows them with the other rows (``--rows
'security|cors|guard'`` for these alone). ``python -m bench.browser`` times
the same rows by the thread's CPU time instead of the wall clock: on a
machine shared with other work, the time a request waits for a core then
stays out of its figure.

Each layer here is its own small function on purpose (see `bench.apps`).
"""

from __future__ import annotations

import argparse
import statistics
import time
import timeit
from collections.abc import Iterable, Sequence

from bench import apps
from bench.budgets import Budget
from bench.cases import BARE, FRESH, NOT_ACTING, Case, _bare, check, template_environ
from bench.harness import SERVE, SERVE_FRESH, measure, paired_difference, paired_ratio
from wsgimw import CORS, CrossOriginGuard, SecurityHeaders
from wsgimw.types import Environ, ExcInfo, Headers, StartResponse, Write, WSGIApp

ORIGIN = "https://app.example.com"

# "Reads the headers and may add Vary: 1 µs."
READS_HEADERS = Budget("extra <= 1 µs", max_extra_ns=1000)
# "At most 1.2x" the hand-written layer: peer/this >= 1/1.2.
HAND_HEADERS = Budget("<= 1.2x hand-written", min_ratio=1 / 1.2)

SECURITY = SecurityHeaders()
#: What SecurityHeaders() sends on http, as the hand-written layer sends it.
SAME_HEADERS = SECURITY.headers
NONCE = SecurityHeaders(content_security_policy="script-src 'nonce-{nonce}'")
API_CORS = CORS(origins=[ORIGIN], allow_credentials=True)
GUARD = CrossOriginGuard()


def security_headers(app: WSGIApp) -> WSGIApp:
    return SECURITY(app)


def security_nonce(app: WSGIApp) -> WSGIApp:
    return NONCE(app)


def hand_headers(app: WSGIApp) -> WSGIApp:
    """Django's SecurityMiddleware and XFrameOptionsMiddleware header work,
    as a WSGI layer written by hand: add each header the app did not set."""
    ours = list(SAME_HEADERS)

    def layer(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        def start(
            status: str, headers: Headers, exc_info: ExcInfo | None = None
        ) -> Write:
            present = {name.lower() for name, _ in headers}
            headers = headers + [h for h in ours if h[0].lower() not in present]
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        return app(environ, start)

    return layer


def appended_headers(app: WSGIApp) -> WSGIApp:
    """The same header work at its least: append the headers, check nothing
    (what the issue names as the peer)."""
    ours = list(SAME_HEADERS)

    def layer(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        def start(
            status: str, headers: Headers, exc_info: ExcInfo | None = None
        ) -> Write:
            if exc_info is None:
                return start_response(status, headers + ours)
            return start_response(status, headers + ours, exc_info)

        return app(environ, start)

    return layer


def cors(app: WSGIApp) -> WSGIApp:
    return API_CORS(app)


def cors_request(app: WSGIApp) -> WSGIApp:
    """CORS on a request from an allowed origin: the layer outside only puts
    the Origin header in the request's copy of the environ."""
    inner = API_CORS(app)

    def from_origin(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        environ["HTTP_ORIGIN"] = ORIGIN
        return inner(environ, start_response)

    return from_origin


def guard(app: WSGIApp) -> WSGIApp:
    return GUARD(app)


CASES: tuple[Case, ...] = (
    Case(
        "security_headers",
        "SecurityHeaders() (5 headers)",
        security_headers,
        "security_appended",
        HAND_HEADERS,
        section="Browser security (issue 14); extra ns over the bare app",
    ),
    Case(
        "security_appended",
        "same headers appended by hand",
        appended_headers,
        short="appended",
    ),
    Case(
        "security_hand",
        "same headers, each unless set (Django)",
        hand_headers,
        short="Django-like",
    ),
    Case("security_nonce", "SecurityHeaders, CSP with a nonce", security_nonce),
    Case("cors_no_origin", "CORS, request without Origin", cors, None, NOT_ACTING),
    Case(
        "cors_simple",
        "CORS, allowed origin (headers + Vary)",
        cors_request,
        None,
        READS_HEADERS,
        environ=FRESH,
    ),
    Case("guard_get", "CrossOriginGuard, GET", guard, None, NOT_ACTING),
)

__all__ = ["CASES", "main"]


def _cpu_timer(case: Case) -> timeit.Timer:
    environ = template_environ(case.environ)
    app = case.wrap(case.app)
    check(case, app, environ)
    serve, target = (
        (SERVE_FRESH, (app, environ.copy, apps.start_response))
        if case.fresh
        else (SERVE, (app, environ, apps.start_response))
    )
    setup = (
        "app, copy, start_response = _target"
        if case.fresh
        else ("app, environ, start_response = _target")
    )
    return timeit.Timer(
        serve, setup=setup, timer=time.thread_time, globals={"_target": target}
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.browser",
        description="Issue 14's rows, timed by thread CPU time.",
    )
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--sample-ms", type=float, default=20.0)
    args = parser.parse_args(argv)
    cases = (
        Case(BARE, "bare hello-world app", _bare),
        Case("bare_fresh", "bare app, environ copied", _bare, environ=FRESH),
        *CASES,
    )
    samples = measure(
        {case.key: _cpu_timer(case) for case in cases},
        args.repeats,
        args.sample_ms / 1000,
    )
    print(
        f"thread CPU time, {args.repeats} interleaved repeats of ~{args.sample_ms:g} ms"
    )
    print(f"{'row':42} {'ns/req':>8} {'extra ns':>9}  peer/this")
    for case in cases:
        base = samples["bare_fresh" if case.fresh else BARE]
        extra = paired_difference(samples[case.key], base)
        ratio = (
            f"{paired_ratio(samples[case.peer], samples[case.key]):.2f}x vs {case.peer}"
            if case.peer
            else ""
        )
        median = statistics.median(samples[case.key])
        print(f"{case.label:42} {median:8.0f} {extra:+9.0f}  {ratio}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
