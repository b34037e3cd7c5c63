"""The scale-out recipes in one process: the tracing layer (with the
OpenTelemetry SDK's in-memory exporter) and the rate-limited, metered app.
Real Redis and gunicorn workers: tests/integration/test_scaleout.py."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator

import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
    InMemorySpanExporter,
)
from opentelemetry.trace import SpanKind, StatusCode

from recipes.scaleout import wsgi
from recipes.scaleout.tracing import Tracing, _demo, trace_request_id
from wsgimw import RequestId, compose
from wsgimw.testing import FAULTS, Fault, Lint, call_app, check_fault
from wsgimw.types import Environ, StartResponse

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_ID}-01"


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


class Streamed:
    """A generator app; its close() takes ``seconds`` and is counted."""

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.closed = 0
        self.trace_ids: list[str] = []

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        self.trace_ids.append(trace_request_id())
        start_response("200 OK", [("Content-Type", "text/plain")])
        return self._body()

    def _body(self) -> Iterator[bytes]:
        try:
            yield b"one "
            yield b"two"
        finally:
            self.closed += 1
            time.sleep(self.seconds)


def only_span(exporter: InMemorySpanExporter) -> ReadableSpan:
    spans = exporter.get_finished_spans()
    assert len(spans) == 1, spans
    return spans[0]


def test_the_span_ends_when_the_body_is_closed(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = Streamed(seconds=0.2)
    response = Tracing(tracer_provider=provider)(app)(
        make_request(), lambda status, headers, exc_info=None: lambda data: None
    )
    assert exporter.get_finished_spans() == ()  # the app returned; not over yet
    assert b"".join(response) == b"one two"
    close = getattr(response, "close")  # noqa: B009
    close()
    span = only_span(exporter)
    assert span.kind is SpanKind.SERVER
    assert span.name == "GET"
    assert span.attributes is not None
    assert span.attributes["http.response.status_code"] == 200
    assert span.end_time is not None
    assert span.start_time is not None
    assert (span.end_time - span.start_time) / 1e9 >= 0.2
    assert app.closed == 1


def make_request(**headers: str) -> Environ:
    from wsgimw.testing import make_environ

    return make_environ("/users/42", headers=headers)


def test_closed_before_the_first_chunk(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = Streamed()
    outer, inner = Lint(below="Tracing"), Lint(above="Tracing")
    call_app(outer(Tracing(tracer_provider=provider)(inner(app))), "/", read=0)
    outer.verify()
    inner.verify()
    assert only_span(exporter).end_time is not None


def test_opentelemetry_wsgi_never_ends_that_span_nor_closes_the_app(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    """The peer's failure: its body is a generator whose ``finally`` runs
    only once iterated, so a server's close() before the first next()
    skips it."""
    app = Streamed()
    iterable = OpenTelemetryMiddleware(app, tracer_provider=provider)(
        make_request(), lambda status, headers, exc_info=None: lambda data: None
    )
    getattr(iterable, "close")()  # noqa: B009
    assert exporter.get_finished_spans() == ()
    assert app.closed == 0


def test_traceparent_is_continued_and_the_id_reaches_the_app(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = Streamed()
    traced = Tracing(tracer_provider=provider, route=lambda environ: "/users/{id}")
    call_app(traced(app), make_request(traceparent=TRACEPARENT))
    span = only_span(exporter)
    assert format(span.context.trace_id, "032x") == TRACE_ID
    assert span.parent is not None
    assert format(span.parent.span_id, "016x") == PARENT_ID
    assert span.name == "GET /users/{id}"
    assert span.attributes is not None
    assert span.attributes["http.route"] == "/users/{id}"
    assert app.trace_ids == [TRACE_ID]


def test_a_malformed_traceparent_starts_a_new_trace(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    app = Streamed()
    call_app(Tracing(tracer_provider=provider)(app), make_request(traceparent="00-zz"))
    span = only_span(exporter)
    assert span.parent is None
    assert format(span.context.trace_id, "032x") == app.trace_ids[0]


def test_errors_mark_the_span(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    def broken(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raise KeyError("missing")

    with pytest.raises(KeyError):
        call_app(Tracing(tracer_provider=provider)(broken), "/")
    span = only_span(exporter)
    assert span.status.status_code is StatusCode.ERROR
    assert [event.name for event in span.events] == ["exception"]


def test_a_5xx_marks_the_span(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    def failing(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        start_response("503 Service Unavailable", [("Content-Length", "0")])
        return []

    call_app(Tracing(tracer_provider=provider)(failing), "/")
    assert only_span(exporter).status.status_code is StatusCode.ERROR


def test_trace_request_id_outside_a_trace_is_random() -> None:
    first, second = trace_request_id(), trace_request_id()
    assert re.fullmatch("[0-9a-f]{32}", first)
    assert first != second
    assert not trace.get_current_span().get_span_context().is_valid


def test_route_must_be_callable() -> None:
    with pytest.raises(TypeError, match="route must be a function"):
        Tracing(route="/x")  # type: ignore[arg-type]


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix(
    fault: Fault, provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    check_fault(Tracing(tracer_provider=provider), fault)
    spans = exporter.get_finished_spans()
    assert spans  # every request's span ended, whatever happened
    assert all(span.end_time is not None for span in spans)


# -- the rate-limited, metered app -----------------------------------------------------


def test_the_app_limits_counts_and_guards_its_metrics() -> None:
    app = wsgi.build(limit="2/minute")
    assert call_app(app, "/").status_code == 200
    assert call_app(app, "/health").status_code == 200  # exempt
    second = call_app(app, "/report")
    assert second.status_code == 200
    assert second.header("RateLimit-Remaining") == "0"
    refused = call_app(app, "/")
    assert refused.status_code == 429
    assert call_app(app, "/nothing-here", REMOTE_ADDR="10.1.1.1").status_code == 404
    assert call_app(app, "/metrics", REMOTE_ADDR="192.0.2.1").status_code == 403
    scrape = call_app(app, "/metrics", REMOTE_ADDR="127.0.0.1")
    assert scrape.status_code == 200
    assert b'route="/report",status="200"' in scrape.body
    assert b'route="unknown",status="404"' in scrape.body
    assert b'route="/",status="429"' in scrape.body


def test_the_app_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATELIMIT", "1/minute")
    monkeypatch.setenv("RATELIMIT_FAIL_OPEN", "0")
    monkeypatch.setenv("METRICS_ALLOW", "10.0.0.1, ")
    monkeypatch.setenv("RATELIMIT_STORAGE", "redis://127.0.0.1:1/0")
    app = wsgi.from_environment()
    assert call_app(app, "/").status_code == 503  # nothing listens there
    assert call_app(app, "/metrics", REMOTE_ADDR="10.0.0.1").status_code == 200


def test_request_id_takes_the_trace_id(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    seen: list[str] = []

    def app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(environ["wsgimw.request_id"])
        start_response("200 OK", [("Content-Length", "0")])
        return []

    stack = compose(
        Tracing(tracer_provider=provider),
        RequestId(incoming=False, generator=trace_request_id),
    )(app)
    result = call_app(
        stack, make_request(traceparent=TRACEPARENT, **{"X-Request-ID": "client-id"})
    )
    assert result.header("X-Request-ID") == TRACE_ID
    assert seen == [TRACE_ID]
    fresh = call_app(stack, "/")
    span_ids = {
        format(s.context.trace_id, "032x") for s in exporter.get_finished_spans()
    }
    assert fresh.header("X-Request-ID") in span_ids


def test_the_demo_shows_the_trace_id(provider: TracerProvider) -> None:
    result = call_app(
        Tracing(tracer_provider=provider)(_demo), make_request(traceparent=TRACEPARENT)
    )
    assert result.body == f"trace {TRACE_ID}\n".encode()


# -- the benchmark's rows ------------------------------------------------------------------


def test_every_bench_row_answers_hello_world() -> None:
    """bench.scaleout's rows (without Redis) serve the bench's response, as
    `python -m bench.scaleout` checks before timing them."""
    from bench.cases import check, template_environ
    from bench.scaleout import cases

    rows = cases(None)
    assert {"ratelimit_memory", "limits_memory", "flask_limiter", "metrics"} <= {
        row.key for row in rows
    }
    for row in rows:
        check(row, row.wrap(row.app), template_environ(row.environ))
