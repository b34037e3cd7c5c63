"""StaticFiles: validators, ranges, precompressed siblings, caching, sendfile,
no way out of the directory, the index and autorefresh, the compress command,
the fault matrix, PasteDeploy; and the peers' failures it does not repeat."""

from __future__ import annotations

import gzip
import io
import os
import random
import time
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from wsgiref.util import FileWrapper

import brotli
import pytest
import zstandard
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import wsgimw.static
from wsgimw import Compress, StaticFiles, compose
from wsgimw.static import compress_directory, main
from wsgimw.testing import FAULTS, Fault, Lint, Result, call_app, check_fault
from wsgimw.types import Environ, StartResponse, WSGIApp

CSS = b"body { color: #333; margin: 0 auto; }\n" * 200
TEXT = random.Random(15).randbytes(10240)  # does not compress
HASHED = "css/app.3f2a9c1b.css"
SECRET = b"the secret outside the directory"


def fallback(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The wrapped app: it answers whatever StaticFiles passes on."""
    body = b"app: " + environ["PATH_INFO"].encode("latin-1", "backslashreplace")
    start_response(
        "200 OK",
        [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))],
    )
    return [body]


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A directory to serve, a secret beside it and a symlink leading out."""
    root = tmp_path / "site"
    (root / "css").mkdir(parents=True)
    (root / "css" / "app.3f2a9c1b.css").write_bytes(CSS)
    (root / "css" / "plain.css").write_bytes(CSS)
    (root / "data.bin").write_bytes(TEXT)
    (root / "empty.txt").write_bytes(b"")
    (root / "café.txt").write_bytes("crème".encode())
    (root / "a b.txt").write_bytes(b"space")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (root / "out").symlink_to(tmp_path / "secret.txt")
    (root / "outdir").symlink_to(tmp_path, target_is_directory=True)
    (root / "css" / "link.css").symlink_to(root / "css" / "plain.css")
    assert compress_directory(root) == (6, 4)  # 3 codings x 2 css files
    return root


def serve(app: WSGIApp, path: str, *, method: str = "GET", **options: Any) -> Result:
    """One request with a Lint on each side (checked), as a strict server."""
    outer, inner = Lint(below="StaticFiles"), Lint(above="StaticFiles")
    result = call_app(outer(app), path, method=method, **options)
    outer.verify()
    inner.verify()
    return result


def static(site: Path, **options: Any) -> WSGIApp:
    inner = Lint(above="StaticFiles")
    return StaticFiles(directory=site, **options)(inner(fallback))


def get(
    site: Path, path: str, headers: dict[str, str] | None = None, **kw: Any
) -> Result:
    options = kw.pop("options", {})
    return serve(static(site, **options), path, headers=headers or {}, **kw)


# -- what a file response carries ------------------------------------------------


def test_a_file_comes_with_type_length_validators_and_caching(site: Path) -> None:
    result = get(site, "/static/css/plain.css")
    assert result.status == "200 OK"
    assert result.body == CSS
    assert result.header("Content-Type") == "text/css; charset=utf-8"
    assert result.header("Content-Length") == str(len(CSS))
    assert result.header("Accept-Ranges") == "bytes"
    assert result.header("Cache-Control") == "public, max-age=60"
    assert result.header("Vary") == "Accept-Encoding"  # it has siblings
    st_ = (site / "css" / "plain.css").stat()
    assert result.header("ETag") == f'"{st_.st_mtime_ns:x}-{st_.st_size:x}"'
    assert result.header("Last-Modified") == time.strftime(
        "%a, %d %b %Y %H:%M:%S GMT", time.gmtime(st_.st_mtime)
    )


def test_head_gets_the_same_headers_and_no_body(site: Path) -> None:
    got, head = (
        get(site, "/static/data.bin"),
        get(site, "/static/data.bin", method="HEAD"),
    )
    assert head.status == got.status == "200 OK"
    assert head.headers == got.headers
    assert head.body == b""
    assert got.header("Content-Type") == "application/octet-stream"
    assert got.header("Vary") is None  # no siblings: nothing varies


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/static/caf%C3%A9.txt", "crème".encode()),
        ("/static/a%20b.txt", b"space"),
        ("/static/empty.txt", b""),
        ("/static/css/link.css", CSS),  # a symlink inside the directory
    ],
)
def test_names_as_the_server_decodes_them(site: Path, path: str, body: bytes) -> None:
    result = get(site, path)
    assert (result.status, result.body) == ("200 OK", body)


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])
def test_other_methods_get_405_with_allow(site: Path, method: str) -> None:
    result = get(site, "/static/css/plain.css", method=method)
    assert result.status == "405 Method Not Allowed"
    assert result.header("Allow") == "GET, HEAD"
    assert CSS not in result.body


def test_werkzeug_serves_a_post_where_we_answer_405(site: Path) -> None:
    from werkzeug.middleware.shared_data import SharedDataMiddleware

    peer = SharedDataMiddleware(fallback, {"/static": str(site)})
    result = call_app(peer, "/static/css/plain.css", method="POST")
    assert (result.status, result.body) == ("200 OK", CSS)
    assert get(site, "/static/css/plain.css", method="POST").status[:3] == "405"


# -- caching ----------------------------------------------------------------------


