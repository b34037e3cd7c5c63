"""RateLimit: budgets, keys, headers, storage failures, the fault matrix.

The real redis-server (shared budgets between apps and gunicorn workers, the
server stopped mid-run) is tested in tests/integration/test_scaleout.py.
Here: the memory storage, and real redis-py clients against a port where
nothing listens (refused) and one where nothing answers (a hung server).
"""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import limits
import limits.storage
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from servers import free_port

from wsgimw.ratelimit import STRATEGIES, RateLimit
from wsgimw.testing import FAULTS, Fault, Lint, Result, call_app, check_fault
from wsgimw.types import Environ, StartResponse


class App:
    """Counts the calls that reached it."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        self.calls += 1
        start_response(
            "200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")]
        )
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [b"ok"]


def run(
    limit: RateLimit, app: App | None = None, path: str = "/", **options: Any
) -> Result:
    """One request with a Lint on each side."""
    outer, inner = Lint(below="RateLimit"), Lint(above="RateLimit")
    wrapped = outer(limit(inner(app or App())))
    result = call_app(wrapped, path, **options)
    outer.verify()
    inner.verify()
    return result


@pytest.fixture
def warnings_logged() -> Iterator[list[logging.LogRecord]]:
    kept: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            kept.append(record)

    logger = logging.getLogger("wsgimw.ratelimit")
    handler = Keep()
    logger.addHandler(handler)
    try:
        yield kept
    finally:
        logger.removeHandler(handler)


# -- the budget ---------------------------------------------------------------------


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_over_the_limit_gets_429_and_the_app_is_not_called(strategy: str) -> None:
    app = App()
    limit = RateLimit("3/minute", strategy=strategy)  # type: ignore[arg-type]
    statuses = [run(limit, app).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    assert app.calls == 3


def test_429_carries_retry_after_and_ratelimit_headers() -> None:
    limit = RateLimit("1/minute")
    run(limit)
    result = run(limit)
    assert result.status == "429 Too Many Requests"
    retry = result.header("Retry-After")
    assert retry is not None
    assert retry.isdigit()
    assert 1 <= int(retry) <= 60
    assert result.header("RateLimit-Limit") == "1"
    assert result.header("RateLimit-Remaining") == "0"
    reset = result.header("RateLimit-Reset")
    assert reset is not None
    assert reset.isdigit()
    assert int(reset) <= 60
    assert result.header("RateLimit-Policy") == "1;w=60"
    assert result.header("Content-Type") == "text/plain; charset=utf-8"
    assert b"retry in" in result.body


def test_429_to_head_has_no_body() -> None:
    limit = RateLimit("1/minute")
    run(limit, method="HEAD")
    result = run(limit, method="HEAD")
    assert result.status_code == 429
    assert result.body == b""


def test_retry_after_is_never_more_than_the_window() -> None:
    class AheadOfUs(limits.storage.MemoryStorage):
        """A storage whose clock runs a little ahead of this process's."""

        def get_expiry(self, key: str) -> float:
            return super().get_expiry(key) + 0.5

    limit = RateLimit("1/minute", storage=AheadOfUs())
    run(limit)
    refused = run(limit)
    assert refused.header("Retry-After") == "60"
    assert refused.header("RateLimit-Reset") == "60"


def test_headers_on_allowed_responses_only_when_asked() -> None:
    quiet = RateLimit("5/minute")
    assert run(quiet).header("RateLimit-Limit") is None
    loud = RateLimit("5/minute", headers=True)
    first, second = run(loud), run(loud)
    assert first.header("RateLimit-Limit") == "5"
    assert first.header("RateLimit-Remaining") == "4"
    assert second.header("RateLimit-Remaining") == "3"
    assert first.header("RateLimit-Policy") == "5;w=60"


