"""The static site recipe (recipes/static_site) under gunicorn and cheroot,
checked with a real HTTP client for every case of issue 15.

The assets are copied to a temporary folder and compressed there by
``python -m wsgimw.static compress``, as a deployment would do it; the server
is started on a free port of 127.0.0.1 and stopped by its pid. The client is
`http.client`, which decodes nothing: every byte on the wire is checked.
"""

from __future__ import annotations

import gzip
import http.client
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import brotli
import pytest
import zstandard
from servers import ROOT, running

pytestmark = pytest.mark.integration

ASSETS = ROOT / "recipes" / "static_site" / "assets"
CSS = "/static/css/site.3f2a9c1b.css"
MANUAL = "/static/docs/manual.txt"


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]  # names in lower case
    body: bytes

    def decoded(self) -> bytes:
        coding = self.headers.get("content-encoding")
        if coding is None:
            return self.body
        if coding == "gzip":
            return gzip.decompress(self.body)
        if coding == "br":
            return bytes(brotli.decompress(self.body))
        assert coding == "zstd", coding
        return zstandard.ZstdDecompressor().decompressobj().decompress(self.body)


@dataclass(frozen=True)
class Site:
    port: int
    assets: Path

    def ask(
        self, path: str, headers: dict[str, str] | None = None, method: str = "GET"
    ) -> Reply:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            connection.request(method, path, headers=headers or {})
            response = connection.getresponse()
            body = response.read()
            names = {name.lower(): value for name, value in response.getheaders()}
            return Reply(response.status, names, body)
        finally:
            connection.close()