def test_hashed_names_are_immutable_for_a_year(site: Path) -> None:
    result = get(site, "/static/" + HASHED)
    assert result.header("Cache-Control") == "public, max-age=31536000, immutable"


def test_cache_options(site: Path) -> None:
    none = get(site, "/static/css/plain.css", options={"max_age": None})
    assert none.header("Cache-Control") is None
    zero = get(site, "/static/css/plain.css", options={"max_age": 0})
    assert zero.header("Cache-Control") == "public, max-age=0"
    plain = get(site, "/static/" + HASHED, options={"immutable": None})
    assert plain.header("Cache-Control") == "public, max-age=60"
    custom = get(site, "/static/css/plain.css", options={"immutable": r"^plain\."})
    assert "immutable" in (custom.header("Cache-Control") or "")


# -- conditional requests -------------------------------------------------------


def validators(site: Path, path: str, **headers: str) -> tuple[str, str]:
    result = get(site, path, headers)
    return result.header("ETag") or "", result.header("Last-Modified") or ""


def test_if_none_match_gets_304_with_validators_and_no_body(site: Path) -> None:
    etag, modified = validators(site, "/static/css/plain.css")
    for value in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        result = get(site, "/static/css/plain.css", {"If-None-Match": value})
        assert result.status == "304 Not Modified", value
        assert result.body == b""
        assert result.header("ETag") == etag
        assert result.header("Last-Modified") == modified
        assert result.header("Cache-Control") == "public, max-age=60"
        assert result.header("Vary") == "Accept-Encoding"
        assert result.header("Content-Length") is None


def test_if_modified_since(site: Path) -> None:
    _, modified = validators(site, "/static/data.bin")
    assert (
        get(site, "/static/data.bin", {"If-Modified-Since": modified}).status[:3]
        == "304"
    )
    later = "Fri, 01 Jan 2100 00:00:00 GMT"
    assert (
        get(site, "/static/data.bin", {"If-Modified-Since": later}).status[:3] == "304"
    )
    earlier = "Thu, 01 Jan 1970 00:00:00 GMT"
    assert (
        get(site, "/static/data.bin", {"If-Modified-Since": earlier}).status[:3]
        == "200"
    )
    # If-None-Match wins when both are there (RFC 9110 §13.2.2).
    both = {"If-None-Match": '"nope"', "If-Modified-Since": later}
    assert get(site, "/static/data.bin", both).status[:3] == "200"
    for bad in ("yesterday", "", "Mon, 99 Foo 2020 99:99:99 GMT"):
        assert (
            get(site, "/static/data.bin", {"If-Modified-Since": bad}).status[:3]
            == "200"
        )


def test_if_match_and_if_unmodified_since_give_412(site: Path) -> None:
    etag, modified = validators(site, "/static/data.bin")
    path = "/static/data.bin"
    assert get(site, path, {"If-Match": etag}).status[:3] == "200"
    assert get(site, path, {"If-Match": "*"}).status[:3] == "200"
    assert get(site, path, {"If-Match": '"other"'}).status[:3] == "412"
    assert get(site, path, {"If-Match": f"W/{etag}"}).status[:3] == "412"  # strong only
    old = "Thu, 01 Jan 1970 00:00:00 GMT"
    assert get(site, path, {"If-Unmodified-Since": old}).status[:3] == "412"
    assert get(site, path, {"If-Unmodified-Since": modified}).status[:3] == "200"
    assert get(site, path, {"If-Unmodified-Since": "garbage"}).status[:3] == "200"
    head = get(site, path, {"If-Match": '"other"'}, method="HEAD")
    assert (head.status[:3], head.body) == ("412", b"")


# -- ranges -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "first", "last"),
    [
        ("bytes=0-0", 0, 0),
        ("bytes=10-19", 10, 19),
        ("bytes=100-", 100, len(TEXT) - 1),
        ("bytes=-100", len(TEXT) - 100, len(TEXT) - 1),
        ("bytes=-99999", 0, len(TEXT) - 1),
        ("bytes=10-99999", 10, len(TEXT) - 1),
        ("BYTES = 5 - 6", 5, 6),
    ],
)
def test_one_range_gets_206(site: Path, value: str, first: int, last: int) -> None:
    result = get(site, "/static/data.bin", {"Range": value})
    assert result.status == "206 Partial Content"
    assert result.body == TEXT[first : last + 1]
    assert result.header("Content-Range") == f"bytes {first}-{last}/{len(TEXT)}"
    assert result.header("Content-Length") == str(last - first + 1)


@pytest.mark.parametrize("value", ["bytes=10240-", "bytes=99999-100000", "bytes=-0"])
def test_unsatisfiable_range_gets_416(site: Path, value: str) -> None:
    result = get(site, "/static/data.bin", {"Range": value})
    assert result.status == "416 Range Not Satisfiable"
    assert result.header("Content-Range") == f"bytes */{len(TEXT)}"
    assert TEXT[:10] not in result.body


@pytest.mark.parametrize(
    "value",
    [
        "bytes=0-1,5-6",
        "bytes=5-1",
        "items=0-1",
        "bytes=a-b",
        "bytes=",
        "bytes=1" + "0" * 300,
    ],
)
def test_several_or_bad_ranges_get_the_whole_file(site: Path, value: str) -> None:
    result = get(site, "/static/data.bin", {"Range": value})
    assert (result.status, result.body) == ("200 OK", TEXT)


