"""RequestId and RequestIdFilter: one id per request, everywhere it is logged."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from wsgimw import AccessLog, ErrorHandler, RequestId, RequestIdFilter, compose
from wsgimw.pastedeploy import request_id
from wsgimw.requestid import ENVIRON_KEY, current_request_id, is_valid_id
from wsgimw.testing import (
    FAULTS,
    Fault,
    Lint,
    Result,
    call_app,
    check_fault,
    make_environ,
)
from wsgimw.types import Environ, Middleware, StartResponse

NEW_ID = re.compile(r"[0-9a-f]{32}\Z")
app_logger = logging.getLogger("test_requestid.app")


def logging_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """Logs from its call, from each chunk and from close()."""
    app_logger.warning("called")
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("X-Request-ID", "app's own")]
    )
    return LoggingBody()


class LoggingBody:
    def __init__(self) -> None:
        self.closed = 0

    def __iter__(self) -> Iterator[bytes]:
        app_logger.warning("iterating")
        yield b"a"
        app_logger.warning("second chunk")
        yield b"b"

    def close(self) -> None:
        self.closed += 1
        app_logger.warning("closed")


class Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(RequestIdFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def kept() -> Iterator[Keep]:
    handler = Keep()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def request(middleware: Any, app: Any = logging_app, **environ: Any) -> Result:
    outer, inner = Lint(), Lint()
    result = call_app(outer(middleware(inner(app))), make_environ("/", **environ))
    outer.verify()
    inner.verify()
    return result


# -- which ids are kept ----------------------------------------------------------------


@pytest.mark.parametrize(
    "incoming",
    [
        # asgi-correlation-id #12: a UUID in standard form, not truncated.
        "611AEE7D-1206-4E03-A2A6-97C238D982FD",
        # asgi-correlation-id #8: a load balancer's id, not a UUID at all.
        "035873B9-9CBC_AC14000A-0050_6196BA3C_5350B2D7-1A16",
        # nginx's $request_id; a W3C traceparent; Cloud Trace; an ALB root.
        "c10f7ebebd95e5bb8749430d3485370c",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "105445aa7843bc8bf206b120001000/1;o=1",
        "Root=1-67891233-abcdef012345678912345678",
        "x" * 128,
        "a",
    ],
)
def test_well_formed_incoming_id_is_kept_whole(incoming: str) -> None:
    seen: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(environ[ENVIRON_KEY])
        start_response("200 OK", [])
        return []

    result = request(RequestId(), app, HTTP_X_REQUEST_ID=incoming)
    assert seen == [incoming]
    assert result.header("X-Request-ID") == incoming


@pytest.mark.parametrize(
    "incoming",
    [
        "",
        "x" * 129,  # django-log-request-id #52: unbounded ids into logs
        "abc\r\nSet-Cookie: a=b",
        "abc\ndef",
        "tab\there",
        "with space",
        "caf\u00e9",
        "\u2028".encode().decode("latin-1"),  # U+2028 as a server passes it
        '"quoted"',
        "a,b",
        "<script>",
        "{x}",
        "back\\slash",
        "it's",
        "\x00",
    ],
)
def test_malformed_incoming_id_is_replaced(incoming: str) -> None:
    result = request(RequestId(), HTTP_X_REQUEST_ID=incoming)
    made = result.header("X-Request-ID")
    assert made is not None
    assert NEW_ID.match(made)


def test_no_incoming_id_gets_a_new_one_each_time() -> None:
    ids = {request(RequestId()).header("X-Request-ID") for _ in range(50)}
    assert len(ids) == 50
    assert all(NEW_ID.match(i or "") for i in ids)


def test_the_response_carries_one_id_replacing_the_apps() -> None:
    result = request(RequestId(), HTTP_X_REQUEST_ID="abc")
    assert [v for k, v in result.headers if k.lower() == "x-request-id"] == ["abc"]


def test_incoming_false_always_makes_one() -> None:
    result = request(RequestId(incoming=False), HTTP_X_REQUEST_ID="abc")
    assert NEW_ID.match(result.header("X-Request-ID") or "")


def test_other_header_and_generator() -> None:
    middleware = RequestId(
        header="X-Correlation-ID", generator=lambda: str(uuid.uuid4())
    )
    result = request(middleware, HTTP_X_REQUEST_ID="ignored")
    made = result.header("X-Correlation-ID")
    assert made is not None
    assert uuid.UUID(made)
    kept = request(middleware, HTTP_X_CORRELATION_ID="abc")
    assert kept.header("X-Correlation-ID") == "abc"
    assert repr(middleware).startswith(
        "RequestId(header='X-Correlation-ID', generator="
    )


def test_a_generator_gone_bad_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    calls = iter(["good-id", "bad id"])
    middleware = RequestId(generator=lambda: next(calls))
    result = request(middleware)
    assert NEW_ID.match(result.header("X-Request-ID") or "")
    assert "invalid id" in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"header": "X Request"}, ValueError, r"HTTP header name"),
        ({"header": 1}, ValueError, r"HTTP header name"),
        ({"header": "Connection"}, ValueError, r"hop-by-hop"),
        ({"incoming": "false"}, TypeError, r"True or False"),
        ({"generator": "uuid4"}, TypeError, r"callable"),
        ({"generator": lambda: "x" * 200}, ValueError, r"not a valid id"),
    ],
)
def test_bad_options(kwargs: dict[str, Any], error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        RequestId(**kwargs)


def test_repr_and_callable() -> None:
    assert repr(RequestId()) == "RequestId()"
    assert repr(RequestId(incoming=False)) == "RequestId(incoming=False)"
    with pytest.raises(TypeError, match="callable"):
        RequestId()(None)  # type: ignore[arg-type]


@given(st.text(st.characters(codec="utf-8"), max_size=300))
@example("a\r\nb")
@example("x" * 128)
@example("x" * 129)
def test_any_incoming_value(incoming: str) -> None:
    value = incoming.encode("utf-8", "surrogatepass").decode("latin-1")
    result = request(
        RequestId(), lambda e, s: s("200 OK", []) and [], HTTP_X_REQUEST_ID=value
    )
    sent = result.header("X-Request-ID")
    assert sent is not None
    assert is_valid_id(sent)
    assert len(sent) <= 128
    if is_valid_id(value):
        assert sent == value
    else:
        assert NEW_ID.match(sent)


# -- the context variable and the filter ----------------------------------------------------


def test_records_carry_the_id_in_call_body_and_close(kept: Keep) -> None:
    result = request(RequestId(), HTTP_X_REQUEST_ID="req-1")
    assert result.body == b"ab"
    assert [(r.getMessage(), r.request_id) for r in kept.records] == [  # type: ignore[attr-defined]
        ("called", "req-1"),
        ("iterating", "req-1"),
        ("second chunk", "req-1"),
        ("closed", "req-1"),
    ]
    assert current_request_id() is None


def test_outside_a_request_the_default(kept: Keep) -> None:
    app_logger.warning("outside")
    app_logger.warning("given", extra={"request_id": "mine"})
    assert [r.request_id for r in kept.records] == ["-", "mine"]  # type: ignore[attr-defined]
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "m", None, None)
    RequestIdFilter(default="none", attribute="rid").filter(record)
    assert record.rid == "none"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [({"default": None}, TypeError), ({"attribute": "not valid"}, ValueError)],
)
def test_filter_options(kwargs: dict[str, Any], error: type) -> None:
    with pytest.raises(error):
        RequestIdFilter(**kwargs)


def test_threads_keep_their_own_ids(kept: Keep) -> None:
    """Many requests at once, each body iterated in its own thread and
    interleaved: every record carries its own request's id."""
    barrier = threading.Barrier(8)

    def slow_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        barrier.wait(timeout=10)  # all eight are inside their app now
        app_logger.warning("in %s", environ[ENVIRON_KEY])

        def body() -> Iterator[bytes]:
            barrier.wait(timeout=10)
            app_logger.warning("body %s", environ[ENVIRON_KEY])
            yield b"x"

        return body()

    app = RequestId()(slow_app)

    def one(n: int) -> None:
        result = call_app(app, make_environ("/", HTTP_X_REQUEST_ID=f"thread-{n}"))
        assert result.body == b"x"

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(8)))
    assert len(kept.records) == 16
    for record in kept.records:
        assert record.getMessage().endswith(record.request_id)  # type: ignore[attr-defined]


