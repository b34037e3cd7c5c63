"""The error-pages recipe (recipes/error_pages.py), as the docs show it."""

from __future__ import annotations

import contextlib
import http.client
import json
import logging

import pytest
from servers import fetch, running

from recipes.error_pages import (
    BOOM,
    LATE,
    LATE_CHUNKS,
    OK_BODY,
    app,
    application,
    pipeline,
)
from wsgimw.testing import Lint, Result, call_app, linted

PLAIN_500 = b"500 Internal Server Error\n"
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def call(path: str, **options: object) -> Result:
    """Call the recipe's pipeline with a Lint above, between and below every
    layer, as a strict server would; check every Lint afterwards."""
    wrapped, lints = linted(*pipeline)(app)
    result = call_app(wrapped, path, catch=True, **options)  # type: ignore[arg-type]
    for lint in lints:
        lint.verify()
    return result


@pytest.fixture(autouse=True)
def _capture_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="wsgimw.errors")
    caplog.set_level(logging.INFO, logger="recipes.error_pages")


def reports(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "recipes.error_pages"]


def test_module_application_is_the_pipeline_around_app() -> None:
    lint = Lint()
    result = call_app(lint(application), "/")
    lint.verify()
    assert result.status == "200 OK"
    assert result.body == OK_BODY
    assert [type(layer).__name__ for layer in pipeline] == ["ErrorHandler", "Rewrite"]


def test_ok(caplog: pytest.LogCaptureFixture) -> None:
    result = call("/")
    assert result.error is None
    assert result.status == "200 OK"
    assert result.body == OK_BODY
    assert result.header("X-Content-Type-Options") == "nosniff"
    assert not caplog.records


def test_boom_is_a_plain_500_logged_once_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = call("/boom")
    assert result.error is None
    assert result.status == "500 Internal Server Error"
    assert result.headers == [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(PLAIN_500))),
        ("Cache-Control", "no-store"),
    ]
    assert result.body == PLAIN_500
    assert BOOM.encode() not in result.body
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1
    assert errors[0].name == "wsgimw.errors"
    assert errors[0].getMessage() == "error in GET /boom"
    assert errors[0].exc_info is not None
    assert str(errors[0].exc_info[1]) == BOOM
    assert reports(caplog) == ["reported RuntimeError in GET /boom"]


def test_late_error_reaches_the_server_and_no_page_is_spliced_in(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = call("/late")
    assert isinstance(result.error, RuntimeError)
    assert str(result.error) == LATE
    assert result.status == "200 OK"
    assert result.header("Content-Length") == str(sum(map(len, LATE_CHUNKS)))
    assert result.body == LATE_CHUNKS[0] + LATE_CHUNKS[1]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "error in GET /late after the response began; aborting it"
    ]
    assert reports(caplog) == ["reported RuntimeError in GET /late"]


def test_missing_is_a_404_page_and_not_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = call("/missing")
    assert result.error is None
    assert result.status == "404 Not Found"
    assert result.header("Content-Type") == "text/plain; charset=utf-8"
    assert result.body == b"404 Not Found\n"
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]
    assert call("/anything/else").status == "404 Not Found"


def test_forbidden_is_a_403_logged_at_info_and_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = call("/forbidden")
    assert result.status == "403 Forbidden"
    assert result.body == b"403 Forbidden\n"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    infos = [r.getMessage() for r in caplog.records if r.name == "wsgimw.errors"]
    assert infos == [
        "GET /forbidden answered 403: PermissionError('only admins may see this')"
    ]
    assert reports(caplog) == ["reported PermissionError in GET /forbidden"]


@pytest.mark.parametrize(
    ("accept", "content_type"),
    [
        (None, "text/plain; charset=utf-8"),
        ("*/*", "text/plain; charset=utf-8"),
        (BROWSER, "text/html; charset=utf-8"),
        ("application/json", "application/json"),
        ("application/problem+json", "application/problem+json"),
    ],
)
def test_the_500_page_is_negotiated(accept: str | None, content_type: str) -> None:
    headers = {} if accept is None else {"Accept": accept}
    result = call("/boom", headers=headers)
    assert result.status_code == 500
    assert result.header("Content-Type") == content_type
    assert result.header("Content-Length") == str(len(result.body))
    assert BOOM.encode() not in result.body


def test_the_pages_the_reference_shows() -> None:
    html = call("/boom", headers={"Accept": BROWSER}).body.decode()
    assert html == (
        "<!doctype html>\n"
        "<html><head><meta charset=utf-8><title>500 Internal Server Error"
        "</title></head><body>\n"
        "<h1>500 Internal Server Error</h1>\n"
        "<p>The server could not complete the request.</p>\n"
        "</body></html>\n"
    )
    problem = call("/boom", headers={"Accept": "application/json"}).body
    assert problem == (
        b'{"type": "about:blank", "title": "Internal Server Error", "status": 500}'
    )
    assert json.loads(
        call("/forbidden", headers={"Accept": "application/json"}).body
    ) == {
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
    }


@pytest.mark.parametrize("path", ["/", "/boom", "/missing", "/forbidden"])
def test_head_has_no_body(path: str) -> None:
    result = call(path, method="HEAD")
    assert result.error is None
    assert result.body == b""


# -- the recipe's __main__, served for real by wsgiref ----------------------------


def read_late(port: int) -> tuple[int, str | None, http.client.IncompleteRead]:
    """GET /late; return the status, Content-Length and the read's error."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    with contextlib.closing(connection):
        connection.request("GET", "/late")
        with connection.getresponse() as response:
            with pytest.raises(http.client.IncompleteRead) as raised:
                response.read()
            return response.status, response.getheader("Content-Length"), raised.value


@pytest.mark.integration
def test_main_serves_the_pages_and_aborts_the_late_response() -> None:
    with running(["-m", "recipes.error_pages"]) as server:
        boom = fetch(server.url + "/boom")
        missing = fetch(server.url + "/missing")
        late_status, late_length, incomplete = read_late(server.port)
        ok = fetch(server.url + "/")  # the server lives on after the abort

    status, headers, body = boom
    assert status == 500
    assert headers["Content-Type"] == "text/plain; charset=utf-8"
    assert body == PLAIN_500
    assert missing[0] == 404
    assert ok[0] == 200
    assert ok[2] == OK_BODY

    # wsgiref sent the headers and two chunks, then closed the connection:
    # the client got fewer bytes than Content-Length promised.
    full = b"".join(LATE_CHUNKS)
    assert late_status == 200
    assert late_length == str(len(full))
    assert incomplete.partial == LATE_CHUNKS[0] + LATE_CHUNKS[1]
    assert incomplete.expected == len(LATE_CHUNKS[2])

    log = server.log
    assert "curl -i -H 'Accept: application/json' " + server.url + "/boom" in log
    # /boom: one traceback, from wsgimw.errors; the server saw no error.
    assert log.count("ERROR wsgimw.errors: error in GET /boom\n") == 1
    assert log.count(f"RuntimeError: {BOOM}") == 1
    assert (
        log.count("WARNING recipes.error_pages: reported RuntimeError in GET /boom")
        == 1
    )
    # /late: wsgimw.errors logs it, and wsgiref, which got it re-raised,
    # prints its own traceback as it aborts the connection.
    assert "error in GET /late after the response began; aborting it" in log
    assert log.count(f"RuntimeError: {LATE}") == 2