def test_the_apps_own_ratelimit_headers_win() -> None:
    def own(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response(
            "200 OK",
            [
                ("Content-Type", "text/plain"),
                ("Content-Length", "0"),
                ("RateLimit-Limit", "7"),
            ],
        )
        return []

    result = call_app(RateLimit("5/minute", headers=True)(own), "/")
    assert [v for k, v in result.headers if k == "RateLimit-Limit"] == ["7"]
    assert result.header("RateLimit-Remaining") is None


def test_several_limits_each_must_hold_and_the_tightest_is_shown() -> None:
    limit = RateLimit("2/second; 3/minute", headers=True)
    first = run(limit)
    # 2/second has 1 left, 3/minute has 2 left: the tighter one is shown.
    assert first.header("RateLimit-Limit") == "2"
    assert first.header("RateLimit-Remaining") == "1"
    assert run(limit).status_code == 200
    refused = run(limit)
    assert refused.status_code == 429
    assert refused.header("RateLimit-Policy") == "2;w=1"
    time.sleep(1.05)  # the per-second window passes; the per-minute one holds
    assert run(limit).status_code == 200
    refused = run(limit)
    assert refused.status_code == 429
    assert refused.header("RateLimit-Policy") == "3;w=60"


def test_separately_built_instances_share_a_storage_instance() -> None:
    storage = limits.storage.MemoryStorage()
    one, two = (
        RateLimit("2/minute", storage=storage),
        RateLimit("2/minute", storage=storage),
    )
    assert [run(one).status_code, run(two).status_code, run(one).status_code] == [
        200,
        200,
        429,
    ]
    separate = RateLimit("2/minute", storage=storage, scope="other")
    assert run(separate).status_code == 200


def test_each_strategy_counts_under_keys_of_its_own() -> None:
    storage = limits.storage.MemoryStorage()
    fixed = RateLimit("1/minute", storage=storage)
    sliding = RateLimit("1/minute", storage=storage, strategy="sliding-window-counter")
    assert [run(fixed).status_code, run(sliding).status_code] == [200, 200]
    assert any(":fixed-window/" in key for key in storage.storage)
    assert any(":sliding-window-counter/" in key for key in storage.storage)


# -- keys -----------------------------------------------------------------------------


def test_key_client_is_remote_addr_never_x_forwarded_for() -> None:
    limit = RateLimit("1/minute")
    assert run(limit, REMOTE_ADDR="10.0.0.1").status_code == 200
    spoofed = run(
        limit, REMOTE_ADDR="10.0.0.1", headers={"X-Forwarded-For": "192.0.2.9"}
    )
    assert spoofed.status_code == 429
    assert run(limit, REMOTE_ADDR="10.0.0.2").status_code == 200


def test_behind_proxy_headers_each_real_client_has_its_budget() -> None:
    from wsgimw import ProxyHeaders, compose

    app = compose(ProxyHeaders(trusted=["10.0.0.0/8"]), RateLimit("1/minute"))(App())

    def via(proxy: str, forwarded_for: str) -> int:
        result = call_app(
            app, "/", REMOTE_ADDR=proxy, headers={"X-Forwarded-For": forwarded_for}
        )
        return result.status_code

    assert via("10.0.0.1", "192.0.2.1") == 200
    assert via("10.0.0.2", "192.0.2.1") == 429  # same client, other proxy
    assert via("10.0.0.1", "192.0.2.2") == 200  # another client
    # An untrusted sender's X-Forwarded-For is ignored: its own address counts.
    assert via("198.51.100.7", "192.0.2.3") == 200
    assert via("198.51.100.7", "192.0.2.4") == 429


def test_key_user_falls_back_to_the_client() -> None:
    limit = RateLimit("1/minute", key="user")
    assert run(limit, REMOTE_USER="alice", REMOTE_ADDR="10.0.0.1").status_code == 200
    assert run(limit, REMOTE_USER="bob", REMOTE_ADDR="10.0.0.1").status_code == 200
    assert run(limit, REMOTE_USER="alice", REMOTE_ADDR="10.0.0.2").status_code == 429
    assert run(limit, REMOTE_ADDR="10.0.0.1").status_code == 200  # anonymous
    assert run(limit, REMOTE_ADDR="10.0.0.1").status_code == 429
    long_name = "x" * 500
    assert run(limit, REMOTE_USER=long_name).status_code == 200
    assert run(limit, REMOTE_USER=long_name).status_code == 429


def test_key_header_is_hashed_and_falls_back_to_the_client() -> None:
    storage = limits.storage.MemoryStorage()
    limit = RateLimit("1/minute", key="header:X-Api-Key", storage=storage)
    secret = "sk-live-very-secret"
    assert run(limit, headers={"X-Api-Key": secret}).status_code == 200
    assert run(limit, headers={"X-Api-Key": secret}).status_code == 429
    assert run(limit, headers={"X-Api-Key": "another"}).status_code == 200
    assert run(limit).status_code == 200  # no key: the client's budget
    assert all(secret not in key for key in storage.storage)


def test_key_content_type_header() -> None:
    limit = RateLimit("1/minute", key="header:Content-Type")
    assert run(limit, CONTENT_TYPE="a/b").status_code == 200
    assert run(limit, CONTENT_TYPE="a/b").status_code == 429


def test_key_global_is_one_budget() -> None:
    limit = RateLimit("2/minute", key="global")
    codes = [run(limit, REMOTE_ADDR=f"10.0.0.{n}").status_code for n in range(3)]
    assert codes == [200, 200, 429]


def test_key_function_none_means_unlimited() -> None:
    def tenant(environ: Environ) -> str | None:
        return environ.get("HTTP_X_TENANT")

    storage = limits.storage.MemoryStorage()
    limit = RateLimit("1/minute", key=tenant, storage=storage)
    assert run(limit).status_code == 200
    assert run(limit).status_code == 200
    assert run(limit, headers={"X-Tenant": "a"}).status_code == 200
    assert run(limit, headers={"X-Tenant": "a"}).status_code == 429
    odd = "a/b\x01" + "c" * 300  # stored hashed
    assert run(limit, headers={"X-Tenant": odd}).status_code == 200
    assert run(limit, headers={"X-Tenant": odd}).status_code == 429
    assert all("\x01" not in key for key in storage.storage)


def test_key_function_must_return_str() -> None:
    limit = RateLimit("1/minute", key=lambda environ: 42)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="must return a str or None"):
        call_app(limit(App()), "/")


