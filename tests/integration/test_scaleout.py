"""Scale-out for real: redis-server and gunicorn workers on 127.0.0.1.

Each test starts its own redis-server (Debian's, persistence off) on a free
port, and stops it by its pid; gunicorn runs the scale-out recipe
(recipes/scaleout: wsgi.py with its gunicorn_conf.py) with two workers.

* Two separately built apps, and two gunicorn workers, spend one budget.
* prometheus-client's multiprocess mode: the counts of both workers add up
  in one scrape, and the worker-exit hook drops a dead worker's live gauge.
* Redis stopped (or hung) mid-run: fail-open lets requests through and
  fail-closed answers 503, within the timeout; never a 500, never a hang.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from servers import Server, fetch, free_port, stop
from servers_real import _gunicorn_options, started, wait_until_serving

from wsgimw import RateLimit
from wsgimw.ratelimit import STRATEGIES
from wsgimw.testing import call_app
from wsgimw.types import Environ, StartResponse

pytestmark = pytest.mark.integration

RECIPE = Path(__file__).resolve().parents[2] / "recipes" / "scaleout"
BIN = Path(sys.executable).parent


def redis_server_path() -> str:
    found = shutil.which(
        "redis-server", path=f"{os.environ.get('PATH', '')}:/usr/bin:/usr/sbin"
    )
    if found is None:
        raise RuntimeError(
            "redis-server not found: install Debian's redis-server (make tools)"
        )
    return found


@contextlib.contextmanager
def redis_server(directory: Path, port: int | None = None) -> Iterator[Server]:
    """redis-server on 127.0.0.1 with persistence off, until the block ends."""
    port = port or free_port()
    directory.mkdir(parents=True, exist_ok=True)
    argv = [
        redis_server_path(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(directory),
    ]
    with started(argv, port=port, env=dict(os.environ), cwd=directory) as server:
        yield server


def hello(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


# -- in this process, against the real server ------------------------------------------


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_two_separately_built_apps_share_one_budget(
    strategy: str, tmp_path: Path
) -> None:
    with redis_server(tmp_path) as redis:
        uri = f"redis://127.0.0.1:{redis.port}/0"
        one = RateLimit("3/minute", storage=uri, strategy=strategy)(hello)  # type: ignore[arg-type]
        two = RateLimit("3/minute", storage=uri, strategy=strategy)(hello)  # type: ignore[arg-type]
        codes = [call_app(app, "/").status_code for app in (one, two, one, two, one)]
        assert codes == [200, 200, 200, 429, 429]
        other_client = call_app(two, "/", REMOTE_ADDR="10.9.9.9")
        assert other_client.status_code == 200
        refused = call_app(one, "/")
        retry = refused.header("Retry-After")
        assert retry is not None
        assert 1 <= int(retry) <= 60


def test_redis_stopped_mid_run_fails_open_or_503_and_recovers(tmp_path: Path) -> None:
    port = free_port()
    uri = f"redis://127.0.0.1:{port}/0"
    open_app = RateLimit("2/minute", storage=uri, timeout=0.5, scope="open")(hello)
    closed_app = RateLimit(
        "2/minute", storage=uri, timeout=0.5, fail_open=False, scope="closed"
    )(hello)
    with redis_server(tmp_path / "first", port) as redis:
        for app in (open_app, closed_app):
            assert [call_app(app, "/").status_code for _ in range(3)] == [200, 200, 429]
        stop(redis.process)  # mid-run: the apps keep their clients
        started_at = time.monotonic()
        assert [call_app(open_app, "/").status_code for _ in range(3)] == [200] * 3
        closed = call_app(closed_app, "/")
        assert closed.status == "503 Service Unavailable"
        assert time.monotonic() - started_at < 10  # refused at once, no retries
    # The server comes back (empty: no persistence): limiting resumes.
    with redis_server(tmp_path / "second", port):
        assert [call_app(closed_app, "/").status_code for _ in range(3)] == [
            200,
            200,
            429,
        ]


def test_a_hung_redis_costs_each_request_at_most_the_timeout(tmp_path: Path) -> None:
    with redis_server(tmp_path) as redis:
        uri = f"redis://127.0.0.1:{redis.port}/0"
        open_app = RateLimit("5/minute", storage=uri, timeout=0.3)(hello)
        closed_app = RateLimit("5/minute", storage=uri, timeout=0.3, fail_open=False)(
            hello
        )
        assert call_app(open_app, "/").status_code == 200  # connected
        assert call_app(closed_app, "/").status_code == 200
        os.kill(redis.process.pid, signal.SIGSTOP)  # alive, but answers nothing
        try:
            started_at = time.monotonic()
            assert call_app(open_app, "/").status_code == 200
            assert call_app(closed_app, "/").status_code == 503
            # Two timeouts of 0.3 s, not redis-py's retries with backoff.
            assert time.monotonic() - started_at < 5
        finally:
            os.kill(redis.process.pid, signal.SIGCONT)


def test_strategies_on_one_key_keep_their_own_budgets(tmp_path: Path) -> None:
    """A fixed window's counter and a moving window's list under one Redis
    key would fail with WRONGTYPE (as during a deploy that changes the
    strategy): each strategy has keys of its own."""
    with redis_server(tmp_path) as redis:
        uri = f"redis://127.0.0.1:{redis.port}/0"
        apps = [
            RateLimit("2/minute", storage=uri, strategy=strategy)(hello)  # type: ignore[arg-type]
            for strategy in sorted(STRATEGIES)
        ]
        for app in apps:
            codes = [call_app(app, "/").status_code for _ in range(3)]
            assert codes == [200, 200, 429]


@contextlib.contextmanager
def redis_cluster(directory: Path) -> Iterator[Server]:
    """A one-node Redis Cluster holding every slot, until the block ends."""
    import redis

    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    argv = [
        redis_server_path(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        str(directory / "nodes.conf"),
        # The bus port, given: by default it is the port + 10000, which a
        # free port above 55535 cannot have.
        "--cluster-port",
        str(free_port()),
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(directory),
    ]
    with started(argv, port=port, env=dict(os.environ), cwd=directory) as server:
        with redis.Redis(port=port, socket_timeout=5) as client:
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
            deadline = time.monotonic() + 20
            while b"cluster_state:ok" not in client.execute_command("CLUSTER", "INFO"):
                if time.monotonic() > deadline:
                    raise TimeoutError("the one-node cluster never became ok")
                time.sleep(0.05)
        yield server


@contextlib.contextmanager
def redis_sentinel(directory: Path, master: int) -> Iterator[Server]:
    """A Redis Sentinel watching the master on port ``master`` as
    ``mymaster``, until the block ends."""
    port = free_port()
    directory.mkdir(parents=True, exist_ok=True)
    conf = directory / "sentinel.conf"  # sentinel rewrites it: a copy of its own
    conf.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {directory}\n"
        f"sentinel monitor mymaster 127.0.0.1 {master} 1\n"
    )
    argv = [redis_server_path(), str(conf), "--sentinel"]
    with started(argv, port=port, env=dict(os.environ), cwd=directory) as server:
        yield server


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_redis_cluster_uri_shares_one_budget(strategy: str, tmp_path: Path) -> None:
    with redis_cluster(tmp_path) as cluster:
        uri = f"redis+cluster://127.0.0.1:{cluster.port}"
        one = RateLimit("2/minute", storage=uri, strategy=strategy)(hello)  # type: ignore[arg-type]
        two = RateLimit("2/minute", storage=uri, strategy=strategy)(hello)  # type: ignore[arg-type]
        assert [call_app(app, "/").status_code for app in (one, two, one)] == [
            200,
            200,
            429,
        ]


def test_redis_sentinel_uri_shares_one_budget_and_fails_safely(
    tmp_path: Path,
) -> None:
    with contextlib.ExitStack() as stack:
        master = stack.enter_context(redis_server(tmp_path / "master"))
        sentinel = stack.enter_context(
            redis_sentinel(tmp_path / "sentinel", master.port)
        )
        uri = f"redis+sentinel://127.0.0.1:{sentinel.port}/mymaster"
        one = RateLimit("2/minute", storage=uri, timeout=0.5)(hello)
        two = RateLimit("2/minute", storage=uri, timeout=0.5, fail_open=False)(hello)
        codes = [call_app(app, "/").status_code for app in (one, two, one)]
        assert codes == [200, 200, 429]
        stop(sentinel.process)
        stop(master.process)
        started_at = time.monotonic()
        assert call_app(one, "/").status_code == 200  # fails open
        assert call_app(two, "/").status_code == 503
        assert time.monotonic() - started_at < 10


# -- gunicorn workers ---------------------------------------------------------------------


def gunicorn(
    port: int, env: dict[str, str]
) -> contextlib.AbstractContextManager[Server]:
    argv = [
        str(BIN / "gunicorn"),
        "-c",
        str(RECIPE / "gunicorn_conf.py"),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "2",
        "--graceful-timeout",
        "5",
    ]
    if "--no-control-socket" in _gunicorn_options():
        argv.append("--no-control-socket")
    return started([*argv, "wsgi:application"], port=port, env=env, cwd=RECIPE)


def recipe_env(metrics_dir: Path, storage: str, limit: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "RATELIMIT_STORAGE": storage,
        "RATELIMIT": limit,
    }


def wait_for_workers(metrics_dir: Path, count: int, timeout: float = 60) -> None:
    """Wait until ``count`` workers have loaded the app: each one's Metrics
    opens its live gauge file then. The first worker may answer while the
    second is still importing, and a burst would then reach only one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(list(metrics_dir.glob("gauge_livesum_*.db"))) >= count:
            return
        time.sleep(0.05)
    raise TimeoutError(f"fewer than {count} workers loaded the app in {timeout} s")