def test_if_range(site: Path) -> None:
    etag, modified = validators(site, "/static/data.bin")
    for current in (etag, modified):
        result = get(
            site, "/static/data.bin", {"Range": "bytes=0-3", "If-Range": current}
        )
        assert (result.status[:3], result.body) == ("206", TEXT[:4])
    for stale in ('"old"', f"W/{etag}", "Thu, 01 Jan 1970 00:00:00 GMT"):
        result = get(
            site, "/static/data.bin", {"Range": "bytes=0-3", "If-Range": stale}
        )
        assert (result.status[:3], result.body) == ("200", TEXT)


def test_a_range_request_gets_the_identity_file(site: Path) -> None:
    headers = {"Range": "bytes=0-9", "Accept-Encoding": "br, gzip"}
    result = get(site, "/static/css/plain.css", headers)
    assert result.header("Content-Encoding") is None
    assert result.body == CSS[:10]


def test_head_with_a_range_gets_the_200_headers(site: Path) -> None:
    result = get(site, "/static/data.bin", {"Range": "bytes=0-9"}, method="HEAD")
    assert (result.status, result.body) == ("200 OK", b"")


def test_a_range_never_reads_past_its_end_even_with_a_file_wrapper(site: Path) -> None:
    # WhiteNoise #301: a file wrapper that reads to the end of the file sent
    # more than the range (cheroot then failed with a 500). A range is read
    # by our own iterator, exactly.
    result = get(
        site,
        "/static/data.bin",
        {"Range": "bytes=5-9"},
        **{"wsgi.file_wrapper": FileWrapper},
    )
    assert result.body == TEXT[5:10]


def test_werkzeug_ignores_range(site: Path) -> None:
    from werkzeug.middleware.shared_data import SharedDataMiddleware

    peer = SharedDataMiddleware(fallback, {"/static": str(site)})
    result = call_app(peer, "/static/data.bin", headers={"Range": "bytes=0-1"})
    assert (result.status, len(result.body)) == ("200 OK", len(TEXT))


# -- precompressed siblings ---------------------------------------------------------


DECODE = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": lambda data: zstandard.ZstdDecompressor().decompress(data),
}


@pytest.mark.parametrize(
    ("accept", "coding"),
    [
        ("gzip", "gzip"),
        ("br", "br"),
        ("zstd", "zstd"),
        ("gzip, deflate, br, zstd", "br"),
        ("gzip;q=1, br;q=0.5", "gzip"),
        ("br;q=0, gzip", "gzip"),
        ("gzip;q=0", None),
        ("*", "br"),
        ("*;q=0", None),
        ("identity", None),
        ("", None),
        ("GZIP", "gzip"),
        ("gzipx", None),
        ("br;q=0.5, identity;q=1", None),
    ],
)
def test_siblings_are_chosen_as_compress_negotiates(
    site: Path, accept: str, coding: str | None
) -> None:
    result = get(site, "/static/css/plain.css", {"Accept-Encoding": accept})
    assert result.header("Content-Encoding") == coding
    assert result.header("Vary") == "Accept-Encoding"
    assert result.header("Content-Length") == str(len(result.body))
    body = result.body if coding is None else DECODE[coding](result.body)
    assert body == CSS
    if coding is not None:
        sibling = site / "css" / ("plain.css" + dict(wsgimw.static.SIBLINGS)[coding])
        assert result.body == sibling.read_bytes()


def test_whitenoise_sends_gzip_to_a_client_that_refuses_it(site: Path) -> None:
    # WhiteNoise #352: "gzip;q=0" still gets gzip.
    from whitenoise import WhiteNoise  # type: ignore[import-untyped]

    (site / "outdir").unlink()  # WhiteNoise follows this link round and round
    peer = WhiteNoise(fallback, root=str(site), prefix="/static/")
    result = call_app(
        peer, "/static/css/plain.css", headers={"Accept-Encoding": "gzip;q=0"}
    )
    assert result.header("Content-Encoding") == "gzip"
    ours = get(site, "/static/css/plain.css", {"Accept-Encoding": "gzip;q=0"})
    assert ours.header("Content-Encoding") is None


def test_each_variant_has_its_own_etag_and_304(site: Path) -> None:
    tags = {}
    for accept in ("br", "zstd", "gzip", "identity"):
        etag, _ = validators(
            site, "/static/css/plain.css", **{"Accept-Encoding": accept}
        )
        tags[accept] = etag
        result = get(
            site,
            "/static/css/plain.css",
            {"Accept-Encoding": accept, "If-None-Match": etag},
        )
        assert result.status[:3] == "304"
        assert result.header("Vary") == "Accept-Encoding"
    assert len(set(tags.values())) == 4
    # The gzip copy's tag does not validate the identity response.
    result = get(site, "/static/css/plain.css", {"If-None-Match": tags["gzip"]})
    assert result.status[:3] == "200"


