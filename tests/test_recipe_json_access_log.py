"""The JSON access log recipe (recipes/json_access_log.py), as the docs show it."""

from __future__ import annotations

import io
import json
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from servers import ROOT, Server, fetch, running

from recipes.json_access_log import (
    CHUNKS,
    HELLO,
    NOT_FOUND,
    JSONFormatter,
    application,
    configure_logging,
    pipeline,
)
from wsgimw.testing import Lint, Result, call_app

ACCESS = "wsgimw.accesslog"
STREAM_BODY = b"".join(CHUNKS)


def call(path: str, caplog: pytest.LogCaptureFixture, **options: object) -> Result:
    """Call the recipe's application behind a Lint; return what the client got."""
    caplog.set_level(logging.INFO, logger=ACCESS)
    lint = Lint()
    result = call_app(lint(application), path, **options)  # type: ignore[arg-type]
    lint.verify()
    return result


def access_entries(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The access records caplog saw, formatted by the recipe's formatter."""
    formatter = JSONFormatter()
    entries = []
    for record in caplog.records:
        if record.name == ACCESS:
            line = formatter.format(record)
            assert "\n" not in line
            entries.append(json.loads(line))
    return entries


def test_the_pipeline_logs_outside_the_error_handler() -> None:
    assert [type(layer).__name__ for layer in pipeline] == [
        "AccessLog",
        "ErrorHandler",
    ]
    assert repr(pipeline.layers[0]) == "AccessLog()"  # the combined format


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [("/", HELLO, 200), ("/stream", STREAM_BODY, 200), ("/nope", NOT_FOUND, 404)],
)
def test_one_json_record_per_request(
    path: str, body: bytes, status: int, caplog: pytest.LogCaptureFixture
) -> None:
    result = call(path, caplog, REMOTE_ADDR="192.0.2.7")
    assert result.body == body
    [entry] = access_entries(caplog)
    assert entry["logger"] == ACCESS
    assert entry["level"] == "INFO"
    assert entry["status"] == status == result.status_code
    assert entry["bytes"] == len(body)
    assert entry["path"] == path
    assert entry["method"] == "GET"
    assert entry["host"] == "192.0.2.7"
    # The message is the combined line, with the same facts.
    assert f'"GET {path} HTTP/1.0" {status} {len(body)} ' in entry["message"]


def test_the_stream_is_not_buffered(caplog: pytest.LogCaptureFixture) -> None:
    result = call("/stream", caplog)
    assert result.chunks == list(CHUNKS)
    assert result.header("Content-Length") is None


def test_a_client_that_leaves_is_logged_with_what_was_sent(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = call("/stream", caplog, read=2)
    [entry] = access_entries(caplog)
    assert entry["bytes"] == len(result.body) == len(CHUNKS[0] + CHUNKS[1])


def test_head_sends_and_logs_no_body(caplog: pytest.LogCaptureFixture) -> None:
    result = call("/", caplog, method="HEAD")
    assert result.body == b""
    [entry] = access_entries(caplog)
    assert (entry["method"], entry["bytes"]) == ("HEAD", 0)
    assert entry["message"].endswith(' 200 - "-" "-"')  # Apache's %b for no body


def test_secrets_stay_out_of_the_json(caplog: pytest.LogCaptureFixture) -> None:
    call("/?token=s3cret&page=2", caplog, headers={"Authorization": "Bearer s3cret"})
    [entry] = access_entries(caplog)
    assert entry["path"] == "/?token=[redacted]&page=2"
    assert "s3cret" not in json.dumps(entry)


def test_the_formatter_keeps_records_without_access_fields() -> None:
    record = logging.LogRecord(
        "myapp", logging.WARNING, __file__, 1, "disk %d%% full", (91,), None
    )
    entry = json.loads(JSONFormatter().format(record))
    assert entry["message"] == "disk 91% full"
    assert set(entry) == {"timestamp", "level", "logger", "message"}
    assert entry["timestamp"].endswith("Z")


def test_the_formatter_adds_the_traceback() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.LogRecord(
            "myapp", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    entry = json.loads(JSONFormatter().format(record))
    assert entry["exception"].startswith("Traceback")
    assert "ValueError: bad" in entry["exception"]


@pytest.fixture
def configured() -> Iterator[io.StringIO]:
    """configure_logging() into a StringIO; undo it afterwards."""
    logger = logging.getLogger(ACCESS)
    saved = (logger.level, logger.propagate)
    stream = io.StringIO()
    handler = configure_logging(stream)
    try:
        yield stream
    finally:
        logger.removeHandler(handler)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]


def test_configure_logging_writes_json_lines(configured: io.StringIO) -> None:
    call_app(application, "/stream")
    call_app(application, "/")
    entries = [json.loads(line) for line in configured.getvalue().splitlines()]
    assert [(e["path"], e["bytes"]) for e in entries] == [
        ("/stream", len(STREAM_BODY)),
        ("/", len(HELLO)),
    ]


def test_importing_the_recipe_adds_no_handlers() -> None:
    # A fresh interpreter: pytest itself puts handlers on the root logger.
    code = (
        "import json, logging\n"
        "import recipes.json_access_log\n"
        "access = logging.getLogger('wsgimw.accesslog')\n"
        "print(json.dumps([len(logging.getLogger().handlers), len(access.handlers),"
        " access.level, access.propagate]))\n"
    )
    output = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert json.loads(output) == [0, 0, logging.NOTSET, True]


# -- the recipe's __main__, served for real ----------------------------------


def json_records(log: str) -> list[dict[str, Any]]:
    """The lines of a server's output that are JSON objects."""
    records = []
    for line in log.splitlines():
        if line.startswith("{"):
            records.append(json.loads(line))
    return records


def wait_for_records(server: Server, count: int, timeout: float = 10) -> None:
    """Wait until the server has printed ``count`` JSON lines (bounded)."""
    deadline = time.monotonic() + timeout
    while len(json_records(server.log)) < count and time.monotonic() < deadline:
        time.sleep(0.02)


@pytest.mark.integration
def test_main_logs_one_json_record_per_request() -> None:
    with running(["-m", "recipes.json_access_log"]) as server:
        status, _, body = fetch(server.url + "/")
        assert (status, body) == (200, HELLO)
        status, headers, body = fetch(server.url + "/stream")
        assert (status, body) == (200, STREAM_BODY)
        assert "Content-Length" not in headers
        wait_for_records(server, 2)
    assert f"curl {server.url}/ {server.url}/stream" in server.log
    records = json_records(server.log)
    access = [r for r in records if r["logger"] == ACCESS]
    assert [(r["method"], r["path"], r["status"], r["bytes"]) for r in access] == [
        ("GET", "/", 200, len(HELLO)),
        ("GET", "/stream", 200, len(STREAM_BODY)),
    ]
    assert all(r["host"] == "127.0.0.1" for r in access)
    assert all(r["protocol"] == "HTTP/1.1" for r in access)
