"""gunicorn settings for `bench.soak` (``--config python:bench.soak_gunicorn``):
each worker writes its body counts when it exits."""

from __future__ import annotations

from typing import Any


def worker_exit(server: Any, worker: Any) -> None:
    """Runs in the worker as it exits: every response is over by then."""
    from bench import soak_app

    soak_app.write_counts()
