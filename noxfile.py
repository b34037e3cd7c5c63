"""The Python versions wsgimw supports (>= 3.10), each running the in-process
suite: ``nox`` (``make test`` runs it as ``make versions``).

One session per version, ``tests-3.10`` to ``tests-3.13``. Each reuses its
environment between runs and installs only what the in-process tests
import: no servers built from source, no browsers. Integration tests (real
servers, frameworks, the wheel) run on the main interpreter in ``make
pytest``.

Interpreters are found on PATH as ``python3.10`` and so on; with pyenv,
every installed 3.10-3.13 is made visible to its shims here, so no ``pyenv
global`` is needed. A missing interpreter is skipped on a workstation and
fails the run under ``CI=true``.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import nox

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]

#: What the in-process tests import beyond wsgimw and its extras.
TEST_PACKAGES = [
    "pytest>=8",
    "hypothesis>=6.100",
    "webtest>=3.0",
    "werkzeug>=3.0",
    "paste>=3.10",
    "pastedeploy>=3.1",
    "django>=4.2",
    "apachelogs>=0.6",
    "whitenoise>=6.6",
    "flask>=3.0",
    "flask-limiter>=3.5",
    "fakeredis>=2.20",
    "gunicorn>=22",
    "waitress>=3.0",
    "pyperf>=2.7",
    "pyramid>=2.0",
    # Pyramid 2.1 imports pkg_resources, which warns in newer setuptools
    # (the main venv has the 65 that python -m venv brings).
    "setuptools<67",
    "opentelemetry-api>=1.25",
    "opentelemetry-sdk>=1.25",
    "opentelemetry-instrumentation-wsgi>=0.46b0",
]

nox.options.sessions = ["tests"]
nox.options.reuse_venv = "yes"
nox.options.error_on_missing_interpreters = os.environ.get("CI") == "true"


def _pyenv_versions() -> None:
    """Let pyenv's shims (python3.10, ...) run every installed 3.10-3.13."""
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    if not (root / "shims").is_dir():
        return
    try:
        installed = subprocess.run(
            ["pyenv", "versions", "--bare"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return
    wanted = [
        version
        for version in installed
        if any(version.startswith(f"{python}.") for python in PYTHONS)
    ]
    current = os.environ.get("PYENV_VERSION", "")
    if wanted:
        os.environ["PYENV_VERSION"] = ":".join(filter(None, [current, *wanted]))


_pyenv_versions()


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """The in-process suite (tests/, not tests/integration) on one Python."""
    session.install("-q", "-e", ".[all]", *TEST_PACKAGES)
    # A test may skip for a reason tied to this version (CI=true makes any
    # skip a failure on the main run, where nothing may skip).
    env = {"CI": ""}
    # With no path given, pytest runs testpaths (tests/) without integration;
    # nox -s tests-3.13 -- tests/test_check.py runs one module.
    session.run(
        "python",
        "-m",
        "pytest",
        "--ignore=tests/integration",
        "-q",
        "-p",
        "no:cacheprovider",
        *session.posargs,
        env=env,
    )
