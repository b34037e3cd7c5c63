"""Metrics: counts, duration to close(), bytes, in flight, routes, the scrape.

Several worker processes adding up (gunicorn, PROMETHEUS_MULTIPROC_DIR) are
tested for real in tests/integration/test_scaleout.py; here the multiprocess
path runs in one process with prometheus-client's file-backed values.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import prometheus_client.values
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter

from wsgimw.metrics import Metrics
from wsgimw.testing import FAULTS, Fault, Lint, Result, call_app, check_fault
from wsgimw.types import Environ, StartResponse, WSGIApp


def hello(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [] if environ["REQUEST_METHOD"] == "HEAD" else [b"hello"]


class SlowClose:
    """A body whose close() takes ``seconds``: a streamed response, say,
    whose last work happens as the server closes it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __call__(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return self._body()

    def _body(self) -> Iterator[bytes]:
        try:
            yield b"streamed"
        finally:
            time.sleep(self.seconds)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def run(
    metrics: Metrics, app: WSGIApp = hello, path: str = "/", **options: Any
) -> Result:
    outer, inner = Lint(below="Metrics"), Lint(above="Metrics")
    result = call_app(outer(metrics(inner(app))), path, **options)
    outer.verify()
    inner.verify()
    return result


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


# -- what is counted ----------------------------------------------------------------


def test_requests_bytes_and_duration_by_method_and_status(
    registry: CollectorRegistry,
) -> None:
    metrics = Metrics(registry=registry)
    run(metrics)
    run(metrics)
    run(metrics, method="HEAD")
    get = {"method": "GET", "status": "200"}
    assert sample(registry, "http_requests_total", **get) == 2
    assert sample(registry, "http_response_body_bytes_total", **get) == 10
    assert sample(registry, "http_request_duration_seconds_count", **get) == 2
    assert sample(registry, "http_requests_total", method="HEAD", status="200") == 1
    assert (
        sample(registry, "http_response_body_bytes_total", method="HEAD", status="200")
        == 0
    )
    assert sample(registry, "http_requests_in_progress", method="GET") == 0


def test_duration_runs_until_the_body_is_closed(registry: CollectorRegistry) -> None:
    run(Metrics(registry=registry), SlowClose(0.2))
    total = sample(
        registry, "http_request_duration_seconds_sum", method="GET", status="200"
    )
    assert total is not None
    assert total >= 0.2


def test_opentelemetry_wsgi_stops_its_clock_when_the_app_returns() -> None:
    """The peer's failure this layer fixes: OpenTelemetry's WSGI middleware
    records the duration before the body is sent, let alone closed."""
    from opentelemetry.instrumentation.wsgi import OpenTelemetryMiddleware
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import (
        HistogramDataPoint,
        InMemoryMetricReader,
    )

    reader = InMemoryMetricReader()
    provider = MeterProvider(metric_readers=[reader])
    app = OpenTelemetryMiddleware(SlowClose(0.2), meter_provider=provider)
    call_app(app, "/")
    data = reader.get_metrics_data()
    assert data is not None
    seconds = [
        point.sum / (1000 if metric.unit == "ms" else 1)
        for resource in data.resource_metrics
        for scope in resource.scope_metrics
        for metric in scope.metrics
        if "duration" in metric.name
        for point in metric.data.data_points
        if isinstance(point, HistogramDataPoint)
    ]
    assert seconds
    # Milliseconds or seconds, by the semantic-convention mode: either way
    # far below the 0.2 s the response really took.
    assert all(value < 0.1 for value in seconds)
    provider.shutdown()


def test_in_progress_while_the_request_runs(registry: CollectorRegistry) -> None:
    seen: list[float | None] = []

    def watching(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        seen.append(sample(registry, "http_requests_in_progress", method="POST"))
        return hello(environ, start_response)

    run(Metrics(registry=registry), watching, method="POST")
    assert seen == [1]
    assert sample(registry, "http_requests_in_progress", method="POST") == 0


def test_an_app_that_raises_counts_as_500_and_leaves_flight(
    registry: CollectorRegistry,
) -> None:
    def broken(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        call_app(Metrics(registry=registry)(broken), "/")
    assert sample(registry, "http_requests_total", method="GET", status="500") == 1
    assert sample(registry, "http_requests_in_progress", method="GET") == 0


def test_an_app_that_raises_after_starting_counts_as_500(
    registry: CollectorRegistry,
) -> None:
    check_fault(Metrics(registry=registry), "raise-after-start")
    check_fault(Metrics(registry=registry), "raise-mid-stream")
    total = "http_requests_total"
    assert sample(registry, total, method="GET", status="500") == 1
    # Mid-stream, the 200 had gone out with part of the body.
    assert sample(registry, total, method="GET", status="200") == 1


def test_unknown_methods_share_one_label(registry: CollectorRegistry) -> None:
    metrics = Metrics(registry=registry)
    for method in ("BREW", "PROPFIND", "X" * 200):
        run(metrics, method=method)
    assert sample(registry, "http_requests_total", method="other", status="200") == 3


def test_route_label_with_a_cap(registry: CollectorRegistry) -> None:
    def route(environ: Environ) -> str | None:
        path: str = environ["PATH_INFO"]
        return None if path == "/none" else path

    metrics = Metrics(registry=registry, route=route, max_routes=2)
    for path in ("/a", "/b", "/a", "/c", "/d", "/none"):
        run(metrics, path=path)
    total = "http_requests_total"
    assert sample(registry, total, method="GET", status="200", route="/a") == 2
    assert sample(registry, total, method="GET", status="200", route="/b") == 1
    assert sample(registry, total, method="GET", status="200", route="/c") is None
    assert sample(registry, total, method="GET", status="200", route="other") == 3


def test_route_is_read_when_the_response_ends(registry: CollectorRegistry) -> None:
    """A router may record the matched pattern in the environ as it runs."""

    def routed(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        environ["myapp.route"] = "/users/{id}"
        return hello(environ, start_response)

    metrics = Metrics(
        registry=registry, route=lambda environ: environ.get("myapp.route")
    )
    run(metrics, routed, path="/users/42")
    assert (
        sample(
            registry,
            "http_requests_total",
            method="GET",
            status="200",
            route="/users/{id}",
        )
        == 1
    )


def test_route_function_must_return_str(registry: CollectorRegistry) -> None:
    metrics = Metrics(registry=registry, route=lambda environ: 3)  # type: ignore[arg-type,return-value]
    with pytest.raises(TypeError, match="must return a str or None"):
        call_app(metrics(hello), "/")


def test_two_instances_count_into_the_same_series(registry: CollectorRegistry) -> None:
    one, two = Metrics(registry=registry), Metrics(registry=registry)
    run(one)
    run(two)
    assert sample(registry, "http_requests_total", method="GET", status="200") == 2
    with pytest.raises(ValueError, match="other labels or buckets"):
        Metrics(registry=registry, route=lambda environ: "x")
    other = Metrics(registry=registry, namespace="admin", route=lambda e: "x")
    run(other)
    assert (
        sample(registry, "admin_requests_total", method="GET", status="200", route="x")
        == 1
    )


def test_a_name_taken_by_other_metrics_is_refused(registry: CollectorRegistry) -> None:
    Counter("taken_requests", "someone else's", registry=registry)
    with pytest.raises(ValueError, match="another namespace"):
        Metrics(registry=registry, namespace="taken")


def test_default_registry_is_prometheus_clients_own() -> None:
    metrics = Metrics(namespace="wsgimw_test_default")
    run(metrics)
    assert (
        prometheus_client.REGISTRY.get_sample_value(
            "wsgimw_test_default_requests_total", {"method": "GET", "status": "200"}
        )
        == 1
    )


# -- the scrape -------------------------------------------------------------------------


def test_scrape_serves_the_text_format_and_is_not_counted(
    registry: CollectorRegistry,
) -> None:
    metrics = Metrics(registry=registry)
    run(metrics)
    result = run(metrics, path="/metrics")
    assert result.status == "200 OK"
    assert result.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8"
    assert result.header("Cache-Control") == "no-store"
    assert b'http_requests_total{method="GET",status="200"} 1.0' in result.body
    run(metrics, path="/metrics")
    assert sample(registry, "http_requests_total", method="GET", status="200") == 1


def test_scrape_in_openmetrics_when_asked(registry: CollectorRegistry) -> None:
    result = run(
        Metrics(registry=registry),
        path="/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"},
    )
    content_type = result.header("Content-Type")
    assert content_type is not None
    assert content_type.startswith("application/openmetrics-text")
    assert result.body.endswith(b"# EOF\n")


def test_scrape_head_post_and_check(registry: CollectorRegistry) -> None:
    metrics = Metrics(registry=registry, path="/internal/metrics")
    head = run(metrics, path="/internal/metrics", method="HEAD")
    assert head.status_code == 200
    assert head.body == b""
    post = run(metrics, path="/internal/metrics", method="POST")
    assert post.status_code == 405
    assert post.header("Allow") == "GET, HEAD"
    assert run(metrics, path="/metrics").status_code == 200  # the app's own path

    guarded = Metrics(
        registry=registry, check=lambda environ: environ["REMOTE_ADDR"] == "10.0.0.9"
    )
    assert run(guarded, path="/metrics", REMOTE_ADDR="10.0.0.9").status_code == 200
    assert run(guarded, path="/metrics", REMOTE_ADDR="192.0.2.1").status_code == 403


def test_no_path_serves_nothing(registry: CollectorRegistry) -> None:
    metrics = Metrics(registry=registry, path=None)
    assert run(metrics, path="/metrics").body == b"hello"
    body, content_type = metrics.collect()
    assert b"http_requests_total" in body
    assert content_type.startswith("text/plain")


@settings(max_examples=100, deadline=None)
@given(accept=st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF)))
def test_any_accept_header_gets_a_scrape(accept: str) -> None:
    metrics = Metrics(registry=CollectorRegistry())
    result = call_app(metrics(hello), "/metrics", headers={"Accept": accept})
    assert result.status_code == 200
    assert b"requests_in_progress" in result.body


def test_a_failing_encoder_choice_falls_back_to_text(
    registry: CollectorRegistry, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(accept: str) -> Any:
        raise ValueError(accept)

    monkeypatch.setattr("wsgimw.metrics.choose_encoder", broken)
    body, content_type = Metrics(registry=registry).collect("anything")
    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    assert b"requests_in_progress" in body


# -- several processes, in one --------------------------------------------------------


@pytest.fixture
def multiprocess_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """prometheus-client's file-backed values, as a worker started with
    PROMETHEUS_MULTIPROC_DIR set would have them."""
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(
        prometheus_client.values,
        "ValueClass",
        prometheus_client.values.MultiProcessValue(),  # type: ignore[no-untyped-call]
    )
    try:
        yield tmp_path
    finally:
        prometheus_client.values.close_all_multiprocess_files()  # type: ignore[no-untyped-call]


def test_multiprocess_scrape_reads_the_files(
    multiprocess_dir: Path, registry: CollectorRegistry
) -> None:
    metrics = Metrics(registry=registry, namespace="mp")
    run(metrics)
    run(metrics)
    assert list(multiprocess_dir.glob("*.db"))
    # The scrape reads the files, not this registry.
    result = run(metrics, path="/metrics")
    assert b'mp_requests_total{method="GET",status="200"} 2.0' in result.body
    assert b'mp_requests_in_progress{method="GET"} 0.0' in result.body


def test_multiprocess_false_uses_the_registry(
    multiprocess_dir: Path, registry: CollectorRegistry
) -> None:
    metrics = Metrics(registry=registry, namespace="mpoff", multiprocess=False)
    run(metrics)
    assert b"mpoff_requests_total" in run(metrics, path="/metrics").body


def test_multiprocess_misconfigured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: CollectorRegistry
) -> None:
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    with pytest.raises(ValueError, match="needs PROMETHEUS_MULTIPROC_DIR"):
        Metrics(registry=registry, multiprocess=True)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="is not a directory"):
        Metrics(registry=registry)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="set after prometheus_client was imported"):
        Metrics(registry=registry)


