"""Smoke test for ``python -m bench.serving``: StaticFiles beside WhiteNoise
runs in process and under gunicorn with wrk, prints every row with a ratio
and a verdict, and writes the same figures as JSON. Timings are never
asserted (architecture §6: benchmarks in bench/, never timed tests)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from bench import serving

ROOT = Path(__file__).resolve().parent.parent


def test_fast_run_prints_every_row(tmp_path: Path) -> None:
    figures = tmp_path / "serving.json"
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            "-W",
            "ignore:'cgi' is deprecated:DeprecationWarning",
            "-m",
            "bench.serving",
            "--fast",
            "--e2e",
            "--e2e-seconds",
            "1",
            "--e2e-rounds",
            "1",
            "--json",
            str(figures),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("wsgimw ")
    assert "StaticFiles vs WhiteNoise" in out.splitlines()[0]
    in_process, e2e = out.split("\nUnder gunicorn ", 1)
    for kind in serving.KINDS:
        line = next(line for line in in_process.splitlines() if kind.label in line)
        assert re.search(
            r"\d+\.\d+ (us|ms) +\d+\.\d+ (us|ms) +\d+\.\d\dx  (PASS|MISS)$", line
        ), line
    for kind in serving.KINDS:
        lines = [
            line
            for line in e2e.splitlines()
            if line.strip().startswith(kind.label + " ")
        ]
        if not kind.file_wrapper:
            assert not lines  # every real server offers a file wrapper
            continue
        assert re.search(r"\d+/s +\d+/s +\d+\.\d\dx  (PASS|MISS)$", lines[0]), lines
    saved = json.loads(figures.read_text(encoding="utf-8"))
    assert [row["key"] for row in saved["in_process"]] == [k.key for k in serving.KINDS]
    assert all(row["ns"]["wsgimw"] > 0 for row in saved["in_process"])
    assert [row["key"] for row in saved["e2e"]] == [
        k.key for k in serving.KINDS if k.file_wrapper
    ]


def test_the_rows_are_registered_in_python_m_bench() -> None:
    from bench import cli

    keys = {case.key for case in vars(cli)["CASES"]}
    assert {
        f"serving_{kind}_{name}"
        for kind in ("small", "large", "gzip", "not_modified")
        for name in ("wsgimw", "whitenoise")
    } <= keys
    assert {"static_pass", "mount_pass", "conditional_pass"} <= keys
