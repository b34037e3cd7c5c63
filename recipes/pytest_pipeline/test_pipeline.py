"""Tests for a wsgimw pipeline, in a project's own pytest suite.

Two tools side by side:

* WebTest's ``TestApp`` for the everyday requests (forms, cookies,
  authorization, JSON). It decodes gzip silently, so it cannot show that a
  response was compressed.
* ``wsgimw.testing``: ``linted(*stack)`` puts a strict validator (a ``Lint``)
  above, between and below every layer, so a layer that breaks the WSGI
  contract is named; ``call_app`` calls the app as a strict server does and
  shows the raw response, encoded bytes included.
* wsgimw's pytest plugin, on as soon as wsgimw is installed: the
  ``wsgi_fault`` fixture runs a test once per row of wsgimw's fault matrix,
  and ``wsgi_call`` calls the app through a ``Lint``.

Run: ``python -m pytest recipes/pytest_pipeline``.
"""

from __future__ import annotations

import gzip
import json
import logging
import time
from collections.abc import Iterable, Iterator

import pytest
from webtest import TestApp

from recipes.pytest_pipeline.blog import blog, stack
from wsgimw.pytest_plugin import FaultRow, WSGICall
from wsgimw.testing import Lint, LintError, call_app, linted
from wsgimw.types import Environ, StartResponse, WSGIApp


@pytest.fixture
def lints() -> Iterator[list[Lint]]:
    """The Lints of one test's pipeline, verified when the test ends: every
    response closed exactly once, no rule broken by any layer."""
    found: list[Lint] = []
    yield found
    for lint in found:
        lint.verify()


@pytest.fixture
def app(lints: list[Lint]) -> WSGIApp:
    """The project's stack around its app, with a Lint between every layer."""
    wrapped, created = linted(*stack)(blog)
    lints.extend(created)
    return wrapped


@pytest.fixture
def client(app: WSGIApp) -> TestApp:
    return TestApp(app)


def test_search_reads_the_parsed_query(client: TestApp) -> None:
    response = client.get("/search", params=[("q", "wsgi"), ("q", "café")])
    assert response.json == ["wsgi", "café"]


def test_the_edit_page_needs_the_password(client: TestApp) -> None:
    refused = client.get("/edit", status=401)
    assert refused.headers["WWW-Authenticate"].startswith('Basic realm="editors"')
    client.set_authorization(("Basic", ("editor", "s3cret")))
    assert client.get("/edit").text == "editing as editor\n"


def test_a_bug_is_a_clean_500_logged_once(
    client: TestApp, caplog: pytest.LogCaptureFixture
) -> None:
    response = client.get("/bug", status=500)
    assert "ZeroDivisionError" not in response.text  # no traceback to the client
    errors = [r for r in caplog.records if r.name == "wsgimw.errors"]
    assert len(errors) == 1
    assert errors[0].exc_info is not None  # the traceback is in the log instead


def test_one_access_line_per_request(
    client: TestApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="wsgimw.accesslog")
    client.get("/articles")
    client.get("/missing", status=404)
    lines = [r.getMessage() for r in caplog.records if r.name == "wsgimw.accesslog"]
    assert len(lines) == 2
    assert '"GET /missing HTTP/1.0" 404 10' in lines[1]


def test_the_listing_is_compressed(app: WSGIApp) -> None:
    # call_app, not WebTest: the raw response, before anyone decodes it.
    plain = call_app(app, "/articles")
    packed = call_app(app, "/articles", headers={"Accept-Encoding": "gzip"})
    assert packed.header("Content-Encoding") == "gzip"
    assert packed.header("Vary") == "Accept-Encoding"
    assert gzip.decompress(packed.body) == plain.body
    assert json.loads(plain.body)[0] == {"id": 0, "title": "Article 0"}


def test_the_export_streams(app: WSGIApp) -> None:
    plain = call_app(app, "/export")
    assert len(plain.chunks) == 101  # chunk by chunk: no layer buffers it
    assert plain.header("Content-Length") is None
    packed = call_app(app, "/export", headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(packed.body) == plain.body


def test_a_client_that_leaves_early_still_closes_every_layer(app: WSGIApp) -> None:
    call_app(app, "/export", read=0)  # the server closes before the first chunk
    # the lints fixture now checks each layer closed the response exactly once


def timed(app: WSGIApp) -> WSGIApp:
    """A hand-rolled timing middleware with the classic bug: a generator
    around the body. Closed before its first chunk, it never closes the app's
    response (the ``finally`` never runs)."""

    def timing(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        started = time.perf_counter()
        body = app(environ, start_response)

        def generate() -> Iterator[bytes]:
            try:
                yield from body
            finally:
                if hasattr(body, "close"):
                    body.close()
                environ["timing"] = time.perf_counter() - started

        return generate()

    return timing


def test_lint_names_a_layer_that_loses_close() -> None:
    wrapped, lints = linted(*stack, timed)(blog)
    call_app(wrapped, "/export", read=0)
    broken = [lint for lint in lints if lint.above == "timed"]
    with pytest.raises(LintError, match="closed 0 times") as info:
        broken[0].verify()
    assert "broken by timed" in str(info.value)


# -- with wsgimw's pytest plugin -------------------------------------------


def test_the_stack_survives_every_fault(wsgi_fault: FaultRow) -> None:
    # Runs once per row: the app raising at each point, write() apps,
    # generator apps, the server leaving early, a stream read chunk by chunk.
    # A failure names the row, the layer and the PEP 3333 rule.
    wsgi_fault.check(stack)


def test_head_has_the_headers_and_no_body(wsgi_call: WSGICall) -> None:
    get = wsgi_call(blog, "/articles")
    head = wsgi_call(blog, "/articles", method="HEAD")
    assert head.body == b""
    assert head.header("Content-Length") == get.header("Content-Length")
