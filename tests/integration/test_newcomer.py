"""Each tutorial and how-to page, followed the way a newcomer would.

For each page: a fresh virtual environment with only what the page's "What
you need" section installs, by running its ``pip install`` line as written
(its ``--find-links`` folder holds the wheel built from this checkout, as
``make dist`` builds it); then the page's commands, run in a folder laid out
as the page says (the root of a clone without its ``wsgimw`` package, or an
empty project), with the outputs compared to what the page shows.

Comparing: ``Date:`` values, the CPython version, clock times, timestamps
in log lines and pytest's timings are the reader's own. A line of the page
that ends in ``...`` matches any line it starts; a line that is only
``...`` matches any number of lines. The port a page uses becomes a free
one. Environments are shared between pages with the same install line.
"""

from __future__ import annotations

import contextlib
import os
import pty
import re
import select
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from servers import ROOT, Server, _wait_until_listening, free_port, stop
from wheelhouse import Dist, built, clean_environ, make_venv

pytestmark = pytest.mark.integration

DOCS = ROOT / "docs"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)

# -- reading a page ----------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    lang: str
    text: str
    start: int  # offset in the page


@dataclass(frozen=True)
class Command:
    line: str
    expected: str


def blocks(text: str) -> list[Block]:
    return [Block(m[1], m[2], m.start()) for m in FENCE.finditer(text)]


def section(text: str, heading: str) -> str:
    start = text.index(f"\n## {heading}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def commands(block: Block) -> list[Command]:
    """The ``$ `` lines of a console block, each with the lines after it."""
    found: list[Command] = []
    line: str | None = None
    output: list[str] = []
    lines = iter(block.text.splitlines())
    for raw in lines:
        if raw.startswith("$ "):
            if line is not None:
                found.append(Command(line, "\n".join(output)))
            line, output = raw[2:], []
            while line.endswith("\\"):
                line = line[:-1] + " " + next(lines).strip()
        else:
            output.append(raw)
    if line is not None:
        found.append(Command(line, "\n".join(output)))
    return found


def install_line(text: str) -> str:
    """The one ``pip install`` command of the page's "What you need"."""
    needs = section(text, "What you need")
    lines = [
        c.line
        for b in blocks(needs)
        if b.lang == "console"
        for c in commands(b)
        if c.line.startswith("pip install ")
    ]
    assert len(lines) == 1, lines
    return lines[0]


# -- comparing ---------------------------------------------------------------------


def normal(text: str) -> list[str]:
    text = text.replace("\r\n", "\n")
    text = re.sub(r"\x1b\[[0-9;]*m", "", text)  # curl -i's bold header names
    text = re.sub(r"CPython/\d+\.\d+\.\d+", "CPython/3.x", text)
    text = re.sub(r"\b\d\d:\d\d:\d\d\.\d{3}\b", "HH:MM:SS.mmm", text)
    text = re.sub(r"\[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\]", "[TIME]", text)
    text = re.sub(
        r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\]", "[TIME] [PID]", text
    )
    text = re.sub(r"curl/[\d.]+", "curl/X", text)
    text = re.sub(r" in \d+\.\d+s\b", " in N.NNs", text)
    lines = [line.rstrip() for line in text.split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def matches(expected: str, actual: str) -> bool:
    return _match(normal(expected), normal(actual))


def _match(want: list[str], got: list[str]) -> bool:
    if not want:
        return not got
    head = want[0]
    if head == "...":
        return any(_match(want[1:], got[i:]) for i in range(len(got) + 1))
    if not got:
        return False
    if head.endswith("...") and got[0].startswith(head[:-3]):
        return _match(want[1:], got[1:])
    return head == got[0] and _match(want[1:], got[1:])


# -- environments ------------------------------------------------------------------


@dataclass
class Newcomer:
    """Virtual environments, one per install line, for the whole session."""

    root: Path
    dist: Dist
    venvs: dict[str, Path] = field(default_factory=dict)

    def wheel_folder(self, where: Path) -> None:
        """``where`` gets ``dist/`` and ``wsgimw/dist/`` with the wheel, the
        two folders the pages' ``--find-links`` name."""
        for folder in (where / "dist", where / "wsgimw" / "dist"):
            folder.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.dist.wheel, folder)

    def venv(self, line: str) -> Path:
        """The environment made by running ``line`` in a new venv."""
        if line not in self.venvs:
            where = self.root / f"venv-{len(self.venvs)}"
            make_venv(where / ".venv")
            self.wheel_folder(where)
            done = subprocess.run(
                ["bash", "-c", line],
                cwd=where,
                env=clean_environ(where / ".venv"),
                capture_output=True,
                text=True,
                timeout=900,
                check=False,
            )
            assert done.returncode == 0, f"{line}\n{done.stdout}\n{done.stderr}"
            shutil.rmtree(where / "wsgimw")
            self.venvs[line] = where / ".venv"
        return self.venvs[line]


