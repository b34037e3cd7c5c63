"""Secrets never shown: names, environ keys, query strings."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable

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
from wsgimw.types import Environ, StartResponse


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


# -- issue 17: found under attack ------------------------------------------------------------


def test_a_query_string_is_redacted_as_a_query_not_a_url() -> None:
    # Was: split at its first '?' as a URL is, so the token before it stayed.
    shown = show_environ_value("QUERY_STRING", "token=SECRET&next=/dashboard?tab=2")
    assert shown == "'token=[redacted]&next=/dashboard?tab=2'"
    # A URL still splits at its '?'.
    shown = show_environ_value("REQUEST_URI", "/a?token=SECRET&next=/b?c=1")
    assert shown == "'/a?token=[redacted]&next=/b?c=1'"


def _retained_after(calls: Callable[[], object]) -> int:
    import gc
    import tracemalloc

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        calls()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def test_long_header_names_are_secret_and_not_kept() -> None:
    # Was: 1,024 names of any length cached for good.
    def hostile() -> None:
        for number in range(200):
            assert is_secret_environ_key(f"HTTP_X_{number}_" + "A" * 5000)

    assert _retained_after(hostile) < 50_000  # was 200 x 5 KB


def test_long_parameter_names_are_not_kept() -> None:
    def hostile() -> None:
        for number in range(200):
            name = f"n{number}" + "a" * 300  # secret (too long), not cached
            assert redact_query(f"{name}=v&b=2") == f"{name}=[redacted]&b=2"

    redact_query("warm=1")
    assert _retained_after(hostile) < 30_000  # was 200 x 300 bytes and more


def test_no_log_message_carries_raw_control_characters(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every message the package logs about a request shows what the client
    # sent escaped: one record, one line (EnvironLog's dump: one line per key).
    import logging

    from wsgimw import (
        AccessLog,
        BasicAuth,
        BearerAuth,
        EnvironLog,
        ErrorHandler,
        QueryParser,
        Rewrite,
        compose,
    )
    from wsgimw.testing import call_app

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if environ["PATH_INFO"].startswith("/boom"):
            raise ValueError("boom")
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"x" * 100]

    forged = "\n2026-01-01 00:00:00 INFO forged\x1b[31m\x85\u2028"
    stacks = [
        compose(
            AccessLog(),
            EnvironLog(response=True),
            ErrorHandler(),
            Rewrite(body=bytes.upper, buffered=True, max_size=10),
            QueryParser(errors="strict"),
        ),
        compose(ErrorHandler(), BasicAuth(users={"alice": "{SHA}" + "A" * 27 + "="})),
        compose(ErrorHandler(), BearerAuth(tokens={"t" * 32: "svc"})),
    ]
    caplog.set_level(logging.DEBUG, logger="wsgimw")
    for stack in stacks:
        for path, query, headers in itertools.product(
            ("/ok" + forged, "/boom" + forged),
            ("a=%ZZ&" + forged, "a=" + forged),
            ({}, {"Authorization": "Bearer " + "u" * 32}),
        ):
            call_app(
                stack(app),
                "/",
                method="GET\x1b",
                headers=headers,
                PATH_INFO=path,
                QUERY_STRING=query,
                REMOTE_ADDR="10.0.0.1\n",
                HTTP_USER_AGENT=forged,
                catch=True,
            )
    assert caplog.records
    for record in caplog.records:
        message = record.getMessage()
        lines = (
            message.splitlines() if record.name == "wsgimw.environlog" else [message]
        )
        for line in lines:
            assert line.isprintable(), (record.name, line)
            assert not line.startswith("2026-01-01"), (record.name, line)
    names = {record.name for record in caplog.records}
    assert {"wsgimw.accesslog", "wsgimw.environlog", "wsgimw.errors"} <= names
    assert {"wsgimw.rewrite", "wsgimw.auth", "wsgimw.query"} <= names