# -- exempt paths and cost ----------------------------------------------------------


def test_exempt_paths_and_everything_under_them() -> None:
    limit = RateLimit("1/minute", exempt=["/health", "/static/"])
    for path in ["/health", "/health/db", "/static/app.css", "/health", "/static/"]:
        assert run(limit, path=path).status_code == 200, path
    assert run(limit, path="/").status_code == 200
    assert run(limit, path="/healthy").status_code == 429
    # Dot segments and doubled slashes are never exempt.
    assert run(limit, path="/health/../admin").status_code == 429
    assert run(limit, path="/health//x").status_code == 429


def test_cost_function_and_free_requests() -> None:
    def cost(environ: Environ) -> int:
        return {"GET": 1, "POST": 3, "OPTIONS": 0}[environ["REQUEST_METHOD"]]

    app = App()
    limit = RateLimit("4/minute", cost=cost)
    assert run(limit, app, method="POST").status_code == 200
    assert run(limit, app, method="OPTIONS").status_code == 200
    assert run(limit, app).status_code == 200
    assert run(limit, app).status_code == 429
    assert run(limit, app, method="OPTIONS").status_code == 200
    assert app.calls == 4


def test_fixed_cost() -> None:
    limit = RateLimit("4/minute", cost=2)
    assert [run(limit).status_code for _ in range(3)] == [200, 200, 429]


@pytest.mark.parametrize("bad", [-1, 1.5, "1", None])
def test_cost_function_must_return_a_whole_number(bad: object) -> None:
    limit = RateLimit("1/minute", cost=lambda environ: bad)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="whole number >= 0"):
        call_app(limit(App()), "/")


# -- the storage fails: fail open or 503, never a 500, never a hang ------------------


def _refused_uri() -> str:
    return f"redis://127.0.0.1:{free_port()}/0"


