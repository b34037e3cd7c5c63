"""StaticFiles beside WhiteNoise on the same directory (issue 15).

``python -m bench.serving [--fast] [--e2e] [--json PATH]``: each kind of
request is served by ``StaticFiles(directory=D)`` and by ``WhiteNoise(app,
root=D, prefix="/static/")``:

* a small file (1 KiB of JavaScript);
* a 1 MiB file, with the server's ``wsgi.file_wrapper`` offered (as every
  real server does; `wsgiref.util.FileWrapper` in process) and without one
  (each middleware's own iterator);
* a precompressed file: ``Accept-Encoding: gzip`` and a ``.gz`` sibling
  written by ``python -m wsgimw.static compress``;
* a 304: If-None-Match with the ETag each one sent.

In process, the rows are timed by `bench.harness` (interleaved repeats,
paired ratios); ``--e2e`` also serves both from gunicorn (gthread, one
worker, 4 threads) and drives each with ``wrk``, in rounds whose order
rotates. The issue's bar: at least as fast as WhiteNoise on every row
(ratio WhiteNoise/StaticFiles for time, StaticFiles/WhiteNoise for req/s,
>= 1).

The per-request rows are also registered in ``python -m bench``'s table
(`CASES`), where each request's copy of the environ gets the path and
headers from a small layer outside both candidates (the same cost for both).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import gzip
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from wsgiref.util import FileWrapper

from bench import apps
from bench.budgets import Budget
from bench.cases import FRESH, NOT_ACTING, SHARED, Case
from bench.e2e import Missing, free_port, gunicorn_version, parse, wrk_path, wrk_version
from bench.harness import make_timer, measure, paired_ratio, summarise
from wsgimw import ConditionalGet, Mount, StaticFiles
from wsgimw.static import compress_directory
from wsgimw.types import Environ, StartResponse, WSGIApp

ROOT = Path(__file__).resolve().parent.parent
KIB, MIB = 1024, 1024 * 1024
#: "At least as fast as WhiteNoise on each row": WhiteNoise ns / ours >= 1.
AS_FAST = Budget("at least as fast as WhiteNoise", min_ratio=1.0)
#: Where gunicorn's workers find the directory (`served`).
DIRECTORY_VARIABLE = "WSGIMW_BENCH_STATIC"


def make_directory(directory: Path) -> Path:
    """The files every row serves, with their precompressed siblings."""
    (directory / "js").mkdir(parents=True, exist_ok=True)
    line = b"export const answer = (x) => x * 42; // serving benchmark\n"
    (directory / "js" / "small.js").write_bytes((line * 20)[: 1 * KIB])
    (directory / "large.bin").write_bytes(random.Random(15).randbytes(MIB))
    rule = b".card { margin: 0 auto; padding: 1rem; color: #333; }\n"
    (directory / "site.css").write_bytes(rule * 1200)  # about 64 KiB
    compress_directory(directory, encodings=["gzip", "br"])  # what WhiteNoise reads
    return directory


_shared: Path | None = None


def shared_directory() -> Path:
    """One directory for this process (removed at exit), made on first use."""
    global _shared
    if _shared is None:
        where = Path(tempfile.mkdtemp(prefix="wsgimw-serving-"))
        atexit.register(shutil.rmtree, where, True)
        _shared = make_directory(where)
    return _shared


def not_found(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The app both wrap: no row must reach it."""
    body = b"not found\n"
    start_response(
        "404 Not Found",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
    )
    return [body]


def wsgimw_static(directory: Path, app: WSGIApp = not_found) -> WSGIApp:
    return StaticFiles(directory=directory, prefix="/static/")(app)


def whitenoise_static(directory: Path, app: WSGIApp = not_found) -> WSGIApp:
    from whitenoise import WhiteNoise  # type: ignore[import-untyped]

    return WhiteNoise(app, root=str(directory), prefix="/static/")  # type: ignore[no-any-return]


CANDIDATES: dict[str, Callable[[Path], WSGIApp]] = {
    "wsgimw": wsgimw_static,
    "whitenoise": whitenoise_static,
}


@dataclass(frozen=True)
class Kind:
    key: str
    label: str
    path: str
    headers: tuple[tuple[str, str], ...] = ()
    file_wrapper: bool = True
    status: int = 200
    #: The file whose bytes the body must be (decoded), None for a 304.
    file: str | None = None
    #: Send If-None-Match with the ETag the candidate gave this path.
    conditional: bool = False


