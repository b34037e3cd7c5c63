"""The rows of the benchmark: what each wraps around the app, its peer and
the DESIGN §6 budget it is held to."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from bench import apps
from wsgimw.types import Environ, ExcInfo, Headers, Write, WSGIApp


@dataclass(frozen=True)
class Budget:
    """A limit on the extra ns over the bare app and/or on the ratio
    ``peer / this`` (above 1: this row is faster than its peer)."""

    text: str
    max_extra_ns: float | None = None
    min_ratio: float | None = None

    def holds(self, extra_ns: float, ratio: float | None) -> bool:
        if self.max_extra_ns is not None and extra_ns > self.max_extra_ns:
            return False
        return self.min_ratio is None or (ratio is not None and ratio >= self.min_ratio)


@dataclass(frozen=True)
class Case:
    key: str
    label: str
    wrap: Callable[[WSGIApp], WSGIApp]
    peer: str | None = None
    budget: Budget | None = None
    #: How the row is named when it is another row's peer.
    short: str = ""


BARE = "bare"
# DESIGN §6 sets its budgets in ns "measured on this kind of machine", where
# the bare app costs about this much; the report shows how this machine
# compares, so a MISS on a slower machine can be read for what it is.
REFERENCE_BARE_NS = 130.0

# "A middleware that decides not to act: at most 150 ns per request."
_NO_ACT = Budget("extra <= 150 ns", max_extra_ns=150)
# "A layer that wraps the body to see close(): at most 300 ns per request."
_SEES_CLOSE = Budget("extra <= 300 ns", max_extra_ns=300)


def _bare(app: WSGIApp) -> WSGIApp:
    return app


CASES: tuple[Case, ...] = (
    Case(BARE, "bare hello-world app", _bare),
    Case(
        "pass_through", "pass-through function layer", apps.pass_through, None, _NO_ACT
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
        _NO_ACT,
    ),
    Case(
        "exchange_close",
        "Exchange, observes_close (Body)",
        apps.observing_exchange,
        None,
        _SEES_CLOSE,
    ),
    Case(
        "rewrite_headers", "Rewrite(headers=hook), pass-through", apps.rewrite_headers()
    ),
    Case("rewrite_body", "Rewrite(body=per-chunk identity)", apps.rewrite_body()),
)


def check(case: Case, app: WSGIApp, environ: Environ) -> None:
    """Serve one request and make sure the row really answers hello world,
    so a broken layer fails loudly instead of timing nothing."""
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
    if statuses != [apps.STATUS] or body != apps.BODY:
        raise RuntimeError(
            f"{case.label}: expected {apps.STATUS!r} and {apps.BODY!r}, "
            f"got statuses {statuses!r} and body {body!r}"
        )
