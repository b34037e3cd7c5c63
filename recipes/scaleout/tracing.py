"""Tracing with OpenTelemetry: a span per request that ends at close().

`Tracing` is a small layer on ``opentelemetry-api``. It continues the trace
of an incoming W3C ``traceparent`` (or starts one), makes a SERVER span
named after the method (and route, when you give a ``route`` function),
records the status the server accepted, and ends the span when the server
*closes* the response: a streamed body is inside its span, and the app's
iterable is closed exactly once, even when the server closes it before the
first chunk. The span is the current one while the app runs, so spans the
app makes (database calls, outgoing requests) are its children, and
``trace_request_id`` can hand its trace id to `RequestId`.

Why not ``opentelemetry-instrumentation-wsgi``'s ``OpenTelemetryMiddleware``?
It records its duration metric when the app *returns*, before the body is
sent, and ends its span in a generator's ``finally``: a server that closes
the response before the first ``next()`` never runs it, so that span never
ends and the app's iterable is never closed. The tests show both.

Set up the SDK once in your ``wsgi.py`` (the exporter is your choice)::

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)

    application = compose(
        Tracing(),
        RequestId(incoming=False, generator=trace_request_id),
        AccessLog(),
    )(app)

``python tracing.py`` serves a demo that prints each span to the console.
"""

from __future__ import annotations

import argparse
import uuid
from collections.abc import Callable, Iterable
from wsgiref.simple_server import make_server

from opentelemetry import context, propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import SpanKind, Status, StatusCode

from wsgimw._response import ClosingIterator
from wsgimw.types import Environ, ExcInfo, Headers, StartResponse, Write, WSGIApp

__all__ = ["Tracing", "trace_request_id"]


class _EnvironGetter(Getter[Environ]):
    """Reads the propagation headers (``traceparent``, ``tracestate``,
    ``baggage``) from the environ, where a server puts them as HTTP_*."""

    def get(self, carrier: Environ, key: str) -> list[str] | None:
        value = carrier.get("HTTP_" + key.upper().replace("-", "_"))
        return [value] if isinstance(value, str) else None

    def keys(self, carrier: Environ) -> list[str]:
        return [
            key[5:].lower().replace("_", "-")
            for key in carrier
            if key.startswith("HTTP_")
        ]


_GETTER = _EnvironGetter()


def trace_request_id() -> str:
    """The current trace id as 32 hex digits (a random id outside a trace):
    a generator for ``RequestId(incoming=False, generator=trace_request_id)``,
    so the id in logs and responses finds the trace."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return uuid.uuid4().hex
    return format(span_context.trace_id, "032x")


class Tracing:
    """A SERVER span per request, ended when the response is closed.

    Args:
        tracer_provider: the provider to take the tracer from (default: the
            global one, set with ``trace.set_tracer_provider``).
        route: ``route(environ) -> str | None`` for the span name and the
            ``http.route`` attribute (a pattern such as ``/users/{id}``,
            never the raw path).
    """

    def __init__(
        self,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        route: Callable[[Environ], str | None] | None = None,
    ) -> None:
        if route is not None and not callable(route):
            raise TypeError(f"route must be a function route(environ), got {route!r}")
        self._tracer = trace.get_tracer(__name__, tracer_provider=tracer_provider)
        self._route = route

    def __call__(self, app: WSGIApp) -> WSGIApp:
        tracer = self._tracer
        route_of = self._route

        def traced(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            method = environ["REQUEST_METHOD"]
            route = route_of(environ) if route_of is not None else None
            attributes: dict[str, str | int] = {
                "http.request.method": method,
                "url.path": environ.get("PATH_INFO", ""),
                "url.scheme": environ.get("wsgi.url_scheme", "http"),
            }
            if route:
                attributes["http.route"] = route
            parent = propagate.extract(environ, getter=_GETTER)
            span = tracer.start_span(
                f"{method} {route}" if route else method,
                context=parent,
                kind=SpanKind.SERVER,
                attributes=attributes,
            )

            def start(
                status: str, headers: Headers, exc_info: ExcInfo | None = None
            ) -> Write:
                if exc_info is None:
                    write = start_response(status, headers)
                else:
                    write = start_response(status, headers, exc_info)
                code = int(status[:3])  # only once the server took it
                span.set_attribute("http.response.status_code", code)
                if code >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                return write

            token = context.attach(trace.set_span_in_context(span, parent))
            try:
                iterable = app(environ, start)
            except Exception as error:
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
                span.end()
                raise
            finally:
                context.detach(token)
            return ClosingIterator(iterable, span.end)

        return traced


def _demo(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    body = f"trace {trace_request_id()}\n".encode()
    start_response(
        "200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
    )
    return [body]


def main() -> None:  # pragma: no cover - a development server
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

    parser = argparse.ArgumentParser(description="a traced demo app")
    parser.add_argument("--port", type=int, default=8000)
    port = parser.parse_args().port
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    application = Tracing(tracer_provider=provider)(_demo)
    with make_server("127.0.0.1", port, application) as server:
        print(f"serving on http://127.0.0.1:{port}", flush=True)
        server.serve_forever()


if __name__ == "__main__":
    main()
