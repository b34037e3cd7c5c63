"""Smoke test for ``python -m bench``: it runs, prints every row with a
positive figure, and writes the same rows as JSON; the end-to-end rows run
real gunicorn servers under wrk for a second each. Timings (and memory
figures) are never asserted here (architecture §6: benchmarks in bench/, never
timed tests)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bench import e2e, markdown

ROOT = Path(__file__).resolve().parent.parent
# As `make bench` runs it: the project root on sys.path, no coverage tracer
# slowing the loop, warnings as errors like pytest's (webob 1.8 imports the
# stdlib cgi module; see pyproject.toml).
BENCH = [
    sys.executable,
    "-W",
    "error",
    "-W",
    "ignore:'cgi' is deprecated:DeprecationWarning",
    "-m",
    "bench",
]

ROWS = {
    "default": "wsgimw, default configuration",
    "paste_default": "Paste/WebOb stack, same jobs",
    "bare_default": "bare app, default request copied",
    "bare": "bare hello-world app",
    "pass_through": "pass-through function layer",
    "nested": "hand nesting m1(m2(m3(app)))",
    "compose": "compose(m1, m2, m3)(app)",
    "closing_wsgimw": "wsgimw ClosingIterator layer",
    "closing_werkzeug": "werkzeug ClosingIterator layer",
    "exchange_pass": "Exchange, not acting (app's iterable)",
    "exchange_close": "Exchange, observes_close (Body)",
    "observed": "Observed (counts bytes, sees close)",
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
    "bare_stack": "bare app, stack request copied",
    "stack_gzip": "wsgimw stack, public, gzip accepted",
    "paste_stack_gzip": "Paste stack, public, gzip accepted",
    "stack_plain": "wsgimw stack, public, no Accept-Encoding",
    "paste_stack_plain": "Paste stack, public, no Accept-Encoding",
    "stack_auth": "wsgimw stack, credentials, gzip",
    "paste_stack_auth": "Paste stack, credentials, gzip",
    "stack_logged_gzip": "wsgimw stack, AccessLog to a logger",
    "stack_page": "wsgimw stack, 2 KiB page gzipped",
    "paste_stack_page": "Paste stack, 2 KiB page gzipped",
}
# The full stacks, each held to the architecture page's "within 10 µs of the bare app and
# at least 2x faster than the Paste/WebOb stack".
STACKS = {"default", "stack_gzip", "stack_plain", "stack_auth", "stack_logged_gzip"}
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
    *STACKS,
    "stack_page",
}
# Rows held to a architecture §6 budget: a verdict as written and one scaled.
WITH_BUDGET = {
    "pass_through",
    "compose",
    "closing_wsgimw",
    "exchange_pass",
    "exchange_close",
    "observed",
    "errors_pass",
    "query_pass",
    "compress_plain",
    "compress_head",
    "compress_png",
    *STACKS,
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
    "bare_stack": "bare",
    **{key: "bare_stack" for key in ROWS if key.startswith(("stack_", "paste_stack_"))},
    "bare_default": "bare",
    "default": "bare_default",
    "paste_default": "bare_default",
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


def bench(
    *arguments: str | Path, timeout: float = 60, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BENCH, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env=env,
    )


def check_machine_line(out: str, saved: dict[str, object]) -> None:
    """The first line says what the figures were measured on, as the JSON does."""
    first = out.splitlines()[0]
    assert re.fullmatch(
        r"wsgimw bench: Python \d+\.\d+\.\d+ \(\w+\) on \w+ \w+, \d+ cores; "
        r"wsgimw \S+, webob \S+, paste \S+, .*gunicorn \S+",
        first,
    ), first
    machine = saved["machine"]
    assert isinstance(machine, dict)
    assert machine["cores"] == os.cpu_count()
    assert machine["python"] == ".".join(map(str, sys.version_info[:3]))
    assert machine["packages"]["webob"] in first


def test_fast_run_prints_every_row(tmp_path: Path) -> None:
    figures_path = tmp_path / "bench.json"
    result = bench("--fast", "--json", figures_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    saved = json.loads(figures_path.read_text(encoding="utf-8"))
    check_machine_line(result.stdout, saved)
    assert "End to end" not in result.stdout  # only with --e2e

    out = result.stdout
    requests, rest = out.split("\nCompress throughput: ", 1)
    streams, rest = rest.split("\nCompress memory: ", 1)
    peaks, notes = rest.split("\nns/req: ", 1)

    lines = requests.splitlines()
    # The headline first: the default configuration, beside its peer.
    rule = next(i for i, line in enumerate(lines) if line.startswith("-----"))
    assert lines[rule + 1].startswith("-- The default configuration: "), lines
    assert lines[rule + 2].startswith(ROWS["default"] + " "), lines
    assert lines[rule + 3].startswith(ROWS["paste_default"] + " "), lines
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
        if key in STACKS:
            assert "extra <= 10 µs, >= 2x peer" in line, line
            assert "vs Paste stack" in line, line
    assert "Default configuration (bench.stacks, the first rows)" in out
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
        r"budgets \(architecture §6\): \d+ PASS, \d+ MISS unscaled; "
        r"\d+ PASS, \d+ MISS scaled x\d+\.\d\d",
        notes,
    )
    assert "Full stack (bench.stacks): wsgimw is compose(ErrorHandler()" in notes
    assert re.search(
        r"budgets as they stand: a middleware that does not act <= 150 ns, "
        r"a closing layer .*<= 300 ns per request; scaled x\d+\.\d\d: "
        r"<= \d+ ns and <= \d+ ns; compression at least 95% of the raw "
        r"compressor's MB/s",
        notes,
    )

    assert saved["reference_bare_ns"] > 0
    assert saved["budget_scale"] > 0
    by_key = {row["key"]: row for row in saved["rows"]}
    # Other modules register rows of their own (bench.cases): their tests
    # check them; these are the core's and the stacks'.
    assert set(ROWS) <= set(by_key)
    for key in ROWS:
        row = by_key[key]
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

    # The same figures as the Markdown tables of docs/performance.md.
    tables = markdown.render(saved)
    assert tables.startswith(f"Python {saved['machine']['python']} ")
    for heading in (
        "### Per request",
        "### Compress throughput",
        "### Compress memory",
    ):
        assert f"\n{heading}\n" in tables
    assert "### End to end" not in tables
    for key in STACKS:
        assert re.search(
            rf"^\| {re.escape(ROWS[key])} \| [\d,]+ \| \+[\d,]+ \| Paste(/WebOb)? stack, "
            r".* \| \d+\.\d\dx \| extra <= 10 µs, >= 2x peer \| (PASS|\*\*MISS\*\*) \| "
            r"(PASS|\*\*MISS\*\*) \|$",
            tables,
            re.M,
        ), key

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


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--repeats", "1"], "--repeats must be at least 2"),
        (["--rows", "no such row"], "--rows 'no such row' matches no row"),
        (["--rows", "stack("], "--rows: not a regular expression"),
        (["--e2e", "--e2e-seconds", "0.5"], "--e2e-seconds and --e2e-rounds"),
    ],
)
def test_rejects_bad_arguments(arguments: list[str], message: str) -> None:
    result = bench(*arguments)
    assert result.returncode == 2
    assert message in result.stderr


def test_rows_come_with_what_they_are_compared_with(tmp_path: Path) -> None:
    figures_path = tmp_path / "bench.json"
    result = bench("--rows", "^stack_auth$", "--fast", "--json", figures_path)
    assert result.returncode == 0, result.stderr
    saved = json.loads(figures_path.read_text(encoding="utf-8"))
    # The row, its peer, the bare row it is measured over and the bare app,
    # in table order; no throughput or memory rows.
    assert [row["key"] for row in saved["rows"]] == [
        "bare",
        "bare_stack",
        "stack_auth",
        "paste_stack_auth",
    ]
    assert saved["throughput"] == []
    assert saved["memory"] == []
    assert "Compress throughput" not in result.stdout
    assert "Compress memory" not in result.stdout
    line = next(
        line
        for line in result.stdout.splitlines()
        if line.startswith(ROWS["stack_auth"])
    )
    assert re.search(r"\d+\.\d\dx vs Paste stack", line), line


# -- end to end: gunicorn and wrk -----------------------------------------------------


def test_end_to_end_rows(tmp_path: Path) -> None:
    figures_path = tmp_path / "bench.json"
    result = bench("--e2e-only", "--fast", "--json", figures_path, timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    out = result.stdout
    saved = json.loads(figures_path.read_text(encoding="utf-8"))
    check_machine_line(out, saved)
    assert "Per request, in process" not in out  # --e2e-only
    assert re.search(
        r"^End to end: gunicorn \S+ \(gthread, 1 worker, \d+ threads\) on "
        r"127\.0\.0\.1, driven by wrk .*: wrk -t1 -c8 -d1s --latency; 1 round,",
        out,
        re.M,
    )
    sections = out.split("\n-- ")[1:]
    assert [section.splitlines()[0] for section in sections] == [
        kind.label for kind in e2e.KINDS
    ]
    for section in sections:
        lines = section.splitlines()
        for server in e2e.SERVERS:
            line = next(line for line in lines if line.startswith(server.label + "  "))
            figures = re.findall(r"\d+\.\d+|\d+", line[len(server.label) :])
            assert float(figures[0]) > 0, line  # req/s
            assert float(figures[1]) > 0, line  # p50
            assert bool(re.search(r"\d\.\d%", line)) == (server.key != "bare")
            verdicts = re.findall(r"\b(?:PASS|MISS)$", line)
            assert len(verdicts) == (1 if server.budget else 0), line

    tables = markdown.render(saved)
    assert "### Per request" not in tables
    assert "\n### End to end\n" in tables
    for kind in e2e.KINDS:
        assert f"\n**{kind.label}**\n" in tables
    assert len(re.findall(r"^\| wsgimw stack \| \d+ \| ", tables, re.M)) == len(
        e2e.KINDS
    )

    ended = saved["e2e"]
    assert (ended["worker"], ended["wrk_connections"], ended["rounds"]) == (
        "gthread",
        8,
        1,
    )
    assert len(ended["rows"]) == len(e2e.SERVERS) * len(e2e.KINDS)
    for row in ended["rows"]:
        assert len(row["requests_per_second"]) == 1
        assert row["requests_per_second"][0] > 0
        assert set(row["latency_ms"][0]) == {"50%", "75%", "90%", "99%"}
        assert (row["share_of_bare"] is None) == (row["server"] == "bare")
        assert (row["passed"] is None) == (row["budget"] is None)


def test_end_to_end_without_wrk_says_so(tmp_path: Path) -> None:
    # An empty PATH: no wrk to find (gunicorn runs as python -m gunicorn).
    result = bench("--e2e-only", "--fast", env={**os.environ, "PATH": str(tmp_path)})
    assert result.returncode == 3
    assert "no end-to-end rows: wrk is not installed" in result.stderr
    assert "apt-get install wrk" in result.stderr
    assert "End to end" not in result.stdout


_WRK_REPORT = """\
Running 1s test @ http://127.0.0.1:8000/health?q=1
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.32ms  805.57us  14.93ms   91.05%
    Req/Sec     3.43k   297.60     3.74k    81.82%
  Latency Distribution
     50%  850.00us
     75%    2.31ms
     90%    2.71ms
     99%    1.20s
  3768 requests in 1.10s, 612.45KB read
Requests/sec:   3425.12
Transfer/sec:    556.77KB
"""


def test_wrk_reports_are_read_in_milliseconds() -> None:
    run = e2e.parse(_WRK_REPORT)
    assert run.requests_per_second == 3425.12
    assert run.latency_ms == {"50%": 0.85, "75%": 2.31, "90%": 2.71, "99%": 1200.0}


@pytest.mark.parametrize(
    "failure",
    [
        "  Non-2xx or 3xx responses: 3768\n",
        "  Socket errors: connect 0, read 2, write 0, timeout 0\n",
    ],
)
def test_a_wrk_run_with_failures_is_refused(failure: str) -> None:
    report = _WRK_REPORT.replace("Requests/sec:", failure + "Requests/sec:")
    with pytest.raises(RuntimeError, match="wrk saw failures"):
        e2e.parse(report)


def test_an_unreadable_wrk_report_is_refused() -> None:
    with pytest.raises(RuntimeError, match="could not read wrk's report"):
        e2e.parse(_WRK_REPORT.replace("     99%    1.20s\n", ""))
