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
}
# Rows whose figure is compared with a peer: ratio printed beside them.
WITH_PEER = {"compose", "closing_wsgimw"}


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
        if key in WITH_PEER:
            assert re.search(r"\d+\.\d+x vs ", line), line
    assert re.search(r"budgets \(DESIGN §6\): \d+ PASS, \d+ MISS", result.stdout)

    saved = json.loads(figures.read_text(encoding="utf-8"))
    by_key = {row["key"]: row for row in saved["rows"]}
    assert set(by_key) == set(ROWS)
    for key, row in by_key.items():
        assert row["median_ns"] > 0
        assert len(row["samples_ns"]) == saved["repeats"]
        assert (row["extra_ns"] is None) == (key == "bare")
        assert (row["peer_over_this"] is not None) == (key in WITH_PEER)


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