@pytest.fixture(scope="session")
def newcomer(tmp_path_factory: pytest.TempPathFactory) -> Newcomer:
    return Newcomer(tmp_path_factory.mktemp("newcomer"), built(tmp_path_factory))


# -- running commands --------------------------------------------------------------


@dataclass
class Shell:
    """Runs a page's commands in one folder and environment."""

    cwd: Path
    env: dict[str, str]
    passwords: dict[str, str]
    ports: dict[str, int] = field(default_factory=dict)
    server: Server | None = None
    ran: list[str] = field(default_factory=list)

    def port_for(self, text: str) -> str:
        """``text`` with each documented port replaced by a free one."""
        for documented in re.findall(r"(?:127\.0\.0\.1:|--port )(\d{4,5})\b", text):
            self.ports.setdefault(documented, free_port())
        for documented, port in self.ports.items():
            text = re.sub(
                rf"(127\.0\.0\.1:|--port ){documented}\b", rf"\g<1>{port}", text
            )
        return text

    def check(self, command: Command) -> None:
        line = self.port_for(command.line)
        expected = self.port_for(command.expected)
        self.ran.append(line)
        if line.startswith("export "):
            name = line[len("export ") :].split("=", 1)[0]
            self.env[name] = self._run(f'{line}; printf %s "${name}"')[1]
            return
        if "http://127.0.0.1:" in expected and re.search(r"(^|\s)python3? ", line):
            self.start(line, expected)
            return
        output = ""
        for _ in range(6):  # a file is re-read, a log line written, within a second
            output = self._tty(line)
            if matches(expected, output):
                return
            time.sleep(0.5)
        raise AssertionError(f"$ {line}\nexpected:\n{expected}\ngot:\n{output}")

    def start(self, line: str, banner: str) -> None:
        """Start a server (stopping the one before), check what it prints."""
        self.stop()
        (port,) = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", banner)}
        process = subprocess.Popen(
            ["bash", "-c", f"exec {line}"],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        self.server = Server(process, port)
        self.server._start_reading()
        _wait_until_listening(self.server, 30)
        want = len(normal(banner))
        log = self.server.wait_for_log(lambda log: len(log.splitlines()) >= want)
        head = "\n".join(log.splitlines()[:want])
        assert matches(banner, head), f"$ {line}\nexpected:\n{banner}\ngot:\n{log}"

    def stop(self) -> None:
        if self.server is not None:
            stop(self.server.process)
            self.server._collect_log()
            self.server = None

    def _run(self, line: str) -> tuple[int, str]:
        done = subprocess.run(
            ["bash", "-c", line],
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            timeout=120,
            check=False,
        )
        return done.returncode, done.stdout

    def _tty(self, line: str) -> str:
        """Run a command on a terminal, as a reader does: its output and its
        errors interleave as they are written. At a password prompt, type
        the password the page uses for the user the command names last."""
        pid, fd = pty.fork()
        if pid == 0:  # pragma: no cover - the child
            os.chdir(self.cwd)
            os.execvpe("bash", ["bash", "-c", line], self.env)
        output, answered = b"", 0
        deadline = time.monotonic() + 30
        try:
            while time.monotonic() < deadline:
                if select.select([fd], [], [], 0.1)[0]:
                    try:
                        chunk = os.read(fd, 4096)
                    except OSError:
                        break
                    if not chunk:
                        break
                    output += chunk
                if output.count(b"password:") > answered:
                    password = self.passwords[shlex.split(line)[-1]]
                    os.write(fd, password.encode() + b"\n")
                    answered += 1
        finally:
            # A command still running at the deadline is stopped, with any
            # process it started (the child leads its own process group).
            if os.waitpid(pid, os.WNOHANG) == (0, 0):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            os.close(fd)
        return output.decode(errors="replace").replace("\r\n", "\n")


@contextlib.contextmanager
def shell(cwd: Path, venv: Path, page: str) -> Iterator[Shell]:
    passwords = dict(re.findall(r"-u (\w+):([^\s'\"]+)", page))
    # curl prints a progress meter when its output is not a terminal, as
    # here; a reader at a terminal sees none. Its error messages stay.
    curl_home = cwd.parent / f"{cwd.name}-curl"
    curl_home.mkdir(exist_ok=True)
    (curl_home / ".curlrc").write_text("no-progress-meter\n", encoding="utf-8")
    runner = Shell(cwd, {**clean_environ(venv), "CURL_HOME": str(curl_home)}, passwords)
    try:
        yield runner
    finally:
        runner.stop()


def clone_without_wsgimw(where: Path, newcomer: Newcomer) -> Path:
    """The root of a clone, as the how-to pages use it, but without its
    ``wsgimw`` folder, so the installed wheel is what runs."""
    for name in ("recipes", "docs"):
        shutil.copytree(
            ROOT / name, where / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy2(ROOT / "pyproject.toml", where)
    newcomer.wheel_folder(where)
    shutil.rmtree(where / "wsgimw")
    return where


# -- the recipe how-tos ------------------------------------------------------------

#: Commands a page shows that the test does not run, with the reason.
NOT_RUN = {
    # Serves on the fixed address in production.ini, which may be taken.
    "pyramid.md": ["pserve recipes/pyramid_site/production.ini"],
}

RECIPE_PAGES = [
    "reverse-text.md",
    "query-echo.md",
    "error-pages.md",
    "json-access-log.md",
    "compressed-api.md",
    "admin-prefix.md",
    "bearer-api.md",
    "pyramid.md",
]


@pytest.mark.parametrize("name", RECIPE_PAGES)
def test_a_recipe_page_runs_as_written(
    name: str, newcomer: Newcomer, tmp_path: Path
) -> None:
    text = (DOCS / "howto" / name).read_text(encoding="utf-8")
    venv = newcomer.venv(install_line(text))
    clone = clone_without_wsgimw(tmp_path / "wsgimw", newcomer)
    skipped = []
    with shell(clone, venv, text) as run:
        for block in blocks(text[text.index("\n## What you need\n") :])[1:]:
            if block.lang != "console":
                continue
            for command in commands(block):
                if command.line in NOT_RUN.get(name, []):
                    skipped.append(command.line)
                    continue
                run.check(command)
    assert skipped == NOT_RUN.get(name, [])
    assert run.ran, "the page shows no command"


# -- the tutorial ------------------------------------------------------------------

STACK = re.compile(r"^stack = compose\(\n.*?^\)$", re.MULTILINE | re.DOTALL)


def test_the_tutorial_runs_as_written(newcomer: Newcomer, tmp_path: Path) -> None:
    text = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    venv = newcomer.venv(install_line(text))
    folder = tmp_path / "tutorial"
    folder.mkdir()
    finished = (ROOT / "recipes" / "notes.py").read_text(encoding="utf-8")
    (folder / "notes.py").write_text(finished, encoding="utf-8")
    needs = blocks(section(text, "What you need"))
    harness_did = ["python3 -m venv .venv", ". .venv/bin/activate"]
    assert [c.line for c in commands(needs[0])][:2] == harness_did

    body = text[text.index("\n## 1. The app\n") : text.index("\n## The finished")]
    serve: Command | None = None
    logs = 0
    with shell(folder, venv, text) as run:
        for block in blocks(body):
            if block.lang == "python" and STACK.search(block.text):
                step = STACK.search(block.text)
                assert step is not None
                module = STACK.sub(step[0].replace("\\", "\\\\"), finished, count=1)
                (folder / "notes.py").write_text(module, encoding="utf-8")
                assert serve is not None
                run.check(serve)  # restart with the new stack, as the page says
            elif block.lang == "python" and block.text.startswith("# "):
                name = block.text.split("\n", 1)[0][2:].strip()
                (folder / name).write_text(block.text, encoding="utf-8")
            elif block.lang == "console":
                for command in commands(block):
                    if command.line.startswith("python notes.py"):
                        serve = command  # step 1 names it; each step restarts it
                    elif command.line.startswith("gunicorn "):
                        run.stop()
                        run.server = None
                        _start_gunicorn(run, command.line)
                    else:
                        run.check(command)
            elif block.lang == "text" and run.server is not None:
                _check_log(run, block.text)
                logs += 1
    assert serve is not None
    assert logs == 2  # wsgiref's console in step 5, gunicorn's in step 7
    assert (folder / "gunicorn.conf.py").is_file()
    assert "python -m pytest -q test_notes.py" in run.ran
    assert sum(line.startswith("gunicorn ") for line in run.ran) == 1


def _start_gunicorn(run: Shell, line: str) -> None:
    line = run.port_for(line)
    run.ran.append(line)
    (port,) = {int(p) for p in re.findall(r"127\.0\.0\.1:(\d+)", line)}
    process = subprocess.Popen(
        ["bash", "-c", f"exec {line}"],
        cwd=run.cwd,
        env=run.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    run.server = Server(process, port)
    run.server._start_reading()
    _wait_until_listening(run.server, 30)


def _check_log(run: Shell, shown: str) -> None:
    """The server's console against a log excerpt the page shows: the whole
    log, or under gunicorn its access lines alone, one per request."""
    assert run.server is not None
    shown = run.port_for(shown)
    want = normal(shown)
    if shown.startswith("["):  # gunicorn: its start-up lines come first
        log = run.server.wait_for_log(
            lambda log: len(re.findall(r'"(GET|POST) ', log)) >= len(want)
        )
        got = [line for line in log.splitlines() if re.search(r'"(GET|POST) ', line)]
    else:
        log = run.server.wait_for_log(lambda log: len(log.splitlines()) >= len(want))
        got = log.splitlines()
    assert _match(want, normal("\n".join(got))), f"expected:\n{shown}\ngot:\n{log}"


# -- the quickstart ----------------------------------------------------------------

#: Runs the quickstart's ordering block after hello.py, and checks each
#: value the page gives in a comment: ``expr  # value`` on one line, or a
#: bare name followed by comment lines that spell its repr.
ORDERING = """\
import re, sys
from hello import hello_app, permissions_policy
from wsgimw import Rewrite, compose
block = open(sys.argv[1], encoding="utf-8").read()
namespace = {"hello_app": hello_app, "permissions_policy": permissions_policy,
             "Rewrite": Rewrite, "compose": compose}
exec(block, namespace)
lines = block.splitlines()
checked = 0
for n, line in enumerate(lines):
    code, _, shown = line.partition("  # ")
    if shown and not code.startswith((" ", "#")) and "=" not in code:
        assert repr(eval(code, namespace)) == shown, (code, shown)
        checked += 1
    elif re.fullmatch(r"[a-z_]+", line):
        follow = []
        for more in lines[n + 1:]:
            if not more.startswith("# "):
                break
            follow.append(more[2:].strip())
        got = repr(eval(line, namespace))
        assert " ".join(got.split()) == " ".join(" ".join(follow).split()), got
        checked += 1
print(checked, "values as shown")
"""

#: Calls what the Flask, ProxyFix and Django sections build.
SECTIONS = """\
import sys
from wsgimw.testing import call_app
which = sys.argv[1]
if which == "flask":
    from flask_site import app
    reply = app.test_client().get("/")
    print(reply.status, reply.headers["Permissions-Policy"], reply.get_data(as_text=True))
elif which == "proxy":
    from proxy_site import hello_app, with_proxy
    result = call_app(with_proxy(hello_app), "/", headers={"X-Forwarded-For": "203.0.113.7"})
    print(result.status, result.header("Permissions-Policy"), result.body)
else:
    from mysite.wsgi import application
    result = call_app(application, "/")
    print(result.status, result.header("Permissions-Policy"))
"""


def _python_blocks(text: str) -> list[str]:
    return [b.text for b in blocks(text) if b.lang == "python"]


def test_the_quickstart_runs_as_written(newcomer: Newcomer, tmp_path: Path) -> None:
    text = (DOCS / "quickstart.md").read_text(encoding="utf-8")
    venv = newcomer.venv(install_line(text))
    folder = tmp_path / "quickstart"
    folder.mkdir()
    code = _python_blocks(text)
    (hello,) = [b for b in code if b.startswith("# hello.py\n")]
    (tests,) = [b for b in code if b.startswith("# test_hello.py\n")]
    (proxy,) = [b for b in code if "ProxyFix" in b]
    (flask,) = [b for b in code if b.startswith("from flask import")]
    (django,) = [b for b in code if b.startswith("# mysite/wsgi.py\n")]
    (ordering,) = [b for b in code if "call_app(compose(shout" in b]
    (tree,) = [b for b in code if "combined = compose(" in b]
    (folder / "test_hello.py").write_text(tests, encoding="utf-8")
    with shell(folder, venv, text) as run:
        port = run.port_for("127.0.0.1:8000").rsplit(":", 1)[1]
        served = hello.replace("8000", port)  # the address and the message
        (folder / "hello.py").write_text(served, encoding="utf-8")
        for block in blocks(text):
            if block.lang == "console" and "pip install" not in block.text:
                for command in commands(block):
                    run.check(command)
        run.stop()
        assert "python -m pytest -q test_hello.py" in run.ran

        (folder / "proxy_site.py").write_text(
            "from hello import *  # noqa: F403\n\n" + proxy,  # the page's names
            encoding="utf-8",
        )
        (folder / "flask_site.py").write_text(flask, encoding="utf-8")
        (folder / "ordering.py").write_text(ORDERING, encoding="utf-8")
        (folder / "order_block.py").write_text(ordering + "\n" + tree, encoding="utf-8")
        (folder / "sections.py").write_text(SECTIONS, encoding="utf-8")
        policy = "camera=(), microphone=()"
        assert run._tty("python sections.py flask").strip() == (
            f"200 OK {policy} hello from Flask"
        )
        proxied = run._tty("python sections.py proxy").replace("\r\n", "\n")
        assert proxied == f"GET /\n200 OK {policy} b'hello, world\\n'\n"
        assert run._tty("python ordering.py order_block.py").strip() == (
            "4 values as shown"
        )
        startproject = run._tty("django-admin startproject mysite .")
        assert startproject.strip() == ""
        (folder / "mysite" / "wsgi.py").write_text(django, encoding="utf-8")
        assert run._tty("python sections.py django").strip() == f"200 OK {policy}"


# -- the testing how-to ------------------------------------------------------------


def test_the_testing_page_runs_as_written(newcomer: Newcomer, tmp_path: Path) -> None:
    text = (DOCS / "howto" / "testing.md").read_text(encoding="utf-8")
    venv = newcomer.venv(install_line(text))
    clone = clone_without_wsgimw(tmp_path / "wsgimw", newcomer)
    project = tmp_path / "project"
    project.mkdir()
    recipe = ROOT / "recipes" / "pytest_pipeline"
    shutil.copy2(recipe / "blog.py", project)
    tests = (recipe / "test_pipeline.py").read_text(encoding="utf-8")
    old = "from recipes.pytest_pipeline.blog import"
    assert old in text  # the page names the import to change
    (project / "test_pipeline.py").write_text(
        tests.replace(old, "from blog import"), encoding="utf-8"
    )
    (ini,) = [b.text for b in blocks(text) if b.lang == "ini"]
    (project / "pytest.ini").write_text(ini, encoding="utf-8")
    ran = []
    for block in blocks(section(text, "Run it")):
        if block.lang != "console":
            continue
        for command in commands(block):
            where = clone if "recipes/" in command.line else project
            with shell(where, venv, text) as run:
                run.check(command)
            ran.append((where.name, command.line))
    assert ran == [
        ("wsgimw", "python -m pytest recipes/pytest_pipeline -q"),
        ("project", "python -m pytest -q"),
    ]


# -- the frameworks how-to (Flask) -------------------------------------------------


def _in_order(shown: list[str], got: list[str]) -> bool:
    """Every line shown appears in ``got``, in the same order."""
    rest = iter(got)
    return all(any(line == have for have in rest) for line in shown)


def test_the_frameworks_page_runs_as_written_with_flask(
    newcomer: Newcomer, tmp_path: Path
) -> None:
    text = (DOCS / "howto" / "frameworks.md").read_text(encoding="utf-8")
    venv = newcomer.venv(install_line(text))
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy2(ROOT / "recipes" / "frameworks" / "flask_app.py", project)
    console = [b for b in blocks(text) if b.lang == "console"]
    (serve,) = [c for b in console for c in commands(b) if "flask_app.py" in c.line]
    tries = next(b for b in console if "curl" in b.text)
    # The page shows an excerpt of each response: its lines, in order.
    printed = next(b for b in blocks(text[tries.start :]) if b.lang == "text")
    shown = re.split(r"\n(?=HTTP/1\.0 )", printed.text.strip())
    curls = commands(tries)
    assert len(curls) == len(shown) == 5
    with shell(project, venv, text) as run:
        run.check(serve)
        for command, excerpt in zip(curls, shown, strict=True):
            got = normal(run._tty(run.port_for(command.line)))
            want = [line for line in normal(excerpt) if line]
            assert _in_order(want, got), f"$ {command.line}\n{want}\n{got}"


# -- the servers how-to (gunicorn) -------------------------------------------------

#: The app that the servers page's ``myapp/wsgi.py`` imports from
#: ``myapp.core``: "your WSGI app".
CORE = """\
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello from myapp\\n"]
"""


def test_the_servers_page_logs_one_line_per_request_under_gunicorn(
    newcomer: Newcomer, tmp_path: Path
) -> None:
    text = (DOCS / "howto" / "servers.md").read_text(encoding="utf-8")
    tutorial = (DOCS / "tutorial.md").read_text(encoding="utf-8")
    venv = newcomer.venv(install_line(text))
    project = tmp_path / "project"
    (project / "myapp").mkdir(parents=True)
    code = _python_blocks(text)
    (wsgi,) = [b for b in code if b.startswith("# myapp/wsgi.py\n")]
    (conf,) = [b for b in code if b.startswith("# gunicorn.conf.py\n")]
    assert conf in _python_blocks(tutorial)  # the tutorial runs the same file
    users = project / "users.htpasswd"
    with shell(project, venv, text) as run:
        run._tty(f"htpasswd -c -B -b {users} alice wonderland")
        (project / "myapp" / "__init__.py").write_text("", encoding="utf-8")
        (project / "myapp" / "core.py").write_text(CORE, encoding="utf-8")
        module = wsgi.replace("/etc/myapp/users.htpasswd", str(users))
        (project / "myapp" / "wsgi.py").write_text(module, encoding="utf-8")
        (project / "gunicorn.conf.py").write_text(conf, encoding="utf-8")
        section_text = section(text, "gunicorn")
        (command,) = [
            c for b in blocks(section_text) if b.lang == "console" for c in commands(b)
        ]
        _start_gunicorn(run, command.line)
        assert run.server is not None
        url = run.server.url
        assert run._tty(f"curl -s {url}/").strip() == "hello from myapp"
        assert (
            run._tty(f"curl -s -o /dev/null -w '%{{http_code}}' {url}/admin") == "401"
        )
        log = run.server.wait_for_log(lambda log: log.count('"GET /') >= 2)
    access = [line for line in log.splitlines() if '"GET /' in line]
    assert len(access) == 2, log
    assert re.search(r'\] "GET / HTTP/1\.1" 200 17 "-" "curl/[\d.]+"$', access[0])
    assert '"GET /admin HTTP/1.1" 401 24' in access[1]


# -- every page --------------------------------------------------------------------

#: The pages the tests above follow command by command.
FOLLOWED = {
    "tutorial.md",
    "quickstart.md",
    "howto/testing.md",
    "howto/frameworks.md",
    "howto/servers.md",
    *(f"howto/{name}" for name in RECIPE_PAGES),
}


def _pages() -> list[str]:
    howtos = sorted((DOCS / "howto").glob("*.md"))
    return [
        "tutorial.md",
        "quickstart.md",
        *(f"howto/{p.name}" for p in howtos if p.name != "index.md"),
    ]


@pytest.mark.parametrize("page", _pages())
def test_every_page_says_what_to_install(page: str) -> None:
    text = (DOCS / page).read_text(encoding="utf-8")
    line = install_line(text)  # exactly one, in "What you need"
    assert line.startswith("pip install --find-links "), line
    assert "wsgimw" in line, line
    assert "Install](" in section(text, "What you need")  # the ways to install


@pytest.mark.parametrize("page", sorted(set(_pages()) - FOLLOWED))
def test_a_page_not_followed_installs_what_its_recipe_imports(
    page: str, newcomer: Newcomer, tmp_path: Path
) -> None:
    """The pages that need nginx, Redis or a browser are followed by their
    recipes' own tests; here their install line alone, in a fresh
    environment, must be enough to import every recipe module they run."""
    text = (DOCS / page).read_text(encoding="utf-8")
    venv = newcomer.venv(install_line(text))
    clone = clone_without_wsgimw(tmp_path / "wsgimw", newcomer)
    named = re.findall(r"\b(recipes(?:\.\w+)+)(?=[\s:])", text)
    included = re.findall(r'--8<-- "(recipes/[\w/]+)\.py"', text)
    modules = sorted({*named, *(path.replace("/", ".") for path in included)})
    imports = "; ".join(f"import {m}" for m in modules) or "import wsgimw"
    done = subprocess.run(
        [venv / "bin" / "python", "-c", imports],
        cwd=clone,
        env=clean_environ(venv),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"{page}: {imports}\n{done.stderr}"