def test_a_sibling_asked_for_by_name_is_a_plain_file(site: Path) -> None:
    result = get(site, "/static/css/plain.css.gz")
    assert result.header("Content-Type") == "application/gzip"
    assert result.header("Content-Encoding") is None
    assert gzip.decompress(result.body) == CSS


def test_compress_outside_leaves_a_precompressed_file_alone(site: Path) -> None:
    app = compose(Lint(above="Compress"), Compress(), Lint())(static(site))
    for accept in ("gzip", "br;q=0, gzip;q=0"):
        result = call_app(
            app, "/static/css/plain.css", headers={"Accept-Encoding": accept}
        )
        coding = result.header("Content-Encoding")
        body = result.body if coding is None else DECODE[coding](result.body)
        assert body == CSS
        assert result.header("Vary") == "Accept-Encoding"
    # Compress's suffix ETags do not hide a sibling's tag.
    app = Compress(etag="suffix")(static(site))
    etag = call_app(
        app, "/static/css/plain.css", headers={"Accept-Encoding": "gzip"}
    ).header("ETag")
    assert etag is not None
    again = call_app(
        app,
        "/static/css/plain.css",
        headers={"Accept-Encoding": "gzip", "If-None-Match": etag},
    )
    assert again.status[:3] == "304"


# -- sendfile and closing -----------------------------------------------------------


class Opened:
    """Every file StaticFiles opens, to check each is closed."""

    def __init__(self) -> None:
        self.files: list[Any] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        file = open(*args, **kwargs)  # noqa: SIM115
        self.files.append(file)
        return file


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Opened:
    recorder = Opened()
    monkeypatch.setattr(wsgimw.static, "open", recorder, raising=False)
    return recorder


def test_the_servers_file_wrapper_is_used_when_offered(
    site: Path, opened: Opened
) -> None:
    app = StaticFiles(directory=site)(fallback)
    from wsgimw.testing import make_environ

    environ = make_environ("/static/data.bin")
    environ["wsgi.file_wrapper"] = FileWrapper
    iterable = app(environ, lambda status, headers, exc_info=None: lambda data: None)
    assert isinstance(iterable, FileWrapper)
    assert b"".join(iterable) == TEXT
    iterable.close()
    assert [f.closed for f in opened.files] == [True]


@pytest.mark.parametrize("read", [None, 0, 1])
def test_each_file_is_opened_per_request_and_closed(
    site: Path, opened: Opened, read: int | None
) -> None:
    app = static(site)
    for _ in range(3):
        serve(app, "/static/data.bin", read=read)
    assert len(opened.files) == 3
    assert all(f.closed for f in opened.files)


def test_head_304_405_416_open_nothing(site: Path, opened: Opened) -> None:
    etag, _ = validators(site, "/static/data.bin")
    opened.files.clear()
    get(site, "/static/data.bin", method="HEAD")
    get(site, "/static/data.bin", {"If-None-Match": etag})
    get(site, "/static/data.bin", method="POST")
    get(site, "/static/data.bin", {"Range": "bytes=999999-"})
    assert opened.files == []


def test_file_body_closes_once_and_ends_after_close(site: Path) -> None:
    body = wsgimw.static._FileBody(open(site / "data.bin", "rb"), 10)  # noqa: SIM115
    assert next(body) == TEXT[:10]
    body.close()
    body.close()
    with pytest.raises(StopIteration):
        next(body)


# -- no way out -------------------------------------------------------------------


ESCAPES = [
    "/static/../secret.txt",
    "/static/%2e%2e/secret.txt",
    "/static/%2E%2E/secret.txt",
    "/static/css/../../secret.txt",
    "/static/css/..%2f..%2fsecret.txt",
    "/static/css%2f..%2f..%2fsecret.txt",
    "/static/%252e%252e/secret.txt",
    "/static/%252e%252e%252fsecret.txt",
    "/static/..%5csecret.txt",
    "/static/..\\secret.txt",
    "/static/css/plain.css%00.png",
    "/static//etc/passwd",
    "/static/./css/plain.css",
    "/static/out",
    "/static/outdir/secret.txt",
    "/static/outdir/site/css/plain.css",
    "/static/%0d%0aSet-Cookie:x=1",
]


@pytest.mark.parametrize("autorefresh", [False, True])
@pytest.mark.parametrize("path", ESCAPES)
def test_no_path_leaves_the_directory(site: Path, path: str, autorefresh: bool) -> None:
    result = get(site, path, options={"autorefresh": autorefresh})
    assert result.status[:3] in ("404", "200"), result.status
    assert SECRET not in result.body
    if result.status[:3] == "200":  # the app's own answer, or a file inside
        assert result.body.startswith(b"app: ") or result.body == CSS


@pytest.mark.parametrize("path", ESCAPES[:13])
def test_escapes_get_404_here_even_with_fallthrough(site: Path, path: str) -> None:
    result = get(site, path)
    assert result.status == "404 Not Found"


def test_traversal_is_logged_without_control_characters(
    site: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="wsgimw.static")
    get(site, "/static/..%0d%0a/x")
    assert caplog.records
    assert all(
        "\r" not in r.getMessage() and "\n" not in r.getMessage()
        for r in caplog.records
    )


# -- the rest goes on -------------------------------------------------------------