def burst(port: int, count: int) -> list[tuple[int, bytes]]:
    """``count`` requests for /report (0.3 s each), four at a time, so both
    sync workers are kept busy."""

    def one(_: int) -> tuple[int, bytes]:
        status, _headers, body = fetch(f"http://127.0.0.1:{port}/report", timeout=30)
        return status, body

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(one, range(count)))


def workers_of(results: list[tuple[int, bytes]]) -> set[int]:
    return {
        int(match.group(1))
        for status, body in results
        if status == 200 and (match := re.search(rb"worker (\d+)", body))
    }


def scraped_total(port: int) -> float:
    status, _headers, body = fetch(f"http://127.0.0.1:{port}/metrics", timeout=30)
    assert status == 200, body
    return sum(
        float(value)
        for value in re.findall(
            rb'^http_requests_total\{[^}]*route="/report"[^}]*\} (\S+)$', body, re.M
        )
    )


def settled_total(port: int, expected: float, timeout: float = 10) -> float:
    """The scraped total once it reaches ``expected`` (or at the timeout): a
    response is counted when the worker closes it, just after the client
    has read it."""
    deadline = time.monotonic() + timeout
    total = scraped_total(port)
    while total < expected and time.monotonic() < deadline:
        time.sleep(0.05)
        total = scraped_total(port)
    return total


