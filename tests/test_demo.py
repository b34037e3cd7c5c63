"""The README's demo: the full pipeline in-process, and the real server."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import time
import zlib

import pytest
from servers import ROOT, fetch, running

from recipes.demo import application, pipeline
from wsgimw.testing import Lint, Result, call_app


def linted(path: str, method: str = "GET", **headers: str) -> Result:
    lint = Lint()
    result = call_app(lint(application), path, method=method, headers=headers)
    lint.verify()
    return result


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/hello", "✓ dlröw olléh\n".encode()),
        ("/legacy", "✓ denruter ton ,nettirw\n".encode()),
    ],
)
def test_text_is_reversed_with_an_exact_length(path: str, body: bytes) -> None:
    result = linted(path)
    assert result.status == "200 OK"
    assert result.body == body
    assert result.header("Content-Length") == str(len(body))
    assert result.header("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize(
    "path", ["/", "/hello", "/legacy", "/stream", "/image", "/nope", "/big", "/query"]
)
def test_head_has_no_body(path: str) -> None:
    assert linted(path, "HEAD").body == b""


def test_query_echo() -> None:
    result = linted("/query?tag=a&tag=b&q=caf%C3%A9;x=1")
    assert json.loads(result.body) == {
        "pairs": [["tag", "a"], ["tag", "b"], ["q", "café;x=1"]],
        "tag": ["a", "b"],
    }


def test_big_is_compressed_for_clients_that_accept_it() -> None:
    plain = linted("/big")
    packed = linted("/big", Accept_Encoding="gzip")
    assert packed.header("Content-Encoding") == "gzip"
    assert gzip.decompress(packed.body) == plain.body
    assert packed.header("Content-Length") == str(len(packed.body))
    assert len(packed.body) < len(plain.body) / 5


def test_boom_is_a_clean_500(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    result = linted("/boom")
    assert result.status == "500 Internal Server Error"
    assert result.body == b"500 Internal Server Error\n"
    assert b"failed on purpose" not in result.body
    assert "error in GET /boom" in caplog.text
    assert '"GET /boom HTTP/1.0" 500' in caplog.text  # the access line saw it too


def test_image_is_left_alone_and_index_lists_the_pages() -> None:
    assert linted("/image", Accept_Encoding="gzip").body.startswith(b"GIF89a")
    assert b"/stream" in linted("/").body
    assert len(pipeline) == 8


def test_admin_needs_the_demo_password() -> None:
    refused = linted("/admin/")
    assert refused.status == "401 Unauthorized"
    assert (
        refused.header("WWW-Authenticate")
        == 'Basic realm="wsgimw demo", charset="UTF-8"'
    )
    wrong = linted("/admin/", Authorization=_basic("demo", "wrong"))
    assert wrong.status == "401 Unauthorized"
    allowed = linted("/admin/", Authorization=_basic("demo", "demo"))
    assert allowed.status == "200 OK"
    assert allowed.body == b"<p>Hello demo: this page needs a password.</p>\n"


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_demo_serves_on_a_real_port() -> None:
    with running(["-m", "recipes.demo"]) as server:
        status, headers, body = fetch(server.url + "/hello")
        assert status == 200
        assert body == "✓ dlröw olléh\n".encode()
        assert headers["Referrer-Policy"] == "same-origin"
        assert fetch(server.url + "/boom")[0] == 500
        assert fetch(server.url + "/admin/")[0] == 401
        admin = fetch(
            server.url + "/admin/", headers={"Authorization": _basic("demo", "demo")}
        )
        assert admin[0] == 200
        assert admin[2].startswith(b"<p>Hello demo:")
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            connection.request("GET", "/stream", headers={"Accept-Encoding": "gzip"})
            response = connection.getresponse()
            assert response.getheader("Content-Encoding") == "gzip"
            decoder = zlib.decompressobj(31)
            text, arrivals = b"", list[float]()
            while len(arrivals) < 5:
                piece = response.read1(65536)
                assert piece, "the stream ended early"
                text += decoder.decompress(piece)
                while text.count(b"\n\n") > len(arrivals):
                    arrivals.append(time.monotonic())
            response.read()
        finally:
            connection.close()
    assert text == b"".join(f"DATA: TICK {n}\n\n".encode() for n in range(1, 6))
    # The app sleeps 0.2 s between events: compressed, they still arrive spread out.
    assert arrivals[-1] - arrivals[0] > 0.5
    assert "curl -i http://127.0.0.1:" in server.log
    access_lines = [
        line for line in server.log.splitlines() if line.startswith("wsgimw.accesslog")
    ]
    assert len(access_lines) == 5  # one per request
    assert '"GET /boom HTTP/1.1" 500' in server.log


def test_a_taken_port_is_one_line_and_status_1() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "recipes.demo", "--port", str(port)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        f"wsgimw demo: port {port} on 127.0.0.1 is already in use; choose another:"
        f" make demo PORT={port + 1} (or python -m recipes.demo --port {port + 1})\n"
    )


def test_make_demo_passes_the_port_on() -> None:
    make = shutil.which("make")
    assert make, "make is needed to run the project's commands"
    # -n prints the commands without running them (nothing is installed).
    # Under `make test` this make is a sub-make: it would print "Entering
    # directory" lines and inherit the outer make's flags.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS")
    }
    done = subprocess.run(
        [make, "--no-print-directory", "-n", "demo", "PORT=8001"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.splitlines()[-1].endswith("-m recipes.demo --port 8001")


def test_the_printed_stack_is_the_code() -> None:
    # The demo prints repr(pipeline), which leaves defaults out: the code
    # spells AccessLog() so that what it prints and what it says agree.
    source = (ROOT / "recipes" / "demo.py").read_text(encoding="utf-8")
    assert "AccessLog()" in repr(pipeline)
    assert "    AccessLog(),  #" in source