def test_paths_outside_the_prefix_and_misses_go_to_the_app(site: Path) -> None:
    for path in (
        "/",
        "/staticx/css/plain.css",
        "/static",
        "/static/",
        "/static/nope.css",
        "/static/css",
    ):
        result = get(site, path)
        assert result.body == b"app: " + path.encode(), path


def test_without_fallthrough_misses_under_the_prefix_get_404(site: Path) -> None:
    result = get(site, "/static/nope.css", options={"fallthrough": False})
    assert result.status == "404 Not Found"
    assert get(site, "/other", options={"fallthrough": False}).body == b"app: /other"


def test_prefix_root_serves_at_the_root(site: Path) -> None:
    assert get(site, "/data.bin", options={"prefix": "/"}).body == TEXT
    assert get(site, "/index.html", options={"prefix": "/"}).body == b"app: /index.html"


def test_the_apps_iterable_is_returned_untouched(site: Path) -> None:
    body = [b"x"]

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    wrapped = StaticFiles(directory=site)(app)
    from wsgimw.testing import make_environ

    assert wrapped(make_environ("/x"), lambda *a: lambda d: None) is body


# -- the index and autorefresh ------------------------------------------------------


def test_the_index_is_built_at_construction(site: Path) -> None:
    files = StaticFiles(directory=site)
    assert "/static/css/plain.css" in files.files
    assert "/static/out" not in files.files  # a link out is never indexed
    assert not any("secret" in name for name in files.files)
    (site / "new.txt").write_bytes(b"new")
    assert get(site, "/static/new.txt").body == b"new"  # a new instance sees it
    app = files(fallback)
    (site / "later.txt").write_bytes(b"later")
    assert serve(app, "/static/later.txt").body == b"app: /static/later.txt"


def test_autorefresh_sees_files_added_later(site: Path) -> None:
    # WhiteNoise #18, #95: files added after start-up were 404s.
    app = static(site, autorefresh=True)
    assert serve(app, "/static/later.txt").body == b"app: /static/later.txt"
    (site / "later.txt").write_bytes(b"later")
    (site / "sub").mkdir()
    (site / "sub" / "x.js").write_bytes(b"x=1")
    assert serve(app, "/static/later.txt").body == b"later"
    result = serve(app, "/static/sub/x.js")
    assert (result.body, result.header("Content-Type")) == (
        b"x=1",
        "text/javascript; charset=utf-8",
    )
    assert serve(app, "/static/sub").body == b"app: /static/sub"  # a folder
    compress_directory(site / "sub", encodings=["gzip"])
    assert (
        serve(app, "/static/sub/x.js", headers={"Accept-Encoding": "gzip"}).header(
            "Content-Encoding"
        )
        is None
    )  # x=1 does not shrink
    (site / "later.txt").unlink()
    assert serve(app, "/static/later.txt").body == b"app: /static/later.txt"


def test_a_file_changed_after_indexing_is_served_as_it_is_now(site: Path) -> None:
    app = static(site)
    path = site / "data.bin"
    path.write_bytes(b"shorter")
    result = serve(app, "/static/data.bin")
    assert (result.body, result.header("Content-Length")) == (b"shorter", "7")
    assert serve(app, "/static/data.bin").body == b"shorter"
    path.unlink()
    assert serve(app, "/static/data.bin").body == b"app: /static/data.bin"


def test_a_file_removed_after_indexing_goes_on_to_the_app(site: Path) -> None:
    app = static(site)
    (site / "data.bin").unlink()
    assert serve(app, "/static/data.bin").body == b"app: /static/data.bin"


# -- options ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "words"),
    [
        ({"directory": 3}, TypeError, "directory must be a path"),
        ({"directory": "/nonexistent/dir"}, ValueError, "not a folder that exists"),
        ({"prefix": "static"}, ValueError, "start and end with '/'"),
        ({"prefix": "/static"}, ValueError, "start and end with '/'"),
        ({"prefix": b"/s/"}, TypeError, "prefix must be a str"),
        ({"prefix": "/a/../b/"}, ValueError, "plain URL path"),
        ({"prefix": "//s/"}, ValueError, "plain URL path"),
        ({"max_age": -1}, ValueError, ">= 0"),
        ({"max_age": "60"}, TypeError, "int of seconds"),
        ({"max_age": True}, TypeError, "int of seconds"),
        ({"immutable": "("}, ValueError, "not a valid regular expression"),
        ({"immutable": 1}, TypeError, "regular expression"),
        ({"fallthrough": "no"}, TypeError, "True or False"),
        ({"autorefresh": 1}, TypeError, "True or False"),
        ({"content_types": [".md"]}, TypeError, "maps suffixes"),
        ({"content_types": {"md": "text/markdown"}}, ValueError, "suffixes such as"),
        ({"content_types": {".md": "markdown"}}, ValueError, "media type"),
    ],
)
def test_bad_options_fail_at_construction(
    site: Path, options: dict[str, Any], error: type[Exception], words: str
) -> None:
    options.setdefault("directory", site)
    with pytest.raises(error, match=words):
        StaticFiles(**options)


def test_options_are_keyword_only_and_apps_must_be_callable(site: Path) -> None:
    with pytest.raises(TypeError):
        StaticFiles(site)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="callable"):
        StaticFiles(directory=site)("app")  # type: ignore[arg-type]