def test_gunicorn_workers_share_one_budget_and_their_counts_add_up(
    tmp_path: Path,
) -> None:
    metrics_dir = tmp_path / "metrics"
    with redis_server(tmp_path / "redis") as redis:
        env = recipe_env(metrics_dir, f"redis://127.0.0.1:{redis.port}/0", "6/minute")
        port = free_port()
        with gunicorn(port, env) as server:
            wait_until_serving(port, "/health")
            wait_for_workers(metrics_dir, 2)
            results = burst(port, 10)
            statuses = sorted(status for status, _ in results)
            assert statuses == [200] * 6 + [429] * 4, server.log
            pids = workers_of(results)
            assert len(pids) == 2, f"one worker served everything: {results}"
            # Any worker answers the scrape with every worker's counts.
            assert settled_total(port, 10) == 10
            assert scraped_total(port) == 10  # whichever worker answers

            # A worker goes away: its counts stay, its live gauge goes.
            gone = min(pids)
            live_gauge = metrics_dir / f"gauge_livesum_{gone}.db"
            assert live_gauge.exists()
            os.kill(gone, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while live_gauge.exists() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not live_gauge.exists(), "child_exit did not mark the worker dead"
            wait_until_serving(port, "/health")
            assert scraped_total(port) == 10

            # Redis stops mid-run: the recipe fails open, never a 500 or a hang.
            stop(redis.process)
            started_at = time.monotonic()
            after = burst(port, 4)
            assert [status for status, _ in after] == [200] * 4
            assert time.monotonic() - started_at < 20
            assert "Traceback" not in server.log
            assert "rate limit storage RedisStorage failed" in server.wait_for_log(
                lambda log: "rate limit storage" in log
            )


def test_memory_storage_counts_per_worker(tmp_path: Path) -> None:
    """Why the URI must change with more than one process: with memory://
    each gunicorn worker has a budget of its own (Flask-Limiter's users met
    this as #40 and #441), so two workers let more through than the limit."""
    env = recipe_env(tmp_path / "metrics", "memory://", "6/minute")
    port = free_port()
    with gunicorn(port, env):
        wait_until_serving(port, "/health")
        wait_for_workers(tmp_path / "metrics", 2)
        results = burst(port, 10)
    allowed = sum(1 for status, _ in results if status == 200)
    assert len(workers_of(results)) == 2
    assert allowed > 6
