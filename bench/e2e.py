"""End to end: the stacks of `bench.stacks` served by gunicorn, driven by wrk.

Each app (the default configuration and the Paste stack doing the same
jobs, the bare app, the wsgimw stack, the same with its access log going
through logging, the Paste stack) gets its own gunicorn: the gthread
worker, one worker process with a few threads, on a free port of 127.0.0.1.
All of them start first and are checked (status, body, encoding); then Debian's
``wrk`` drives one at a time, for each kind of request, in rounds: every round
runs each app once, in an order rotated by one place per round, so that a
slow patch of the machine falls on all of them alike. The figures are medians
over rounds, and each app's share of the bare app's requests per second is
taken within a round.

wrk and gunicorn share the machine's cores, so the figures say how the
stacks compare here, not what a server can do.

Run as part of ``python -m bench --e2e`` (or ``--e2e-only``); it needs
``wrk`` on PATH and gunicorn in the environment.
"""

from __future__ import annotations

import contextlib
import gzip
import importlib.util
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench import apps, stacks

ROOT = Path(__file__).resolve().parent.parent
THREADS = 4
WRK_THREADS = 1
WRK_CONNECTIONS = 8
#: architecture §6 and issue 12: "the full stack keeps at least 92% of the bare
#: app's requests per second"; the default configuration also serves at
#: least 1.3x the Paste stack's.
MIN_SHARE_OF_BARE = 0.92
MIN_VERSUS_PEER = 1.3


class Missing(RuntimeError):
    """A tool the end-to-end rows need is not installed."""


@dataclass(frozen=True)
class Server:
    key: str
    label: str
    app: str  # module:variable, for gunicorn
    #: Held to the budget: a share of the bare app's requests per second.
    budget: bool = False
    #: The server it is compared with ("vs Paste stack").
    peer: str = "paste"
    #: Also held to MIN_VERSUS_PEER.
    peer_budget: bool = False


SERVERS = (
    Server(
        "default",
        "wsgimw, default configuration",
        "bench.stacks:default_app",
        budget=True,
        peer="paste_default",
        peer_budget=True,
    ),
    Server("paste_default", "Paste stack, same jobs", "bench.stacks:paste_default_app"),
    Server("bare", "bare app", "bench.stacks:bare_app"),
    Server("wsgimw", "wsgimw stack", "bench.stacks:wsgimw_app", budget=True),
    Server(
        "wsgimw_logged",
        "wsgimw stack, AccessLog to a logger",
        "bench.stacks:wsgimw_logged_app",
        budget=True,
    ),
    Server("paste", "Paste stack", "bench.stacks:paste_app"),
)
PEER = "paste"
#: Servers that are peers, compared with nothing.
PEERS = frozenset({"paste", "paste_default"})


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()


_QUERY = "?" + apps.QUERY
KINDS = (
    Kind(
        "default",
        f"GET {stacks.DEFAULT_PATH}?query, a browser's Accept-Encoding, "
        "Basic credentials",
        stacks.DEFAULT_PATH,
        (
            ("Accept-Encoding", "gzip, deflate, br, zstd"),
            ("Authorization", stacks.AUTHORIZATION),
        ),
    ),
    Kind("plain", f"GET {stacks.PUBLIC}?query, no Accept-Encoding", stacks.PUBLIC),
    Kind(
        "gzip",
        f"GET {stacks.PUBLIC}?query, Accept-Encoding: gzip",
        stacks.PUBLIC,
        (("Accept-Encoding", "gzip"),),
    ),
    Kind(
        "auth",
        f"GET {stacks.PRIVATE}?query, gzip, Basic credentials",
        stacks.PRIVATE,
        (("Accept-Encoding", "gzip"), ("Authorization", stacks.AUTHORIZATION)),
    ),
)


@dataclass(frozen=True)
class Run:
    """What one wrk run reported."""

    requests_per_second: float
    latency_ms: dict[str, float]  # "50%", "75%", "90%", "99%"


@dataclass
class Cell:
    """Every run of one server for one kind of request, one per round."""

    runs: list[Run] = field(default_factory=list)

    def median(self, pick: Callable[[Run], float]) -> float:
        return statistics.median(pick(run) for run in self.runs)


@dataclass(frozen=True)
class Report:
    seconds: float
    rounds: int
    cells: dict[tuple[str, str], Cell]  # (server key, kind key)
    gunicorn: str
    wrk: str

    def share_of_bare(self, server: str, kind: str) -> float:
        """Median over rounds of this server's req/s over the bare app's."""
        mine = self.cells[server, kind].runs
        bare = self.cells["bare", kind].runs
        return statistics.median(
            m.requests_per_second / b.requests_per_second
            for m, b in zip(mine, bare, strict=True)
        )

    def versus_peer(self, server: str, kind: str) -> float:
        """Median over rounds of this server's req/s over its peer's (a
        Paste stack's)."""
        mine = self.cells[server, kind].runs
        peer = self.cells[_server(server).peer, kind].runs
        return statistics.median(
            m.requests_per_second / p.requests_per_second
            for m, p in zip(mine, peer, strict=True)
        )

    def passed(self, server: str, kind: str) -> bool | None:
        held = _server(server)
        if not held.budget:
            return None
        if held.peer_budget and self.versus_peer(server, kind) < MIN_VERSUS_PEER:
            return False
        return self.share_of_bare(server, kind) >= MIN_SHARE_OF_BARE


