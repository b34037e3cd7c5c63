"""Secrets never shown: names, environ keys, query strings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wsgimw._redact import (
    REDACTED,
    _checks_for,
    is_secret_environ_key,
    redact_query,
    secret_names,
    show_environ_value,
)


@pytest.mark.parametrize(
    "key",
    [
        "HTTP_AUTHORIZATION",
        "HTTP_COOKIE",
        "HTTP_PROXY_AUTHORIZATION",
        "HTTP_X_API_KEY",
        "HTTP_X_SESSION_ID",
        "DB_PASSWORD",
        "HTTP_X_UPSTREAM_TOKEN",
        "HTTP_X_ENCRYPTION_KEY",
        "HTTP_X_GOOG_IAP_JWT_ASSERTION",
        "HTTP_X_AMZN_OIDC_DATA",
        "PHPSESSID",
        "paste.cookies",
        "webob._parsed_cookies",
    ],
)
def test_secret_environ_keys(key: str) -> None:
    assert is_secret_environ_key(key)


@pytest.mark.parametrize(
    "key",
    ["PATH_INFO", "HTTP_ACCEPT", "HTTP_USER_AGENT", "QUERY_STRING", "HTTP_KEYBOARD"],
)
def test_ordinary_environ_keys(key: str) -> None:
    assert not is_secret_environ_key(key)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", ""),
        ("q=cats&page=2", "q=cats&page=2"),
        ("user=ann&password=hunter2", f"user=ann&password={REDACTED}"),
        ("access_token=abc&x=1", f"access_token={REDACTED}&x=1"),
        ("pass%77ord=x", f"pass%77ord={REDACTED}"),
        ("API-Key=k&key=v&monkey=ok", f"API-Key={REDACTED}&key={REDACTED}&monkey=ok"),
        ("password&flag", "password&flag"),
        ("a=1;password=x", f"a=1;password={REDACTED}"),  # ";" too: safe side
        ("q=\xe9t\xe9&sig=\xff", f"q=\xe9t\xe9&sig={REDACTED}"),
    ],
)
def test_redact_query(query: str, expected: str) -> None:
    assert redact_query(query) == expected


def test_extra_names_in_header_form_match_environ_keys() -> None:
    names = secret_names(["X-Tenant-Id"])
    assert is_secret_environ_key("HTTP_X_TENANT_ID", names)
    assert not is_secret_environ_key("HTTP_X_TENANT_ID")


def test_values_are_shown_safely() -> None:
    import io

    assert show_environ_value("HTTP_COOKIE", "a=1") == REDACTED
    assert show_environ_value("REQUEST_URI", "/r?next=x&token=t") == repr(
        f"/r?next=x&token={REDACTED}"
    )
    assert show_environ_value("wsgi.version", (1, 0)) == "(1, 0)"
    assert show_environ_value("wsgi.input", io.BytesIO()) == "<_io.BytesIO>"
    assert (
        show_environ_value(
            "webob._parsed_query_vars", ({"password": "x"}, "password=x")
        )
        == "<tuple>"
    )


def test_extra_names() -> None:
    names = secret_names(["ssn", "card.number"])
    assert redact_query("ssn=1&card.number=2&cardxnumber=3", names) == (
        f"ssn={REDACTED}&card.number={REDACTED}&cardxnumber=3"
    )
    assert secret_names() is secret_names([])


@given(st.text(alphabet=st.characters(min_codepoint=1, max_codepoint=255)))
def test_redaction_only_replaces_values(query: str) -> None:
    redacted = redact_query(query)
    assert redacted.count("&") == query.count("&")
    if "password=" in query.lower():
        assert "hunter2" not in redact_query(query + "&password=hunter2")


def test_the_name_checks_stay_bounded_as_patterns_come_and_go() -> None:
    # Middleware made and dropped again and again (app factories, reloaders,
    # test suites) each bring a pattern; the cached checks must not pile up.
    for n in range(300):
        names = secret_names([f"tenant{n}"])
        assert redact_query(f"tenant{n}=x&q=1", names) == f"tenant{n}={REDACTED}&q=1"
        assert redact_query(f"tenant{n + 1}=x", names) == f"tenant{n + 1}=x"
    assert _checks_for.cache_info().currsize <= 64
