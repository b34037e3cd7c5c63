"""The query-echo recipe (recipes/query_echo.py), in-process and served."""

from __future__ import annotations

import json

import pytest
from servers import fetch, running

from recipes.query_echo import application
from wsgimw.testing import Lint, call_app

QUERY = "tag=a&tag=b&q=caf%C3%A9+au+lait&flag&semi=1;2"
EXPECTED = {
    "pairs": [
        ["tag", "a"],
        ["tag", "b"],
        ["q", "café au lait"],
        ["flag", ""],
        ["semi", "1;2"],
    ],
    "values": {
        "tag": ["a", "b"],
        "q": ["café au lait"],
        "flag": [""],
        "semi": ["1;2"],
    },
    "first": {"tag": "a", "q": "café au lait", "flag": "", "semi": "1;2"},
    "last": {"tag": "b", "q": "café au lait", "flag": "", "semi": "1;2"},
}


def call(query: str, method: str = "GET") -> tuple[str, dict[str, str], bytes]:
    lint = Lint()
    result = call_app(lint(application), "/", method=method, QUERY_STRING=query)
    lint.verify()
    return result.status, dict(result.headers), result.body


def test_echoes_the_parsed_query_as_json() -> None:
    status, headers, body = call(QUERY)
    assert status == "200 OK"
    assert headers["Content-Type"] == "application/json"
    assert headers["Content-Length"] == str(len(body))
    assert json.loads(body) == EXPECTED


def test_an_empty_query_echoes_empty_lists() -> None:
    _, _, body = call("")
    assert json.loads(body) == {"pairs": [], "values": {}, "first": {}, "last": {}}


def test_bad_bytes_become_replacement_characters() -> None:
    status, _, body = call("bad=%ff&raw=\xe9")
    assert status == "200 OK"
    assert json.loads(body)["pairs"] == [["bad", "\ufffd"], ["raw", "\ufffd"]]


@pytest.mark.parametrize(
    ("query", "status"),
    [("x" * 9000, "414 URI Too Long"), ("&".join(["a"] * 1001), "400 Bad Request")],
)
def test_limits(query: str, status: str) -> None:
    got, headers, body = call(query)
    assert got == status
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert body.startswith((b"query string too long", b"too many query fields"))


def test_head_has_no_body() -> None:
    status, headers, body = call(QUERY, method="HEAD")
    assert status == "200 OK"
    assert body == b""
    assert int(headers["Content-Length"]) > 0


@pytest.mark.integration
def test_main_serves_the_echo() -> None:
    with running(["-m", "recipes.query_echo"]) as server:
        status, headers, body = fetch(f"{server.url}/?{QUERY}")
    assert status == 200
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body) == EXPECTED
    assert "Serving on http://127.0.0.1:" in server.log
