"""Build wsgimw's sdist and wheel once per test session, and make clean
virtual environments to install them into.

`built()` runs ``python -m build`` (as ``make dist`` does) into a temporary
folder the first time it is called and returns the same `Dist` after that,
so test_wheel.py and test_newcomer.py share one build. `make_venv()` makes a
virtual environment with pip and nothing else: neither this checkout nor the
project's own environment is on its path.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from servers import ROOT

_built: list[Dist] = []


@dataclass(frozen=True)
class Dist:
    """The built files: ``directory`` holds exactly these two."""

    directory: Path
    wheel: Path
    sdist: Path


def built(tmp_path_factory: pytest.TempPathFactory) -> Dist:
    """The sdist and the wheel of the checkout, built once per session."""
    if not _built:
        out = tmp_path_factory.mktemp("dist")
        done = subprocess.run(
            [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        (wheel,) = out.glob("wsgimw-*.whl")
        (sdist,) = out.glob("wsgimw-*.tar.gz")
        _built.append(Dist(out, wheel, sdist))
    return _built[0]


def clean_environ(venv: Path | None = None) -> dict[str, str]:
    """This process's environment without what would leak the checkout or
    the project's virtual environment into a child: PYTHONPATH and
    VIRTUAL_ENV go, and ``venv``'s bin folder (when given) leads PATH."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"}
    }
    ours = str(Path(sys.executable).parent)
    path = [p for p in env.get("PATH", "").split(os.pathsep) if p and p != ours]
    if venv is not None:
        path.insert(0, str(venv / "bin"))
        env["VIRTUAL_ENV"] = str(venv)
    env["PATH"] = os.pathsep.join(path)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def make_venv(where: Path) -> Path:
    """A virtual environment at ``where`` with pip only; its Python."""
    subprocess.run(
        [_base_python(), "-m", "venv", str(where)],
        check=True,
        capture_output=True,
        timeout=300,
        env=clean_environ(),
    )
    return where / "bin" / "python"


def pip_install(python: Path, *requirements: str, cwd: Path | None = None) -> None:
    """``python -m pip install requirements...``; fails with pip's output."""
    done = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", *requirements],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=900,
        env=clean_environ(python.parent.parent),
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def _base_python() -> str:
    """The interpreter the project's virtual environment was made from, so
    a new environment does not inherit the project's site-packages."""
    return str(Path(sys.base_prefix) / "bin" / f"python{sys.version_info[0]}")