def test_storage_down_fail_open_lets_requests_through(
    warnings_logged: list[logging.LogRecord],
) -> None:
    app = App()
    limit = RateLimit("1/minute", storage=_refused_uri(), headers=True)
    results = [run(limit, app) for _ in range(3)]
    assert [r.status_code for r in results] == [200, 200, 200]
    assert app.calls == 3
    assert results[0].header("RateLimit-Limit") is None
    assert len(warnings_logged) == 1  # once per interval, not per request
    message = warnings_logged[0].getMessage()
    assert "ConnectionError" in message
    assert "requests pass unlimited" in message


def test_flask_limiter_answers_500_when_redis_is_down() -> None:
    """The peer's failure (alisaifee/flask-limiter #319, #417), on the same
    refused Redis where RateLimit lets the request through or answers 503."""
    from flask import Flask
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    flask_app = Flask("peer")
    flask_app.logger.disabled = True  # its traceback is the point, not noise

    @flask_app.route("/")
    def hello() -> str:
        return "ok"

    uri = _refused_uri()
    Limiter(
        get_remote_address, app=flask_app, default_limits=["5/minute"], storage_uri=uri
    )
    assert flask_app.test_client().get("/").status_code == 500
    assert run(RateLimit("5/minute", storage=uri)).status_code == 200
    assert run(RateLimit("5/minute", storage=uri, fail_open=False)).status_code == 503


def test_storage_down_fail_closed_answers_503(
    warnings_logged: list[logging.LogRecord],
) -> None:
    app = App()
    limit = RateLimit("1/minute", storage=_refused_uri(), fail_open=False)
    result = run(limit, app)
    assert result.status == "503 Service Unavailable"
    assert result.header("Retry-After") == "1"
    assert app.calls == 0
    assert "requests get 503" in warnings_logged[0].getMessage()


def test_the_warning_never_holds_the_storage_password(
    warnings_logged: list[logging.LogRecord],
) -> None:
    uri = f"redis://:hunter2secret@127.0.0.1:{free_port()}/0"
    run(RateLimit("1/minute", storage=uri))
    assert warnings_logged
    for record in warnings_logged:
        assert "hunter2secret" not in record.getMessage()


def test_log_interval_zero_logs_every_failure(
    warnings_logged: list[logging.LogRecord],
) -> None:
    limit = RateLimit("1/minute", storage=_refused_uri(), log_interval=0)
    run(limit)
    run(limit)
    assert len(warnings_logged) == 2


def test_a_hung_storage_costs_at_most_the_timeout() -> None:
    # A server that accepts connections and never answers: each call waits
    # for its socket timeout, once (no retries), then the request passes.
    with socket.socket() as hung:
        hung.bind(("127.0.0.1", 0))
        hung.listen(16)
        port = hung.getsockname()[1]
        app = App()
        limit = RateLimit(
            "1/minute", storage=f"redis://127.0.0.1:{port}/0", timeout=0.2
        )
        started = time.monotonic()
        result = run(limit, app)
        elapsed = time.monotonic() - started
    assert result.status_code == 200
    assert app.calls == 1
    # Bounded: one timeout, not redis-py's three retries with backoff.
    assert elapsed < 5


def test_a_cluster_down_at_start_is_built_at_a_later_request(
    warnings_logged: list[logging.LogRecord],
) -> None:
    # Redis Cluster connects when it is built: RateLimit still starts.
    uri = f"redis+cluster://127.0.0.1:{free_port()}"
    limit = RateLimit("1/minute", storage=uri, fail_open=False, log_interval=0)
    assert "built at the next request" in warnings_logged[0].getMessage()
    assert "redis+cluster:// storage" in repr(limit)
    assert run(limit).status_code == 503
    assert run(RateLimit("1/minute", storage=uri)).status_code == 200


def test_a_deferred_storage_is_built_once_it_answers(
    monkeypatch: pytest.MonkeyPatch, warnings_logged: list[logging.LogRecord]
) -> None:
    calls = []

    def flaky(uri: str, **options: Any) -> limits.storage.Storage:
        calls.append(uri)
        if len(calls) < 3:
            raise ConnectionError("not yet")
        return limits.storage.MemoryStorage()

    monkeypatch.setattr(limits.storage, "storage_from_string", flaky)
    limit = RateLimit("1/minute", storage="redis+cluster://node:7000", log_interval=0)
    assert run(limit).status_code == 200  # failed open: still unreachable
    assert [run(limit).status_code for _ in range(3)] == [200, 429, 429]
    assert len(calls) == 3  # built once, then kept
    assert limit._connect() is limit._connect()  # as a second thread finds it
    assert "ConnectionError" in warnings_logged[-1].getMessage()


