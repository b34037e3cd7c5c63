"""The admin-prefix recipe (recipes/admin_prefix.py): /admin behind an
htpasswd file made by the real htpasswd tool, the rest of the site open."""

from __future__ import annotations

import base64
import http.client
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from servers import fetch, running

from recipes.admin_prefix import ENV_VAR, build, main, site_app
from wsgimw.testing import Lint, call_app, make_environ

HTPASSWD = shutil.which("htpasswd") or "/usr/bin/htpasswd"


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Authorization": f"Basic {token}"}


@pytest.fixture
def htpasswd_file(tmp_path: Path) -> Path:
    if not os.path.exists(HTPASSWD):  # pragma: no cover - installed for the tests
        pytest.skip("Debian's htpasswd (apache2-utils) is not installed")
    path = tmp_path / "admin.htpasswd"
    subprocess.run(
        [HTPASSWD, "-c", "-b", "-B", "-C", "4", str(path), "alice", "s3cret ü"],
        check=True,
        capture_output=True,
        timeout=30,
    )
    return path


def get(
    path: str, htpasswd: Path, headers: dict[str, str] | None = None
) -> tuple[int, bytes, str | None]:
    outer = Lint()
    result = call_app(outer(build(htpasswd)), path, headers=headers)
    outer.verify()
    return result.status_code, result.body, result.header("WWW-Authenticate")


@pytest.mark.parametrize("path", ["/", "/missing", "/administrator"])
def test_the_public_site_needs_no_password(htpasswd_file: Path, path: str) -> None:
    status, body, challenge = get(path, htpasswd_file)
    assert status in (200, 404)
    assert challenge is None
    assert b"Admin" not in body


@pytest.mark.parametrize(
    "path", ["/admin", "/admin/", "/admin/users", "/ADMIN", "//admin", "/x/../admin"]
)
def test_admin_pages_need_a_password(htpasswd_file: Path, path: str) -> None:
    status, body, challenge = get(path, htpasswd_file)
    assert status == 401
    assert challenge == 'Basic realm="site admin", charset="UTF-8"'
    assert body == b"authentication required\n"


@pytest.mark.parametrize(
    ("script_name", "path_info"),
    [
        ("/mysite", "/admin"),  # waitress-serve --url-prefix=/mysite
        ("/mysite", "/admin/"),
        ("/mysite", "/ADMIN/users"),
        ("/admin", ""),  # the full path counts too
        ("/admin", "/users"),
    ],
)
def test_admin_pages_need_a_password_when_mounted(
    htpasswd_file: Path, script_name: str, path_info: str
) -> None:
    environ = make_environ("/", SCRIPT_NAME=script_name, PATH_INFO=path_info)
    outer = Lint()
    result = call_app(outer(build(htpasswd_file)), environ)
    outer.verify()
    assert result.status_code == 401
    assert result.body == b"authentication required\n"


def test_admin_pages_greet_the_user(htpasswd_file: Path) -> None:
    status, body, _ = get("/admin/", htpasswd_file, basic("alice", "s3cret ü"))
    assert status == 200
    assert b"Logged in as alice." in body
    assert get("/admin/", htpasswd_file, basic("alice", "wrong"))[0] == 401


def test_the_site_alone_escapes_the_user_name() -> None:
    environ = make_environ("/admin")
    environ["wsgimw.user"] = "<b>eve</b>"
    result = call_app(site_app, environ)
    assert b"&lt;b&gt;eve&lt;/b&gt;" in result.body


def test_the_site_alone_refuses_an_admin_page_without_a_user() -> None:
    # Had BasicAuth been left out or mis-mounted: a 403, not a KeyError.
    result = call_app(site_app, "/admin/")
    assert result.status_code == 403
    assert b"Logged in" not in result.body


def test_a_missing_file_stops_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["--htpasswd", str(tmp_path / "absent")])
    assert info.value.code == 2
    assert "cannot read the htpasswd file" in capsys.readouterr().err


def test_no_file_given_stops_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    with pytest.raises(SystemExit):
        main([])
    assert f"give --htpasswd FILE or set {ENV_VAR}" in capsys.readouterr().err


# -- served for real -------------------------------------------------------------


@pytest.mark.integration
def test_served_by_wsgiref_challenges_then_lets_in(htpasswd_file: Path) -> None:
    with running(
        ["-m", "recipes.admin_prefix", "--htpasswd", str(htpasswd_file)]
    ) as server:
        status, headers, body = fetch(server.url + "/admin/")
        assert status == 401
        assert (
            headers["WWW-Authenticate"] == 'Basic realm="site admin", charset="UTF-8"'
        )
        assert body == b"authentication required\n"
        status, _, body = fetch(
            server.url + "/admin/", headers=basic("alice", "s3cret ü")
        )
        assert status == 200
        assert b"Logged in as alice." in body
        status, _, _ = fetch(server.url + "/")
        assert status == 200
        # A raw request: a malformed header is a 400, never a 500.
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        try:
            connection.request("GET", "/admin/", headers={"Authorization": "Basic %%%"})
            response = connection.getresponse()
            assert response.status == 400
            assert (
                response.read()
                == b"bad Authorization header: the credentials are not valid base64\n"
            )
        finally:
            connection.close()
    assert f"curl -u USER {server.url}/admin/" in server.log


@pytest.mark.integration
def test_the_file_may_come_from_the_environment(
    htpasswd_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(htpasswd_file))
    with running(["-m", "recipes.admin_prefix"]) as server:
        status, _, _ = fetch(server.url + "/admin", headers=basic("alice", "s3cret ü"))
    assert status == 200
