"""Start real WSGI servers around stack_app, for test_real_servers.py.

Each server is a subprocess listening on 127.0.0.1 on a free port, with its
files (htpasswd, access log, acknowledgement directory, configuration, pid
and temporary files) in a directory the caller gives, normally from pytest's
``tmp_path``. Every wait is bounded; every process is stopped by its pid when
the ``serve()`` block ends, and stopping it must take down every process it
started (workers, Apache children, mod_wsgi daemons), or the block fails.
"""

from __future__ import annotations

import contextlib
import grp
import http.client
import os
import pwd
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from servers import ROOT, Server, _wait_until_listening, free_port, stop

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
USER = "alice"
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class StackFiles:
    """The files stack_app is configured with (see its docstring)."""

    htpasswd: Path
    access_log: Path
    ack_dir: Path

    def environ(self, *, trusted_proxies: int = 0) -> dict[str, str]:
        """The environment for a server process that loads stack_app."""
        python_path = [str(HERE), str(ROOT)]
        if os.environ.get("PYTHONPATH"):
            python_path.append(os.environ["PYTHONPATH"])
        return {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(python_path),
            "PYTHONUNBUFFERED": "1",
            "WSGIMW_HTPASSWD": str(self.htpasswd),
            "WSGIMW_ACCESS_LOG": str(self.access_log),
            "WSGIMW_ACK_DIR": str(self.ack_dir),
            "WSGIMW_TRUSTED_PROXIES": str(trusted_proxies),
        }


def make_stack_files(directory: Path) -> StackFiles:
    """An htpasswd file made by Apache's own tool (bcrypt), an empty access
    log and an acknowledgement directory, in ``directory``."""
    htpasswd = shutil.which("htpasswd")
    if htpasswd is None:
        raise RuntimeError("htpasswd not found: install Debian's apache2-utils")
    directory.mkdir(parents=True, exist_ok=True)
    files = StackFiles(
        directory / "users.htpasswd", directory / "access.log", directory / "acks"
    )
    subprocess.run(
        [htpasswd, "-B", "-b", "-c", str(files.htpasswd), USER, PASSWORD],
        check=True,
        capture_output=True,
        timeout=30,
    )
    files.access_log.touch()
    files.ack_dir.mkdir()
    return files


# -- processes ---------------------------------------------------------------------


def _start_time(pid: int) -> str | None:
    """The start time of a live process, from /proc (None when it has exited
    or is a zombie): with the pid it names one process, even if pids wrap."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return None if fields[0] == "Z" else fields[19]


def descendants(pid: int) -> dict[int, str]:
    """Every live process below ``pid``, with its start time."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2 :].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found: dict[int, str] = {}
    pending = list(children.get(pid, []))
    while pending:
        child = pending.pop()
        started = _start_time(child)
        if started is not None:
            found[child] = started
        pending.extend(children.get(child, []))
    return found


def _left_behind(family: dict[int, str], timeout: float = 5) -> list[int]:
    """The processes of ``family`` still alive after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = [pid for pid, start in family.items() if _start_time(pid) == start]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.05)


@contextlib.contextmanager
def started(
    argv: Sequence[str],
    *,
    port: int,
    env: dict[str, str],
    cwd: Path,
    timeout: float = 30,
) -> Iterator[Server]:
    """Run ``argv`` until the block ends; it must listen on ``port``.

    At the end the process is stopped by its pid (terminate, wait, kill); the
    processes it had started must be gone within seconds, or the block fails
    (after killing them, by pid).
    """
    process = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    server = Server(process, port)
    server._start_reading()
    failed = True
    try:
        try:
            _wait_until_listening(server, timeout)
        except TimeoutError as error:
            raise TimeoutError(f"{error}; {argv[0]} printed:\n{server.log}") from None
        yield server
        failed = False
    finally:
        family = descendants(process.pid)
        stop(process)
        left = _left_behind(family)
        for pid in left:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        # Only now: a process left behind holds the output pipe open.
        server._collect_log()
        if left and not failed:
            raise AssertionError(
                f"stopping {argv[0]} (pid {process.pid}) left {left} running:\n"
                + server.log
            )


def wait_until_serving(port: int, path: str, timeout: float = 30) -> None:
    """Wait until GET ``path`` answers 200 (a server may listen before its
    workers are ready: Apache before its mod_wsgi daemon, nginx before the
    app behind it)."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                return
            last = response.status
        except (OSError, http.client.HTTPException) as error:
            last = error
        finally:
            conn.close()
        time.sleep(0.1)
    raise TimeoutError(f"GET {path} on port {port} gave {last!r} for {timeout} s")