def test_a_storage_refusing_its_options_fails_at_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuses(uri: str, **options: Any) -> limits.storage.Storage:
        raise TypeError("unexpected keyword argument 'nope'")

    monkeypatch.setattr(limits.storage, "storage_from_string", refuses)
    with pytest.raises(TypeError, match="nope"):
        RateLimit("1/minute", storage="redis://127.0.0.1:6379")


class BrokenStorage(limits.storage.MemoryStorage):
    """A storage whose every call raises something unexpected."""

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        raise RuntimeError("disk on fire\x1b[31m\nFAKE LOG LINE")


def test_any_storage_error_is_caught_and_logged_safely(
    warnings_logged: list[logging.LogRecord],
) -> None:
    limit = RateLimit("1/minute", storage=BrokenStorage(), fail_open=False)
    assert run(limit).status_code == 503
    message = warnings_logged[0].getMessage()
    assert "\n" not in message
    assert "\x1b" not in message
    assert "\\x1b" in message


class StatsBroken(limits.storage.MemoryStorage):
    """Counts, but cannot say how much is left."""

    def get_expiry(self, key: str) -> float:
        raise ConnectionError("stats unavailable")


def test_refused_when_the_window_cannot_be_read(
    warnings_logged: list[logging.LogRecord],
) -> None:
    limit = RateLimit("1/minute", storage=StatsBroken(), fail_open=False)
    assert run(limit).status_code == 200
    refused = run(limit)
    assert refused.status_code == 429
    assert refused.header("Retry-After") == "60"
    assert refused.header("RateLimit-Remaining") == "0"
    assert "wait a whole window" in warnings_logged[0].getMessage()


def test_allowed_without_headers_when_the_window_cannot_be_read(
    warnings_logged: list[logging.LogRecord],
) -> None:
    app = App()
    limit = RateLimit("5/minute", storage=StatsBroken(), headers=True, fail_open=False)
    result = run(limit, app)
    assert result.status_code == 200  # counted and allowed: not a 503
    assert result.header("RateLimit-Limit") is None
    assert app.calls == 1
    assert "without RateLimit headers" in warnings_logged[0].getMessage()


# -- the contract ---------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_allowed(fault: Fault) -> None:
    check_fault(RateLimit("1000/minute"), fault)


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_allowed_with_headers(fault: Fault) -> None:
    result = check_fault(RateLimit("1000/minute", headers=True), fault)
    if result.status_code == 200:
        assert result.header("RateLimit-Limit") == "1000"


#: Refused, the app is never called: only the rows where it does not raise
#: (or replace its response) can come out the same.
CALM = [f for f in FAULTS if f.raises is None and not f.name.startswith("exc-info")]


@pytest.mark.parametrize("fault", CALM, ids=str)
def test_fault_matrix_refused(fault: Fault) -> None:
    limit = RateLimit("1/minute", key="global")
    call_app(limit(App()), "/")
    result = check_fault(limit, fault)
    assert result.status_code == 429


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_storage_down(fault: Fault) -> None:
    check_fault(
        RateLimit("1/minute", storage=BrokenStorage(), log_interval=3600), fault
    )


@settings(max_examples=60, deadline=None)
@given(
    address=st.text(max_size=60),
    user=st.text(max_size=60),
    api_key=st.text(
        alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=80
    ),
)
def test_hostile_keys_never_give_500(address: str, user: str, api_key: str) -> None:
    for key in ("client", "user", "header:X-Api-Key"):
        limit = RateLimit("2/minute", key=key)
        environ_extra: dict[str, Any] = {"REMOTE_ADDR": address}
        if user:
            environ_extra["REMOTE_USER"] = user
        result = call_app(
            limit(App()), "/", headers={"X-Api-Key": api_key}, **environ_extra
        )
        assert result.status_code == 200