# -- the contract ---------------------------------------------------------------------


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix(fault: Fault) -> None:
    registry = CollectorRegistry()
    metrics = Metrics(registry=registry)
    calls = 0

    def counted(app: WSGIApp) -> WSGIApp:
        def call(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            nonlocal calls
            calls += 1
            return app(environ, start_response)

        return metrics(call)

    check_fault(counted, fault)
    total = sum(
        sample.value
        for metric in registry.collect()
        if metric.name == "http_requests"
        for sample in metric.samples
        if sample.name == "http_requests_total"
    )
    assert total == calls  # each request counted once, whatever happened
    assert sample(registry, "http_requests_in_progress", method=fault.method) == 0


# -- options ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"path": "metrics"}, ValueError, "path must start with '/'"),
        ({"path": 3}, ValueError, "path must start with '/'"),
        ({"registry": {}}, TypeError, "CollectorRegistry"),
        ({"namespace": "my-app"}, ValueError, "metric name prefix"),
        ({"namespace": 3}, ValueError, "metric name prefix"),
        ({"route": "path"}, TypeError, "route must be a function"),
        ({"max_routes": 0}, ValueError, "max_routes"),
        ({"max_routes": True}, ValueError, "max_routes"),
        ({"buckets": "1,2"}, TypeError, "list of seconds"),
        ({"buckets": [0, 1]}, ValueError, "> 0"),
        ({"buckets": [float("nan")]}, ValueError, "> 0"),
        ({"buckets": ["1"]}, ValueError, "> 0"),
        ({"buckets": [2, 1]}, ValueError, "increasing"),
        ({"buckets": []}, ValueError, "increasing"),
        ({"check": True}, TypeError, "check must be a function"),
        ({"multiprocess": "yes"}, TypeError, "multiprocess must be"),
    ],
)
def test_bad_options_fail_at_construction(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    options.setdefault("registry", CollectorRegistry())
    with pytest.raises(error, match=message):
        Metrics(**options)


def test_custom_buckets(registry: CollectorRegistry) -> None:
    run(Metrics(registry=registry, buckets=[0.5, 2]))
    assert (
        sample(
            registry,
            "http_request_duration_seconds_bucket",
            method="GET",
            status="200",
            le="0.5",
        )
        == 1
    )


def test_repr() -> None:
    assert repr(Metrics(registry=CollectorRegistry())) == "Metrics(path='/metrics')"


# -- PasteDeploy ----------------------------------------------------------------------


def app_factory(global_conf: dict[str, str], **local_conf: str) -> WSGIApp:
    return hello


def route_of(environ: Environ) -> str:
    return "/fixed"


def test_pastedeploy_filter(tmp_path: Path) -> None:
    from paste.deploy import loadapp

    ini = tmp_path / "site.ini"
    ini.write_text(
        """
[pipeline:main]
pipeline = metrics app

[filter:metrics]
use = egg:wsgimw#metrics
path = /internal/metrics
namespace = wsgimw_test_paste
route = test_metrics:route_of
max_routes = 10
buckets = 0.01, 0.1 1 10
multiprocess = false

[app:app]
paste.app_factory = test_metrics:app_factory
"""
    )
    app = loadapp(f"config:{ini}")
    call_app(app, "/anything")
    body = call_app(app, "/internal/metrics").body
    assert (
        b'wsgimw_test_paste_requests_total{method="GET",route="/fixed",status="200"} 1.0'
        in body
    )
    assert b'le="0.1"' in body


def test_pastedeploy_options() -> None:
    from wsgimw.pastedeploy import metrics

    with pytest.raises(ValueError, match="numbers separated"):
        metrics({}, buckets="0.1 fast")
    with pytest.raises(ValueError, match="has no option"):
        metrics({}, registry="default")