KINDS = (
    Kind("small", "1 KiB file", "/static/js/small.js", file="js/small.js"),
    Kind("large", "1 MiB file", "/static/large.bin", file="large.bin"),
    Kind(
        "large_iter",
        "1 MiB file, no file_wrapper",
        "/static/large.bin",
        file_wrapper=False,
        file="large.bin",
    ),
    Kind(
        "gzip",
        "precompressed .gz (64 KiB css)",
        "/static/site.css",
        (("Accept-Encoding", "gzip"),),
        file="site.css",
    ),
    Kind(
        "not_modified",
        "304 Not Modified",
        "/static/site.css",
        status=304,
        conditional=True,
    ),
)


def environ_for(kind: Kind, etag: str | None = None) -> Environ:
    environ = apps.make_environ()
    environ["PATH_INFO"] = kind.path
    environ.pop("HTTP_ACCEPT_ENCODING", None)  # only where the kind sets it
    for name, value in kind.headers:
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    if kind.conditional:
        assert etag is not None
        environ["HTTP_IF_NONE_MATCH"] = etag
    if kind.file_wrapper:
        environ["wsgi.file_wrapper"] = FileWrapper
    else:
        environ.pop("wsgi.file_wrapper", None)
    return environ


def call(app: WSGIApp, environ: Environ) -> tuple[str, dict[str, str], bytes]:
    """One request as a server makes it."""
    seen: dict[str, Any] = {}

    def start_response(status: str, headers: Any, exc_info: Any = None) -> Any:
        seen["status"], seen["headers"] = status, dict(headers)
        return lambda data: None

    iterable = app(dict(environ), start_response)
    try:
        body = b"".join(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    return seen["status"], seen["headers"], body


def etag_of(app: WSGIApp, kind: Kind) -> str:
    plain = Kind(kind.key, kind.label, kind.path)
    _, headers, _ = call(app, environ_for(plain))
    return str(headers["ETag"])


def check(
    name: str, app: WSGIApp, kind: Kind, environ: Environ, directory: Path
) -> None:
    """The row answers what it should, so no row times an error."""
    status, headers, body = call(app, environ)
    if int(status[:3]) != kind.status:
        raise RuntimeError(f"{name}, {kind.label}: got {status}")
    if kind.file is not None:
        if headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if body != (directory / kind.file).read_bytes():
            raise RuntimeError(f"{name}, {kind.label}: wrong body")
        if kind.headers and headers.get("Content-Encoding") != "gzip":
            raise RuntimeError(f"{name}, {kind.label}: the sibling was not sent")


# -- in process ---------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    kind: Kind
    ns: dict[str, float]  # median per candidate
    ratio: float  # WhiteNoise ns / StaticFiles ns, median over repeats


def run_in_process(repeats: int, sample_ms: float, directory: Path) -> list[Row]:
    timers = {}
    for kind in KINDS:
        for name, make in CANDIDATES.items():
            app = make(directory)
            etag = etag_of(app, kind) if kind.conditional else None
            environ = environ_for(kind, etag)
            check(name, app, kind, environ, directory)
            timers[f"{kind.key}/{name}"] = make_timer(app, environ, apps.start_response)
    samples = measure(timers, repeats, sample_ms / 1000, first_loops=1)
    rows = []
    for kind in KINDS:
        ours, theirs = samples[f"{kind.key}/wsgimw"], samples[f"{kind.key}/whitenoise"]
        rows.append(
            Row(
                kind,
                {
                    "wsgimw": summarise(ours).median,
                    "whitenoise": summarise(theirs).median,
                },
                paired_ratio(theirs, ours),
            )
        )
    return rows


# -- under gunicorn, driven by wrk -----------------------------------------------------


def served(name: str) -> WSGIApp:
    """For gunicorn: ``bench.serving:served('wsgimw')`` serves the directory
    named by the WSGIMW_BENCH_STATIC environment variable."""
    return CANDIDATES[name](Path(os.environ[DIRECTORY_VARIABLE]))


@dataclass
class Running:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    etags: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def serving(directory: Path, timeout: float = 30) -> Iterator[list[Running]]:
    """A gunicorn per candidate until the block ends, stopped by pid."""
    started: list[Running] = []
    env = {**os.environ, DIRECTORY_VARIABLE: str(directory)}
    try:
        for name in CANDIDATES:
            port = free_port()
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
                    "4",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--log-level",
                    "warning",
                    "--chdir",
                    str(ROOT),
                    *_no_control_socket(),
                    f"bench.serving:served('{name}')",
                ],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            started.append(Running(name, port, process))
        for running in started:
            _wait(running, timeout)
        yield started
    finally:
        for running in started:
            if running.process.poll() is None:
                running.process.terminate()
                try:
                    running.process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    running.process.kill()
                    running.process.wait(timeout=10)