# -- command lines and configuration files ----------------------------------------


def gunicorn_argv(port: int, worker_class: str) -> list[str]:
    argv = [
        str(BIN / "gunicorn"),
        "--bind",
        f"127.0.0.1:{port}",
        "--worker-class",
        worker_class,
        "--workers",
        "1",
        # Nothing is in flight when the tests stop it: no need to wait 30 s.
        "--graceful-timeout",
        "5",
    ]
    if worker_class == "gthread":
        # Only here: given threads, gunicorn swaps the sync worker for gthread.
        argv += ["--threads", "4"]
    if "--no-control-socket" in _gunicorn_options():
        # Newer gunicorn opens a control socket under ~/.gunicorn by default.
        argv.append("--no-control-socket")
    return [*argv, "stack_app:application"]


def _gunicorn_options() -> set[str]:
    from gunicorn.config import KNOWN_SETTINGS  # type: ignore[import-untyped]

    return {option for setting in KNOWN_SETTINGS for option in setting.cli or ()}


def waitress_argv(port: int) -> list[str]:
    return [
        str(BIN / "waitress-serve"),
        f"--listen=127.0.0.1:{port}",
        "--threads=4",
        "stack_app:application",
    ]


def uwsgi_argv(port: int) -> list[str]:
    return [
        str(BIN / "uwsgi"),
        "--strict",
        "--http-socket",
        f"127.0.0.1:{port}",
        "--master",
        "--processes",
        "1",
        "--threads",
        "4",
        # Without it uWSGI's master takes SIGTERM as "reload", not "stop".
        "--die-on-term",
        "--need-app",
        "--virtualenv",
        sys.prefix,
        "--pythonpath",
        str(HERE),
        "--pythonpath",
        str(ROOT),
        "--module",
        "stack_app:application",
    ]


def cheroot_argv(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "cheroot",
        "--bind",
        f"127.0.0.1:{port}",
        "--threads",
        "4",
        "stack_app:application",
    ]


def launcher_argv(server: str, port: int) -> list[str]:
    return [sys.executable, str(HERE / "launch_server.py"), server, "--port", str(port)]


