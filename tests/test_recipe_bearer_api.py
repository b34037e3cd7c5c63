"""The bearer-API recipe (recipes/bearer_api.py): tokens from API_TOKENS or
a verifier, /health open."""

from __future__ import annotations

import json
import time

import pytest
from servers import fetch, running

from recipes.bearer_api import ENV_VAR, TokenStore, build, main, parse_tokens
from wsgimw.testing import Lint, call_app
from wsgimw.types import WSGIApp

CI = "ci-token-0123456789abcdef"
OPS = "ops-token-0123456789abcdef"


def get(
    app: WSGIApp, path: str, token: str | None = None
) -> tuple[int, object, str | None]:
    outer = Lint()
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    result = call_app(outer(app), path, headers=headers)
    outer.verify()
    body = json.loads(result.body) if result.status_code in (200, 404) else result.body
    return result.status_code, body, result.header("WWW-Authenticate")


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        (f"ci:{CI}, {OPS}", {CI: "ci", OPS: "bearer"}),
        (f" ,{CI},,", {CI: "bearer"}),
        ("", {}),
        (f"team:a:{CI}", {CI: "team:a"}),  # rejected later: ':' in a user name
    ],
)
def test_parse_tokens(text: str, tokens: dict[str, str]) -> None:
    assert parse_tokens(text) == tokens


def test_tokens_from_the_environment_format() -> None:
    app = build(tokens=parse_tokens(f"ci:{CI},{OPS}"))
    assert get(app, "/whoami", CI)[:2] == (200, {"user": "ci"})
    assert get(app, "/whoami", OPS)[:2] == (200, {"user": "bearer"})
    assert get(app, "/nope", OPS)[:2] == (404, {"error": "not found"})
    status, _, challenge = get(app, "/whoami")
    assert (status, challenge) == (401, 'Bearer realm="api"')
    status, _, challenge = get(app, "/whoami", "x" * 20)
    assert status == 401
    assert challenge is not None
    assert 'error="invalid_token"' in challenge


@pytest.mark.parametrize("path", ["/health", "/health/"])
def test_health_is_open(path: str) -> None:
    assert get(build(tokens={CI: "ci"}), path)[:2] == (200, {"status": "ok"})


def test_healthz_is_not_health() -> None:
    assert get(build(tokens={CI: "ci"}), "/healthz")[0] == 401


def test_a_token_store_issues_expires_and_revokes() -> None:
    now = [0.0]
    store = TokenStore(clock=lambda: now[0])
    app = build(verify=store.verify)
    token = store.issue("deploy-bot", seconds=60)
    other = store.issue("ops")
    assert token not in repr(store._tokens)
    assert get(app, "/whoami", token)[:2] == (200, {"user": "deploy-bot"})
    now[0] = 60.0
    assert get(app, "/whoami", token)[0] == 401  # expired
    assert get(app, "/whoami", token)[0] == 401  # and forgotten
    assert get(app, "/whoami", other)[0] == 200
    store.revoke(other)
    store.revoke(other)  # twice is fine
    assert get(app, "/whoami", other)[0] == 401


def test_no_tokens_stops_at_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ENV_VAR, " , ")
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert f"set {ENV_VAR} to one or more tokens" in capsys.readouterr().err


def test_a_short_token_stops_at_start_without_showing_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(ENV_VAR, "ci:tooshort")
    with pytest.raises(SystemExit):
        main([])
    err = capsys.readouterr().err
    assert "shorter than 16 characters" in err
    assert "tooshort" not in err


def test_tokens_the_wrong_way_round_stop_at_start_without_showing_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "Zq8vN3rT0kLp5sXw2yBd7fHj"
    monkeypatch.setenv(ENV_VAR, f"{CI}, {secret}:ops")  # TOKEN:NAME, not NAME:TOKEN
    with pytest.raises(SystemExit):
        main([])
    err = capsys.readouterr().err
    assert "the 2nd entry is shorter than 16 characters" in err
    assert f"each item in {ENV_VAR} is TOKEN or NAME:TOKEN" in err
    assert secret not in err


# -- served for real -------------------------------------------------------------


@pytest.mark.integration
def test_served_by_wsgiref(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_VAR, f"ci:{CI}")
    with running(["-m", "recipes.bearer_api"]) as server:
        assert fetch(server.url + "/health")[0] == 200
        status, headers, _ = fetch(server.url + "/whoami")
        assert (status, headers["WWW-Authenticate"]) == (401, 'Bearer realm="api"')
        status, _, body = fetch(
            server.url + "/whoami", headers={"Authorization": f"Bearer {CI}"}
        )
        assert (status, json.loads(body)) == (200, {"user": "ci"})
        status, headers, _ = fetch(
            server.url + f"/whoami?access_token={CI}",
            headers={"Authorization": f"Bearer {CI}"},
        )
        assert status == 400
        assert 'error="invalid_request"' in headers["WWW-Authenticate"]
        # wsgiref logs a request after answering it: wait (bounded) for the line.
        deadline = time.monotonic() + 10
        while "access_token" not in server.log and time.monotonic() < deadline:
            time.sleep(0.05)
    assert "with 1 token(s)" in server.log
    # The server's own access log shows URLs: why a token in the query is
    # refused. Nothing else printed it.
    leaks = [line for line in server.log.splitlines() if CI in line]
    assert len(leaks) == 1
    assert f"/whoami?access_token={CI} " in leaks[0]
