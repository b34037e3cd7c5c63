"""ConditionalGet: 304s for matching If-None-Match / If-Modified-Since, the
body closed unread, strong ETags for list bodies, beside Compress."""

from __future__ import annotations

import gzip
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from wsgimw import Compress, ConditionalGet, compose
from wsgimw._static_http import etag_matches, http_date, strong_match
from wsgimw.testing import (
    FAULTS,
    Fault,
    Lint,
    Result,
    ScriptedApp,
    call_app,
    check_fault,
    make_environ,
)
from wsgimw.types import Environ, StartResponse, WSGIApp

PAGE = b"<!doctype html><title>Hello</title><p>" + b"Hello, world. " * 100
ETAG = '"v1"'
MODIFIED = "Wed, 21 Oct 2015 07:28:00 GMT"


class Page:
    """An app with validators that counts how its body was used."""

    def __init__(
        self,
        *,
        etag: str | None = ETAG,
        modified: str | None = MODIFIED,
        status: str = "200 OK",
        style: str = "iter",
    ) -> None:
        self.headers = [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(PAGE))),
            ("Cache-Control", "max-age=60"),
        ]
        if etag is not None:
            self.headers.append(("ETag", etag))
        if modified is not None:
            self.headers.append(("Last-Modified", modified))
        self.status = status
        self.style = style
        self.reads = 0
        self.closes = 0

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        if environ["REQUEST_METHOD"] == "HEAD":
            start_response(self.status, list(self.headers))
            return []
        if self.style == "list":
            start_response(self.status, list(self.headers))
            return [PAGE]
        if self.style == "lazy":
            return _Body(self, start_response)
        if self.style == "write":
            write = start_response(self.status, list(self.headers))
            write(PAGE[:10])
            return _Body(self, None, PAGE[10:])
        start_response(self.status, list(self.headers))
        return _Body(self, None)


class _Body:
    def __init__(
        self, page: Page, start_response: StartResponse | None, data: bytes = PAGE
    ) -> None:
        self.page = page
        self.start_response = start_response
        self.chunks = [data[:100], data[100:]]

    def __iter__(self) -> Iterator[bytes]:
        return self

    def __next__(self) -> bytes:
        if self.start_response is not None:
            self.start_response(self.page.status, list(self.page.headers))
            self.start_response = None
        if not self.chunks:
            raise StopIteration
        self.page.reads += 1
        return self.chunks.pop(0)

    def close(self) -> None:
        self.page.closes += 1


def request(
    app: WSGIApp,
    headers: dict[str, str] | None = None,
    *,
    method: str = "GET",
    middleware: ConditionalGet | None = None,
    read: int | None = None,
) -> Result:
    outer, inner = Lint(below="ConditionalGet"), Lint(above="ConditionalGet")
    wrapped = outer((middleware or ConditionalGet())(inner(app)))
    result = call_app(wrapped, "/", headers=headers or {}, method=method, read=read)
    outer.verify()
    inner.verify()
    return result


@pytest.mark.parametrize("style", ["iter", "lazy", "list", "write"])
@pytest.mark.parametrize(
    "headers",
    [
        {"If-None-Match": ETAG},
        {"If-None-Match": f"W/{ETAG}"},
        {"If-None-Match": f'"a", {ETAG}'},
        {"If-None-Match": "*"},
        {"If-Modified-Since": MODIFIED},
        {"If-Modified-Since": "Thu, 22 Oct 2015 07:28:00 GMT"},
    ],
    ids=["etag", "weak", "list", "star", "same-date", "later-date"],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_match_becomes_a_304_and_the_body_is_closed_unread(
    style: str, headers: dict[str, str], method: str
) -> None:
    page = Page(style=style)
    result = request(page, headers, method=method)
    assert result.status == "304 Not Modified"
    assert result.body == b""
    assert result.header("ETag") == ETAG
    assert result.header("Last-Modified") == MODIFIED
    assert result.header("Cache-Control") == "max-age=60"
    assert result.header("Content-Length") is None
    assert result.header("Content-Type") is None
    if method == "HEAD":
        pass  # the app sends no body to a HEAD
    elif style in ("iter", "write"):
        assert (page.reads, page.closes) == (0, 1)
    elif style == "lazy":  # it starts in its first next(): one chunk is made
        assert (page.reads, page.closes) == (1, 1)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"If-None-Match": '"v2"'},
        {"If-None-Match": "garbage"},
        {"If-Modified-Since": "Tue, 20 Oct 2015 07:28:00 GMT"},
        {"If-Modified-Since": "not a date"},
        # If-None-Match wins over a matching date (RFC 9110 §13.2.2).
        {"If-None-Match": '"v2"', "If-Modified-Since": MODIFIED},
    ],
)
@pytest.mark.parametrize("style", ["iter", "lazy", "write"])
def test_no_match_is_the_apps_own_response(headers: dict[str, str], style: str) -> None:
    page = Page(style=style)
    result = request(page, headers)
    assert (result.status, result.body) == ("200 OK", PAGE)
    assert page.closes == 1