def _compressed_assets(directory: Path) -> tuple[Path, str]:
    assets = directory / "assets"
    shutil.copytree(
        ASSETS, assets, ignore=shutil.ignore_patterns("*.gz", "*.br", "*.zst")
    )
    done = subprocess.run(
        [sys.executable, "-m", "wsgimw.static", "compress", str(assets), "--verbose"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return assets, done.stdout


def _gunicorn() -> list[str]:
    from gunicorn.config import KNOWN_SETTINGS  # type: ignore[import-untyped]

    options = {option for setting in KNOWN_SETTINGS for option in setting.cli or ()}
    argv = [
        "-m",
        "gunicorn",
        "--bind",
        "127.0.0.1:{port}",
        "--worker-class",
        "gthread",
        "--workers",
        "1",
        "--threads",
        "4",
        "--graceful-timeout",
        "5",
    ]
    if "--no-control-socket" in options:
        argv.append("--no-control-socket")
    return [*argv, "recipes.static_site.app:application"]


def _cheroot() -> list[str]:
    # WhiteNoise #301: cheroot is where reading past a range's end gave a 500.
    return [
        "-m",
        "cheroot",
        "--bind",
        "127.0.0.1:{port}",
        "--threads",
        "4",
        "recipes.static_site.app:application",
    ]


SERVERS: dict[str, Callable[[], list[str]]] = {
    "gunicorn": _gunicorn,
    "cheroot": _cheroot,
}


@pytest.fixture(scope="module", params=sorted(SERVERS))
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    directory = tmp_path_factory.mktemp(f"static-site-{request.param}")
    assets, printed = _compressed_assets(directory)
    assert "compressed css/site.3f2a9c1b.css" in printed
    assert "compressed docs/manual.txt" in printed
    assert "skipped robots.txt" in printed  # too small to shrink
    env = {
        **os.environ,
        "STATIC_SITE_ASSETS": str(assets),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    with running(SERVERS[request.param](), env=env, timeout=30) as server:
        yield Site(server.port, assets)


# -- assets ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "coding"), [("br", "br"), ("zstd", "zstd"), ("gzip", "gzip")]
)
def test_precompressed_siblings_with_vary_and_exact_length(
    site: Site, accept: str, coding: str
) -> None:
    reply = site.ask(CSS, {"Accept-Encoding": accept})
    assert reply.status == 200
    assert reply.headers["content-encoding"] == coding
    assert reply.headers["vary"] == "Accept-Encoding"
    assert reply.headers["content-length"] == str(len(reply.body))
    sibling = (
        site.assets
        / "css"
        / ("site.3f2a9c1b.css" + {"br": ".br", "zstd": ".zst", "gzip": ".gz"}[coding])
    )
    assert reply.body == sibling.read_bytes()
    assert reply.decoded() == (site.assets / "css" / "site.3f2a9c1b.css").read_bytes()


def test_a_refused_coding_is_not_sent(site: Site) -> None:
    reply = site.ask(CSS, {"Accept-Encoding": "gzip;q=0, br;q=0, zstd;q=0"})
    assert "content-encoding" not in reply.headers
    assert reply.body == (site.assets / "css" / "site.3f2a9c1b.css").read_bytes()


def test_hashed_names_are_immutable_and_others_are_not(site: Site) -> None:
    assert (
        site.ask(CSS).headers["cache-control"] == "public, max-age=31536000, immutable"
    )
    assert (
        site.ask("/static/robots.txt").headers["cache-control"] == "public, max-age=60"
    )


def test_validators_and_304(site: Site) -> None:
    first = site.ask(MANUAL, {"Accept-Encoding": "gzip"})
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    again = site.ask(MANUAL, {"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert (again.status, again.body) == (304, b"")
    assert again.headers["etag"] == etag
    dated = site.ask(MANUAL, {"If-Modified-Since": modified})
    assert (dated.status, dated.body) == (304, b"")
    stale = site.ask(MANUAL, {"If-None-Match": '"stale"'})
    assert stale.status == 200


def test_one_range_and_unsatisfiable_ranges(site: Site) -> None:
    manual = (site.assets / "docs" / "manual.txt").read_bytes()
    part = site.ask(MANUAL, {"Range": "bytes=100-199", "Accept-Encoding": "gzip"})
    assert part.status == 206
    assert part.body == manual[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(manual)}"
    assert "content-encoding" not in part.headers
    tail = site.ask(MANUAL, {"Range": "bytes=-10"})
    assert (tail.status, tail.body) == (206, manual[-10:])
    beyond = site.ask(MANUAL, {"Range": f"bytes={len(manual)}-"})
    assert beyond.status == 416
    assert beyond.headers["content-range"] == f"bytes */{len(manual)}"
    several = site.ask(MANUAL, {"Range": "bytes=0-1,5-6"})
    assert (several.status, several.body) == (200, manual)
    # The connection is still good after a range: nothing past its end was sent.
    assert site.ask("/static/robots.txt").status == 200


def test_head_and_other_methods(site: Site) -> None:
    head = site.ask(CSS, method="HEAD")
    assert (head.status, head.body) == (200, b"")
    assert head.headers["content-length"] == str(
        (site.assets / "css" / "site.3f2a9c1b.css").stat().st_size
    )
    for method in ("POST", "PUT", "DELETE"):
        refused = site.ask(CSS, method=method)
        assert refused.status == 405
        assert refused.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "path",
    [
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/css/..%2f..%2fapp.py",
        "/static/%252e%252e/app.py",
        "/static/..%5capp.py",
        "/static/css/site.3f2a9c1b.css%00.png",
        "/static//etc/passwd",
    ],
)
def test_nothing_outside_the_assets(site: Site, path: str) -> None:
    reply = site.ask(path)
    assert reply.status in (400, 404)
    assert b"import" not in reply.body
    assert b"root:" not in reply.body


def test_a_miss_under_the_prefix_goes_on_to_the_pages(site: Site) -> None:
    reply = site.ask("/static/nope.css")
    assert reply.status == 404
    assert reply.body.startswith(b"Not found. Try /")


# -- the pages, through ConditionalGet and Compress ----------------------------------


def test_pages_are_compressed_and_answer_304(site: Site) -> None:
    first = site.ask("/", {"Accept-Encoding": "gzip"})
    assert first.status == 200
    assert first.headers["content-encoding"] == "gzip"
    assert b"<title>A small site</title>" in first.decoded()
    etag = first.headers["etag"]
    assert etag.startswith('W/"')  # ConditionalGet's strong tag, weakened by Compress
    again = site.ask("/", {"Accept-Encoding": "gzip", "If-None-Match": etag})
    assert (again.status, again.body) == (304, b"")
    assert again.headers["etag"] == etag
    plain = site.ask("/about")
    assert plain.status == 200
    assert "content-encoding" not in plain.headers  # a short page
    assert site.ask("/about", {"If-None-Match": plain.headers["etag"]}).status == 304


# -- the API, mounted -----------------------------------------------------------------


def test_the_api_is_mounted_at_api(site: Site) -> None:
    reply = site.ask("/api/hello")
    assert reply.status == 200
    assert json.loads(reply.body) == {
        "message": "hello from the API",
        "script_name": "/api",
        "path_info": "/hello",
    }
    assert site.ask("/api/nope").status == 404
    assert json.loads(site.ask("/api/nope").body)["try"] == "/api/hello"
    assert site.ask("/apix").body.startswith(b"Not found. Try /")
