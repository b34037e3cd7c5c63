"""Smoke test for ``python -m bench``: it runs, prints every row with a
positive figure, and writes the same rows as JSON. Timings (and memory
figures) are never asserted here (DESIGN §6: benchmarks in bench/, never
timed tests)."""

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
    "bare_page": "bare app, 2 KiB text/html",
    "compress_plain": "Compress, no Accept-Encoding",
    "paste_plain": "Paste gzipper, no Accept-Encoding",
    "compress_head": "Compress, HEAD (GET's headers)",
    "paste_head": "Paste gzipper, HEAD",
    "bare_png": "bare app, 2 KiB image/png",
    "compress_png": "Compress, image/png, gzip accepted",
    "paste_png": "Paste gzipper, image/png",
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
    "compress_plain",
    "compress_head",
    "compress_png",
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
    "compress_plain",
    "compress_head",
    "compress_png",
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
# Compress's not-acting rows and their peers are measured over the bare app
# answering the same response.
OVER = {
    "compress_plain": "bare_page",
    "paste_plain": "bare_page",
    "compress_head": "bare_page",
    "paste_head": "bare_page",
    "compress_png": "bare_png",
    "paste_png": "bare_png",
}

# The throughput rows: Compress against the raw compressor (its budget),
# and for gzip Paste's gzipper and Django's compress_sequence beside it.
RAW = {
    "gzip": "raw zlib.compressobj(6, DEFLATED, 31)",
    "br": "raw brotli.Compressor(quality=4)",
    "zstd": "raw ZstdCompressor(level=3).compressobj()",
}
FLOWS: dict[str, str] = {}
for _coding in ("gzip", "br", "zstd"):
    for _size in (8, 64):
        _stem = f"{_coding}_{_size}k"
        FLOWS[f"{_stem}_compress"] = f"Compress() {_coding}, {_size} KiB"
        FLOWS[f"{_stem}_raw"] = f"{RAW[_coding]}, {_size} KiB"
        if _coding == "gzip":
            FLOWS[f"{_stem}_paste"] = f"Paste gzipper.middleware, {_size} KiB"
            FLOWS[f"{_stem}_django"] = f"Django compress_sequence, {_size} KiB"
PEAKS = {
    "compress": "Compress() gzip, streamed",
    "paste": "Paste gzipper.middleware, buffered",
}