def mod_wsgi_argv(port: int, server_root: Path) -> list[str]:
    """mod_wsgi-express from the virtualenv: its mod_wsgi is built against
    this Python, and it runs Debian's apache2 with a configuration it writes
    into ``server_root``."""
    argv = [
        str(BIN / "mod_wsgi-express"),
        "start-server",
        str(HERE / "stack_app.py"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--server-root",
        str(server_root),
        "--log-to-terminal",
        "--locale",
        "C.UTF-8",
        "--processes",
        "1",
        "--threads",
        "4",
    ]
    if os.geteuid() != 0:
        return argv
    # As root, Apache serves only as another user and mod_wsgi will not run
    # a daemon as root. That user could not read what the app needs when
    # root owns it privately (pytest's tmp_path; a Python installed in root's
    # home directory), so
    # the kernel is told to keep root's capabilities across Apache's switch
    # of user: the processes run as nobody, with root's file access.
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrgid(nobody.pw_gid).gr_name
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        raise RuntimeError("setpriv not found: install Debian's util-linux")
    return [
        setpriv,
        "--securebits",
        "+no_setuid_fixup",
        *argv,
        "--user",
        nobody.pw_name,
        "--group",
        group,
    ]


def write_nginx_conf(directory: Path, port: int, upstream: int) -> Path:
    """An nginx configuration in ``directory`` that proxies 127.0.0.1:``port``
    to 127.0.0.1:``upstream``, with every file it writes kept there."""
    directory.mkdir(parents=True, exist_ok=True)
    temp = {
        name: directory / name
        for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    }
    for path in temp.values():
        path.mkdir(exist_ok=True)
    # As root, nginx would run its workers as nobody, who cannot enter a
    # directory only root may (pytest's tmp_path).
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    conf = directory / "nginx.conf"
    conf.write_text(
        f"""{user}
worker_processes 1;
pid {directory / "nginx.pid"};
error_log stderr notice;
events {{
    worker_connections 64;
}}
http {{
    access_log {directory / "access.log"};
    client_body_temp_path {temp["client_body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://127.0.0.1:{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}
}}
"""
    )
    return conf


def nginx_argv(conf: Path) -> list[str]:
    # Debian installs it in sbin, which a user's PATH may lack.
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    nginx = shutil.which("nginx", path=search)
    if nginx is None:
        raise RuntimeError("nginx not found: install Debian's nginx")
    # -e: the error log before the configuration is read goes to stderr, not
    # to the compiled-in /var/log/nginx/error.log.
    return [
        nginx,
        "-p",
        str(conf.parent),
        "-e",
        "stderr",
        "-c",
        str(conf),
        "-g",
        "daemon off;",
    ]


# -- one server, ready to test ----------------------------------------------------


@dataclass
class Live:
    """A server running stack_app, ready for requests on ``port``."""

    name: str
    port: int
    files: StackFiles
    #: False for a server that sends a response only once the app has made
    #: all of it (Tornado's WSGIContainer).
    streams: bool
    processes: list[tuple[str, Server]] = field(default_factory=list)

    def running(self) -> bool:
        return all(server.process.poll() is None for _, server in self.processes)

    def output(self) -> str:
        """What every process printed so far, for assertion messages."""
        return "\n".join(
            f"--- {label} (pid {server.process.pid}, "
            f"exit {server.process.poll()}) ---\n{server.log}"
            for label, server in self.processes
        )


Starter = Callable[[contextlib.ExitStack, Live, Path], None]


def _direct(argv: Callable[[int, Path], list[str]]) -> Starter:
    def start(stack: contextlib.ExitStack, live: Live, directory: Path) -> None:
        server = stack.enter_context(
            started(
                argv(live.port, directory),
                port=live.port,
                env=live.files.environ(),
                cwd=directory,
            )
        )
        live.processes.append((live.name, server))

    return start


def _nginx_gunicorn(stack: contextlib.ExitStack, live: Live, directory: Path) -> None:
    upstream_port = free_port()
    upstream = stack.enter_context(
        started(
            gunicorn_argv(upstream_port, "sync"),
            port=upstream_port,
            env=live.files.environ(trusted_proxies=1),
            cwd=directory,
        )
    )
    live.processes.append(("gunicorn behind nginx", upstream))
    conf = write_nginx_conf(directory / "nginx", live.port, upstream_port)
    nginx = stack.enter_context(
        started(nginx_argv(conf), port=live.port, env=dict(os.environ), cwd=directory)
    )
    live.processes.append(("nginx", nginx))


#: name: (whether responses stream, how to start it)
SERVERS: dict[str, tuple[bool, Starter]] = {
    "gunicorn-sync": (True, _direct(lambda p, d: gunicorn_argv(p, "sync"))),
    "gunicorn-gthread": (True, _direct(lambda p, d: gunicorn_argv(p, "gthread"))),
    "waitress": (True, _direct(lambda p, d: waitress_argv(p))),
    "uwsgi": (True, _direct(lambda p, d: uwsgi_argv(p))),
    "mod_wsgi-express": (True, _direct(lambda p, d: mod_wsgi_argv(p, d / "apache"))),
    "cheroot": (True, _direct(lambda p, d: cheroot_argv(p))),
    # WSGIContainer joins every chunk of the body before it writes the
    # response, by design; it has no setting to stream.
    "tornado": (False, _direct(lambda p, d: launcher_argv("tornado", p))),
    "wsgiref": (True, _direct(lambda p, d: launcher_argv("wsgiref", p))),
    "nginx+gunicorn": (True, _nginx_gunicorn),
}


@contextlib.contextmanager
def serve(name: str, directory: Path) -> Iterator[Live]:
    """Run server ``name`` (a key of `SERVERS`) around stack_app, with its
    files in ``directory``, until the block ends."""
    streams, start = SERVERS[name]
    live = Live(name, free_port(), make_stack_files(directory), streams)
    with contextlib.ExitStack() as stack:
        start(stack, live, directory)
        try:
            wait_until_serving(live.port, "/whoami")
        except TimeoutError as error:
            raise AssertionError(f"{error}\n{live.output()}") from None
        yield live
