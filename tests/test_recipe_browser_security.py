"""The browser-security recipe in-process, with Lint on both sides of each
stack (the browser drives it in tests/integration/test_browser.py)."""

from __future__ import annotations

import json
import re
from typing import Any

from recipes.browser_security import api_app, api_stack, build_api, build_page, main
from wsgimw.testing import Lint, Result, call_app, linted
from wsgimw.types import WSGIApp

PAGE_ORIGIN = "http://127.0.0.1:8001"
API_ORIGIN = "http://127.0.0.1:8000"


def request(app: WSGIApp, path: str, **options: Any) -> Result:
    outer = Lint()
    result = call_app(outer(app), path, **options)
    outer.verify()
    return result


def test_the_api_stack_with_lint_between_every_layer() -> None:
    app, lints = linted(*api_stack(PAGE_ORIGIN).layers)(api_app)
    result = call_app(
        app,
        "/api/me",
        headers={"Origin": PAGE_ORIGIN, "Cookie": "session=ann"},
    )
    for lint in lints:
        lint.verify()
    assert json.loads(result.body) == {"user": "ann"}
    assert result.header("Access-Control-Allow-Origin") == PAGE_ORIGIN
    assert result.header("Access-Control-Allow-Credentials") == "true"
    assert result.header("Vary") == "Origin"
    assert result.header("X-Content-Type-Options") == "nosniff"


def test_a_preflight_from_the_page_and_from_another_site() -> None:
    api = build_api(PAGE_ORIGIN)
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    ok = request(
        api, "/api/notes", method="OPTIONS", headers={"Origin": PAGE_ORIGIN, **asked}
    )
    assert ok.status == "204 No Content"
    assert ok.header("Access-Control-Allow-Headers") == "content-type"
    other = request(
        api,
        "/api/notes",
        method="OPTIONS",
        headers={"Origin": "http://localhost:8001", **asked},
    )
    assert other.status == "403 Forbidden"
    assert other.header("Access-Control-Allow-Origin") is None


def test_the_guard_on_the_form_endpoint() -> None:
    api = build_api(PAGE_ORIGIN)
    form = {"CONTENT_TYPE": "application/x-www-form-urlencoded"}
    refused = request(
        api,
        "/transfer",
        method="POST",
        body=b"amount=5",
        headers={"Sec-Fetch-Site": "cross-site", "Origin": "null"},
        **form,
    )
    assert refused.status == "403 Forbidden"
    passed = request(
        api,
        "/transfer",
        method="POST",
        body=b"amount=5",
        headers={"Sec-Fetch-Site": "same-origin"},
        **form,
    )
    assert passed.body == b"transferred '5'\n"
    echo = request(
        api, "/echo", method="POST", headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert json.loads(echo.body) == {"sec_fetch_site": "cross-site", "origin": None}


def test_the_other_api_routes() -> None:
    api = build_api(PAGE_ORIGIN)
    login = request(api, "/login")
    assert (
        login.header("Set-Cookie")
        == "session=demo-user; Path=/; HttpOnly; SameSite=Lax"
    )
    saved = request(
        api,
        "/api/notes",
        method="POST",
        body=b'{"text": "hi"}',
        headers={"Origin": PAGE_ORIGIN, "Cookie": "bad cookie;;="},
    )
    assert json.loads(saved.body) == {"saved": {"text": "hi"}, "user": None}
    bad = request(
        api, "/api/notes", method="POST", body=b"{", headers={"Origin": PAGE_ORIGIN}
    )
    assert bad.status == "400 Bad Request"
    assert request(api, "/form").header("Content-Type") == "text/html; charset=utf-8"
    assert request(api, "/nope").status == "404 Not Found"
    assert request(api_app, "/api/me", CONTENT_LENGTH="x").status == "200 OK"


def test_the_page_carries_its_nonce_and_the_policy() -> None:
    page = build_page(API_ORIGIN)
    result = request(page, "/")
    policy = result.header("Content-Security-Policy") or ""
    nonce = re.search(r"'nonce-([\w-]+)'", policy)
    assert nonce is not None
    assert f'<script nonce="{nonce[1]}">' in result.body.decode()
    assert policy == (
        f"default-src 'self'; script-src 'nonce-{nonce[1]}'; connect-src 'self' "
        f"{API_ORIGIN}; form-action 'self' {API_ORIGIN}; base-uri 'none'; "
        "frame-ancestors 'none'"
    )
    assert request(page, "/x").status == "404 Not Found"


def test_main_refuses_a_bad_port() -> None:
    import pytest

    with pytest.raises(SystemExit):
        main(["--port", "nope"])
