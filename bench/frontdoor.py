"""The front door's rows: ProxyHeaders beside Werkzeug's ProxyFix on the
same headers, and what TrustedHost, HTTPSRedirect and RequestId cost on a
request they let through (architecture §6 budgets).

    python -m bench.frontdoor [--fast] [--json PATH]

Every row is served a fresh copy of the environ (ProxyHeaders and RequestId
write to it) into which one small function layer first sets the same eight
proxy-related keys (the values differ by row); the extra ns of each row are
measured over the bare app behind that same function layer, so the copy and
the keys cost nothing in the figures.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from werkzeug.middleware.proxy_fix import ProxyFix

from bench.budgets import Budget
from bench.cases import BARE, FRESH, NOT_ACTING, Case
from bench.cases import CASES as ALL_CASES
from wsgimw import HTTPSRedirect, ProxyHeaders, RequestId, TrustedHost
from wsgimw.types import Environ, StartResponse, WSGIApp

if TYPE_CHECKING:
    from bench.cli import Row

#: architecture §6: "makes one object 275 ns".
MAKES_ONE_OBJECT = Budget("extra <= 275 ns", max_extra_ns=275)
#: "ProxyHeaders beside Werkzeug's ProxyFix on the same headers (at most its
#: cost)": the ratio ProxyFix / ProxyHeaders at least 1.
AT_MOST_PROXYFIX = Budget("at most ProxyFix's cost", min_ratio=1.0)

BASE = "fd_base"
_CLIENT = "203.0.113.7"


def _keys(**changes: str) -> dict[str, str]:
    """The eight keys every row sets: a request that came through a trusted
    proxy (10.0.0.1) from a client at 203.0.113.7 over https."""
    keys = {
        "REMOTE_ADDR": "10.0.0.1",
        "HTTP_X_FORWARDED_FOR": _CLIENT,
        "HTTP_X_FORWARDED_PROTO": "https",
        "HTTP_X_FORWARDED_HOST": "example.com",
        "HTTP_FORWARDED": f"for={_CLIENT};proto=https;host=example.com",
        "HTTP_HOST": "example.com",
        "wsgi.url_scheme": "http",
        "HTTP_X_OTHER": "-",
    }
    keys.update(changes)
    return keys


PROXIED = _keys()
UNTRUSTED = _keys(REMOTE_ADDR="198.51.100.9")
SUBDOMAIN = _keys(HTTP_HOST="www.example.com")
HTTPS = _keys(**{"wsgi.url_scheme": "https"})
# The eighth key is nginx's $request_id in place of X-Other.
INCOMING_ID = {k: v for k, v in PROXIED.items() if k != "HTTP_X_OTHER"}
INCOMING_ID["HTTP_X_REQUEST_ID"] = "c10f7ebebd95e5bb8749430d3485370c"


def _setting(keys: Mapping[str, str]) -> Callable[[WSGIApp], WSGIApp]:
    """A function layer that sets ``keys`` in the environ, then calls on."""
    items = dict(keys)

    def wrap(app: WSGIApp) -> WSGIApp:
        def setting_app(
            environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            environ.update(items)
            return app(environ, start_response)

        return setting_app

    return wrap


def _row(
    key: str,
    label: str,
    layer: Callable[[WSGIApp], WSGIApp] | None,
    keys: Mapping[str, str],
    **options: object,
) -> Case:
    setting = _setting(keys)

    def wrap(app: WSGIApp) -> WSGIApp:
        return setting(app if layer is None else layer(app))

    over = None if key == BASE else BASE
    return Case(key, label, wrap, environ=FRESH, over=over, **options)  # type: ignore[arg-type]


def _proxy_fix(app: WSGIApp) -> WSGIApp:
    return ProxyFix(app, x_for=1, x_proto=1, x_host=1)


_PROXY = ProxyHeaders(trusted=["10.0.0.0/8"])
_FORWARDED = ProxyHeaders(trusted=["10.0.0.0/8"], headers="forwarded")
_HOSTS = TrustedHost(hosts=["example.com", "*.example.com"])
_REDIRECT = HTTPSRedirect(exempt=["/healthz"])
_REQUEST_ID = RequestId()

CASES: tuple[Case, ...] = (
    _row(
        BASE,
        "bare app, proxy keys set",
        None,
        PROXIED,
        short="bare+keys",
        section="The front door (bench.frontdoor): a fresh environ with eight "
        "proxy keys set per request; extra ns over the bare app served the same way",
    ),
    _row(
        "proxy_xff",
        "ProxyHeaders, trusted X-Forwarded-*",
        _PROXY,
        PROXIED,
        peer="proxyfix",
        budget=AT_MOST_PROXYFIX,
    ),
    _row(
        "proxyfix",
        "Werkzeug ProxyFix(x_for, x_proto, x_host)",
        _proxy_fix,
        PROXIED,
        short="ProxyFix",
    ),
    _row(
        "proxy_forwarded",
        "ProxyHeaders, trusted Forwarded",
        _FORWARDED,
        PROXIED,
        peer="proxyfix",
    ),
    _row(
        "proxy_untrusted",
        "ProxyHeaders, untrusted peer",
        _PROXY,
        UNTRUSTED,
        budget=NOT_ACTING,
    ),
    _row(
        "trusted_host",
        "TrustedHost, listed name",
        _HOSTS,
        PROXIED,
        budget=NOT_ACTING,
    ),
    _row(
        "trusted_host_wild",
        "TrustedHost, *.example.com match",
        _HOSTS,
        SUBDOMAIN,
        budget=NOT_ACTING,
    ),
    _row(
        "https_redirect",
        "HTTPSRedirect, request on https",
        _REDIRECT,
        HTTPS,
        budget=NOT_ACTING,
    ),
    _row(
        "request_id_new",
        "RequestId, makes an id",
        _REQUEST_ID,
        PROXIED,
        budget=MAKES_ONE_OBJECT,
    ),
    _row(
        "request_id_kept",
        "RequestId, keeps nginx's id",
        _REQUEST_ID,
        INCOMING_ID,
        budget=MAKES_ONE_OBJECT,
    ),
)


def cases() -> tuple[Case, ...]:
    """The rows with the bare rows they need (the bare app, and the bare app
    served a copy, which the base row is measured over)."""
    by_key = {case.key: case for case in ALL_CASES}
    return (by_key[BARE], by_key["bare_fresh"], *CASES)


def format_rows(rows: Sequence[Row]) -> str:
    """The rows as a table: median ns, extra ns, peer/this, the budget and
    its verdicts (unscaled, then with the ns limit scaled to this machine)."""
    from bench.cli import budget_scale

    scale = budget_scale(next(r for r in rows if r.case.key == BARE).summary.median)
    shorts = {row.case.key: row.case.short or row.case.label for row in rows}
    verdict = {None: "", True: "PASS", False: "MISS"}
    lines = [
        f"{'name':<42} {'ns/req median +- sd':>19} {'extra ns':>9}  "
        f"{'peer/this':<18} {'budget':<24} unscaled  scaled x{scale:.2f}"
    ]
    for row in rows:
        case, summary = row.case, row.summary
        extra = "-" if row.extra_ns is None else f"{row.extra_ns:+.1f}"
        versus = "-"
        if row.ratio is not None and case.peer is not None:
            versus = f"{row.ratio:.2f}x vs {shorts[case.peer]}"
        budget = case.budget
        scaled = verdict[row.passed_scaled]
        if budget is not None and budget.max_extra_ns is not None:
            scaled += f" (<= {budget.max_extra_ns * scale:.0f} ns)"
        lines.append(
            f"{case.label:<42} {summary.median:8.1f} +- {summary.stdev:6.1f} "
            f"{extra:>9}  {versus:<18} {'-' if budget is None else budget.text:<24} "
            f"{verdict[row.passed]:<9} {scaled}"
        )
    return "\n".join(lines)


def cpu_rows(repeats: int, loops: int) -> str:
    """Each row timed by the thread's CPU time (time spent waiting for a core
    on a busy machine stays out), interleaved, ``repeats`` samples of
    ``loops`` requests; the extra ns are each row's best sample minus the
    base row's best, and the median of the paired differences."""
    import statistics
    import time
    import timeit

    from bench import apps
    from bench.cases import check, template_environ

    template = template_environ(FRESH)
    copy = template.copy
    start_response = apps.start_response
    timers = {}
    for case in CASES:
        app = case.wrap(case.app)
        check(case, app, template)

        def serve(app: WSGIApp = app) -> None:
            iterable = app(copy(), start_response)
            for _ in iterable:
                pass
            close = getattr(iterable, "close", None)
            if close is not None:
                close()

        timers[case.key] = timeit.Timer(serve, timer=time.thread_time)
    samples: dict[str, list[float]] = {key: [] for key in timers}
    for _ in range(repeats):
        for key, timer in timers.items():
            samples[key].append(timer.timeit(loops) / loops * 1e9)
    base = samples[BASE]
    best_base = min(base)
    lines = [
        f"{'name':<42} {'best ns':>8} {'median':>8} {'extra best':>10} "
        f"{'extra med':>9}  peer/this (extra)"
    ]
    extra = {
        key: (
            min(v) - best_base,
            statistics.median(a - b for a, b in zip(v, base, strict=True)),
        )
        for key, v in samples.items()
    }
    for case in CASES:
        mine = samples[case.key]
        versus = ""
        if case.peer is not None:
            ratio = extra[case.peer][0] / max(extra[case.key][0], 1e-9)
            versus = f"{ratio:.2f}x vs {case.peer}"
        budget = "" if case.budget is None else f"  [{case.budget.text}]"
        lines.append(
            f"{case.label:<42} {min(mine):8.0f} {statistics.median(mine):8.0f} "
            f"{extra[case.key][0]:+10.0f} {extra[case.key][1]:+9.0f}  {versus}{budget}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.frontdoor",
        description="The front door's per-request cost beside Werkzeug's ProxyFix.",
    )
    parser.add_argument("--fast", action="store_true", help="a quick, rough run")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write figures")
    parser.add_argument(
        "--cpu",
        action="store_true",
        help="time by the thread's CPU time instead (for a busy machine)",
    )
    args = parser.parse_args(argv)
    # Here, not at the top: bench.cli imports this module for its rows.
    from bench.cli import (
        FAST_REPEATS,
        FAST_SAMPLE_MS,
        FULL_REPEATS,
        FULL_SAMPLE_MS,
        Report,
        machine,
        machine_line,
        run,
        to_json,
    )

    repeats = FAST_REPEATS if args.fast else FULL_REPEATS
    sample_ms = FAST_SAMPLE_MS if args.fast else FULL_SAMPLE_MS
    found = machine()
    print(machine_line(found))
    print()
    if args.cpu:
        print(cpu_rows(repeats, 200 if args.fast else 5000), flush=True)
        return 0
    rows = run(repeats, sample_ms, cases())
    report = Report(rows, [], [], repeats, 0, sample_ms)
    print(format_rows(rows), flush=True)
    if args.json is not None:
        figures = {"machine": found, **to_json(report)}
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