def test_a_decided_response_is_the_apps_own_iterable() -> None:
    page = Page()
    environ = make_environ("/", headers={"If-None-Match": '"other"'})
    iterable = ConditionalGet()(page)(environ, lambda s, h, e=None: lambda d: None)
    assert isinstance(iterable, _Body)
    iterable.close()
    plain = ConditionalGet()(page)(
        make_environ("/"), lambda s, h, e=None: lambda d: None
    )
    assert isinstance(plain, _Body)
    plain.close()


@pytest.mark.parametrize(
    "status", ["201 Created", "404 Not Found", "206 Partial Content"]
)
def test_only_a_200_becomes_a_304(status: str) -> None:
    result = request(Page(status=status), {"If-None-Match": ETAG})
    assert result.status == status


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
def test_only_get_and_head(method: str) -> None:
    result = request(Page(), {"If-None-Match": ETAG}, method=method)
    assert result.status == "200 OK"


def test_without_validators_nothing_matches() -> None:
    page = Page(etag=None, modified=None)
    assert request(page, {"If-None-Match": ETAG}).status == "200 OK"
    assert request(page, {"If-Modified-Since": MODIFIED}).status == "200 OK"
    assert request(page, {"If-None-Match": "*"}).status[:3] == "304"


def test_a_bad_last_modified_never_matches() -> None:
    page = Page(etag=None, modified="last tuesday")
    assert request(page, {"If-Modified-Since": MODIFIED}).status == "200 OK"


def test_server_closes_before_reading() -> None:
    page = Page(style="lazy")
    result = request(page, {"If-None-Match": ETAG}, read=0)
    assert page.closes == 1
    assert result.body == b""


# -- etag=True ---------------------------------------------------------------------


def test_etag_true_makes_a_strong_etag_for_a_list_body() -> None:
    middleware = ConditionalGet(etag=True)
    page = Page(etag=None, style="list")
    first = request(page, middleware=middleware)
    etag = first.header("ETag")
    assert etag is not None
    assert etag.startswith('"')
    assert len(etag) == 34
    assert first.body == PAGE
    again = request(page, {"If-None-Match": etag}, middleware=middleware)
    assert (again.status, again.body, again.header("ETag")) == (
        "304 Not Modified",
        b"",
        etag,
    )
    assert (
        request(page, {"If-None-Match": f"W/{etag}"}, middleware=middleware).status[:3]
        == "304"
    )


def test_etag_true_leaves_streams_head_and_existing_etags_alone() -> None:
    middleware = ConditionalGet(etag=True)
    assert request(Page(etag=None), middleware=middleware).header("ETag") is None
    assert (
        request(Page(etag=None, style="lazy"), middleware=middleware).header("ETag")
        is None
    )
    head = request(Page(etag=None, style="list"), method="HEAD", middleware=middleware)
    assert head.header("ETag") is None
    assert request(Page(style="list"), middleware=middleware).header("ETag") == ETAG
    written = request(Page(etag=None, style="write"), middleware=middleware)
    assert (written.body, written.header("ETag")) == (PAGE, None)


def test_etag_true_skips_a_body_that_is_not_bytes() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ["text"]  # type: ignore[list-item]

    environ = make_environ("/")
    statuses = []
    body = ConditionalGet(etag=True)(app)(
        environ,
        lambda s, h, e=None: statuses.append((s, h)) or (lambda d: None),  # type: ignore[func-returns-value]
    )
    assert list(body) == ["text"]  # type: ignore[comparison-overlap]
    assert statuses == [("200 OK", [("Content-Type", "text/plain")])]