# -- options --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"limit": 100}, TypeError, "limit must be a str"),
        ({"limit": "lots"}, ValueError, "limits syntax"),
        ({"limit": "0/minute"}, ValueError, "at least 1"),
        ({"key": "ip"}, ValueError, "'header:NAME'"),
        ({"key": "header:bad name"}, ValueError, "'header:NAME'"),
        ({"key": 3}, TypeError, "key must be"),
        ({"storage": 3}, TypeError, "storage must be"),
        ({"storage": "nosuch://x"}, ValueError, "known schemes"),
        ({"storage": "async+memory://"}, ValueError, "drop 'async\\+'"),
        ({"storage_options": [1]}, TypeError, "storage_options must be a dict"),
        ({"strategy": "leaky-bucket"}, ValueError, "strategy must be one of"),
        ({"fail_open": "false"}, TypeError, "fail_open must be True or False"),
        ({"headers": 1}, TypeError, "headers must be True or False"),
        ({"timeout": 0}, ValueError, "more than 0"),
        ({"timeout": "1"}, TypeError, "number of seconds"),
        ({"timeout": float("inf")}, TypeError, "number of seconds"),
        ({"timeout": True}, TypeError, "number of seconds"),
        ({"log_interval": -1}, ValueError, "log_interval"),
        ({"exempt": "/health"}, TypeError, "list of paths"),
        ({"exempt": [3]}, TypeError, "must be str"),
        ({"exempt": ["health"]}, ValueError, "must start with '/'"),
        ({"exempt": ["/"]}, ValueError, "leave RateLimit out"),
        ({"exempt": ["/a/*"]}, ValueError, "plain decoded path"),
        ({"exempt": ["/a/../b"]}, ValueError, "plain decoded path"),
        ({"exempt": ["/a?b"]}, ValueError, "plain decoded path"),
        ({"cost": 0}, TypeError, "cost must be"),
        ({"cost": True}, TypeError, "cost must be"),
        ({"scope": "a/b"}, ValueError, "scope"),
        ({"scope": 3}, ValueError, "scope"),
        ({"logger": "x"}, TypeError, "logging.getLogger"),
    ],
)
def test_bad_options_fail_at_construction(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    limit = options.pop("limit", "1/minute")
    with pytest.raises(error, match=message):
        RateLimit(limit, **options)


def test_storage_options_need_a_uri() -> None:
    with pytest.raises(ValueError, match="already built"):
        RateLimit(
            "1/minute",
            storage=limits.storage.MemoryStorage(),
            storage_options={"x": 1},
        )


class FixedOnly(limits.storage.Storage):
    """A storage with no moving or sliding window support."""

    STORAGE_SCHEME = None

    @property
    def base_exceptions(self) -> type[Exception]:
        return OSError

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        return amount

    def get(self, key: str) -> int:
        return 0

    def get_expiry(self, key: str) -> float:
        return 0.0

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        return None

    def clear(self, key: str) -> None:
        return None


@pytest.mark.parametrize("strategy", ["moving-window", "sliding-window-counter"])
def test_a_strategy_the_storage_lacks_is_refused(strategy: str) -> None:
    with pytest.raises(ValueError, match="does not support"):
        RateLimit("1/minute", storage=FixedOnly(), strategy=strategy)  # type: ignore[arg-type]
    assert run(RateLimit("1/minute", storage=FixedOnly())).status_code == 200


def test_storage_options_reach_the_client() -> None:
    limit = RateLimit(
        "1/minute",
        storage="redis://127.0.0.1:1/0",
        timeout=0.3,
        storage_options={"socket_connect_timeout": 0.1},
    )
    assert limit._limiter is not None
    storage: Any = limit._limiter.storage
    kwargs = storage.storage.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] == 0.3
    assert kwargs["socket_connect_timeout"] == 0.1
    assert kwargs["retry"].get_retries() == 0