def test_fast_run_prints_every_row(tmp_path: Path) -> None:
    figures_path = tmp_path / "bench.json"
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
            figures_path,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""

    out = result.stdout
    requests, rest = out.split("\nCompress throughput: ", 1)
    streams, rest = rest.split("\nCompress memory: ", 1)
    peaks, notes = rest.split("\nns/req: ", 1)

    lines = requests.splitlines()
    for key, label in ROWS.items():
        line = _row(lines, label, out)
        median = re.search(r"(\d+\.\d+) \+- +(\d+\.\d+)", line)
        assert median is not None, line
        assert float(median.group(1)) > 0, line
        if key != "bare":
            assert re.search(r"\d+\.\d+ +[+-]\d+\.\d+ ", line), line  # extra ns
        assert bool(re.search(r"\d+\.\d+x vs ", line)) == (key in WITH_PEER), line
        # Unscaled verdict, then the scaled one (with its ns limit, if any).
        verdicts = re.findall(r"\b(?:PASS|MISS)\b", line)
        assert len(verdicts) == (2 if key in WITH_BUDGET else 0), line
    assert re.search(r"^name .* unscaled +scaled x\d+\.\d\d$", out, re.M)

    # Throughput: MB/s, the compressed share, the ratio to the raw
    # compressor, and for Compress the budget's two verdicts.
    assert re.match(r"one \d+\.\d\d MiB JSON body per request", streams)
    assert re.search(r"^name +MB/s median .* scaled x\d+\.\d\d$", streams, re.M)
    lines = streams.splitlines()
    for key, label in FLOWS.items():
        line = _row(lines, label, out)
        figures = re.search(r"(\d+\.\d+) \+- +\d+\.\d+ +(\d+\.\d)%", line)
        assert figures is not None, line
        assert float(figures.group(1)) > 0, line
        assert 0 < float(figures.group(2)) < 100, line
        with_peer = not key.endswith("_raw")
        ratio = re.search(r"(\d+\.\d+)x of raw (zlib|brotli|zstd)", line)
        assert (ratio is not None) == with_peer, line
        if ratio is not None:
            assert float(ratio.group(1)) > 0, line
        verdicts = re.findall(r"\b(?:PASS|MISS)\b", line)
        assert len(verdicts) == (2 if key.endswith("_compress") else 0), line
        if key.endswith("_compress"):
            assert "MB/s >= 95% of raw" in line, line

    # Memory: both peaks and their difference, in MiB; a verdict for
    # Compress only (Paste's gzipper is shown, not held to the budget).
    assert re.match(r"JSON bodies of 1 MiB and 8 MiB streamed through gzip", peaks)
    lines = peaks.splitlines()
    for key, label in PEAKS.items():
        line = _row(lines, label, out)
        sizes = re.findall(r"[+-]?\d+\.\d\d MiB", line)
        assert len(sizes) == 3, line
        small, large, growth = (float(size.split()[0]) for size in sizes)
        assert small > 0, line
        assert large > 0, line
        assert abs(growth - (large - small)) < 0.015, line
        verdicts = re.findall(r"\b(?:PASS|MISS)\b", line)
        assert len(verdicts) == (2 if key == "compress" else 0), line

    assert "Django's GZipMiddleware is not compared per request" in notes
    assert re.search(
        r"^  Compress\(\) gzip, 8 KiB: Paste \d+\.\d\dx, Django \d+\.\d\dx$",
        notes,
        re.M,
    )
    assert re.search(r"peak RSS .* is (the kernel's RSS high-water|read from)", notes)
    assert re.search(
        r"budgets \(DESIGN §6\): \d+ PASS, \d+ MISS unscaled; "
        r"\d+ PASS, \d+ MISS scaled x\d+\.\d\d",
        notes,
    )
    assert re.search(
        r"budgets as they stand: a middleware that does not act <= 150 ns, "
        r"a closing layer .*<= 300 ns per request; scaled x\d+\.\d\d: "
        r"<= \d+ ns and <= \d+ ns; compression at least 95% of the raw "
        r"compressor's MB/s",
        notes,
    )

    saved = json.loads(figures_path.read_text(encoding="utf-8"))
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
        expected = None if key == "bare" else OVER.get(key, FRESH.get(key, "bare"))
        assert row["baseline"] == expected, key

    flows = {row["key"]: row for row in saved["throughput"]}
    assert set(flows) == set(FLOWS)
    assert saved["throughput_repeats"] >= 2
    for key, row in flows.items():
        assert row["name"] == FLOWS[key]
        assert row["median_mbps"] > 0
        assert 0 < row["compressed_bytes"] < row["body_bytes"]
        assert len(row["samples_ns"]) == saved["throughput_repeats"]
        assert (row["this_over_peer"] is not None) == (not key.endswith("_raw"))
        assert (row["passed"] is not None) == key.endswith("_compress")

    memory = {row["key"]: row for row in saved["memory"]}
    assert set(memory) == set(PEAKS)
    for key, row in memory.items():
        assert row["name"] == PEAKS[key]
        assert row["large_body_bytes"] > row["small_body_bytes"] > 0
        assert row["peak_rss_small_kib"] > 0
        assert row["peak_rss_large_kib"] > 0
        assert row["resident_before_small_kib"] > 0
        assert (
            row["growth_kib"] == row["peak_rss_large_kib"] - row["peak_rss_small_kib"]
        )
        assert row["peak_source"] in ("VmHWM", "ru_maxrss")
        assert (row["passed"] is not None) == (key == "compress")


def _row(lines: list[str], label: str, out: str) -> str:
    line = next((line for line in lines if line.startswith(label)), None)
    assert line is not None, f"no row {label!r} in:\n{out}"
    return line


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
