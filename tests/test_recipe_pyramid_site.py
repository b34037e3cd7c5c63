"""The pyramid_site recipe (recipes/pyramid_site/): a Pyramid app behind a
PasteDeploy pipeline of wsgimw filters, loaded from its production.ini in
process (with Lint around it) and served for real by waitress."""

from __future__ import annotations

import base64
import gzip
import json
import logging
from pathlib import Path

import pytest
from paste.deploy import loadapp
from servers import fetch, running

from recipes.pyramid_site import RELEASES, main
from recipes.pyramid_site.__main__ import INI, run
from wsgimw.testing import Lint, Result, call_app
from wsgimw.types import WSGIApp

DEMO = {"Authorization": "Basic " + base64.b64encode(b"demo:wsgimw-demo").decode()}


@pytest.fixture(scope="module")
def site() -> WSGIApp:
    return loadapp(f"config:{INI}")  # type: ignore[no-any-return]


def get(app: WSGIApp, path: str, headers: dict[str, str] | None = None) -> Result:
    outer = Lint()
    result = call_app(outer(app), path, headers=headers)
    outer.verify()
    return result


def test_the_ini_uses_the_wsgimw_entry_points() -> None:
    text = INI.read_text()
    for name in ("errors", "accesslog", "compress", "query", "basic_auth"):
        assert f"use = egg:wsgimw#{name}\n" in text
    assert "use = call:recipes.pyramid_site:main\n" in text
    assert "listen = 127.0.0.1:6543\n" in text


def test_pages_are_compressed(site: WSGIApp) -> None:
    result = get(site, "/", {"Accept-Encoding": "gzip"})
    assert result.status == "200 OK"
    assert result.header("Content-Encoding") == "gzip"
    assert result.header("Vary") == "Accept-Encoding"
    page = gzip.decompress(result.body).decode()
    assert "<title>wsgimw releases</title>" in page  # site_name from the .ini
    assert len(result.body) < len(page) // 4
    result = get(site, "/report.json", {"Accept-Encoding": "gzip"})
    assert json.loads(gzip.decompress(result.body)) == {"releases": RELEASES}
    # Without Accept-Encoding the page goes as it is.
    result = get(site, "/report.json")
    assert result.header("Content-Encoding") is None
    assert json.loads(result.body) == {"releases": RELEASES}


def test_search_echoes_the_parsed_query(site: WSGIApp) -> None:
    result = get(site, "/search?q=wsgi&q=caf%C3%A9+au+lait&page=2")
    assert result.status == "200 OK"
    assert json.loads(result.body) == {
        "q": ["wsgi", "café au lait"],
        "pairs": [["q", "wsgi"], ["q", "café au lait"], ["page", "2"]],
    }
    # max_fields = 100 in the .ini: QueryParser answers before Pyramid runs.
    result = get(site, "/search?" + "&".join(f"f{n}=1" for n in range(101)))
    assert result.status == "400 Bad Request"
    assert result.body == b"too many query fields: 101; the limit is 100\n"


def test_a_failing_view_gets_a_clean_500(
    site: WSGIApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="wsgimw.errors")
    result = get(site, "/boom")
    assert result.status == "500 Internal Server Error"
    assert result.body == b"500 Internal Server Error\n"  # debug = false
    assert result.header("Cache-Control") == "no-store"
    page = get(site, "/boom", {"Accept": "text/html"})
    assert page.header("Content-Type") == "text/html; charset=utf-8"
    assert b"this view fails on purpose" not in page.body
    [record, _] = caplog.records
    assert record.getMessage() == "error in GET /boom"
    assert record.exc_info is not None
    assert str(record.exc_info[1]) == "this view fails on purpose"


@pytest.mark.parametrize("path", ["/admin", "/admin/", "/admin/users", "/ADMIN/"])
def test_the_admin_area_needs_the_demo_password(site: WSGIApp, path: str) -> None:
    result = get(site, path)
    assert result.status == "401 Unauthorized"
    assert (
        result.header("WWW-Authenticate")
        == 'Basic realm="pyramid_site admin", charset="UTF-8"'
    )
    wrong = {"Authorization": "Basic " + base64.b64encode(b"demo:nope").decode()}
    assert get(site, path, wrong).status == "401 Unauthorized"


def test_the_admin_area_greets_the_demo_user(site: WSGIApp) -> None:
    result = get(site, "/admin/", DEMO)
    assert result.status == "200 OK"
    assert b"<p>Logged in as demo.</p>" in result.body
    # The rest of the site asks for nothing.
    assert get(site, "/").status == "200 OK"
    assert get(site, "/nowhere").status == "404 Not Found"


def test_the_app_alone_refuses_what_the_filters_should_have_done() -> None:
    # Without the pipeline: no user, so the admin page refuses; no parsed
    # query, so search fails loudly rather than guess.
    app = main({}, site_name="bare")
    assert get(app, "/admin/").status == "403 Forbidden"
    with pytest.raises(RuntimeError, match="add egg:wsgimw#query"):
        get(app, "/search?q=x")


def test_a_missing_ini_stops_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        run(["--config", str(tmp_path / "absent.ini")])
    assert info.value.code == 2
    assert "no such .ini file:" in capsys.readouterr().err


# -- served for real -------------------------------------------------------------


def lowercase(headers: dict[str, str]) -> dict[str, str]:
    # waitress sends some header names title-cased: Www-Authenticate.
    return {name.lower(): value for name, value in headers.items()}


@pytest.mark.integration
def test_served_by_waitress() -> None:
    with running(["-m", "recipes.pyramid_site"]) as server:
        status, headers, body = fetch(
            server.url + "/report.json", headers={"Accept-Encoding": "gzip"}
        )
        headers = lowercase(headers)
        assert (status, headers["content-encoding"]) == (200, "gzip")
        assert json.loads(gzip.decompress(body)) == {"releases": RELEASES}
        assert headers["server"] == "waitress"

        status, _, body = fetch(server.url + "/search?q=wsgi&q=pyramid")
        assert status == 200
        assert json.loads(body)["q"] == ["wsgi", "pyramid"]

        status, headers, body = fetch(server.url + "/admin/")
        assert status == 401
        challenge = lowercase(headers)["www-authenticate"]
        assert challenge == 'Basic realm="pyramid_site admin", charset="UTF-8"'
        status, _, body = fetch(server.url + "/admin/", headers=DEMO)
        assert status == 200
        assert b"Logged in as demo." in body

        status, _, body = fetch(server.url + "/boom")
        assert (status, body) == (500, b"500 Internal Server Error\n")
    log = server.log
    assert f"curl -u demo:wsgimw-demo {server.url}/admin/" in log
    # The .ini's logging: combined access lines, and the error's traceback.
    assert '"GET /search?q=wsgi&q=pyramid HTTP/1.1" 200 ' in log
    assert " - demo [" in log
    assert "ERROR [wsgimw.errors] error in GET /boom" in log
    assert "RuntimeError: this view fails on purpose" in log