def _server(key: str) -> Server:
    return next(server for server in SERVERS if server.key == key)


def _budget(server: Server) -> str:
    if not server.budget:
        return "-"
    text = f">= {MIN_SHARE_OF_BARE:.0%} of bare"
    if server.peer_budget:
        text += f", >= {MIN_VERSUS_PEER:g}x peer"
    return text


# -- tools -----------------------------------------------------------------------


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise Missing(
            "wrk is not installed (not found on PATH): the end-to-end rows need "
            "it; on Debian: apt-get install wrk"
        )
    return path


def gunicorn_version() -> str:
    if importlib.util.find_spec("gunicorn") is None:
        raise Missing(
            "gunicorn is not installed in this environment: the end-to-end rows "
            "need it (it is in the dev extra: pip install -e '.[dev]')"
        )
    from importlib.metadata import version

    return version("gunicorn")


def wrk_version(wrk: str) -> str:
    # wrk prints its version with its usage, and exits 1.
    result = subprocess.run(
        [wrk, "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    first = (result.stdout or result.stderr).splitlines()
    return first[0].split(" Copyright")[0] if first else "wrk"


# -- servers ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Running:
    server: Server
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _start(server: Server, directory: Path) -> Running:
    port = free_port()
    log = directory / f"{server.key}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--worker-class",
                "gthread",
                "--workers",
                "1",
                "--threads",
                str(THREADS),
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                "--chdir",
                str(ROOT),
                server.app,
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Running(server, port, process, log)


def _wait_until_listening(running: Running, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(
                f"gunicorn for {running.server.label} exited with "
                f"{running.process.returncode}:\n{running.log.read_text()}"
            )
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", running.port), timeout=0.5),
        ):
            return
        time.sleep(0.05)
    raise TimeoutError(
        f"gunicorn for {running.server.label} did not listen within {timeout} s"
    )


def _stop(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """Stop gunicorn by its pid: terminate (it stops its worker), wait, kill."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


@contextlib.contextmanager
def serving(servers: Sequence[Server], timeout: float = 30) -> Iterator[list[Running]]:
    """Every server running on its own port until the block ends."""
    with tempfile.TemporaryDirectory(prefix="wsgimw-bench-") as directory:
        started: list[Running] = []
        try:
            for server in servers:
                started.append(_start(server, Path(directory)))
            for running in started:
                _wait_until_listening(running, timeout)
            yield started
        finally:
            for running in started:
                _stop(running.process)


def check(running: Running, kind: Kind) -> None:
    """One request as wrk will make it: the hello-world body must come back,
    gzipped where the server says so, so no row times an error page."""
    request = urllib.request.Request(running.url + kind.path + _QUERY)
    for name, value in kind.headers:
        request.add_header(name, value)
    with urllib.request.urlopen(request, timeout=10) as response:
        status, body = response.status, response.read()
        coding = response.headers.get("Content-Encoding")
    if coding == "gzip":
        body = gzip.decompress(body)
    if status != 200 or body != apps.BODY:
        raise RuntimeError(
            f"{running.server.label}, {kind.label}: got {status} {body!r}"
        )


# -- wrk -------------------------------------------------------------------------

_REQUESTS = re.compile(r"^Requests/sec:\s+([0-9.]+)", re.M)
_PERCENTILE = re.compile(r"^\s+(50|75|90|99)%\s+([0-9.]+)(us|ms|s)\s*$", re.M)
_TO_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_BAD = re.compile(r"^\s*(Non-2xx or 3xx responses|Socket errors):.*$", re.M)


def parse(output: str) -> Run:
    """Requests/sec and the latency percentiles of ``wrk --latency``'s report."""
    bad = _BAD.search(output)
    if bad is not None:
        raise RuntimeError(f"wrk saw failures: {bad.group(0).strip()}\n{output}")
    rate = _REQUESTS.search(output)
    latencies = {
        f"{percent}%": float(value) * _TO_MS[unit]
        for percent, value, unit in _PERCENTILE.findall(output)
    }
    if rate is None or len(latencies) != 4:
        raise RuntimeError(f"could not read wrk's report:\n{output}")
    return Run(float(rate.group(1)), latencies)


def drive(wrk: str, url: str, kind: Kind, seconds: float) -> Run:
    command = [
        wrk,
        f"-t{WRK_THREADS}",
        f"-c{WRK_CONNECTIONS}",
        f"-d{seconds:g}s",
        "--latency",
    ]
    for name, value in kind.headers:
        command += ["-H", f"{name}: {value}"]
    command.append(url + kind.path + _QUERY)
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 30, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}):\n{result.stderr}")
    return parse(result.stdout)


def measure(
    seconds: float,
    rounds: int,
    progress: Callable[[str], object] | None = None,
) -> Report:
    """Start every server, check it, then run the rounds. Raises `Missing`
    when wrk or gunicorn is not installed, before starting anything."""
    wrk = wrk_path()
    gunicorn = gunicorn_version()
    cells = {(s.key, k.key): Cell() for s in SERVERS for k in KINDS}
    with serving(SERVERS) as running:
        for server in running:
            for kind in KINDS:
                check(server, kind)
        # One short untimed run each: imports done, caches warm, the first
        # connections made.
        for server in running:
            drive(wrk, server.url, KINDS[0], min(seconds, 1))
        for number in range(rounds):
            shift = number % len(running)
            order = running[shift:] + running[:shift]
            for kind in KINDS:
                for server in order:
                    if progress is not None:
                        progress(
                            f"round {number + 1}/{rounds}: {kind.key}, {server.server.key}"
                        )
                    run = drive(wrk, server.url, kind, seconds)
                    cells[server.server.key, kind.key].runs.append(run)
    return Report(seconds, rounds, cells, gunicorn, wrk_version(wrk))


def minutes(seconds: float, rounds: int) -> float:
    """About how long `measure` takes: every run, the warm-up runs, start-up."""
    runs = rounds * len(SERVERS) * len(KINDS)
    return (runs * seconds + len(SERVERS) * min(seconds, 1) + 5) / 60


# -- output ----------------------------------------------------------------------

_VERDICT = {None: "", True: "PASS", False: "MISS"}


def format_table(report: Report) -> list[str]:
    columns = (
        ("name", 36),
        ("req/s median", 12),
        ("p50 ms", 7),
        ("p99 ms", 7),
        ("of bare", 8),
        ("vs Paste stack", 14),
        ("budget", 30),
        ("verdict", 7),
    )
    right = (False, True, True, True, True, True, False, False)

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(width) if is_right else cell.ljust(width)
            for (_, width), cell, is_right in zip(columns, cells, right, strict=True)
        ]
        return "  ".join(parts).rstrip()

    lines = [
        f"End to end: gunicorn {report.gunicorn} (gthread, 1 worker, {THREADS} "
        f"threads) on 127.0.0.1, driven by {report.wrk}: wrk -t{WRK_THREADS} "
        f"-c{WRK_CONNECTIONS} -d{report.seconds:g}s --latency; {report.rounds} "
        f"round{'' if report.rounds == 1 else 's'}, servers in an order rotated "
        "per round; medians over rounds",
        "",
        line([title for title, _ in columns]),
        line(["-" * width for _, width in columns]),
    ]
    for kind in KINDS:
        lines.append(f"-- {kind.label}")
        for server in SERVERS:
            cell = report.cells[server.key, kind.key]
            share = versus = ""
            if server.key != "bare":
                share = f"{report.share_of_bare(server.key, kind.key):.1%}"
            if server.key != "bare" and server.key not in PEERS:
                versus = f"{report.versus_peer(server.key, kind.key):.2f}x"
            budget = _budget(server)
            lines.append(
                line(
                    [
                        server.label,
                        f"{cell.median(lambda run: run.requests_per_second):.0f}",
                        f"{cell.median(lambda run: run.latency_ms['50%']):.2f}",
                        f"{cell.median(lambda run: run.latency_ms['99%']):.2f}",
                        share,
                        versus,
                        budget,
                        _VERDICT[report.passed(server.key, kind.key)],
                    ]
                )
            )
    lines += [
        "",
        "of bare: median over rounds of (row req/s / bare app req/s in the same "
        "round). vs Paste stack: the same over the Paste stack's req/s (the "
        "default configuration's over the Paste stack doing the same jobs); "
        "above 1, the row serves more. p50/p99: wrk's latency percentiles, medians "
        f"over rounds. wrk and gunicorn share this machine's {os.cpu_count()} "
        "cores.",
    ]
    return lines


def to_json(report: Report) -> dict[str, object]:
    return {
        "gunicorn": report.gunicorn,
        "wrk": report.wrk,
        "worker": "gthread",
        "threads": THREADS,
        "wrk_threads": WRK_THREADS,
        "wrk_connections": WRK_CONNECTIONS,
        "seconds": report.seconds,
        "rounds": report.rounds,
        "rows": [
            {
                "server": server.key,
                "name": server.label,
                "kind": kind.key,
                "request": kind.label,
                "requests_per_second": [
                    run.requests_per_second
                    for run in report.cells[server.key, kind.key].runs
                ],
                "latency_ms": [
                    run.latency_ms for run in report.cells[server.key, kind.key].runs
                ],
                "share_of_bare": None
                if server.key == "bare"
                else report.share_of_bare(server.key, kind.key),
                "versus_peer": None
                if server.key == "bare" or server.key in PEERS
                else report.versus_peer(server.key, kind.key),
                "peer": None if server.key in PEERS else server.peer,
                "budget": _budget(server) if server.budget else None,
                "passed": report.passed(server.key, kind.key),
            }
            for kind in KINDS
            for server in SERVERS
        ],
    }
