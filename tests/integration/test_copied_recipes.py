"""Every recipe works when copied into a new project, unchanged.

A new user copies one recipe file into a folder of their own and runs it
with a Python that has wsgimw and the framework installed, but knows
nothing of this checkout. These tests do the same: each one copies a recipe
into a fresh folder under ``tmp_path``, runs it from there on a free port,
and speaks to it with `http.client`.

The Python is not ``sys.executable`` itself. The project's virtualenv has
wsgimw installed in editable mode, and hatchling's editable install is a
``.pth`` file that puts the checkout's root on ``sys.path``: with it,
``import recipes`` works from any folder, and a recipe that still imported
``recipes.frameworks`` would pass. So `make_user_python` makes a virtualenv
from the same interpreter whose only extra path entries are a copy of the
``wsgimw`` package (as a wheel would install it) and the site-packages of
``sys.executable``'s environment. A folder named in a ``.pth`` file is only
added to the path: the ``.pth`` files inside it, the editable one included,
are not run. Before each server starts, a check run in the same folder with
the same environment proves that ``recipes`` cannot be imported there.

The framework recipes' copies are tested in ``test_frameworks.py``, which
uses `Project` from here.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import http.client
import json
import os
import secrets
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from servers import Server, running

import wsgimw

pytestmark = pytest.mark.integration

RECIPES = Path(__file__).resolve().parents[2] / "recipes"

#: Run in the project's folder before each server: the checkout is not on
#: the path there, and wsgimw is the installed copy. argv[1] is the checkout.
ISOLATION_CHECK = """\
import importlib.util, pathlib, sys
import wsgimw
checkout = pathlib.Path(sys.argv[1])
assert importlib.util.find_spec("recipes") is None, "recipes is importable"
assert checkout not in pathlib.Path(wsgimw.__file__).resolve().parents, wsgimw.__file__
"""


def make_user_python(where: Path) -> Path:
    """A virtualenv at ``where`` with wsgimw and the frameworks, as a user's
    own has them, and without this checkout on its path; its Python."""
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(where)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    python = where / "bin" / "python"
    installed = where / "installed"
    shutil.copytree(
        Path(wsgimw.__file__).parent,
        installed / "wsgimw",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    site_packages = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    ours = sorted({sysconfig.get_paths()[kind] for kind in ("purelib", "platlib")})
    (Path(site_packages) / "user-packages.pth").write_text(
        "\n".join([str(installed), *ours]) + "\n", encoding="utf-8"
    )
    return python


@pytest.fixture(scope="session")
def user_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_user_python(tmp_path_factory.mktemp("user-venv"))


@dataclass(frozen=True)
class Project:
    """A new project's folder, and the Python of the user's virtualenv."""

    path: Path
    python: Path

    def add(self, source: Path, name: str | None = None) -> Path:
        """Copy a recipe file, or a package folder whole, into the project."""
        target = self.path / (name or source.name)
        self.path.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(
                source, target, ignore=shutil.ignore_patterns("__pycache__")
            )
        else:
            shutil.copy2(source, target)
        return target

    def environ(self, extra: dict[str, str]) -> dict[str, str]:
        env = {
            name: value for name, value in os.environ.items() if name != "PYTHONPATH"
        }
        return {**env, "PYTHONUNBUFFERED": "1", **extra}

    def check_isolation(self, env: dict[str, str]) -> None:
        done = subprocess.run(
            [self.python, "-c", ISOLATION_CHECK, str(RECIPES.parent)],
            cwd=self.path,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr

    @contextlib.contextmanager
    def serving(
        self,
        args: Sequence[str],
        env: dict[str, str] | None = None,
        timeout: float = 30,
    ) -> Iterator[Server]:
        """Run ``python args... --port N`` in the project's folder until the
        block ends, then stop it by its pid."""
        environ = self.environ(env or {})
        self.check_isolation(environ)
        with running(
            args, python=self.python, cwd=self.path, env=environ, timeout=timeout
        ) as server:
            yield server


def request(
    live: Server,
    path: str,
    headers: dict[str, str] | None = None,
    *,
    method: str = "GET",
    body: bytes | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """One request over HTTP; the status, headers and body."""
    connection = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


def htpasswd_file(path: Path, user: str, password: str) -> Path:
    """A password file made by Debian's htpasswd, bcrypt as the docs say."""
    tool = shutil.which("htpasswd")
    assert tool, "install apache2-utils: the recipes' password files come from it"
    subprocess.run(
        [tool, "-c", "-B", "-b", str(path), user, password],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path


@pytest.fixture
def project(tmp_path: Path, user_python: Path) -> Project:
    return Project(tmp_path / "project", user_python)


def test_notes(project: Project) -> None:
    project.add(RECIPES / "notes.py")
    htpasswd_file(project.path / "notes.htpasswd", "alice", "wonderland")
    # The tutorial's command: the file named relative to the project.
    with project.serving(["-m", "notes"], {"NOTES_HTPASSWD": "notes.htpasswd"}) as live:
        status, _, _ = request(live, "/add", method="POST", body=b"buy bread")
        assert status == 401
        status, _, body = request(
            live,
            "/add",
            basic("alice", "wonderland"),
            method="POST",
            body=b"buy bread",
        )
        assert (status, json.loads(body)) == (201, {"added": 31})
        status, _, body = request(live, "/notes?q=bread")
        assert json.loads(body) == ["buy bread (by alice)"]


def test_compressed_api(project: Project) -> None:
    project.add(RECIPES / "compressed_api.py")
    with project.serving(["-m", "compressed_api"]) as live:
        status, headers, body = request(live, "/data.json", {"Accept-Encoding": "gzip"})
    assert (status, headers["Content-Encoding"]) == (200, "gzip")
    records = json.loads(gzip.decompress(body))
    assert len(records) == 200
    assert records[0]["name"] == "Product 0"


def test_query_echo(project: Project) -> None:
    project.add(RECIPES / "query_echo.py")
    with project.serving(["-m", "query_echo"]) as live:
        status, _, body = request(live, "/?tag=a&tag=b&q=caf%C3%A9+au+lait")
    assert status == 200
    assert json.loads(body)["values"] == {"tag": ["a", "b"], "q": ["café au lait"]}


def test_reverse_text(project: Project) -> None:
    project.add(RECIPES / "reverse_text.py")
    with project.serving(["-m", "reverse_text"]) as live:
        status, headers, body = request(live, "/")
    assert (status, body.decode("utf-8")) == (200, "✓ dlröw olléh")
    assert headers["Content-Length"] == str(len(body))


def test_error_pages(project: Project) -> None:
    project.add(RECIPES / "error_pages.py")
    with project.serving(["-m", "error_pages"]) as live:
        assert request(live, "/boom")[::2] == (500, b"500 Internal Server Error\n")
        assert request(live, "/forbidden")[0] == 403
        log = live.wait_for_log(lambda log: "reported PermissionError" in log)
    assert "WARNING recipes.error_pages: reported RuntimeError in GET /boom" in log


def test_json_access_log(project: Project) -> None:
    project.add(RECIPES / "json_access_log.py")
    with project.serving(["-m", "json_access_log"]) as live:
        assert request(live, "/")[::2] == (200, b"Hello, world!\n")
        log = live.wait_for_log(lambda log: '"status": 200' in log)
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert [(e["method"], e["path"], e["status"]) for e in entries] == [
        ("GET", "/", 200)
    ]


def test_admin_prefix(project: Project) -> None:
    project.add(RECIPES / "admin_prefix.py")
    htpasswd_file(project.path / "admin.htpasswd", "alice", "wonderland")
    with project.serving(
        ["-m", "admin_prefix"], {"ADMIN_HTPASSWD": "admin.htpasswd"}
    ) as live:
        assert request(live, "/")[0] == 200
        assert request(live, "/admin/")[0] == 401
        status, _, body = request(live, "/admin/", basic("alice", "wonderland"))
    assert status == 200
    assert b"Logged in as alice." in body


def test_bearer_api(project: Project) -> None:
    project.add(RECIPES / "bearer_api.py")
    token = secrets.token_urlsafe(32)
    with project.serving(["-m", "bearer_api"], {"API_TOKENS": f"ci:{token}"}) as live:
        assert request(live, "/health")[0] == 200
        assert request(live, "/whoami")[0] == 401
        status, _, body = request(live, "/whoami", {"Authorization": f"Bearer {token}"})
    assert (status, json.loads(body)) == (200, {"user": "ci"})
