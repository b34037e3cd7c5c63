"""Smoke test for ``python -m bench``: it runs, prints every row with a
positive figure, and writes the same rows as JSON. Timings are never
asserted here (DESIGN §6: benchmarks in bench/, never timed tests)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ROWS = {
    "bare": "bare hello-world app",
    "pass_through": "pass-through function layer",
    "nested": "hand nesting m1(m2(m3(app)))",
    "compose": "compose(m1, m2, m3)(app)",
    "closing_wsgimw": "wsgimw ClosingIterator layer",
    "closing_werkzeug": "werkzeug ClosingIterator layer",
    "exchange_pass": "Exchange, not acting (app's iterable)",
    "exchange_close": "Exchange, observes_close (Body)",
    "rewrite_headers": "Rewrite(headers=hook), pass-through",
    "rewrite_body": "Rewrite(body=per-chunk identity)",
    "access_log": "AccessLog(format='combined')",
    "translogger": "Paste TransLogger",
    "bare_fresh": "bare app, environ copied per request",
    "errors_pass": "ErrorHandler, app succeeds",
    "paste_pass": "Paste ErrorMiddleware, app succeeds",
    "errors_raise": "ErrorHandler, app raises, logging off",
    "errors_raise_logged": "ErrorHandler, app raises, logging on",
    "paste_raise": "Paste ErrorMiddleware, app raises",
    "bare_fresh_query": "bare app, query environ copied",
    "query_pass": "QueryParser, app never reads it",
    "query_read": "QueryParser, app reads getall('tag')",
    "webob_read": "WebOb Request(environ).GET.getall",
}
# Rows whose figure is compared with a peer: ratio printed beside them.
WITH_PEER = {
    "compose",
    "closing_wsgimw",
    "access_log",
    "errors_pass",
    "errors_raise",
    "errors_raise_logged",
    "query_pass",
    "query_read",
}
# Rows held to a DESIGN §6 budget: a verdict as written and one scaled.
WITH_BUDGET = {
    "pass_through",
    "compose",
    "closing_wsgimw",
    "exchange_pass",
    "exchange_close",
    "errors_pass",
    "query_pass",
}
# Rows served a copy of the environ per request, and the row they are
# measured over (the bare app served a copy too); the copy rows themselves
# are measured over the bare app.
FRESH = {
    "bare_fresh": "bare",
    "errors_pass": "bare_fresh",
    "paste_pass": "bare_fresh",
    "errors_raise": "bare_fresh",
    "errors_raise_logged": "bare_fresh",
    "paste_raise": "bare_fresh",
    "bare_fresh_query": "bare",
    "query_pass": "bare_fresh_query",
    "query_read": "bare_fresh_query",
    "webob_read": "bare_fresh_query",
}


def test_fast_run_prints_every_row(tmp_path: Path) -> None:
    figures = tmp_path / "bench.json"
    # A subprocess, as `make bench` runs it: the project root on sys.path,
    # no coverage tracer slowing the loop, warnings as errors like pytest's.
    result = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            # webob 1.8 imports the stdlib cgi module; see pyproject.toml.
            "-W",
            "ignore:'cgi' is deprecated:DeprecationWarning",
            "-m",
            "bench",
            "--fast",
            "--json",
            figures,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""

    lines = result.stdout.splitlines()
    for key, label in ROWS.items():
        line = next((line for line in lines if line.startswith(label)), None)
        assert line is not None, f"no row {label!r} in:\n{result.stdout}"
        median = re.search(r"(\d+\.\d+) \+- +(\d+\.\d+)", line)
        assert median is not None, line
        assert float(median.group(1)) > 0, line
        if key != "bare":
            assert re.search(r"\d+\.\d+ +[+-]\d+\.\d+ ", line), line  # extra ns
        assert bool(re.search(r"\d+\.\d+x vs ", line)) == (key in WITH_PEER), line
        # Unscaled verdict, then the scaled one (with its ns limit, if any).
        verdicts = re.findall(r"\b(?:PASS|MISS)\b", line)
        assert len(verdicts) == (2 if key in WITH_BUDGET else 0), line
    assert re.search(r"^name .* unscaled +scaled x\d+\.\d\d$", result.stdout, re.M)
    assert re.search(
        r"budgets \(DESIGN §6\): \d+ PASS, \d+ MISS unscaled; "
        r"\d+ PASS, \d+ MISS scaled x\d+\.\d\d",
        result.stdout,
    )
    assert re.search(
        r"budgets as they stand: a middleware that does not act <= 150 ns, "
        r"a closing layer .*<= 300 ns per request; scaled x\d+\.\d\d: "
        r"<= \d+ ns and <= \d+ ns\.",
        result.stdout,
    )

    saved = json.loads(figures.read_text(encoding="utf-8"))
    assert saved["reference_bare_ns"] > 0
    assert saved["budget_scale"] > 0
    by_key = {row["key"]: row for row in saved["rows"]}
    assert set(by_key) == set(ROWS)
    for key, row in by_key.items():
        assert row["median_ns"] > 0
        assert len(row["samples_ns"]) == saved["repeats"]
        assert (row["extra_ns"] is None) == (key == "bare")
        assert (row["peer_over_this"] is not None) == (key in WITH_PEER)
        if key in WITH_PEER:
            assert row["peer_over_this"] > 0
        assert (row["passed"] is not None) == (key in WITH_BUDGET)
        assert (row["passed_scaled"] is not None) == (key in WITH_BUDGET)
        assert row["fresh_environ"] == (key in FRESH)
        expected_baseline = None if key == "bare" else FRESH.get(key, "bare")
        assert row["baseline"] == expected_baseline, key


def test_rejects_too_few_repeats() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--repeats", "1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "--repeats must be at least 2" in result.stderr
