"""The app of the scale-out recipe, configured from the environment.

One process (``memory://`` counts in this process only)::

    python wsgi.py --port 8000

Many workers, and as many machines as point at the same Redis::

    export RATELIMIT_STORAGE=redis://127.0.0.1:6379/0
    export PROMETHEUS_MULTIPROC_DIR=/run/myapp/metrics   # empty, yours alone
    gunicorn -c gunicorn_conf.py --bind 127.0.0.1:8000 wsgi:application

The environment:

* ``RATELIMIT_STORAGE``: a `limits` storage URI (default ``memory://``).
* ``RATELIMIT``: the budget per client, in `limits`' syntax (default
  ``"10/second; 300/minute"``).
* ``RATELIMIT_FAIL_OPEN``: ``0`` answers 503 while the storage is down;
  anything else (the default) lets requests through.
* ``METRICS_ALLOW``: the client addresses that may read ``/metrics``,
  separated by commas (default ``127.0.0.1,::1``).
* ``PROMETHEUS_MULTIPROC_DIR``: set it (to an empty directory) before the
  server starts, and every worker's counts add up at each scrape.

Metrics is outermost, so refused requests (429) are counted too. Put
ProxyHeaders outside RateLimit when a proxy is in front: the budget is per
``REMOTE_ADDR``, and RateLimit never reads X-Forwarded-For itself.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Iterable
from wsgiref.simple_server import make_server

from wsgimw import Metrics, RateLimit, compose
from wsgimw.types import Environ, StartResponse, WSGIApp

#: The app's routes: the only values the metrics' route label takes.
ROUTES = frozenset({"/", "/report", "/health"})


def site(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Three pages; ``/report`` takes a moment, as a real report would."""
    path = environ["PATH_INFO"]
    if path not in ROUTES:
        start_response(
            "404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")]
        )
        return [b"not found\n"]
    if path == "/report":
        time.sleep(0.3)
    body = f"{path} served by worker {os.getpid()}\n".encode()
    start_response(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
    )
    return [body]


def route(environ: Environ) -> str:
    path: str = environ["PATH_INFO"]
    return path if path in ROUTES else "unknown"


def build(
    *,
    storage: str = "memory://",
    limit: str = "10/second; 300/minute",
    fail_open: bool = True,
    metrics_allow: Iterable[str] = ("127.0.0.1", "::1"),
) -> WSGIApp:
    allowed = frozenset(metrics_allow)
    return compose(
        Metrics(
            route=route, check=lambda environ: environ.get("REMOTE_ADDR") in allowed
        ),
        RateLimit(
            limit,
            storage=storage,
            fail_open=fail_open,
            exempt=["/health"],
            headers=True,
        ),
    )(site)


def from_environment() -> WSGIApp:
    return build(
        storage=os.environ.get("RATELIMIT_STORAGE", "memory://"),
        limit=os.environ.get("RATELIMIT", "10/second; 300/minute"),
        fail_open=os.environ.get("RATELIMIT_FAIL_OPEN", "1") != "0",
        metrics_allow=[
            a.strip()
            for a in os.environ.get("METRICS_ALLOW", "127.0.0.1,::1").split(",")
            if a.strip()
        ],
    )


application = from_environment()


def main() -> None:  # pragma: no cover - a development server
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8000)
    port = parser.parse_args().port
    with make_server("127.0.0.1", port, application) as server:
        print(f"serving on http://127.0.0.1:{port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