def test_an_app_that_raises_after_a_held_start() -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        call_app(ConditionalGet(etag=True)(app), "/")


def test_a_server_that_refuses_the_held_start_closes_the_body() -> None:
    page = Page(etag=None)

    def refusing(
        status: str, headers: list[tuple[str, str]], exc_info: Any = None
    ) -> Any:
        raise OSError("client gone")

    closed = []

    class Listed(list[bytes]):
        def close(self) -> None:
            closed.append(True)

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        page(environ, start_response)
        return Listed([PAGE])

    environ = make_environ("/", headers={"If-None-Match": '"x"'})
    with pytest.raises(OSError, match="client gone"):
        ConditionalGet(etag=True)(app)(environ, refusing)
    assert closed == [True]


def test_a_lazy_body_ended_by_a_304_stays_ended() -> None:
    page = Page(style="lazy")
    environ = make_environ("/", headers={"If-None-Match": ETAG})
    body = ConditionalGet()(page)(environ, lambda s, h, e=None: lambda d: None)
    assert list(body) == []
    assert list(body) == []
    close = getattr(body, "close")  # noqa: B009
    close()
    close()
    assert page.closes == 1


# -- an error page replaces a decision --------------------------------------------------


def test_an_exc_info_page_replaces_the_304() -> None:
    error_page = b"error"

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("ETag", ETAG), ("Content-Type", "text/plain")])
        try:
            raise RuntimeError("late")
        except RuntimeError:
            import sys

            start_response(
                "500 Internal Server Error",
                [("Content-Type", "text/plain"), ("Content-Length", "5")],
                sys.exc_info(),
            )
        yield error_page

    result = call_app(ConditionalGet()(app), "/", headers={"If-None-Match": ETAG})
    assert (result.status[:3], result.body) == ("500", error_page)


# -- beside Compress ---------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["weaken", "suffix"])
@pytest.mark.parametrize("order", ["conditional-outside", "compress-outside"])
def test_beside_compress_in_either_order(mode: str, order: str) -> None:
    compress = Compress(etag=mode)  # type: ignore[arg-type]
    layers = (
        (ConditionalGet(), Lint(), compress)
        if order == "conditional-outside"
        else (compress, Lint(), ConditionalGet())
    )
    app = compose(*layers)(Lint()(Page()))
    first = call_app(app, "/", headers={"Accept-Encoding": "gzip"})
    assert gzip.decompress(first.body) == PAGE
    etag = first.header("ETag")
    assert etag == ('W/"v1"' if mode == "weaken" else '"v1-gzip"')
    again = call_app(
        app, "/", headers={"Accept-Encoding": "gzip", "If-None-Match": etag}
    )
    assert (again.status, again.body) == ("304 Not Modified", b"")
    assert again.header("ETag") == etag
    assert "Accept-Encoding" in (again.header("Vary") or "")
    # Another coding: a weak tag is the same for every coding (equivalent
    # content), so it matches; a suffixed one matches only where ConditionalGet
    # sees it as sent (outside), since Compress strips every coding's suffix
    # from If-None-Match before the layers inside it read it.
    other = call_app(app, "/", headers={"Accept-Encoding": "br", "If-None-Match": etag})
    distinct = mode == "suffix" and order == "conditional-outside"
    assert other.status == ("200 OK" if distinct else "304 Not Modified")
    plain = call_app(app, "/", headers={"If-None-Match": etag})
    if mode == "suffix":
        assert plain.status == "200 OK"  # identity's tag is "v1"


# -- options, repr, the fault matrix ---------------------------------------------------