def test_list_and_file_wrapper_bodies_pass_through() -> None:
    body = [b"x"]

    class Wrapper:
        def __init__(self, f: Any, size: int = 8192) -> None:
            self.f = f

    wrapped = Wrapper(io.BytesIO(b"y"))

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return wrapped if environ["PATH_INFO"] == "/file" else body  # type: ignore[return-value]

    middleware = RequestId()(app)
    noop: Any = lambda *a: None  # noqa: E731
    assert middleware(make_environ("/"), noop) is body
    environ = make_environ("/file")
    environ["wsgi.file_wrapper"] = Wrapper
    sent: object = middleware(environ, noop)
    assert sent is wrapped


def test_next_after_close_ends() -> None:
    body = LoggingBody()

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return body

    noop: Any = lambda *a: None  # noqa: E731
    iterable: Any = RequestId()(app)(make_environ("/"), noop)
    iterable.close()
    iterable.close()
    assert body.closed == 1
    assert list(iterable) == []


def test_app_error_resets_the_context() -> None:
    def failing(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        RequestId()(failing)(make_environ("/"), lambda *a: None)  # type: ignore[arg-type]
    assert current_request_id() is None


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix(fault: Fault) -> None:
    check_fault(RequestId(), fault, HTTP_X_REQUEST_ID="abc")


def test_ids_differ_across_fork() -> None:
    """A worker forked from a master that made ids makes other ones."""
    from wsgimw.requestid import _new_id

    _new_id()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.write(write, _new_id().encode())
        os._exit(0)
    os.close(write)
    try:
        child = os.read(read, 64).decode()
    finally:
        os.close(read)
        os.waitpid(pid, 0)
    assert NEW_ID.match(child)
    assert child != _new_id()


# -- AccessLog and ErrorHandler -------------------------------------------------------------


@pytest.mark.parametrize("request_id_outside", [True, False])
def test_access_line_carries_the_id(kept: Keep, request_id_outside: bool) -> None:
    stream = io.StringIO()
    log_stream = AccessLog(format="{request_id} {status}", stream=stream)
    log_logger = AccessLog(format="{status}", logger=logging.getLogger("test.access"))
    layers: list[Middleware] = [RequestId(), log_stream, log_logger]
    if not request_id_outside:
        layers.reverse()
    result = request(compose(*layers), HTTP_X_REQUEST_ID="line-1")
    assert result.status_code == 200
    assert stream.getvalue() == "line-1 200\n"
    (line,) = [r for r in kept.records if r.name == "test.access"]
    assert line.request_id == "line-1"  # type: ignore[attr-defined]


def test_access_line_without_request_id_and_json() -> None:
    stream = io.StringIO()
    request(AccessLog(format="{request_id}", stream=stream), HTTP_X_REQUEST_ID="forged")
    assert stream.getvalue() == "-\n"  # a client's header is not the id
    stream = io.StringIO()
    request(compose(RequestId(), AccessLog(format="json", stream=stream)))
    assert NEW_ID.match(json.loads(stream.getvalue())["request_id"])


def test_error_handler_records_carry_the_id(kept: Keep) -> None:
    def failing(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raise RuntimeError("broken")

    stack = compose(RequestId(), ErrorHandler())
    result = request(stack, failing, HTTP_X_REQUEST_ID="err-1")
    assert result.status_code == 500
    assert result.header("X-Request-ID") == "err-1"  # on the error page too
    (record,) = [r for r in kept.records if r.name == "wsgimw.errors"]
    assert record.request_id == "err-1"  # type: ignore[attr-defined]


# -- PasteDeploy ---------------------------------------------------------------------------


def test_paste_factory() -> None:
    assert repr(request_id({}, header="X-Trace", incoming="false")) == (
        "RequestId(header='X-Trace', incoming=False)"
    )
    made = request_id({}, generator="secrets:token_hex")
    assert "token_hex" in repr(made)


def test_paste_pipeline(tmp_path: Path) -> None:
    from paste.deploy import loadapp

    ini = tmp_path / "site.ini"
    ini.write_text(
        """
[pipeline:main]
pipeline = rid app

[filter:rid]
use = egg:wsgimw#request_id
header = X-Trace-Id

[app:app]
paste.app_factory = test_requestid:app_factory
"""
    )
    app = loadapp(f"config:{ini}")
    result = call_app(app, make_environ("/", HTTP_X_TRACE_ID="t-1"))
    assert result.header("X-Trace-Id") == "t-1"
    assert result.body == b"t-1"


def app_factory(global_conf: dict[str, str], **local_conf: str) -> Any:
    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ[ENVIRON_KEY].encode()]

    return app


def test_a_forked_worker_drops_the_ids_its_parent_holds() -> None:
    from wsgimw import requestid

    requestid._new_id()
    assert requestid._pool  # the rest of the batch
    requestid._after_fork()  # what os.register_at_fork runs in a child
    assert requestid._pool == []
    assert NEW_ID.match(requestid._new_id())


# -- in any order with the six ----------------------------------------------------------


@given(st.permutations(range(8)))
def test_the_front_door_composes_in_any_order_with_the_six(order: list[int]) -> None:
    """The four with ErrorHandler, AccessLog, QueryParser, Compress,
    EnvironLog and Rewrite, in any order, Lint between every layer: a request
    through a trusted proxy gets its page, its id and one access line. (The
    order still matters for what each layer sees: TrustedHost or
    HTTPSRedirect outside ProxyHeaders would read the inner hop's Host and
    scheme. Here the inner hop is https to the same name, so every order
    must give the same answer.)"""
    from wsgimw import (
        Compress,
        EnvironLog,
        HTTPSRedirect,
        ProxyHeaders,
        QueryParser,
        Rewrite,
        TrustedHost,
    )
    from wsgimw.testing import linted

    stream = io.StringIO()
    layers: list[Middleware] = [
        ProxyHeaders(trusted=["10.0.0.0/8"]),
        TrustedHost(hosts=["example.com"]),
        HTTPSRedirect(exempt=["/healthz"]),
        RequestId(),
        ErrorHandler(),
        AccessLog(format="{host} {status} {request_id}", stream=stream),
        compose(QueryParser(), EnvironLog()),
        compose(Compress(minimum_size=1), Rewrite(headers=lambda s, h: (s, h))),
    ]
    seen: dict[str, str] = {}

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen["client"] = environ["REMOTE_ADDR"]
        seen["id"] = environ[ENVIRON_KEY]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"x" * 100]

    build = linted(*[layers[i] for i in order])
    wrapped, lints = build(app)
    environ = make_environ(
        "/page?q=1",
        REMOTE_ADDR="10.0.0.1",
        HTTP_HOST="example.com",
        HTTP_X_FORWARDED_FOR="192.0.2.5",
        HTTP_X_FORWARDED_PROTO="https",
        HTTP_X_FORWARDED_HOST="example.com",
        HTTP_X_REQUEST_ID="order-1",
    )
    environ["wsgi.url_scheme"] = "https"
    result = call_app(wrapped, environ)
    for lint in lints:
        lint.verify()
    assert result.status_code == 200
    assert result.header("X-Request-ID") == "order-1"
    assert seen == {"client": "192.0.2.5", "id": "order-1"}
    # The line is written at close(), from the environ the layers share.
    assert stream.getvalue() == "192.0.2.5 200 order-1\n"