def test_content_types_option(site: Path) -> None:
    (site / "notes.md").write_bytes(b"# hi")
    result = get(
        site, "/static/notes.md", options={"content_types": {".MD": "text/markdown"}}
    )
    assert result.header("Content-Type") == "text/markdown; charset=utf-8"
    (site / "x.unknownext").write_bytes(b"?")
    assert (
        get(site, "/static/x.unknownext").header("Content-Type")
        == "application/octet-stream"
    )


def test_repr(site: Path) -> None:
    assert repr(StaticFiles(directory=site)) == f"StaticFiles(directory={str(site)!r})"
    shown = repr(StaticFiles(directory=site, prefix="/s/", max_age=None))
    assert shown.endswith("prefix='/s/', max_age=None)")


def test_no_per_request_state_on_the_instance(site: Path) -> None:
    files = StaticFiles(directory=site)
    assert not hasattr(files, "__dict__")


# -- the fault matrix and Lint --------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix(site: Path, fault: Fault) -> None:
    check_fault(StaticFiles(directory=site, prefix="/"), fault)


@pytest.mark.parametrize(
    ("path", "headers", "method"),
    [
        ("/static/data.bin", {}, "GET"),
        ("/static/data.bin", {}, "HEAD"),
        ("/static/data.bin", {}, "POST"),
        ("/static/data.bin", {"Range": "bytes=0-1"}, "GET"),
        ("/static/data.bin", {"Range": "bytes=99999-"}, "GET"),
        ("/static/data.bin", {"Range": "bytes=99999-"}, "HEAD"),
        ("/static/data.bin", {"If-Match": '"x"'}, "GET"),
        ("/static/data.bin", {"If-None-Match": "*"}, "GET"),
        ("/static/../x", {}, "GET"),
        ("/static/../x", {}, "HEAD"),
    ],
)
def test_every_answer_passes_wsgiref_validate(
    site: Path, path: str, headers: dict[str, str], method: str
) -> None:
    from wsgiref.validate import validator

    app = validator(StaticFiles(directory=site)(validator(fallback)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = call_app(app, path, headers=headers, method=method)
    assert result.status


# -- property tests ----------------------------------------------------------------

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
PATH_TEXT = st.lists(
    st.sampled_from(
        [
            *"abc./\\%2eEfF05c:~ \x00\r\n",
            "..",
            "%2e%2e",
            "%2f",
            "%00",
            "é",
            "css",
            "data.bin",
            "out",
            "outdir",
            "secret.txt",
        ]
    ),
    max_size=12,
).map("".join)


@SETTINGS
@given(tail=PATH_TEXT, autorefresh=st.booleans())
@example(tail="../secret.txt", autorefresh=True)
@example(tail="outdir/secret.txt", autorefresh=True)
def test_any_path_never_fails_or_leaves(
    site: Path, tail: str, autorefresh: bool
) -> None:
    app = static(site, autorefresh=autorefresh)
    environ_path = "/static/" + tail.encode("utf-8").decode("latin-1")
    from wsgimw.testing import make_environ

    environ = make_environ("/", PATH_INFO=environ_path)
    result = serve(app, environ)  # type: ignore[arg-type]
    assert result.status[:3] in ("200", "404"), result.status
    assert SECRET not in result.body
    if result.status[:3] == "200" and not result.body.startswith(b"app: "):
        served = site / os.fsdecode(environ_path[len("/static/") :].encode("latin-1"))
        assert served.resolve().is_relative_to(site.resolve())
        assert result.body == served.read_bytes()


@SETTINGS
@given(
    first=st.one_of(st.none(), st.integers(0, 12000)),
    last=st.one_of(st.none(), st.integers(0, 12000)),
    noise=st.sampled_from(["", "x", ",0-1"]),
)
def test_ranges_agree_with_slicing(
    site: Path, first: int | None, last: int | None, noise: str
) -> None:
    value = (
        f"bytes={'' if first is None else first}-{'' if last is None else last}{noise}"
    )
    result = get(site, "/static/data.bin", {"Range": value})
    size = len(TEXT)
    if (
        noise
        or (first is None and last is None)
        or (first is not None and last is not None and last < first)
    ):
        assert (result.status[:3], result.body) == ("200", TEXT)
    elif first is None:
        assert last is not None
        if last == 0:
            assert result.status[:3] == "416"
        else:
            assert result.body == TEXT[-last:]
    elif first >= size:
        assert result.status[:3] == "416"
        assert result.header("Content-Range") == f"bytes */{size}"
    else:
        end = size - 1 if last is None else min(last, size - 1)
        assert result.status[:3] == "206"
        assert result.body == TEXT[first : end + 1]
        assert result.header("Content-Range") == f"bytes {first}-{end}/{size}"


HEADER_TEXT = st.lists(
    st.sampled_from([*'"W/*, ;=q01.abGMT:', "gzip", "br", "zstd", "identity"]),
    max_size=16,
).map("".join)


@SETTINGS
@given(
    accept=HEADER_TEXT,
    if_none_match=st.one_of(st.none(), HEADER_TEXT),
    if_modified_since=st.one_of(
        st.none(), HEADER_TEXT, st.just("Fri, 01 Jan 2100 00:00:00 GMT")
    ),
    if_match=st.one_of(st.none(), HEADER_TEXT),
    if_range=st.one_of(st.none(), HEADER_TEXT),
    method=st.sampled_from(["GET", "HEAD"]),
)
def test_any_if_and_accept_encoding_headers_never_fail(
    site: Path,
    accept: str,
    if_none_match: str | None,
    if_modified_since: str | None,
    if_match: str | None,
    if_range: str | None,
    method: str,
) -> None:
    headers = {"Accept-Encoding": accept, "Range": "bytes=0-99"}
    for name, value in (
        ("If-None-Match", if_none_match),
        ("If-Modified-Since", if_modified_since),
        ("If-Match", if_match),
        ("If-Range", if_range),
    ):
        if value is not None:
            headers[name] = value
    result = get(site, "/static/css/plain.css", headers, method=method)
    assert result.status[:3] in ("200", "206", "304", "412")
    if result.status[:3] == "200" and method == "GET":
        coding = result.header("Content-Encoding")
        body = result.body if coding is None else DECODE[coding](result.body)
        assert body == CSS
    if result.status[:3] == "206":
        assert result.body == CSS[:100]


# -- the compress command -----------------------------------------------------------


def test_compress_command_writes_siblings_that_shrink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "app.js").write_bytes(b"console.log('hello');\n" * 100)
    (tmp_path / "tiny.txt").write_bytes(b"hi")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG" + bytes(200))
    os.utime(tmp_path / "sub" / "app.js", (1_600_000_000, 1_600_000_000))
    assert main(["compress", str(tmp_path), "--verbose"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert any(
        line.startswith("compressed sub/app.js: 2200 bytes -> br ") for line in out
    )
    assert "skipped tiny.txt: 2 bytes, does not shrink" in out
    assert not any("logo.png" in line for line in out)
    assert out[-1] == "3 siblings written, 1 files skipped (they do not shrink)"
    for suffix, decode in ((".gz", gzip.decompress), (".br", brotli.decompress)):
        sibling = tmp_path / "sub" / f"app.js{suffix}"
        assert (
            decode(sibling.read_bytes()) == (tmp_path / "sub" / "app.js").read_bytes()
        )
        assert sibling.stat().st_mtime == 1_600_000_000
    assert not (tmp_path / "tiny.txt.gz").exists()
    assert not (tmp_path / "logo.png.gz").exists()
    # Again: siblings are not compressed themselves; quiet prints one line.
    assert main(["compress", str(tmp_path), "--encodings", "gzip"]) == 0
    assert (
        capsys.readouterr().out
        == "1 siblings written, 1 files skipped (they do not shrink)\n"
    )
    assert not (tmp_path / "sub" / "app.js.gz.gz").exists()
    assert not list(tmp_path.rglob(".wsgimw-*"))


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["compress", "/nonexistent/folder"], "is not a folder"),
        (["compress", ".", "--encodings", "lzma"], "cannot write 'lzma' siblings"),
        ([], "required"),
    ],
)
def test_compress_command_usage_errors(
    argv: list[str], words: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert words in capsys.readouterr().err


def test_compress_command_runs_as_a_module(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "a.css").write_bytes(CSS)
    done = subprocess.run(
        # -W error: runpy warns when `import wsgimw` has imported the module.
        [
            sys.executable,
            "-W",
            "error",
            "-m",
            "wsgimw.static",
            "compress",
            str(tmp_path),
            "-v",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "compressed a.css" in done.stdout
    assert (tmp_path / "a.css.gz").exists()


def test_a_failed_write_leaves_no_temporary_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.css").write_bytes(CSS)

    def broken(*args: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        compress_directory(tmp_path, encodings=["gzip"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.css"]


# -- PasteDeploy ---------------------------------------------------------------------


def test_pastedeploy_filter(site: Path, tmp_path: Path) -> None:
    from paste.deploy import loadapp

    ini = tmp_path / "site.ini"
    ini.write_text(
        f"""
[pipeline:main]
pipeline = static app

[filter:static]
use = egg:wsgimw#static
directory = {site}
prefix = /assets/
max_age = none
fallthrough = false
content_types =
    .md text/markdown

[app:app]
paste.app_factory = test_static:app_factory
"""
    )
    app = loadapp(f"config:{ini}")
    assert serve(app, "/assets/data.bin").body == TEXT
    assert serve(app, "/assets/data.bin").header("Cache-Control") is None
    assert serve(app, "/assets/nope").status[:3] == "404"
    assert serve(app, "/other").body == b"app: /other"


def app_factory(global_conf: dict[str, str], **local_conf: str) -> WSGIApp:
    return fallback


@pytest.mark.parametrize(
    ("conf", "words"),
    [
        ({"directory": "relative"}, "absolute"),
        ({"directory": "/x", "max_age": "soon"}, "whole number"),
        ({"directory": "/x", "colour": "red"}, "no option 'colour'"),
    ],
)
def test_pastedeploy_filter_errors(conf: dict[str, str], words: str) -> None:
    from wsgimw.pastedeploy import static

    with pytest.raises(ValueError, match=words):
        static({}, **conf)


def test_pastedeploy_immutable_none(site: Path) -> None:
    from wsgimw.pastedeploy import static

    files = static({}, directory=str(site), immutable="none")
    assert "immutable=None" in repr(files)


def _iter(items: Iterable[bytes]) -> Iterator[bytes]:
    return iter(items)


def test_file_body_of_a_stream(site: Path) -> None:
    body = wsgimw.static._FileBody(io.BytesIO(b"abc"), 10)
    assert list(_iter(body)) == [b"abc"]
    body.close()


def test_a_server_that_broke_pep_3333_gets_a_miss(site: Path) -> None:
    app = StaticFiles(directory=site, autorefresh=True)(fallback)
    result = call_app(app, "/", PATH_INFO="/static/caf\u00e9\u2603.txt")
    assert result.body.startswith(b"app: /static/caf")


def test_a_refused_start_response_closes_the_file(site: Path, opened: Opened) -> None:
    app = StaticFiles(directory=site)(fallback)

    def refusing(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        raise RuntimeError("the client left")

    from wsgimw.testing import make_environ

    with pytest.raises(RuntimeError, match="client left"):
        app(make_environ("/static/data.bin"), refusing)
    assert [f.closed for f in opened.files] == [True]


def test_a_file_that_changed_and_went_is_a_miss(
    site: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = static(site)
    (site / "data.bin").write_bytes(b"new")
    monkeypatch.setattr(StaticFiles, "_look", lambda self, relative: None)
    assert serve(app, "/static/data.bin").body == b"app: /static/data.bin"


def test_whitenoise_refuses_one_byte_ranges_that_we_serve(site: Path) -> None:
    # WhiteNoise #711 (open, in 6.12.0): "bytes=0-0" and "bytes=-1" are legal
    # one-byte ranges (MP4 probes), yet get 416.
    from whitenoise import WhiteNoise

    (site / "outdir").unlink()  # WhiteNoise follows this link round and round
    peer = WhiteNoise(fallback, root=str(site), prefix="/static/")
    for value, byte in (("bytes=0-0", TEXT[:1]), ("bytes=-1", TEXT[-1:])):
        theirs = call_app(peer, "/static/data.bin", headers={"Range": value})
        assert theirs.status_code == 416
        ours = get(site, "/static/data.bin", {"Range": value})
        assert (ours.status_code, ours.body) == (206, byte)


@pytest.mark.parametrize("autorefresh", [False, True])
def test_a_name_too_long_for_the_file_system_is_a_miss(
    site: Path, autorefresh: bool
) -> None:
    # WhiteNoise #110: with autorefresh, ENAMETOOLONG was a 500.
    for name in ("a" * 300, "/".join(["b" * 200] * 30)):
        result = get(site, "/static/" + name, options={"autorefresh": autorefresh})
        assert result.body.startswith(b"app: ")


def test_the_peers_follow_a_link_out_of_the_folder(site: Path) -> None:
    from werkzeug.middleware.shared_data import SharedDataMiddleware
    from whitenoise import WhiteNoise

    (site / "outdir").unlink()  # WhiteNoise follows this link round and round
    for peer in (
        WhiteNoise(fallback, root=str(site), prefix="/static/"),
        SharedDataMiddleware(fallback, {"/static": str(site)}),
    ):
        assert call_app(peer, "/static/out").body == SECRET
    assert SECRET not in get(site, "/static/out").body


def test_whitenoise_sends_the_old_length_of_a_changed_file(site: Path) -> None:
    from whitenoise import WhiteNoise

    (site / "outdir").unlink()
    peer = WhiteNoise(fallback, root=str(site), prefix="/static/")
    ours = static(site)
    (site / "a b.txt").write_bytes(b"a longer text than before")
    theirs = call_app(peer, "/static/a%20b.txt")
    assert theirs.header("Content-Length") == "5"
    assert len(theirs.body) == 25  # a server would cut it, or fail
    mine = serve(ours, "/static/a%20b.txt")  # Lint checks the length
    assert (mine.header("Content-Length"), mine.body) == (
        "25",
        b"a longer text than before",
    )


@pytest.mark.parametrize("autorefresh", [False, True])
def test_dot_files_are_never_served_but_well_known_is(
    site: Path, autorefresh: bool
) -> None:
    (site / ".env").write_bytes(b"SECRET_KEY=1")
    (site / ".git").mkdir()
    (site / ".git" / "config").write_bytes(b"[core]")
    (site / "css" / ".hidden.css").write_bytes(b"x")
    (site / ".well-known").mkdir()
    (site / ".well-known" / "security.txt").write_bytes(b"Contact: mailto:a@b.c")
    options = {"autorefresh": autorefresh}
    for path in ("/static/.env", "/static/.git/config", "/static/css/.hidden.css"):
        assert get(site, path, options=options).body == b"app: " + path.encode()
    served = get(site, "/static/.well-known/security.txt", options=options)
    assert served.body == b"Contact: mailto:a@b.c"


def test_compress_skips_dot_files(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_bytes(b"*.gz\n" * 50)
    (tmp_path / ".cache").mkdir()
    (tmp_path / ".cache" / "big.txt").write_bytes(b"x" * 5000)
    assert compress_directory(tmp_path) == (0, 0)
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        ".cache",
        ".gitignore",
        "big.txt",
    ]
