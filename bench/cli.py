"""``python -m bench [--fast] [--rows REGEX] [--e2e | --e2e-only] [--json PATH]``:
measure, print, save.

Exit status: 0; 2 for bad arguments; 3 when the end-to-end rows were asked
for and wrk or gunicorn is missing (everything else is still measured and
printed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from bench import apps, compression, e2e, memory, streams
from bench.browser import CASES as BROWSER_CASES
from bench.budgets import Budget
from bench.cases import (
    BARE,
    CASES,
    CLOSING_LAYER,
    NOT_ACTING,
    REFERENCE_BARE_NS,
    Case,
    check,
    template_environ,
)
from bench.compression import FLOWS, THROUGHPUT, Flow
from bench.frontdoor import CASES as FRONT_DOOR_CASES
from bench.harness import (
    Summary,
    make_timer,
    measure,
    paired_difference,
    paired_ratio,
    summarise,
)
from bench.serving import CASES as SERVING_CASES

CASES = (*CASES, *BROWSER_CASES)  # issue 14's rows (bench.browser)
CASES = (*CASES, *SERVING_CASES)  # issue 15's rows (bench.serving)
CASES = (*CASES, *FRONT_DOOR_CASES)  # issue 13's rows (bench.frontdoor)

# Full mode: about 80 s on this kind of machine (45 s of per-request rows,
# 25 s of throughput, 8 s of memory cases). Fast mode: a smoke run, ~2 s.
FULL_REPEATS, FULL_SAMPLE_MS = 40, 20.0
FAST_REPEATS, FAST_SAMPLE_MS = 5, 2.0
# The throughput rows: one sample is at least one whole body, after one
# untimed body (see `measure`'s warm_up), so they take a fifth of the
# repeats (at least 2).
FULL_BODY, FAST_BODY = 4 * streams.MIB, 256 * streams.KIB
# End to end (--e2e): wrk's -d for each run, and rounds. Full: about 3
# minutes (4 servers x 3 kinds of request x 3 rounds x 5 s), so it is not
# part of the default run; fast: about 15 s.
FULL_E2E_SECONDS, FAST_E2E_SECONDS = 5.0, 1.0
FULL_E2E_ROUNDS, FAST_E2E_ROUNDS = 3, 1
#: Exit status when the end-to-end rows were asked for but cannot run.
E2E_MISSING = 3
#: The packages whose versions the report shows.
PACKAGES = (
    "wsgimw",
    "webob",
    "paste",
    "werkzeug",
    "django",
    "brotli",
    "zstandard",
    "bcrypt",
    "gunicorn",
)


@dataclass(frozen=True)
class Row:
    case: Case
    summary: Summary
    samples: list[float]
    extra_ns: float | None  # over case.baseline; None for the bare app itself
    ratio: float | None  # peer / this, when the row has a peer
    passed: bool | None  # None when the row has no budget
    passed_scaled: bool | None  # the same, ns budgets scaled to this machine


@dataclass(frozen=True)
class FlowRow:
    """One throughput row: MB/s are 10**6 bytes of body per second."""

    flow: Flow
    summary: Summary  # of MB/s
    samples: list[float]  # ns per body
    body: int  # bytes in
    compressed: int  # bytes out
    ratio: float | None  # this MB/s / peer MB/s (peer ns / this ns)
    passed: bool | None


@dataclass(frozen=True)
class Report:
    """Everything one run measured."""

    rows: list[Row]
    flows: list[FlowRow]
    peaks: list[memory.Peak]
    repeats: int
    flow_repeats: int
    sample_ms: float


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Per-request cost of wsgimw layers beside hand-written "
        "code, Werkzeug, Paste and WebOb, measured in one run (architecture §6).",
    )
    parser.add_argument(
        "--fast",
        action="store_true",
        help=f"a quick, rough run: {FAST_REPEATS} repeats of {FAST_SAMPLE_MS:g} ms",
    )
    parser.add_argument(
        "--repeats", type=int, help=f"interleaved repeats (default {FULL_REPEATS})"
    )
    parser.add_argument(
        "--sample-ms",
        type=float,
        help=f"length of one timing sample (default {FULL_SAMPLE_MS:g} ms)",
    )
    parser.add_argument(
        "--rows",
        metavar="REGEX",
        help="only the per-request rows whose key matches (with their peers "
        "and the bare rows they are measured over); no throughput or memory "
        "rows. Keys are in the --json output, e.g. 'stack|compress_'",
    )
    parser.add_argument(
        "--e2e",
        action="store_true",
        help="also serve the full stacks with gunicorn and drive them with "
        f"wrk (bench.e2e): about {e2e.minutes(FULL_E2E_SECONDS, FULL_E2E_ROUNDS):.0f} "
        "minutes, under a minute with --fast",
    )
    parser.add_argument(
        "--e2e-only", action="store_true", help="only the end-to-end rows"
    )
    parser.add_argument(
        "--e2e-seconds",
        type=float,
        help=f"wrk's -d for each run (default {FULL_E2E_SECONDS:g})",
    )
    parser.add_argument(
        "--e2e-rounds",
        type=int,
        help=f"end-to-end rounds (default {FULL_E2E_ROUNDS})",
    )
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write figures")
    args = parser.parse_args(argv)
    if args.e2e_seconds is None:
        args.e2e_seconds = FAST_E2E_SECONDS if args.fast else FULL_E2E_SECONDS
    if args.e2e_rounds is None:
        args.e2e_rounds = FAST_E2E_ROUNDS if args.fast else FULL_E2E_ROUNDS
    if args.e2e_seconds < 1 or args.e2e_rounds < 1:
        parser.error("--e2e-seconds and --e2e-rounds must be at least 1")
    if args.repeats is None:
        args.repeats = FAST_REPEATS if args.fast else FULL_REPEATS
    if args.sample_ms is None:
        args.sample_ms = FAST_SAMPLE_MS if args.fast else FULL_SAMPLE_MS
    if args.repeats < 2:
        parser.error("--repeats must be at least 2 (a spread needs two figures)")
    if args.sample_ms <= 0:
        parser.error("--sample-ms must be positive")
    args.cases = CASES
    if args.rows is not None:
        try:
            args.cases = select_cases(re.compile(args.rows))
        except re.error as error:
            parser.error(f"--rows: not a regular expression: {error}")
        if len(args.cases) == 1:
            parser.error(f"--rows {args.rows!r} matches no row")
    args.body = FAST_BODY if args.fast else FULL_BODY
    args.large = memory.LARGE_FAST if args.fast else memory.LARGE_FULL
    return args


def select_cases(pattern: re.Pattern[str]) -> tuple[Case, ...]:
    """The rows whose key ``pattern`` finds, each with what it is compared
    with (its peer, the row it is measured over, the bare app), in table
    order."""
    by_key = {case.key: case for case in CASES}
    wanted = {BARE}
    pending = [case.key for case in CASES if pattern.search(case.key)]
    while pending:
        key = pending.pop()
        if key in wanted:
            continue
        wanted.add(key)
        case = by_key[key]
        pending.extend(k for k in (case.peer, case.baseline) if k is not None)
    return tuple(case for case in CASES if case.key in wanted)


def run(repeats: int, sample_ms: float, cases: Sequence[Case] = CASES) -> list[Row]:
    environs = {}
    timers = {}
    for case in cases:
        if case.environ not in environs:
            environs[case.environ] = template_environ(case.environ)
        environ = environs[case.environ]
        app = case.wrap(case.app)
        check(case, app, environ)
        timers[case.key] = make_timer(
            app, environ, apps.start_response, fresh=case.fresh
        )
    samples = measure(timers, repeats, sample_ms / 1000, _progress(repeats))
    scale = budget_scale(statistics.median(samples[BARE]))
    return [_row(case, samples, scale) for case in cases]


def flow_repeats(repeats: int) -> int:
    return max(2, repeats // 5)


def run_throughput(repeats: int, sample_ms: float, body_size: int) -> list[FlowRow]:
    """Every throughput candidate on the same body, interleaved as the
    per-request rows are; each loop compresses the whole body once."""
    body = streams.json_body(body_size)
    chunks = {size: streams.cut(body, size) for size in compression.CHUNK_SIZES}
    sizes = {}
    timers = {}
    for flow in FLOWS:
        sizes[flow.key] = compression.check(flow, chunks[flow.chunk_size], body)
        timers[flow.key] = compression.make_flow_timer(flow, chunks[flow.chunk_size])
    samples = measure(
        timers,
        repeats,
        sample_ms / 1000,
        _progress(repeats, "throughput repeat"),
        first_loops=1,
        warm_up=True,
    )
    rows = []
    for flow in FLOWS:
        mine = samples[flow.key]
        ratio = None if flow.peer is None else paired_ratio(samples[flow.peer], mine)
        passed = None if flow.budget is None else flow.budget.holds(0.0, ratio)
        mbps = summarise([len(body) / ns * 1e3 for ns in mine])
        rows.append(
            FlowRow(flow, mbps, mine, len(body), sizes[flow.key], ratio, passed)
        )
    return rows


def budget_scale(bare_ns: float) -> float:
    """What the architecture page's ns budgets (§6) are multiplied by for the "scaled" verdict:
    how much slower the bare app is here than on the reference machine."""
    return bare_ns / REFERENCE_BARE_NS


def _progress(repeats: int, what: str = "repeat") -> Callable[[int], object] | None:
    # Only on a terminal: a log file or a test's captured output stays clean.
    if not sys.stderr.isatty():
        return None

    def show(done: int) -> None:
        end = "\n" if done == repeats else ""
        print(f"\r{what} {done}/{repeats}", end=end, file=sys.stderr, flush=True)

    return show


def _row(case: Case, samples: dict[str, list[float]], scale: float) -> Row:
    mine = samples[case.key]
    base = case.baseline
    extra = None if base is None else paired_difference(mine, samples[base])
    ratio = None if case.peer is None else paired_ratio(samples[case.peer], mine)
    passed = passed_scaled = None
    if case.budget is not None and extra is not None:
        passed = case.budget.holds(extra, ratio)
        passed_scaled = case.budget.holds(extra, ratio, scale)
    return Row(case, summarise(mine), mine, extra, ratio, passed, passed_scaled)


# -- output ------------------------------------------------------------------

_COLUMNS = (
    ("name", 37),
    ("ns/req median +- sd", 19),
    ("extra ns", 9),
    ("peer/this", 21),
    ("budget (architecture §6)", 27),
    ("unscaled", 8),
    ("scaled", 16),
)
_RIGHT = (False, True, True, False, False, False, False)
_VERDICT = {None: "", True: "PASS", False: "MISS"}


def _cells(row: Row, scale: float) -> tuple[str, ...]:
    summary = row.summary
    timing = f"{summary.median:8.1f} +- {summary.stdev:5.1f}"
    extra = "-" if row.extra_ns is None else f"{row.extra_ns:+.1f}"
    versus = "-"
    if row.ratio is not None and row.case.peer is not None:
        versus = f"{row.ratio:.2f}x vs {_short(row.case.peer)}"
    budget = row.case.budget
    scaled = _VERDICT[row.passed_scaled]
    if budget is not None and budget.max_extra_ns is not None:
        scaled += f" (<= {budget.max_extra_ns * scale:.0f} ns)"
    return (
        row.case.label,
        timing,
        extra,
        versus,
        "-" if budget is None else budget.text,
        _VERDICT[row.passed],
        scaled,
    )


def _short(key: str) -> str:
    case = next(case for case in CASES if case.key == key)
    return case.short or case.label


def _line(
    cells: Sequence[str],
    columns: Sequence[tuple[str, int]] = _COLUMNS,
    right: Sequence[bool] = _RIGHT,
) -> str:
    # Numbers read best right-aligned; words left-aligned.
    parts = []
    for (_, width), cell, is_right in zip(columns, cells, right, strict=True):
        parts.append(cell.rjust(width) if is_right else cell.ljust(width))
    return "  ".join(parts).rstrip()


def _rule(columns: Sequence[tuple[str, int]]) -> str:
    return _line(["-" * width for _, width in columns], columns, [False] * len(columns))


def _scale(rows: Sequence[Row]) -> float:
    bare = next(row for row in rows if row.case.key == BARE)
    return budget_scale(bare.summary.median)


def format_table(report: Report) -> str:
    rows = report.rows
    scale = _scale(rows)
    titles = [title for title, _ in _COLUMNS]
    titles[-1] = f"scaled x{scale:.2f}"
    lines = [
        f"Per request, in process: {report.repeats} interleaved repeats of "
        f"~{report.sample_ms:g} ms per row",
        "",
        _line(titles),
        _rule(_COLUMNS),
    ]
    for row in rows:
        if row.case.section:
            lines.append(f"-- {row.case.section}")
        lines.append(_line(_cells(row, scale)))
    lines.append("")
    if report.flows:
        lines.extend(_flow_table(report, scale))
        lines.append("")
    if report.peaks:
        lines.extend(_memory_table(report.peaks, scale))
        lines.append("")
    lines.extend(_notes(report, scale))
    return "\n".join(lines)


# -- throughput and memory tables --------------------------------------------

_FLOW_COLUMNS = (
    ("name", 50),
    ("MB/s median +- sd", 17),
    ("out/in", 6),
    ("this/peer MB/s", 19),
    ("budget (architecture §6)", 24),
    ("unscaled", 8),
    ("scaled", 16),
)
_FLOW_RIGHT = (False, True, True, False, False, False, False)


def _flow_short(key: str) -> str:
    flow = next(flow for flow in FLOWS if flow.key == key)
    return flow.short or flow.label


def _flow_cells(row: FlowRow) -> tuple[str, ...]:
    flow, summary = row.flow, row.summary
    versus = "-"
    if row.ratio is not None and flow.peer is not None:
        versus = f"{row.ratio:.3f}x of {_flow_short(flow.peer)}"
    return (
        flow.label,
        f"{summary.median:6.1f} +- {summary.stdev:5.1f}",
        f"{row.compressed / row.body:.1%}",
        versus,
        "-" if flow.budget is None else flow.budget.text,
        _VERDICT[row.passed],
        # A ratio of two figures from one run: the same verdict scaled.
        _VERDICT[row.passed],
    )


def _flow_table(report: Report, scale: float) -> list[str]:
    body = report.flows[0].body
    titles = [title for title, _ in _FLOW_COLUMNS]
    titles[-1] = f"scaled x{scale:.2f}"
    lines = [
        f"Compress throughput: one {body / streams.MIB:.2f} MiB JSON body per "
        f"request, {report.flow_repeats} interleaved repeats of "
        f"~{report.sample_ms:g} ms or one body, whichever is longer, each "
        "after one untimed body",
        "",
        _line(titles, _FLOW_COLUMNS, _FLOW_RIGHT),
        _rule(_FLOW_COLUMNS),
    ]
    for row in report.flows:
        if row.flow.section:
            lines.append(f"-- {row.flow.section}")
        lines.append(_line(_flow_cells(row), _FLOW_COLUMNS, _FLOW_RIGHT))
    return lines


def _mib(kib: int, sign: bool = False) -> str:
    return f"{kib / 1024:{'+' if sign else ''}.2f} MiB"


def _memory_table(peaks: Sequence[memory.Peak], scale: float) -> list[str]:
    large = f"{peaks[0].large // streams.MIB} MiB"
    small = f"{memory.SMALL // streams.MIB} MiB"
    columns = (
        ("name", 37),
        (f"peak RSS, {small} body", 20),
        (f"peak RSS, {large} body", 22),
        ("growth", 12),
        ("budget (architecture §6)", 24),
        ("unscaled", 8),
        (f"scaled x{scale:.2f}", 16),
    )
    right = (False, True, True, True, False, False, False)
    lines = [
        f"Compress memory: JSON bodies of {small} and {large} streamed through "
        "gzip, each in a fresh interpreter; peak RSS during the request (see "
        "notes)",
        "",
        _line([title for title, _ in columns], columns, right),
        _rule(columns),
    ]
    for peak in peaks:
        cells = (
            peak.label,
            _mib(peak.small_kib),
            _mib(peak.large_kib),
            _mib(peak.growth_kib, sign=True),
            memory.GROWTH_BUDGET_TEXT if peak.budget else "-",
            _VERDICT[peak.passed],
            _VERDICT[peak.passed],  # bytes, not ns: never scaled
        )
        lines.append(_line(cells, columns, right))
    return lines


# -- notes -------------------------------------------------------------------

_STACK_NOTES = (
    "Full stack (bench.stacks): wsgimw is compose(ErrorHandler(), "
    "AccessLog(format='combined', stream=...), Compress(), BasicAuth(users="
    "..., exempt=['/health']), QueryParser()); Paste's is ErrorMiddleware, "
    "TransLogger, gzipper, AuthBasicHandler (behind a function layer that "
    "sends /health round it: it has no exempt option) and a layer reading "
    "WebOb's Request(environ).GET, in that order. Public requests are GET "
    "/health?query, the one with credentials GET /hello?query with a Basic "
    "Authorization header; the app does not read the query (QueryParser "
    "parses only when read; WebOb's layer always parses).",
    "Full stack, logging: wsgimw's access log goes to a stream that keeps "
    "the last line (its cheapest documented output; 'AccessLog to a logger' "
    "goes through logging like Paste); TransLogger can only log, to a logger "
    "whose handler formats each line and drops it. Both lines are checked "
    "once before timing.",
    "Full stack, credentials: wsgimw checks a bcrypt hash of cost 4, "
    "verified once and then found in its cache of verified credentials (an "
    "keyed BLAKE2b per request); Paste's authfunc compares SHA-256 digests "
    "on every request (it has no cache), about the same work.",
    "Full stack, gzip: the hello-world body (13 bytes) is under Compress's "
    "minimum_size, so it goes out as it is; Paste's gzipper compresses it "
    "(33 bytes). The 2 KiB page rows compress in both stacks; they are "
    "measured over the bare hello-world app.",
)

_DEFAULT_NOTES = (
    "Default configuration (bench.stacks, the first rows): wsgimw is the "
    "README's compose(ErrorHandler(), AccessLog(format='combined'), "
    "Compress(minimum_size=500), BasicAuth(htpasswd=..., realm='app', "
    "protect=['/admin']), QueryParser()), AccessLog logging at INFO to a "
    "handler that formats every record; Paste's is ErrorMiddleware, "
    "TransLogger (to the same kind of handler), gzipper, AuthBasicHandler "
    "behind a function layer that sends only /admin to it, in that order. "
    "The request is a browser's GET /admin/hello?query with Basic "
    "credentials (a {SHA} line of bench/bench.htpasswd; Paste's authfunc "
    "checks the same line) and gzip among its Accept-Encoding; the app "
    "reads the query (QueryParser's mapping; WebOb's Request(environ).GET). "
    "Paste's gzipper compresses the 13-byte body (33 bytes); Compress leaves "
    "it under minimum_size.",
)

_ACTING_PATHS = (
    "ErrorHandler, app raises: answers a 500 text/html page (type negotiated "
    "from Accept, cached) through start_response(exc_info). 'logging off': "
    "its logger is disabled (NullHandler, propagate=False), so no record is "
    "made and no traceback text is built. 'logging on': one ERROR record "
    "whose handler builds the message and the traceback text, then drops "
    "them.",
    "Paste ErrorMiddleware (debug=False, no error_log, "
    "show_exceptions_in_wsgi_errors=False), app raises: collects the "
    "traceback (frames, source lines, supplements), writes a one-line "
    "summary and a full text report to wsgi.errors (a stream that keeps "
    "nothing) and answers a 500 text/html page through start_response"
    "(exc_info). It has no switch to skip the report, so its work is "
    "closest to ErrorHandler's 'logging on'.",
    "Paste ErrorMiddleware, app succeeds: hands a list body back as is "
    "(a list cannot raise); ErrorHandler wraps every body, to catch what an "
    "iterator raises and what close() raises.",
    "AccessLog builds its line at close(), with the bytes actually sent and "
    "the duration; TransLogger builds its line inside start_response, with "
    "the Content-Length header's figure.",
    "Compress, not acting: with no Accept-Encoding it still adds "
    "'Vary: Accept-Encoding' to a response it would have compressed; for "
    "HEAD it sends the headers a GET would get (Content-Encoding, Vary, no "
    "Content-Length) and the app's own body iterable; for image/png it "
    "decides from the headers in the start_response it gives the app (no "
    "Exchange is made) and passes the app's iterable on. Paste's gzipper steps aside when 'gzip' is not in Accept-Encoding "
    "or for HEAD (so its HEAD headers differ from its GET's); for image/png "
    "it does not compress, but still copies the whole body into a buffer "
    "and answers it as one chunk.",
    "Django's GZipMiddleware is not compared per request: it is a Django "
    "middleware on HttpRequest/HttpResponse objects, not a WSGI layer, and "
    "timing it around a WSGI app would time Django's whole handler (request "
    "and response objects, URL resolving) rather than the middleware. It "
    "has no image/png or HEAD equivalent either: it compresses any content "
    "type, and HEAD bodies are dropped later by Django's handler. Its "
    "streaming compressor, django.utils.text.compress_sequence, is in the "
    "throughput rows (it needs no settings).",
)


def _notes(report: Report, scale: float) -> list[str]:
    rows = report.rows
    by_key = {row.case.key: row for row in rows}
    notes = [
        "ns/req: median over repeats of the mean per request, +- their stdev.",
        "extra ns: median over repeats of (row - bare app) in the same repeat; "
        "under an 'environ copied' heading, of (row - bare app served a copy "
        "too), so the copy is not counted; under Compress's heading, of (row - "
        "the bare app answering the same response).",
        "peer/this: median over repeats of peer ns / row ns; above 1, the row "
        "is faster.",
    ]
    copies = [
        f"{by_key[key].case.label} {by_key[key].extra_ns:+.1f} ns"
        for key in ("bare_fresh", "bare_fresh_query", "bare_stack")
        if key in by_key and by_key[key].extra_ns is not None
    ]
    if copies:
        notes.append(
            f"environ copy per request, over the bare app: {'; '.join(copies)}."
        )
    # The ratio of whole requests hides how much the layers differ, so each
    # layer's own cost is compared with its peer's too.
    notes.append("layer alone, peer extra ns / this extra ns:")
    for row in rows:
        peer = None if row.case.peer is None else by_key[row.case.peer]
        if peer is None or peer.case.key == row.case.baseline:
            continue
        ours, theirs = row.extra_ns, peer.extra_ns
        if ours is None or theirs is None or ours <= 0:
            continue
        notes.append(
            f"  {row.case.label}: {_short(peer.case.key)} {theirs:+.1f} / "
            f"{ours:+.1f} = {theirs / ours:.2f}x"
        )
    notes.extend(_ACTING_PATHS)
    if "default" in by_key:
        notes.extend(_DEFAULT_NOTES)
    if "stack_gzip" in by_key:
        notes.extend(_STACK_NOTES)
    if report.flows:
        notes.extend(_flow_notes(report.flows))
    if report.peaks:
        notes.extend(_memory_notes(report.peaks))
    bare = by_key[BARE].summary.median
    notes.append(
        f"bare app here: {bare:.0f} ns, on the architecture page's reference machine "
        f"~{REFERENCE_BARE_NS:.0f} ns ({scale:.2f}x). 'unscaled' holds rows to "
        f"the architecture page's ns figures as written; 'scaled x{scale:.2f}' multiplies each "
        "ns budget by that factor (ratio and memory budgets are never scaled)."
    )
    notes.append(
        "architecture §6 budgets as they stand: a middleware that does not act "
        f"{NOT_ACTING.text[6:]}, a closing layer (wraps the body to see close()) "
        f"{CLOSING_LAYER.text[6:]} per request; scaled x{scale:.2f}: "
        f"<= {_limit(NOT_ACTING) * scale:.0f} ns and "
        f"<= {_limit(CLOSING_LAYER) * scale:.0f} ns; compression at least "
        f"{THROUGHPUT.min_ratio:.0%} of the raw compressor's MB/s on the same "
        "chunks, peak memory independent of body size."
    )
    unscaled = [row.passed for row in rows if row.passed is not None]
    unscaled += [row.passed for row in report.flows if row.passed is not None]
    unscaled += [peak.passed for peak in report.peaks if peak.passed is not None]
    scaled = [row.passed_scaled for row in rows if row.passed_scaled is not None]
    scaled += [row.passed for row in report.flows if row.passed is not None]
    scaled += [peak.passed for peak in report.peaks if peak.passed is not None]
    notes.append(
        f"budgets (architecture §6): {unscaled.count(True)} PASS, "
        f"{unscaled.count(False)} MISS unscaled; {scaled.count(True)} PASS, "
        f"{scaled.count(False)} MISS scaled x{scale:.2f}"
    )
    return notes


def _flow_notes(flows: Sequence[FlowRow]) -> list[str]:
    by_key = {row.flow.key: row for row in flows}
    notes = [
        "MB/s: 10**6 bytes of body per second (the body's length over one "
        "request's time), median over repeats +- their stdev. out/in: "
        "compressed size over body size. this/peer MB/s: median over repeats "
        "of peer time / row time; above 1, the row is faster.",
        "Throughput paths: Compress() and Paste's gzipper are whole WSGI "
        "requests (a generator app yielding the chunks, the layer, a server "
        "loop that iterates the response, closes it and lets go of it as a "
        "server's handler does when it returns, Accept-Encoding naming only "
        "the coding measured); the raw compressors and Django's "
        "compress_sequence are generators over the same chunks, drained by a "
        "loop. Each timed sample follows one untimed body of the same "
        "candidate: brotli maps and unmaps ~5 MiB per body, and without it "
        "whichever candidate follows a brotli one pays for regrowing the "
        "heap (page faults; ~10% on zstd). Paste writes through gzip.GzipFile into an in-memory buffer "
        "and sends the body as one chunk at the end; Django writes through "
        "gzip.GzipFile into a streaming buffer and yields what it has.",
        "Compress() gzip beside its peers, their time / its time:",
    ]
    for row in flows:
        if row.flow.coding != "gzip" or row.flow.layer is None:
            continue
        if row.flow.peer is None or row.flow.budget is None:
            continue
        stem = row.flow.key.removesuffix("_compress")
        versus = [
            f"{by_key[f'{stem}_{peer}'].flow.short} "
            f"{paired_ratio(by_key[f'{stem}_{peer}'].samples, row.samples):.2f}x"
            for peer in ("paste", "django")
        ]
        notes.append(f"  {row.flow.label}: {', '.join(versus)}")
    return notes


def _memory_notes(peaks: Sequence[memory.Peak]) -> list[str]:
    sources = sorted({peak.source for peak in peaks})
    reset = all(peak.reset for peak in peaks)
    if sources == ["VmHWM"] and reset:
        how = (
            "the kernel's RSS high-water mark (VmHWM in /proc/self/status), "
            "reset to the resident size just before the request "
            "(/proc/self/clear_refs), so start-up peaks do not count. Not "
            "getrusage's ru_maxrss: Linux carries it across fork and exec, so "
            "a child of this bench never reads below the bench's own RSS"
        )
    else:
        how = (
            f"read from {' and '.join(sources)}, NOT reset before the request: "
            "start-up peaks (and, for ru_maxrss, the bench's own RSS, inherited "
            "across fork and exec) can hide some of the request's"
        )
    notes = [
        "Memory: each case in a fresh interpreter (python -m bench.memory); "
        f"peak RSS (C allocations included; not tracemalloc) is {how}. The app "
        f"makes the body on the fly from a {memory.POOL_SIZE // streams.KIB} "
        f"KiB pool of JSON chunks of {memory.CHUNK_SIZE // streams.KIB} KiB; "
        "the server loop decodes each chunk (64 KiB at a time) to check the "
        "body, and drops it. growth: peak with the large body - peak with the "
        "small one.",
    ]
    for peak in peaks:
        notes.append(
            f"  {peak.label}: resident at the request's start "
            f"{_mib(peak.before_small_kib)} / {_mib(peak.before_large_kib)}, "
            f"so the request added {_mib(peak.small_kib - peak.before_small_kib)}"
            f" / {_mib(peak.large_kib - peak.before_large_kib)}; it sent "
            f"{peak.sent_large / streams.MIB:.1f} MiB of gzip for the "
            f"{peak.large // streams.MIB} MiB body"
        )
    return notes


def _limit(budget: Budget) -> float:
    assert budget.max_extra_ns is not None
    return budget.max_extra_ns


def _sections(rows: Sequence[Row] | Sequence[Flow]) -> list[str]:
    """The heading each row is printed under ("" before the first one)."""
    current, sections = "", []
    for row in rows:
        section = row.case.section if isinstance(row, Row) else row.section
        current = section or current
        sections.append(current)
    return sections


def to_json(report: Report) -> dict[str, object]:
    rows = report.rows
    return {
        "repeats": report.repeats,
        "sample_ms": report.sample_ms,
        "reference_bare_ns": REFERENCE_BARE_NS,
        "budget_scale": _scale(rows),
        "rows": [
            {
                "key": row.case.key,
                "name": row.case.label,
                "section": section,
                "median_ns": row.summary.median,
                "mean_ns": row.summary.mean,
                "stdev_ns": row.summary.stdev,
                "extra_ns": row.extra_ns,
                "baseline": row.case.baseline,
                "fresh_environ": row.case.fresh,
                "peer": row.case.peer,
                "peer_over_this": row.ratio,
                "budget": None if row.case.budget is None else row.case.budget.text,
                "passed": row.passed,
                "passed_scaled": row.passed_scaled,
                "samples_ns": row.samples,
            }
            for row, section in zip(rows, _sections(rows), strict=True)
        ],
        "throughput_repeats": report.flow_repeats,
        "throughput": [
            {
                "key": row.flow.key,
                "name": row.flow.label,
                "section": section,
                "coding": row.flow.coding,
                "chunk_size": row.flow.chunk_size,
                "body_bytes": row.body,
                "compressed_bytes": row.compressed,
                "median_mbps": row.summary.median,
                "mean_mbps": row.summary.mean,
                "stdev_mbps": row.summary.stdev,
                "peer": row.flow.peer,
                "this_over_peer": row.ratio,
                "budget": None if row.flow.budget is None else row.flow.budget.text,
                "passed": row.passed,
                "samples_ns": row.samples,
            }
            for row, section in zip(
                report.flows,
                _sections([row.flow for row in report.flows]),
                strict=True,
            )
        ],
        "memory": [
            {
                "key": peak.key,
                "name": peak.label,
                "small_body_bytes": memory.SMALL,
                "large_body_bytes": peak.large,
                "peak_rss_small_kib": peak.small_kib,
                "peak_rss_large_kib": peak.large_kib,
                "resident_before_small_kib": peak.before_small_kib,
                "resident_before_large_kib": peak.before_large_kib,
                "growth_kib": peak.growth_kib,
                "peak_reset": peak.reset,
                "peak_source": peak.source,
                "budget": memory.GROWTH_BUDGET_TEXT if peak.budget else None,
                "passed": peak.passed,
            }
            for peak in report.peaks
        ],
    }


def packages() -> dict[str, str]:
    """The installed version of each package the figures depend on."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            found[name] = "not installed"
    return found


