"""gunicorn settings for the scale-out recipe: ``gunicorn -c gunicorn_conf.py``.

prometheus-client's multiprocess mode keeps each worker's values in files
under ``PROMETHEUS_MULTIPROC_DIR``; a scrape, answered by any worker, adds
them all up. Two hooks keep those files right:

* ``on_starting`` empties the directory: files left by an earlier run would
  be added to this one's counts;
* ``child_exit`` tells prometheus-client a worker is gone, so that its
  share of the live gauges (requests in flight) is dropped; its counters
  still count.

The variable itself must be set in the environment that starts gunicorn, so
that every process imports prometheus-client with it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Nothing long-running: a worker stopping waits at most this long.
graceful_timeout = 10


def on_starting(server: Any) -> None:
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        raise RuntimeError(
            "set PROMETHEUS_MULTIPROC_DIR to an empty directory before starting "
            "gunicorn: without it each worker counts only its own requests"
        )
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    for leftover in path.glob("*.db"):
        leftover.unlink()


def child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
