"""The README's demo: the pipeline in-process, and the real server."""

from __future__ import annotations

import http.client
import time

import pytest
from servers import fetch, running

from recipes.demo import application, pipeline
from wsgimw.testing import Lint, call_app


def linted(path: str, method: str = "GET") -> tuple[str, dict[str, str], bytes]:
    lint = Lint()
    result = call_app(lint(application), path, method=method)
    lint.verify()
    return result.status, dict(result.headers), result.body


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/hello", "✓ dlröw olléh\n".encode()),
        ("/legacy", "✓ denruter ton ,nettirw\n".encode()),
    ],
)
def test_text_is_reversed_with_an_exact_length(path: str, body: bytes) -> None:
    status, headers, got = linted(path)
    assert status == "200 OK"
    assert got == body
    assert headers["Content-Length"] == str(len(body))
    assert headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    "path", ["/", "/hello", "/legacy", "/stream", "/image", "/nope"]
)
def test_head_has_no_body(path: str) -> None:
    assert linted(path, "HEAD")[2] == b""


def test_image_is_left_alone_and_index_lists_the_pages() -> None:
    assert linted("/image")[2].startswith(b"GIF89a")
    assert b"/stream" in linted("/")[2]
    assert len(pipeline) == 3


def test_demo_serves_on_a_real_port() -> None:
    with running(["-m", "recipes.demo"]) as server:
        status, headers, body = fetch(server.url + "/hello")
        assert status == 200
        assert body == "✓ dlröw olléh\n".encode()
        assert headers["Referrer-Policy"] == "same-origin"
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            connection.request("GET", "/stream")
            response = connection.getresponse()
            arrivals = []
            for _ in range(5):
                line = response.readline()
                arrivals.append((time.monotonic(), line))
                response.readline()  # the blank line after each event
            response.read()
        finally:
            connection.close()
    assert [line for _, line in arrivals] == [
        f"DATA: TICK {n}\n".encode() for n in range(1, 6)
    ]
    # The app sleeps 0.2 s between events: they arrive spread out, not at once.
    assert arrivals[-1][0] - arrivals[0][0] > 0.5
    assert "curl -i http://127.0.0.1:" in server.log
