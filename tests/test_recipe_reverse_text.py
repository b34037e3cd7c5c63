"""The reverse-text recipe (recipes/reverse_text.py), as the docs show it."""

from __future__ import annotations

from collections.abc import Iterable

import pytest
from servers import fetch, running

from recipes.reverse_text import TEXT, application, hello_app, reverse
from wsgimw.testing import Lint, ScriptedApp, call_app, linted
from wsgimw.types import Environ, StartResponse, WSGIApp

REVERSED = TEXT[::-1].encode("utf-8")
# "héllo wörld ✓" cut inside é, ö and ✓: multi-byte characters split across
# chunks must still come out whole.
SPLIT_CHUNKS = (b"h\xc3", b"\xa9llo w\xc3", b"\xb6rld \xe2\x9c", b"\x93")


def call_linted(
    app: WSGIApp, *, read: int | None = None, method: str = "GET"
) -> tuple[bytes, str | None]:
    """Call ``reverse(app)`` with a Lint above and below; return body and length."""
    wrapped, lints = linted(reverse)(app)
    result = call_app(wrapped, read=read, method=method)
    for lint in lints:
        lint.verify()
    return result.body, result.header("Content-Length")


def test_body_is_the_reversed_text() -> None:
    body, length = call_linted(hello_app)
    assert body == REVERSED
    assert body.decode("utf-8") == "✓ dlröw olléh"
    assert length == str(len(body))


def test_module_application_is_the_wrapped_hello_app() -> None:
    outer = Lint()
    result = call_app(outer(application))
    outer.verify()
    assert result.status == "200 OK"
    assert result.header("Content-Type") == "text/plain; charset=utf-8"
    assert result.header("Content-Length") == str(len(result.body))
    assert result.body == REVERSED


def test_characters_are_reversed_not_bytes() -> None:
    body, _ = call_linted(hello_app)
    naive = TEXT.encode("utf-8")[::-1]
    assert body != naive
    with pytest.raises(UnicodeDecodeError):
        naive.decode("utf-8")


@pytest.mark.parametrize(
    "style", ["iter", "list", "generator", "lazy", "write", "mixed"]
)
def test_every_app_style_is_reversed_with_exact_length(style: str) -> None:
    app = ScriptedApp(SPLIT_CHUNKS, style=style)
    body, length = call_linted(app)
    assert body == REVERSED
    assert length == str(len(REVERSED))


def test_a_write_callable_app_is_reversed() -> None:
    def legacy_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        for chunk in SPLIT_CHUNKS:
            write(chunk)
        return []

    body, length = call_linted(legacy_app)
    assert body == REVERSED
    assert length == str(len(REVERSED))


@pytest.mark.parametrize(
    "read", [None, 0, 1], ids=["read-all", "close-first", "read-1"]
)
def test_app_iterable_is_closed_exactly_once(read: int | None) -> None:
    app = ScriptedApp(SPLIT_CHUNKS)
    call_linted(app, read=read)
    assert app.closes == 1


def test_other_content_types_pass_through_as_the_same_object() -> None:
    app = ScriptedApp([b"\x89PNG\r\n\x1a\n", b"not text"], content_type="image/png")
    seen: dict[str, Iterable[bytes]] = {}

    def inner(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen["app"] = app(environ, start_response)
        return seen["app"]

    wrapped = reverse(inner)

    def outer(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen["server"] = wrapped(environ, start_response)
        return seen["server"]

    result = call_app(outer)
    assert seen["server"] is seen["app"]
    assert result.body == b"\x89PNG\r\n\x1a\nnot text"
    assert result.header("Content-Length") == str(len(result.body))
    assert app.closes == 1


def test_head_gets_no_body() -> None:
    app = ScriptedApp(SPLIT_CHUNKS)
    body, _ = call_linted(app, method="HEAD")
    assert body == b""
    assert app.closes == 1


# -- the recipe's __main__, served for real ----------------------------------


@pytest.mark.integration
def test_main_serves_the_reversed_text() -> None:
    with running(["-m", "recipes.reverse_text"]) as server:
        status, headers, body = fetch(server.url + "/")
    assert status == 200
    assert body == REVERSED
    assert headers["Content-Length"] == str(len(REVERSED))
    assert f"curl {server.url}/" in server.log
