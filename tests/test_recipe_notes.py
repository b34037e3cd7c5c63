"""The tutorial's app (recipes/notes.py), in-process and under gunicorn,
with a password file made by Apache's own htpasswd."""

from __future__ import annotations

import base64
import gzip
import http.client
import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from servers import ROOT, free_port, stop

from wsgimw.testing import Lint, Result, call_app

ALICE = "Basic " + base64.b64encode(b"alice:wonderland").decode()


@pytest.fixture(scope="module")
def htpasswd(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("notes") / "notes.htpasswd"
    tool = shutil.which("htpasswd")
    assert tool, "Debian's apache2-utils provides htpasswd (make tools installs it)"
    subprocess.run(
        [tool, "-c", "-B", "-b", str(path), "alice", "wonderland"],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path


@pytest.fixture
def notes(htpasswd: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.setenv("NOTES_HTPASSWD", str(htpasswd))
    module = importlib.reload(importlib.import_module("recipes.notes"))
    saved = list(module.NOTES)
    yield module
    module.NOTES[:] = saved


def request(notes: ModuleType, path: str, **options: object) -> Result:
    lint = Lint(below="the notes recipe")
    result = call_app(lint(notes.application), path, **options)  # type: ignore[arg-type]
    lint.verify()
    return result


def test_search_with_a_limit(notes: ModuleType) -> None:
    result = request(notes, "/notes?q=note+3&limit=2")
    assert json.loads(result.body) == [
        "note 3: remember the milk",
        "note 30: remember the milk",
    ]


def test_the_list_is_compressed(notes: ModuleType) -> None:
    plain = request(notes, "/notes")
    packed = request(notes, "/notes", headers={"Accept-Encoding": "gzip"})
    assert packed.header("Content-Encoding") == "gzip"
    assert gzip.decompress(packed.body) == plain.body
    assert len(json.loads(plain.body)) == 30


def test_adding_needs_alice(notes: ModuleType) -> None:
    refused = request(notes, "/add", method="POST", body=b"buy bread")
    assert refused.status == "401 Unauthorized"
    added = request(
        notes,
        "/add",
        method="POST",
        body=b"buy bread",
        headers={"Authorization": ALICE},
    )
    assert added.status == "201 Created"
    assert json.loads(added.body) == {"added": 31}
    assert json.loads(request(notes, "/notes?q=bread").body) == ["buy bread (by alice)"]


def test_a_crash_is_a_clean_500(notes: ModuleType) -> None:
    result = request(notes, "/crash")
    assert result.status == "500 Internal Server Error"
    assert b"bug" not in result.body


def test_a_missing_password_file_stops_the_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTES_HTPASSWD", str(tmp_path / "absent"))
    with pytest.raises(ValueError, match="cannot read the htpasswd file"):
        importlib.reload(importlib.import_module("recipes.notes"))


def test_under_gunicorn_as_the_tutorial_runs_it(htpasswd: Path) -> None:
    port = free_port()
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
    process = subprocess.Popen(
        [*argv, "recipes.notes:application"],
        cwd=ROOT,
        env={**os.environ, "NOTES_HTPASSWD": str(htpasswd)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        connection = _connect(port, process)
        connection.request("GET", "/notes?limit=3", headers={"Accept-Encoding": "gzip"})
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200
        assert json.loads(body) == [f"note {n}: remember the milk" for n in (1, 2, 3)]
        connection.request("POST", "/add", body=b"x")
        response = connection.getresponse()
        response.read()
        assert response.status == 401
        connection.request("POST", "/add", body=b"x", headers={"Authorization": ALICE})
        response = connection.getresponse()
        assert response.status == 201, response.read()
        response.read()
        connection.close()
    finally:
        stop(process)
        output = process.communicate(timeout=10)[0]
    assert "Booting worker" in output


def _connect(port: int, process: subprocess.Popen[str]) -> http.client.HTTPConnection:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, "gunicorn exited"
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            connection.connect()
        except OSError:
            time.sleep(0.1)
            continue
        return connection
    raise TimeoutError("gunicorn did not listen within 20 s")
