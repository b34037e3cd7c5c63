"""``python -m bench [--fast] [--json PATH]``: measure, print, save."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from bench import apps
from bench.cases import BARE, CASES, REFERENCE_BARE_NS, Case, check
from bench.harness import (
    Summary,
    make_timer,
    measure,
    paired_difference,
    paired_ratio,
    summarise,
)

# Full mode: about 10 s on this kind of machine. Fast mode: a smoke run.
FULL_REPEATS, FULL_SAMPLE_MS = 40, 20.0
FAST_REPEATS, FAST_SAMPLE_MS = 5, 2.0


@dataclass(frozen=True)
class Row:
    case: Case
    summary: Summary
    samples: list[float]
    extra_ns: float | None  # None for the bare app itself
    ratio: float | None  # peer / this, when the row has a peer
    passed: bool | None  # None when the row has no budget


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Per-request cost of wsgimw layers beside hand-written "
        "code and Werkzeug, measured in one run (DESIGN §6).",
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
    environ = apps.make_environ()
    timers = {}
    for case in CASES:
        app = case.wrap(apps.hello_app)
        check(case, app, environ)
        timers[case.key] = make_timer(app, environ, apps.start_response)
    samples = measure(timers, repeats, sample_ms / 1000, _progress(repeats))
    return [_row(case, samples) for case in CASES]


def _progress(repeats: int) -> Callable[[int], object] | None:
    # Only on a terminal: a log file or a test's captured output stays clean.
    if not sys.stderr.isatty():
        return None

    def show(done: int) -> None:
        end = "\n" if done == repeats else ""
        print(f"\rrepeat {done}/{repeats}", end=end, file=sys.stderr, flush=True)

    return show


def _row(case: Case, samples: dict[str, list[float]]) -> Row:
    mine = samples[case.key]
    extra = None if case.key == BARE else paired_difference(mine, samples[BARE])
    ratio = None if case.peer is None else paired_ratio(samples[case.peer], mine)
    passed = None
    if case.budget is not None and extra is not None:
        passed = case.budget.holds(extra, ratio)
    return Row(case, summarise(mine), mine, extra, ratio, passed)


# -- output ------------------------------------------------------------------

_COLUMNS = (
    ("name", 37),
    ("ns/req median +- sd", 19),
    ("extra ns", 9),
    ("peer/this", 21),
    ("budget", 27),
    ("result", 6),
)


def _cells(row: Row) -> tuple[str, ...]:
    summary = row.summary
    timing = f"{summary.median:8.1f} +- {summary.stdev:5.1f}"
    extra = "-" if row.extra_ns is None else f"{row.extra_ns:+.1f}"
    versus = "-"
    if row.ratio is not None and row.case.peer is not None:
        versus = f"{row.ratio:.2f}x vs {_short(row.case.peer)}"
    budget = "-" if row.case.budget is None else row.case.budget.text
    result = {None: "", True: "PASS", False: "MISS"}[row.passed]
    return (row.case.label, timing, extra, versus, budget, result)


def _short(key: str) -> str:
    case = next(case for case in CASES if case.key == key)
    return case.short or case.label


def _line(cells: Sequence[str]) -> str:
    # Numbers read best right-aligned; words left-aligned.
    parts = []
    for (_, width), cell, right in zip(
        _COLUMNS, cells, (False, True, True, False, False, False), strict=True
    ):
        parts.append(cell.rjust(width) if right else cell.ljust(width))
    return "  ".join(parts).rstrip()


def format_table(rows: Sequence[Row], repeats: int, sample_ms: float) -> str:
    lines = [
        f"wsgimw bench: Python {platform.python_version()} "
        f"({platform.python_implementation()}) on {platform.machine()}, "
        f"{repeats} interleaved repeats of ~{sample_ms:g} ms per row",
        "",
        _line([title for title, _ in _COLUMNS]),
        _line(["-" * width for _, width in _COLUMNS]),
    ]
    lines.extend(_line(_cells(row)) for row in rows)
    lines.append("")
    lines.extend(_notes(rows))
    return "\n".join(lines)


def _notes(rows: Sequence[Row]) -> list[str]:
    by_key = {row.case.key: row for row in rows}
    notes = [
        "ns/req: median over repeats of the mean per request, +- their stdev.",
        "extra ns: median over repeats of (row - bare app) in the same repeat.",
        "peer/this: median over repeats of peer ns / row ns; above 1, the row "
        "is faster.",
    ]
    # The ratio of whole requests hides how much the layers differ, so the
    # closing layers' own costs are compared too.
    ours = by_key["closing_wsgimw"].extra_ns
    theirs = by_key["closing_werkzeug"].extra_ns
    if ours is not None and theirs is not None and ours > 0:
        notes.append(
            f"closing layer alone: werkzeug {theirs:+.1f} ns / wsgimw "
            f"{ours:+.1f} ns = {theirs / ours:.2f}x"
        )
    bare = by_key[BARE].summary.median
    notes.append(
        f"bare app here: {bare:.0f} ns, on DESIGN's reference machine "
        f"~{REFERENCE_BARE_NS:.0f} ns ({bare / REFERENCE_BARE_NS:.2f}x); "
        "budgets are not scaled."
    )
    verdicts = [row.passed for row in rows if row.passed is not None]
    notes.append(
        f"budgets (DESIGN §6): {verdicts.count(True)} PASS, "
        f"{verdicts.count(False)} MISS"
    )
    return notes


def to_json(rows: Sequence[Row], repeats: int, sample_ms: float) -> dict[str, object]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "repeats": repeats,
        "sample_ms": sample_ms,
        "rows": [
            {
                "key": row.case.key,
                "name": row.case.label,
                "median_ns": row.summary.median,
                "mean_ns": row.summary.mean,
                "stdev_ns": row.summary.stdev,
                "extra_ns": row.extra_ns,
                "peer": row.case.peer,
                "peer_over_this": row.ratio,
                "budget": None if row.case.budget is None else row.case.budget.text,
                "passed": row.passed,
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
