"""``python -m bench.scaleout [--fast] [--json PATH]``: RateLimit and Metrics
per request, beside what they are built on, measured in one run.

* RateLimit with ``memory://`` and with a local redis-server (started here
  on a free port, persistence off, stopped by its pid at the end), each over
  a function layer that makes the same `limits` call directly: the
  difference is what the middleware adds (budget: at most 1 µs).
* Flask-Limiter's cost for the same limit: a Flask app with the extension,
  over the same Flask app without it (Flask's own overhead cancels out).
* Metrics beside a hand-written layer that keeps the same four metrics with
  prometheus-client's own API (``labels(...)`` per request, the duration
  taken at close()), each counting into a registry of its own.

Every RateLimit row allows far more requests than a run makes, so each
request is counted and let through (the common path). The rows and tables
are bench.cli's: the same harness, the same columns.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import limits
import limits.storage
import limits.strategies
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from bench import apps
from bench.budgets import Budget
from bench.cases import BARE, CASES, FRESH, SHARED, Case
from wsgimw.metrics import Metrics
from wsgimw.ratelimit import RateLimit, _storage_timeouts
from wsgimw.types import Environ, ExcInfo, Headers, StartResponse, Write, WSGIApp

#: Never reached in a run: every request is counted and allowed.
LIMIT = "1000000000/minute"
#: architecture §8 (issue 16): the middleware adds at most 1 µs to a direct call.
OVER_LIMITS = Budget("extra over direct limits <= 1 µs", max_extra_ns=1000)
SECTION = (
    "Scale-out (bench.scaleout): RateLimit over a direct `limits` call on the "
    "same storage, Flask-Limiter over the same Flask app without it, Metrics "
    "beside prometheus-client's own API keeping the same metrics"
)


# -- RateLimit and the direct call -----------------------------------------------------


def rate_limit(storage: str) -> Callable[[WSGIApp], WSGIApp]:
    def wrap(app: WSGIApp) -> WSGIApp:
        return RateLimit(LIMIT, storage=storage)(app)

    return wrap


def direct_limits(storage: str) -> Callable[[WSGIApp], WSGIApp]:
    """A function layer with the same `limits` call and nothing else."""

    def wrap(app: WSGIApp) -> WSGIApp:
        # The storage as RateLimit builds it (the same timeouts, no
        # retries), so the two rows differ by the middleware alone.
        options = _storage_timeouts(urlsplit(storage).scheme, 0.5)
        limiter = limits.strategies.FixedWindowRateLimiter(
            limits.storage.storage_from_string(storage, **options)
        )
        item = limits.parse(LIMIT)

        def limited(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            if not limiter.hit(item, "wsgimw", "client:" + environ["REMOTE_ADDR"]):
                raise RuntimeError("the bench's limit was reached")
            return app(environ, start_response)

        return limited

    return wrap


# -- Flask-Limiter ----------------------------------------------------------------------


def _flask_app(limited: bool) -> WSGIApp:
    import warnings

    from flask import Flask

    flask_app = Flask("bench_scaleout")

    @flask_app.route("/hello")
    def hello() -> tuple[bytes, int, dict[str, str]]:
        return apps.BODY, 200, {"Content-Type": "text/plain"}

    if limited:
        from flask_limiter import Limiter
        from flask_limiter.util import get_remote_address

        with warnings.catch_warnings():
            # It warns that memory:// is for one process only: so it is here.
            warnings.simplefilter("ignore")
            Limiter(
                get_remote_address,
                app=flask_app,
                default_limits=[LIMIT],
                storage_uri="memory://",
            )
    return flask_app.wsgi_app


def flask_bare(app: WSGIApp) -> WSGIApp:
    return _flask_app(limited=False)


def flask_limited(app: WSGIApp) -> WSGIApp:
    return _flask_app(limited=True)


# -- Metrics and prometheus-client by hand -------------------------------------------------


def metrics(app: WSGIApp) -> WSGIApp:
    return Metrics(registry=CollectorRegistry(), namespace="bench")(app)


class _Timed:
    """The body of the hand-written layer: counts at close()."""

    def __init__(self, iterable: Iterable[bytes], done: Callable[[int], None]) -> None:
        self._iterable = iterable
        self._done = done
        self._sent = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._iterable:
            self._sent += len(chunk)
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._iterable, "close", None)
            if close is not None:
                close()
        finally:
            self._done(self._sent)


def prometheus_by_hand(app: WSGIApp) -> WSGIApp:
    """The same four metrics kept the way prometheus-client's documentation
    shows: ``labels(...)`` for each update."""
    registry = CollectorRegistry()
    labels = ("method", "status")
    requests = Counter("bench_requests", "requests", labels, registry=registry)
    duration = Histogram(
        "bench_request_duration_seconds", "duration", labels, registry=registry
    )
    body_bytes = Counter(
        "bench_response_body_bytes", "bytes", labels, registry=registry
    )
    in_progress = Gauge(
        "bench_requests_in_progress", "in flight", ("method",), registry=registry
    )

    def instrumented(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        started = time.perf_counter()
        in_progress.labels(method).inc()
        status = ["500"]

        def start(
            status_line: str, headers: Headers, exc_info: ExcInfo | None = None
        ) -> Write:
            status[0] = status_line[:3]
            if exc_info is None:
                return start_response(status_line, headers)
            return start_response(status_line, headers, exc_info)

        def done(sent: int) -> None:
            in_progress.labels(method).dec()
            requests.labels(method, status[0]).inc()
            duration.labels(method, status[0]).observe(time.perf_counter() - started)
            body_bytes.labels(method, status[0]).inc(sent)

        return _Timed(app(environ, start), done)

    return instrumented


# -- the rows -----------------------------------------------------------------------------


def cases(redis_uri: str | None) -> tuple[Case, ...]:
    """The rows, with the bare app's row first (every row's reference)."""
    bare = next(case for case in CASES if case.key == BARE)
    bare_fresh = next(case for case in CASES if case.key == "bare_fresh")
    rows = [
        bare,
        Case(
            "ratelimit_memory",
            "RateLimit, memory://",
            rate_limit("memory://"),
            "limits_memory",
            OVER_LIMITS,
            short="RateLimit",
            section=SECTION,
            over="limits_memory",
        ),
        Case(
            "limits_memory",
            "direct limits call, memory://",
            direct_limits("memory://"),
            short="limits",
        ),
    ]
    if redis_uri is not None:
        rows += [
            Case(
                "ratelimit_redis",
                "RateLimit, local redis://",
                rate_limit(redis_uri),
                "limits_redis",
                OVER_LIMITS,
                short="RateLimit",
                over="limits_redis",
            ),
            Case(
                "limits_redis",
                "direct limits call, local redis://",
                direct_limits(redis_uri),
                short="limits",
            ),
        ]
    rows += [
        Case(
            "metrics",
            "Metrics",
            metrics,
            "prometheus_by_hand",
            short="Metrics",
            environ=SHARED,
        ),
        Case(
            "prometheus_by_hand",
            "prometheus-client by hand, same metrics",
            prometheus_by_hand,
            short="by hand",
            environ=SHARED,
        ),
    ]
    rows += [
        bare_fresh,
        Case(
            "flask_bare",
            "Flask app, no limiter",
            flask_bare,
            short="Flask",
            environ=FRESH,
        ),
        Case(
            "flask_limiter",
            "Flask app + Flask-Limiter, memory://",
            flask_limited,
            short="Flask-Limiter",
            environ=FRESH,
            over="flask_bare",
        ),
    ]
    return tuple(rows)


#: bench.cli's notes on rows this run does not have.
_OTHER_NOTES = (
    "ErrorHandler, app raises",
    "Paste ErrorMiddleware",
    "AccessLog builds",
    "Compress, not acting",
    "Django's GZipMiddleware",
)
NOTES = (
    "RateLimit rows: RateLimit(LIMIT, storage=...) on the fixed window, the "
    "request keyed by REMOTE_ADDR; its extra ns is over the direct row, a "
    "function layer making the same FixedWindowRateLimiter.hit() on a "
    "storage built with the same options (timeouts, no retries). Redis: a "
    "local redis-server started for the run, persistence off.",
    "Flask-Limiter: Limiter(get_remote_address, default_limits=[LIMIT], "
    "storage_uri='memory://') on a one-route Flask app; its extra ns is over "
    "the same app without the extension, so it is the extension's cost.",
    "Metrics(registry=CollectorRegistry()) beside a function layer keeping "
    "the same counter, histogram, byte counter and in-progress gauge with "
    "labels(...) per update and the duration taken at close().",
)


# -- a redis-server for the run -------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def local_redis() -> Iterator[str | None]:
    """A redis-server on 127.0.0.1 for the run (None when not installed)."""
    path = os.environ.get("PATH", "") + ":/usr/bin:/usr/sbin"
    program = shutil.which("redis-server", path=path)
    if program is None:
        print("bench.scaleout: no redis-server, no Redis rows", file=sys.stderr)
        yield None
        return
    port = _free_port()
    with tempfile.TemporaryDirectory() as directory:
        process = subprocess.Popen(
            [
                program,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                directory,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("redis-server did not start") from None
                    time.sleep(0.05)
            yield f"redis://127.0.0.1:{port}/0"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def main(argv: Sequence[str] | None = None) -> int:
    from bench import cli

    parser = argparse.ArgumentParser(
        prog="python -m bench.scaleout", description=__doc__
    )
    parser.add_argument("--fast", action="store_true", help="a quick, rough run")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write figures")
    args = parser.parse_args(argv)
    repeats = cli.FAST_REPEATS if args.fast else cli.FULL_REPEATS
    sample_ms = cli.FAST_SAMPLE_MS if args.fast else cli.FULL_SAMPLE_MS
    found = cli.machine()
    print(cli.machine_line(found))
    print()
    with local_redis() as redis_uri:
        rows_here = cases(redis_uri)
        # bench.cli names a row's peer by looking it up among its own rows.
        cli.CASES = (*CASES, *(c for c in rows_here if c not in CASES))  # type: ignore[attr-defined]
        rows = cli.run(repeats, sample_ms, rows_here)
    report = cli.Report(rows, [], [], repeats, repeats, sample_ms)
    table = cli.format_table(report).splitlines()
    print("\n".join(line for line in table if not line.startswith(_OTHER_NOTES)))
    print("\n".join(NOTES), flush=True)
    if args.json is not None:
        figures: dict[str, Any] = {"machine": found, **cli.to_json(report)}
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