def test_options() -> None:
    with pytest.raises(TypeError, match="True or False"):
        ConditionalGet(etag="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ConditionalGet(True)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="callable"):
        ConditionalGet()(None)  # type: ignore[arg-type]
    assert repr(ConditionalGet()) == "ConditionalGet()"
    assert repr(ConditionalGet(etag=True)) == "ConditionalGet(etag=True)"
    assert not hasattr(ConditionalGet(), "__dict__")


@pytest.mark.parametrize("etag", [False, True])
@pytest.mark.parametrize("conditional", [False, True])
@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix(fault: Fault, etag: bool, conditional: bool) -> None:
    headers: dict[str, Any] = {"HTTP_IF_NONE_MATCH": '"nope"'} if conditional else {}
    check_fault(ConditionalGet(etag=etag), fault, **headers)


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_when_it_matches(fault: Fault) -> None:
    # ScriptedApp sends no validator; "*" matches any 200.
    app = fault.app()
    outer, inner = Lint(below="ConditionalGet"), Lint(above="ConditionalGet")
    wrapped = outer(ConditionalGet()(inner(app)))
    result = call_app(
        wrapped,
        "/",
        headers={"If-None-Match": "*"},
        method=fault.method,
        read=fault.read,
        catch=True,
    )
    outer.verify()
    inner.verify()
    if app.returned_iterable:
        assert app.closes == 1
    if result.status == "304 Not Modified":
        assert result.body == b""
    if (
        isinstance(app, ScriptedApp)
        and fault.raises is None
        and app.status[:3] == "200"
    ):
        assert result.status[:3] in ("304", "500")


# -- the validator helpers, and property tests -------------------------------------------


def test_validator_helpers() -> None:
    assert etag_matches('W/"a"', '"a"')
    assert etag_matches('"a"', 'W/"a"')
    assert not etag_matches('"a"', None)
    assert not etag_matches('"a" junk', '"a"')
    assert strong_match('"a"', '"a"')
    assert not strong_match('"a"', 'W/"a"')
    assert not strong_match('"a"', None)
    assert strong_match("*", None)
    assert http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777
    assert http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777
    assert http_date("Sun Nov  6 08:49:37 1994") == 784111777
    assert http_date("Sun, 06 Nov 1994 08:49:37 -0000") == 784111777
    assert http_date("x" * 100) is None
    assert http_date("") is None


TAGS = st.lists(
    st.sampled_from(['"v1"', 'W/"v1"', '"v2"', "*", ",", " ", "junk", '"', "W/"]),
    max_size=6,
).map("".join)


@settings(max_examples=200, deadline=None)
@given(
    if_none_match=st.one_of(st.none(), TAGS),
    if_modified_since=st.one_of(
        st.none(),
        st.text(max_size=40),
        st.sampled_from([MODIFIED, "Tue, 20 Oct 2015 07:28:00 GMT"]),
    ),
    style=st.sampled_from(["iter", "lazy", "list", "write"]),
    method=st.sampled_from(["GET", "HEAD"]),
    etag=st.booleans(),
)
def test_any_if_headers(
    if_none_match: str | None,
    if_modified_since: str | None,
    style: str,
    method: str,
    etag: bool,
) -> None:
    headers = {}
    if if_none_match is not None:
        headers["If-None-Match"] = if_none_match
    if if_modified_since is not None:
        try:
            if_modified_since.encode("latin-1")
        except UnicodeEncodeError:
            if_modified_since = None
        else:
            headers["If-Modified-Since"] = if_modified_since
    page = Page(style=style)
    result = request(page, headers, method=method, middleware=ConditionalGet(etag=etag))
    if if_none_match is not None:
        expected = etag_matches(if_none_match, ETAG)
    elif if_modified_since is not None:
        date = http_date(if_modified_since)
        expected = date is not None and date >= http_date(MODIFIED)  # type: ignore[operator]
    else:
        expected = False
    assert result.status == ("304 Not Modified" if expected else "200 OK")
    assert page.closes == (0 if method == "HEAD" or style == "list" else 1)


# -- PasteDeploy ----------------------------------------------------------------------


def test_pastedeploy_filter(tmp_path: Path) -> None:
    from paste.deploy import loadapp

    ini = tmp_path / "site.ini"
    ini.write_text(
        """
[pipeline:main]
pipeline = conditional app

[filter:conditional]
use = egg:wsgimw#conditional
etag = true

[app:app]
paste.app_factory = test_conditional:app_factory
"""
    )
    app = loadapp(f"config:{ini}")
    etag = call_app(app, "/").header("ETag")
    assert etag is not None
    assert call_app(app, "/", headers={"If-None-Match": etag}).status[:3] == "304"
    from wsgimw.pastedeploy import conditional

    with pytest.raises(ValueError, match="true or false"):
        conditional({}, etag="maybe")


def app_factory(global_conf: dict[str, str], **local_conf: str) -> WSGIApp:
    return Page(etag=None, style="list")