def machine() -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "system": platform.system(),
        "cores": os.cpu_count(),
        "packages": packages(),
    }


def machine_line(found: dict[str, object]) -> str:
    listed = found["packages"]
    assert isinstance(listed, dict)
    versions = ", ".join(f"{name} {number}" for name, number in listed.items())
    return (
        f"wsgimw bench: Python {found['python']} ({found['implementation']}) on "
        f"{found['system']} {found['machine']}, {found['cores']} cores; {versions}"
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    status = 0
    found = machine()
    print(machine_line(found))
    print()
    figures: dict[str, object] = {"machine": found}
    if not args.e2e_only:
        whole = args.rows is None
        # Memory first: its cases run in parallel subprocesses, which would
        # disturb the timings if they overlapped.
        peaks = memory.measure(args.large) if whole else []
        rows = run(args.repeats, args.sample_ms, args.cases)
        repeats = flow_repeats(args.repeats)
        flows = run_throughput(repeats, args.sample_ms, args.body) if whole else []
        report = Report(rows, flows, peaks, args.repeats, repeats, args.sample_ms)
        print(format_table(report), flush=True)
        figures.update(to_json(report))
    if args.e2e or args.e2e_only:
        try:
            ended = e2e.measure(args.e2e_seconds, args.e2e_rounds, _e2e_progress())
        except e2e.Missing as missing:
            print(f"bench: no end-to-end rows: {missing}", file=sys.stderr)
            status = E2E_MISSING
        else:
            if not args.e2e_only:
                print()
            print("\n".join(e2e.format_table(ended)))
            figures["e2e"] = e2e.to_json(ended)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return status


def _e2e_progress() -> Callable[[str], object] | None:
    if not sys.stderr.isatty():
        return None

    def show(what: str) -> None:
        print(f"\r{what:<60}", end="", file=sys.stderr, flush=True)

    return show
