"""The compressed API recipe (recipes/compressed_api.py), as the docs show it."""

from __future__ import annotations

import gzip
import http.client
import json
import time
import zlib
from collections.abc import Iterable

import brotli
import pytest
import zstandard
from servers import running

import recipes.compressed_api as recipe
from recipes.compressed_api import DATA, LOGO, RECORDS, application, event, pipeline
from wsgimw.testing import Lint, Result, call_app
from wsgimw.types import Environ, StartResponse

EVENTS = b"".join(event(n) for n in range(recipe.EVENT_COUNT))


def decode(result: Result) -> bytes:
    """The body with its Content-Encoding undone by the standard decoders."""
    coding = result.header("Content-Encoding")
    if coding is None:
        return result.body
    if coding == "gzip":
        return gzip.decompress(result.body)
    if coding == "br":
        return bytes(brotli.decompress(result.body))
    assert coding == "zstd", coding
    return zstandard.ZstdDecompressor().decompressobj().decompress(result.body)


def get(path: str, accept: str | None = None, method: str = "GET") -> Result:
    """One request to the recipe's ``application``, checked by a `Lint`.

    The Lint checks, among the rest, that Content-Length equals the bytes
    sent and that the response is closed exactly once."""
    lint = Lint(below="the compressed API recipe")
    headers = {} if accept is None else {"Accept-Encoding": accept}
    result = call_app(lint(application), path, method=method, headers=headers)
    lint.verify()
    return result


@pytest.fixture
def no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """Events without the 0.2 s pause, for the in-process tests."""
    monkeypatch.setattr(recipe, "EVENT_INTERVAL", 0)


# -- /data.json -------------------------------------------------------------


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_data_json_decodes_with_each_coding(coding: str) -> None:
    result = get("/data.json", coding)
    assert result.status == "200 OK"
    assert result.header("Content-Encoding") == coding
    assert result.header("Vary") == "Accept-Encoding"
    assert result.header("Content-Type") == "application/json"
    # A list body is compressed at once: the length is exact, not removed.
    assert result.header("Content-Length") == str(len(result.body))
    assert decode(result) == DATA
    assert json.loads(decode(result)) == RECORDS
    assert len(result.body) < len(DATA) / 5


def test_a_browser_gets_brotli() -> None:
    result = get("/data.json", "gzip, deflate, br, zstd")
    assert result.header("Content-Encoding") == "br"
    assert decode(result) == DATA


@pytest.mark.parametrize("accept", [None, "identity", "gzip;q=0", "deflate"])
def test_data_json_uncompressed_still_varies(accept: str | None) -> None:
    result = get("/data.json", accept)
    assert result.header("Content-Encoding") is None
    assert result.body == DATA
    assert result.header("Content-Length") == str(len(DATA))
    # Sent as is, but a cache must still key it on Accept-Encoding.
    assert result.header("Vary") == "Accept-Encoding"


def test_head_gets_the_headers_of_a_get_and_no_body() -> None:
    result = get("/data.json", "gzip", method="HEAD")
    assert result.body == b""
    assert result.header("Content-Encoding") == "gzip"
    assert result.header("Vary") == "Accept-Encoding"
    assert result.header("Content-Length") is None  # unknown without compressing


# -- /events ----------------------------------------------------------------


@pytest.mark.usefixtures("no_wait")
@pytest.mark.parametrize("coding", ["gzip", "br", "zstd"])
def test_events_are_compressed_as_a_stream(coding: str) -> None:
    result = get("/events", coding)
    assert result.header("Content-Type") == "text/event-stream"
    assert result.header("Content-Encoding") == coding
    assert result.header("Vary") == "Accept-Encoding"
    assert result.header("Content-Length") is None  # not known in advance
    assert decode(result) == EVENTS


@pytest.mark.usefixtures("no_wait")
def test_each_event_is_flushed_on_its_own() -> None:
    """Each chunk out decodes to exactly the event that went in: nothing is
    held back in the compressor until the next event comes."""
    result = get("/events", "gzip")
    decoder = zlib.decompressobj(31)
    pieces = [decoder.decompress(chunk) for chunk in result.chunks]
    events = [event(n) for n in range(recipe.EVENT_COUNT)]
    assert pieces[: len(events)] == events
    assert b"".join(pieces) == EVENTS
    assert decoder.eof  # the gzip trailer came last


# -- /logo.png --------------------------------------------------------------


@pytest.mark.parametrize("accept", ["gzip", "br, zstd, gzip"])
def test_logo_passes_through_untouched(accept: str) -> None:
    result = get("/logo.png", accept)
    assert result.body == LOGO
    assert result.body.startswith(b"\x89PNG\r\n\x1a\n")
    assert result.header("Content-Encoding") is None
    assert result.header("Vary") is None  # an image never varies by coding
    assert result.header("Content-Length") == str(len(LOGO))


def test_logo_is_the_apps_own_iterable() -> None:
    """Skipped means untouched: the server gets the very object the app
    returned, so ``len()`` and ``wsgi.file_wrapper`` (sendfile) survive."""
    seen: dict[str, Iterable[bytes]] = {}

    def spy(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen["app"] = recipe.app(environ, start_response)
        return seen["app"]

    wrapped = pipeline(spy)

    def server_side(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen["server"] = wrapped(environ, start_response)
        return seen["server"]

    result = call_app(server_side, "/logo.png", headers={"Accept-Encoding": "gzip"})
    assert seen["server"] is seen["app"]
    assert result.body == LOGO


def test_unknown_paths_are_a_small_404() -> None:
    result = get("/nope", "gzip")
    assert result.status == "404 Not Found"
    assert result.header("Content-Encoding") is None  # below minimum_size
    assert result.header("Content-Length") == str(len(result.body))


# -- the recipe's __main__, served for real ----------------------------------


@pytest.mark.integration
def test_main_streams_each_event_as_it_happens() -> None:
    with running(["-m", "recipes.compressed_api"]) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            connection.request("GET", "/events", headers={"Accept-Encoding": "gzip"})
            response = connection.getresponse()
            assert response.status == 200
            assert response.getheader("Content-Encoding") == "gzip"
            assert response.getheader("Vary") == "Accept-Encoding"
            decoder = zlib.decompressobj(31)
            text = b""
            arrived: list[float] = []  # when each event could first be decoded
            while True:
                piece = response.read1(65536)
                if not piece:
                    break
                text += decoder.decompress(piece)
                now = time.monotonic()
                while len(arrived) < recipe.EVENT_COUNT and text.startswith(
                    b"".join(event(n) for n in range(len(arrived) + 1))
                ):
                    arrived.append(now)
        finally:
            connection.close()
    assert decoder.eof
    assert text == EVENTS
    assert len(arrived) == recipe.EVENT_COUNT
    # The app makes the events 0.2 s apart, 0.8 s first to last. Buffered by
    # the compressor, they would all arrive together at the end.
    assert arrived[-1] - arrived[0] >= 0.5, arrived


@pytest.mark.integration
def test_main_serves_brotli_json_and_prints_curl_commands() -> None:
    with running(["-m", "recipes.compressed_api"]) as server:
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            connection.request("GET", "/data.json", headers={"Accept-Encoding": "br"})
            response = connection.getresponse()
            body = response.read()
            headers = dict(response.getheaders())
        finally:
            connection.close()
    assert response.status == 200
    assert headers["Content-Encoding"] == "br"
    assert headers["Content-Length"] == str(len(body))
    assert json.loads(brotli.decompress(body)) == RECORDS
    assert f"curl --compressed -i {server.url}/data.json" in server.log
    assert f"curl --compressed -N {server.url}/events" in server.log
