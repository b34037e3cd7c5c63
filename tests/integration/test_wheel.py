"""The release files: what ``make dist`` builds is complete and works alone.

The wheel is installed into a clean virtual environment (with the dev
extra, which names everything the tests import) and the in-process test
suite, every test outside tests/integration that is not marked
``integration``, runs there from a copy of the checkout without its
``wsgimw`` folder. A module, ``py.typed``, a data file or an entry point
missing from the wheel fails the run.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest
from servers import ROOT
from wheelhouse import Dist, built, clean_environ, make_venv, pip_install

pytestmark = pytest.mark.integration

#: Top-level entries of the checkout that the copy leaves out: the package
#: itself (the wheel provides it) and what tools and builds leave behind.
NOT_COPIED = {
    "wsgimw",
    ".git",
    ".venv",
    ".venv-dist",
    ".venv-docs",
    "site",
    "dist",
    "build",
    ".coverage",
    ".hypothesis",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
}

#: A user's module, type-checked against the installed wheel: without
#: py.typed, mypy --strict refuses the import as untyped.
TYPED_USER = """\
from collections.abc import Iterable

from wsgimw import Rewrite, compose
from wsgimw.types import Environ, StartResponse, WSGIApp


def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


application: WSGIApp = compose(Rewrite(text=str.upper))(app)
"""

#: Run in the copy: wsgimw is the installed wheel, the checkout is absent.
WHERE_FROM = """\
import importlib.metadata, pathlib, sys, wsgimw
here = pathlib.Path(wsgimw.__file__).resolve()
assert pathlib.Path(sys.prefix).resolve() in here.parents, here
points = importlib.metadata.entry_points(group="paste.filter_factory")
print(sorted(p.name for p in points if p.dist.name == "wsgimw"))
"""


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    return built(tmp_path_factory)


@pytest.fixture(scope="module")
def wheel_python(tmp_path_factory: pytest.TempPathFactory, dist: Dist) -> Path:
    python = make_venv(tmp_path_factory.mktemp("wheel-venv") / "venv")
    pip_install(python, f"{dist.wheel}[dev]")
    return python


def _entry_points() -> dict[str, dict[str, str]]:
    """pyproject.toml's entry points, by group (tomllib is 3.11+)."""
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    groups: dict[str, dict[str, str]] = {}
    for match in re.finditer(
        r'^\[project\.entry-points\."([^"]+)"\]\n((?:[^\[\n].*\n|\n)*)', text, re.M
    ):
        pairs = re.findall(r'^([\w.-]+) = "([^"]+)"', match[2], re.M)
        groups[match[1]] = dict(pairs)
    return groups


def _package_files() -> set[str]:
    """Every file of the wsgimw package folder, as paths in the wheel."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "wsgimw").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }


def test_twine_passes_both_files(dist: Dist) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "twine", "check", "--strict", dist.wheel, dist.sdist],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2


def test_the_wheel_holds_every_package_file_and_entry_point(dist: Dist) -> None:
    with zipfile.ZipFile(dist.wheel) as wheel:
        names = set(wheel.namelist())
        (points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        entry_points = wheel.read(points).decode()
    package = _package_files()
    assert "wsgimw/py.typed" in package
    assert package <= names, sorted(package - names)
    assert not any(n.startswith(("tests/", "recipes/", "bench/")) for n in names)
    groups = _entry_points()
    assert groups["paste.filter_factory"]
    for group, points_of_group in groups.items():
        assert f"[{group}]" in entry_points
        for name, target in points_of_group.items():
            assert f"{name} = {target}" in entry_points


def test_the_sdist_is_a_complete_source(dist: Dist) -> None:
    with tarfile.open(dist.sdist) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    expected = {
        "pyproject.toml",
        "README.md",
        "Makefile",
        "mkdocs.yml",
        "tests/conftest.py",
        "tests/integration/test_wheel.py",
        "recipes/notes.py",
        "docs/tutorial.md",
        *_package_files(),
    }
    assert expected <= names, sorted(expected - names)
    assert not any("__pycache__" in name for name in names)


def test_the_in_process_suite_passes_against_the_installed_wheel(
    wheel_python: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "checkout-without-wsgimw"
    shutil.copytree(
        ROOT,
        copy,
        ignore=lambda folder, names: [
            n
            for n in names
            if n == "__pycache__" or (Path(folder) == ROOT and n in NOT_COPIED)
        ],
    )
    env = {**clean_environ(wheel_python.parent.parent), "CI": "true"}
    found = subprocess.run(
        [str(wheel_python), "-c", WHERE_FROM],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == str(sorted(_entry_points()["paste.filter_factory"]))

    suite = subprocess.run(
        [
            *(wheel_python, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
            *("-m", "not integration", "--ignore=tests/integration", "tests"),
        ],
        cwd=copy,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    summary = suite.stdout.strip().splitlines()[-1] if suite.stdout.strip() else ""
    assert suite.returncode == 0, suite.stdout[-6000:] + suite.stderr[-2000:]
    assert " passed" in summary
    assert "skipped" not in summary
    assert "error" not in summary


def test_a_user_module_type_checks_against_the_wheel(
    wheel_python: Path, tmp_path: Path
) -> None:
    (tmp_path / "user_app.py").write_text(TYPED_USER, encoding="utf-8")
    done = subprocess.run(
        [
            wheel_python,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            os.devnull,
            "user_app.py",
        ],
        cwd=tmp_path,
        env=clean_environ(wheel_python.parent.parent),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