def _no_control_socket() -> list[str]:
    """Newer gunicorn opens a control socket in the home folder by default;
    two benchmarks' servers would share it."""
    from gunicorn.config import KNOWN_SETTINGS  # type: ignore[import-untyped]

    options = {option for setting in KNOWN_SETTINGS for option in setting.cli or ()}
    return ["--no-control-socket"] if "--no-control-socket" in options else []


def _wait(running: Running, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"gunicorn for {running.name} exited")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(
                running.url + "/static/js/small.js", timeout=2
            ) as reply:
                reply.read()
            with urllib.request.urlopen(
                running.url + "/static/site.css", timeout=2
            ) as reply:
                running.etags["/static/site.css"] = reply.headers["ETag"]
                reply.read()
            return
        time.sleep(0.1)
    raise TimeoutError(f"gunicorn for {running.name} did not answer within {timeout} s")


def drive(wrk: str, running: Running, kind: Kind, seconds: float) -> float:
    """wrk's requests per second for one candidate and kind."""
    command = [wrk, "-t1", "-c8", f"-d{seconds:g}s", "--latency"]
    for name, value in kind.headers:
        command += ["-H", f"{name}: {value}"]
    if kind.conditional:
        command += ["-H", f"If-None-Match: {running.etags[kind.path]}"]
    command.append(running.url + kind.path)
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 30, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stderr}")
    return parse(done.stdout).requests_per_second


@dataclass(frozen=True)
class E2ERow:
    kind: Kind
    rps: dict[str, float]  # median over rounds
    ratio: float  # StaticFiles req/s / WhiteNoise req/s, median over rounds


def run_e2e(seconds: float, rounds: int, directory: Path) -> tuple[list[E2ERow], str]:
    wrk = wrk_path()
    version = gunicorn_version()
    kinds = [kind for kind in KINDS if kind.file_wrapper]  # servers offer one
    runs: dict[tuple[str, str], list[float]] = {}
    with serving(directory) as running:
        for server in running:  # warm up
            drive(wrk, server, kinds[0], 1)
        for number in range(rounds):
            shift = number % len(running)
            for kind in kinds:
                for server in running[shift:] + running[:shift]:
                    runs.setdefault((server.name, kind.key), []).append(
                        drive(wrk, server, kind, seconds)
                    )
    rows = [
        E2ERow(
            kind,
            {name: statistics.median(runs[name, kind.key]) for name in CANDIDATES},
            statistics.median(
                ours / theirs
                for ours, theirs in zip(
                    runs["wsgimw", kind.key], runs["whitenoise", kind.key], strict=True
                )
            ),
        )
        for kind in kinds
    ]
    return (
        rows,
        f"gunicorn {version} (gthread, 1 worker, 4 threads), {wrk_version(wrk)}",
    )


# -- rows for python -m bench ---------------------------------------------------------


