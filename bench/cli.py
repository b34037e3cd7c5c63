"""``python -m bench [--fast] [--json PATH]``: measure, print, save."""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import apps
from bench.cases import (
    BARE,
    CASES,
    CLOSING_LAYER,
    NOT_ACTING,
    REFERENCE_BARE_NS,
    Budget,
    Case,
    check,
    template_environ,
)
from bench.harness import (
    Summary,
    make_timer,
    measure,
    paired_difference,
    paired_ratio,
    summarise,
)

# Full mode: about 20 s on this kind of machine. Fast mode: a smoke run.
FULL_REPEATS, FULL_SAMPLE_MS = 40, 20.0
FAST_REPEATS, FAST_SAMPLE_MS = 5, 2.0


@dataclass(frozen=True)
class Row:
    case: Case
    summary: Summary
    samples: list[float]
    extra_ns: float | None  # over case.baseline; None for the bare app itself
    ratio: float | None  # peer / this, when the row has a peer
    passed: bool | None  # None when the row has no budget
    passed_scaled: bool | None  # the same, ns budgets scaled to this machine


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Per-request cost of wsgimw layers beside hand-written "
        "code, Werkzeug, Paste and WebOb, measured in one run (DESIGN §6).",
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
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write figures")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = FAST_REPEATS if args.fast else FULL_REPEATS
    if args.sample_ms is None:
        args.sample_ms = FAST_SAMPLE_MS if args.fast else FULL_SAMPLE_MS
    if args.repeats < 2:
        parser.error("--repeats must be at least 2 (a spread needs two figures)")
    if args.sample_ms <= 0:
        parser.error("--sample-ms must be positive")
    return args


def run(repeats: int, sample_ms: float) -> list[Row]:
    environs = {}
    timers = {}
    for case in CASES:
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
    return [_row(case, samples, scale) for case in CASES]


def budget_scale(bare_ns: float) -> float:
    """What DESIGN's ns budgets are multiplied by for the "scaled" verdict:
    how much slower the bare app is here than on the reference machine."""
    return bare_ns / REFERENCE_BARE_NS


def _progress(repeats: int) -> Callable[[int], object] | None:
    # Only on a terminal: a log file or a test's captured output stays clean.
    if not sys.stderr.isatty():
        return None

    def show(done: int) -> None:
        end = "\n" if done == repeats else ""
        print(f"\rrepeat {done}/{repeats}", end=end, file=sys.stderr, flush=True)

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
    ("budget (DESIGN §6)", 27),
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


def _line(cells: Sequence[str]) -> str:
    # Numbers read best right-aligned; words left-aligned.
    parts = []
    for (_, width), cell, right in zip(_COLUMNS, cells, _RIGHT, strict=True):
        parts.append(cell.rjust(width) if right else cell.ljust(width))
    return "  ".join(parts).rstrip()


def _scale(rows: Sequence[Row]) -> float:
    bare = next(row for row in rows if row.case.key == BARE)
    return budget_scale(bare.summary.median)


def format_table(rows: Sequence[Row], repeats: int, sample_ms: float) -> str:
    scale = _scale(rows)
    titles = [title for title, _ in _COLUMNS]
    titles[-1] = f"scaled x{scale:.2f}"
    lines = [
        f"wsgimw bench: Python {platform.python_version()} "
        f"({platform.python_implementation()}) on {platform.machine()}, "
        f"{repeats} interleaved repeats of ~{sample_ms:g} ms per row",
        "",
        _line(titles),
        _line(["-" * width for _, width in _COLUMNS]),
    ]
    for row in rows:
        if row.case.section:
            lines.append(f"-- {row.case.section}")
        lines.append(_line(_cells(row, scale)))
    lines.append("")
    lines.extend(_notes(rows, scale))
    return "\n".join(lines)


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
)


def _notes(rows: Sequence[Row], scale: float) -> list[str]:
    by_key = {row.case.key: row for row in rows}
    notes = [
        "ns/req: median over repeats of the mean per request, +- their stdev.",
        "extra ns: median over repeats of (row - bare app) in the same repeat; "
        "under an 'environ copied' heading, of (row - bare app served a copy "
        "too), so the copy is not counted.",
        "peer/this: median over repeats of peer ns / row ns; above 1, the row "
        "is faster.",
    ]
    copies = [
        f"{by_key[key].case.label} {by_key[key].extra_ns:+.1f} ns"
        for key in ("bare_fresh", "bare_fresh_query")
        if by_key[key].extra_ns is not None
    ]
    notes.append(f"environ copy per request, over the bare app: {'; '.join(copies)}.")
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
    bare = by_key[BARE].summary.median
    notes.append(
        f"bare app here: {bare:.0f} ns, on DESIGN's reference machine "
        f"~{REFERENCE_BARE_NS:.0f} ns ({scale:.2f}x). 'unscaled' holds rows to "
        f"DESIGN's ns figures as written; 'scaled x{scale:.2f}' multiplies each "
        "ns budget by that factor (ratio budgets are never scaled)."
    )
    notes.append(
        "DESIGN §6 budgets as they stand: a middleware that does not act "
        f"{NOT_ACTING.text[6:]}, a closing layer (wraps the body to see close()) "
        f"{CLOSING_LAYER.text[6:]} per request; scaled x{scale:.2f}: "
        f"<= {_limit(NOT_ACTING) * scale:.0f} ns and "
        f"<= {_limit(CLOSING_LAYER) * scale:.0f} ns."
    )
    unscaled = [row.passed for row in rows if row.passed is not None]
    scaled = [row.passed_scaled for row in rows if row.passed_scaled is not None]
    notes.append(
        f"budgets (DESIGN §6): {unscaled.count(True)} PASS, "
        f"{unscaled.count(False)} MISS unscaled; {scaled.count(True)} PASS, "
        f"{scaled.count(False)} MISS scaled x{scale:.2f}"
    )
    return notes


def _limit(budget: Budget) -> float:
    assert budget.max_extra_ns is not None
    return budget.max_extra_ns


def to_json(rows: Sequence[Row], repeats: int, sample_ms: float) -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "repeats": repeats,
        "sample_ms": sample_ms,
        "reference_bare_ns": REFERENCE_BARE_NS,
        "budget_scale": _scale(rows),
        "rows": [
            {
                "key": row.case.key,
                "name": row.case.label,
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
            for row in rows
        ],
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rows = run(args.repeats, args.sample_ms)
    print(format_table(rows, args.repeats, args.sample_ms))
    if args.json is not None:
        figures = to_json(rows, args.repeats, args.sample_ms)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0
