"""Start real server processes on 127.0.0.1 for tests, and stop them by pid.

Every wait is bounded; a process that does not stop when asked is killed.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[str]
    port: int
    _lines: list[str] = field(default_factory=list)
    _reader: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> str:
        """What the process printed so far (all of it once it has stopped)."""
        return "".join(self._lines)

    def wait_for_log(self, ready: Callable[[str], bool], timeout: float = 10) -> str:
        """The output once ``ready(output)`` is true, or at the timeout. A
        server writes an access line when it closes a response, which may be
        just after the client has read it."""
        deadline = time.monotonic() + timeout
        log = self.log
        while not ready(log) and time.monotonic() < deadline:
            time.sleep(0.05)
            log = self.log
        return log

    def _start_reading(self) -> None:
        # Drain the pipe as the server writes, so a chatty server never
        # blocks on a full pipe buffer.
        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self._lines.append(line)

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()

    def _collect_log(self) -> None:
        if self._reader is not None:
            self._reader.join(timeout=10)
        stdout = self.process.stdout
        if stdout is not None and not stdout.closed:
            stdout.close()


def _wait_until_listening(server: Server, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            server.process.wait(timeout=timeout)
            server._collect_log()
            raise RuntimeError(
                f"server exited with {server.process.returncode}: {server.log}"
            )
        with (
            contextlib.suppress(OSError),
            socket.create_connection(("127.0.0.1", server.port), timeout=0.5),
        ):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listened on port {server.port} within {timeout} s")


def stop(process: subprocess.Popen[str], timeout: float = 10) -> None:
    """Stop ``process`` by its pid: terminate, wait, then kill."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)


@contextlib.contextmanager
def running(
    args: Sequence[str],
    *,
    port: int | None = None,
    timeout: float = 20,
    python: str | os.PathLike[str] = sys.executable,
    cwd: Path = ROOT,
    env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    """Run ``python args... --port N`` (from the project root, in this
    process's environment, unless told otherwise) until the block ends;
    ``{port}`` in ``args`` is replaced instead when present."""
    port = port or free_port()
    argv = [a.replace("{port}", str(port)) for a in args]
    if not any("{port}" in a for a in args):
        argv += ["--port", str(port)]
    process = subprocess.Popen(
        [os.fspath(python), *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"},
    )
    server = Server(process, port)
    server._start_reading()
    try:
        _wait_until_listening(server, timeout)
        yield server
    finally:
        stop(process)
        server._collect_log()


def fetch(
    url: str, *, timeout: float = 10, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """GET ``url``; return status, headers and body, 4xx/5xx included."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()