def _case_layer(
    kind: Kind, make: Callable[[Path], WSGIApp], name: str
) -> Callable[[WSGIApp], WSGIApp]:
    """A wrap for `Case`: the candidate around the app, and outside it a
    layer that gives each request's copy of the environ this row's path and
    headers (the same for both candidates)."""

    def wrap(app: WSGIApp) -> WSGIApp:
        directory = shared_directory()
        inner = make(directory)
        etag = etag_of(inner, kind) if kind.conditional else None
        extra = environ_for(kind, etag)
        keys = {
            key: value
            for key, value in extra.items()
            if key == "PATH_INFO"
            or key.startswith("HTTP_")
            or key == "wsgi.file_wrapper"
        }

        def request(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            environ.pop("HTTP_ACCEPT_ENCODING", None)  # only where the kind sets it
            environ.update(keys)
            return inner(environ, start_response)

        request.__qualname__ = f"{name} ({kind.key})"
        return request

    return wrap


def _cases() -> tuple[Case, ...]:
    cases = []
    for number, kind in enumerate(k for k in KINDS if k.key != "large_iter"):
        status = "304 Not Modified" if kind.status == 304 else "200 OK"
        for name, make in CANDIDATES.items():
            ours = name == "wsgimw"
            cases.append(
                Case(
                    f"serving_{kind.key}_{name}",
                    f"{'StaticFiles' if ours else 'WhiteNoise'}, {kind.label}",
                    _case_layer(kind, make, name),
                    peer=f"serving_{kind.key}_whitenoise" if ours else None,
                    budget=AS_FAST if ours else None,
                    short="WhiteNoise",
                    environ=FRESH,
                    status=status,
                    body=b"" if kind.status == 304 else None,
                    section=(
                        "Serving files (bench.serving): StaticFiles beside WhiteNoise "
                        "on the same directory; the path and headers set per request "
                        "by a layer outside both"
                        if number == 0 and ours
                        else ""
                    ),
                )
            )
    return tuple(cases)


def _static_pass(app: WSGIApp) -> WSGIApp:
    return StaticFiles(directory=shared_directory())(app)


def _mount_pass(app: WSGIApp) -> WSGIApp:
    return Mount({"/api": not_found, "/admin": not_found})(app)


def _conditional_pass(app: WSGIApp) -> WSGIApp:
    return ConditionalGet()(app)


#: The three layers on a request they leave alone (architecture §6: a middleware
#: that decides not to act, at most 150 ns).
NOT_ACTING_CASES: tuple[Case, ...] = (
    Case(
        "static_pass",
        "StaticFiles, path outside the prefix",
        _static_pass,
        budget=NOT_ACTING,
        environ=SHARED,
        section="Serving layers that do not act, on a shared environ; extra ns "
        "over the bare app",
    ),
    Case(
        "mount_pass",
        "Mount (two prefixes), path under neither",
        _mount_pass,
        budget=NOT_ACTING,
        environ=SHARED,
    ),
    Case(
        "conditional_pass",
        "ConditionalGet, no If-* header",
        _conditional_pass,
        budget=NOT_ACTING,
        environ=SHARED,
    ),
)

CASES: tuple[Case, ...] = (*NOT_ACTING_CASES, *_cases())


# -- output ------------------------------------------------------------------------------


def format_rows(rows: Sequence[Row]) -> list[str]:
    lines = [
        "In process (bench.harness: interleaved repeats; ratio = WhiteNoise ns / StaticFiles ns, paired):",
        f"  {'request':34} {'StaticFiles':>14} {'WhiteNoise':>14} {'ratio':>7}  verdict",
    ]
    for row in rows:
        lines.append(
            f"  {row.kind.label:34} {_time(row.ns['wsgimw']):>14} "
            f"{_time(row.ns['whitenoise']):>14} {row.ratio:6.2f}x  "
            f"{'PASS' if row.ratio >= 1 else 'MISS'}"
        )
    return lines


def format_e2e(rows: Sequence[E2ERow], how: str) -> list[str]:
    lines = [
        f"Under {how}; wrk -t1 -c8; ratio = StaticFiles req/s / WhiteNoise req/s, per round:",
        f"  {'request':34} {'StaticFiles':>12} {'WhiteNoise':>12} {'ratio':>7}  verdict",
    ]
    for row in rows:
        lines.append(
            f"  {row.kind.label:34} {row.rps['wsgimw']:10.0f}/s {row.rps['whitenoise']:10.0f}/s "
            f"{row.ratio:6.2f}x  {'PASS' if row.ratio >= 1 else 'MISS'}"
        )
    return lines


def _time(ns: float) -> str:
    return f"{ns / 1000:.1f} us" if ns < 1e6 else f"{ns / 1e6:.2f} ms"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.serving", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--fast", action="store_true", help="a quick, rough run")
    parser.add_argument(
        "--e2e", action="store_true", help="also under gunicorn with wrk"
    )
    parser.add_argument("--e2e-seconds", type=float, default=None)
    parser.add_argument("--e2e-rounds", type=int, default=None)
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write figures")
    args = parser.parse_args(argv)
    repeats, sample_ms = (5, 5.0) if args.fast else (25, 40.0)
    seconds = args.e2e_seconds or (1.0 if args.fast else 4.0)
    rounds = args.e2e_rounds or (1 if args.fast else 3)
    from importlib.metadata import version

    print(
        f"wsgimw {version('wsgimw')} StaticFiles vs WhiteNoise {version('whitenoise')}, "
        f"Python {sys.version.split()[0]}, {os.cpu_count()} cores"
    )
    figures: dict[str, object] = {}
    status = 0
    with tempfile.TemporaryDirectory(prefix="wsgimw-serving-") as where:
        directory = make_directory(Path(where))
        rows = run_in_process(repeats, sample_ms, directory)
        print("\n".join(format_rows(rows)), flush=True)
        figures["in_process"] = [
            {"key": row.kind.key, "ns": row.ns, "whitenoise_over_wsgimw": row.ratio}
            for row in rows
        ]
        if args.e2e:
            try:
                e2e_rows, how = run_e2e(seconds, rounds, directory)
            except Missing as missing:
                print(f"bench.serving: no end-to-end rows: {missing}", file=sys.stderr)
                status = 3
            else:
                print()
                print("\n".join(format_e2e(e2e_rows, how)))
                figures["e2e"] = [
                    {
                        "key": row.kind.key,
                        "rps": row.rps,
                        "wsgimw_over_whitenoise": row.ratio,
                    }
                    for row in e2e_rows
                ]
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return status


if __name__ == "__main__":
    sys.exit(main())