def test_timeouts_per_scheme() -> None:
    from wsgimw.ratelimit import _storage_timeouts

    sentinel = _storage_timeouts("redis+sentinel", 1.0)
    assert sentinel["socket_timeout"] == 1.0
    assert sentinel["retry"].get_retries() == 0
    assert sentinel["sentinel_kwargs"]["socket_connect_timeout"] == 1.0
    assert sentinel["sentinel_kwargs"]["retry"].get_retries() == 0
    assert _storage_timeouts("redis+cluster", 1.0)["retry"].get_retries() == 0
    assert _storage_timeouts("valkey", 1.0) == {
        "socket_timeout": 1.0,
        "socket_connect_timeout": 1.0,
    }
    assert _storage_timeouts("memcached", 0.5) == {
        "connect_timeout": 0.5,
        "timeout": 0.5,
    }
    assert _storage_timeouts("mongodb", 0.25)["socketTimeoutMS"] == 250
    assert _storage_timeouts("memory", 1.0) == {}


def test_repr() -> None:
    def tenant(environ: Environ) -> str:
        return "t"

    assert repr(RateLimit("5/minute")) == (
        "RateLimit('5/minute', key='client', storage=MemoryStorage)"
    )
    assert "key='tenant'" in repr(RateLimit("5/minute", key=tenant))


def test_import_wsgimw_needs_neither_extra() -> None:
    code = """
import sys
sys.modules["limits"] = None  # as if not installed
sys.modules["prometheus_client"] = None
import wsgimw
from wsgimw import compose, Compress
for name in ("RateLimit", "Metrics"):
    try:
        getattr(wsgimw, name)
    except ImportError:
        print(name, "needs its extra")
"""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == [
        "RateLimit needs its extra",
        "Metrics needs its extra",
    ]


def test_lazy_exports() -> None:
    import wsgimw

    assert wsgimw.RateLimit is RateLimit
    assert "RateLimit" in wsgimw.__all__
    assert "Metrics" in wsgimw.__all__
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        wsgimw.Nope  # noqa: B018


# -- PasteDeploy ----------------------------------------------------------------------


def app_factory(global_conf: dict[str, str], **local_conf: str) -> App:
    return App()


def api_key(environ: Environ) -> str | None:
    return environ.get("HTTP_X_API_KEY")


def test_pastedeploy_filter(tmp_path: Path) -> None:
    from paste.deploy import loadapp

    ini = tmp_path / "site.ini"
    ini.write_text(
        """
[pipeline:main]
pipeline = limit app

[filter:limit]
use = egg:wsgimw#ratelimit
limit = 2/minute; 100/hour
key_function = test_ratelimit:api_key
storage = memory://
strategy = moving-window
exempt = /health, /static
headers = true
fail_open = false
timeout = 0.25
log_interval = 10

[app:app]
paste.app_factory = test_ratelimit:app_factory
"""
    )
    app = loadapp(f"config:{ini}")
    key = {"X-Api-Key": "k1"}
    codes = [call_app(app, "/", headers=key).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert call_app(app, "/health", headers=key).status_code == 200
    assert call_app(app, "/").status_code == 200  # no key: not limited
    assert (
        call_app(app, "/", headers={"X-Api-Key": "k2"}).header("RateLimit-Limit") == "2"
    )


def test_pastedeploy_options() -> None:
    from wsgimw.pastedeploy import ratelimit

    limit = ratelimit({}, limit="1/minute", key="user", cost="1", scope="api")
    assert isinstance(limit, RateLimit)
    assert isinstance(
        ratelimit({}, limit="5/minute", cost_function="test_ratelimit:api_key"),
        RateLimit,
    )
    with pytest.raises(ValueError, match="needs a limit"):
        ratelimit({}, key="user")
    with pytest.raises(ValueError, match="key or key_function, not both"):
        ratelimit({}, limit="1/minute", key="user", key_function="os:getcwd")
    with pytest.raises(ValueError, match="did you mean storage"):
        ratelimit({}, limit="1/minute", storge="memory://")
    with pytest.raises(ValueError, match="true or false"):
        ratelimit({}, limit="1/minute", fail_open="perhaps")
