"""Metrics: Prometheus metrics for every request, on `prometheus-client`.

Per request: a counter by method, status (and route), a duration histogram
measured until the server *closes* the response (a streamed body counts in
full; OpenTelemetry's WSGI middleware stops its clock when the app returns),
the body bytes sent, and a gauge of requests in flight. ``path`` serves the
metrics for Prometheus to scrape (text format, or OpenMetrics when asked).

Under gunicorn (or any server with several worker processes) set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before the workers start,
and call ``prometheus_client.multiprocess.mark_process_dead(worker.pid)``
from gunicorn's ``child_exit`` hook: each scrape then adds up every
worker's counts.

Needs the extra: ``pip install 'wsgimw[metrics]'``.
"""

from __future__ import annotations

import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

import prometheus_client
import prometheus_client.values
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from ._response import Observed, plain_response
from .types import Environ, StartResponse, WSGIApp

__all__ = ["DEFAULT_BUCKETS", "Metrics"]

#: The duration buckets, in seconds (prometheus-client's own defaults).
DEFAULT_BUCKETS: Final = Histogram.DEFAULT_BUCKETS
#: Methods kept as they are in the ``method`` label; any other is ``other``
#: (a client chooses the method: it must not create label values).
METHODS: Final = frozenset(
    {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"}
)
_NAME: Final = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_PLAIN_TEXT: Final = "text/plain; version=0.0.4; charset=utf-8"

RouteFunction = Callable[[Environ], "str | None"]
CheckFunction = Callable[[Environ], bool]


class _Families:
    """The four metric families of one namespace in one registry. Shared by
    every `Metrics` built with the same settings, so that two apps (or a
    pipeline built twice) count into the same series."""

    def __init__(
        self,
        registry: CollectorRegistry,
        namespace: str,
        labels: tuple[str, ...],
        buckets: tuple[float, ...],
    ) -> None:
        self.requests = Counter(
            "requests",
            "HTTP requests answered, by method and status.",
            labels,
            namespace=namespace,
            registry=registry,
        )
        self.duration = Histogram(
            "request_duration_seconds",
            "Seconds from the request until its response was closed.",
            labels,
            namespace=namespace,
            registry=registry,
            buckets=buckets,
        )
        self.body_bytes = Counter(
            "response_body_bytes",
            "Response body bytes the app produced.",
            labels,
            namespace=namespace,
            registry=registry,
        )
        self.in_progress = Gauge(
            "requests_in_progress",
            "Requests being answered now.",
            ("method",),
            namespace=namespace,
            registry=registry,
            multiprocess_mode="livesum",
        )
        self.settings = (labels, buckets)


_SHARED: dict[tuple[int, str], tuple[CollectorRegistry, _Families]] = {}
_SHARED_LOCK = threading.Lock()


def _families(
    registry: CollectorRegistry,
    namespace: str,
    labels: tuple[str, ...],
    buckets: tuple[float, ...],
) -> _Families:
    with _SHARED_LOCK:
        found = _SHARED.get((id(registry), namespace))
        if found is not None and found[0] is registry:
            families = found[1]
            if families.settings != (labels, buckets):
                raise ValueError(
                    f"another Metrics already counts into namespace {namespace!r} "
                    "of this registry with other labels or buckets; give this "
                    "one another namespace= or registry="
                )
            return families
        try:
            families = _Families(registry, namespace, labels, buckets)
        except ValueError as error:
            raise ValueError(
                f"the registry already holds metrics named {namespace}_...: "
                f"{error}; give Metrics another namespace= or registry="
            ) from None
        _SHARED[(id(registry), namespace)] = (registry, families)
        return families


def _multiprocess_dir(multiprocess: object) -> str | None:
    if multiprocess is not None and type(multiprocess) is not bool:
        raise TypeError(
            f"multiprocess must be True, False or None, got {multiprocess!r}"
        )
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if multiprocess is False or (multiprocess is None and not directory):
        return None
    if not directory:
        raise ValueError(
            "multiprocess=True needs PROMETHEUS_MULTIPROC_DIR set to an empty "
            "directory before the server starts its workers"
        )
    if not os.path.isdir(directory):
        raise ValueError(
            f"PROMETHEUS_MULTIPROC_DIR={directory!r} is not a directory; create "
            "it (empty) before the server starts"
        )
    value_class: Any = prometheus_client.values.ValueClass
    if value_class is prometheus_client.values.MutexValue:
        raise ValueError(
            "PROMETHEUS_MULTIPROC_DIR was set after prometheus_client was "
            "imported, so its values live in this process only; set it in the "
            "environment that starts the server"
        )
    return directory


def _buckets(buckets: object) -> tuple[float, ...]:
    if isinstance(buckets, (str, bytes)) or not isinstance(buckets, Iterable):
        raise TypeError(f"buckets must be a list of seconds, got {buckets!r}")
    values = list(buckets)
    for value in values:
        if type(value) not in (int, float) or value <= 0 or math.isnan(value):
            raise ValueError(f"buckets must be numbers of seconds > 0, got {value!r}")
    if not values or values != sorted(set(values)):
        raise ValueError(f"buckets must be increasing, without repeats, got {values!r}")
    return tuple(float(v) for v in values)


class _Counted(Observed):
    """One request being measured: it is counted when the server closes it."""

    __slots__ = ("_method", "_metrics", "_started")

    def __init__(
        self,
        environ: Environ,
        start_response: StartResponse,
        metrics: Metrics,
        method: str,
    ) -> None:
        super().__init__(environ, start_response)
        self._metrics = metrics
        self._method = method
        self._started = time.perf_counter()

    def on_end(self) -> None:
        elapsed = time.perf_counter() - self._started
        self._metrics._count(self, elapsed)


class Metrics:
    """Count, time and measure every response; serve the metrics at ``path``.

    Args:
        path: where Prometheus scrapes (PATH_INFO, exactly); None to serve
            nothing (expose the registry some other way). Scrapes are not
            counted.
        registry: the `prometheus_client.CollectorRegistry` to count into
            (default: prometheus-client's global one, so your own metrics
            are scraped too).
        namespace: the metric names' prefix: ``http`` gives
            ``http_requests_total``, ``http_request_duration_seconds``,
            ``http_response_body_bytes_total``, ``http_requests_in_progress``.
        route: a function ``route(environ) -> str | None`` called when the
            response ends, for a ``route`` label (e.g. a URL pattern, never
            the raw path). None gives ``other``.
        max_routes: the most distinct route values per process; later ones
            are counted as ``other``.
        buckets: the duration histogram's buckets, in seconds.
        check: a function ``check(environ) -> bool`` that may see the scrape
            (e.g. an address or a token); False answers 403.
        multiprocess: count across worker processes through
            ``PROMETHEUS_MULTIPROC_DIR``. None (default): when it is set.
    """

    __slots__ = (
        "_check",
        "_children",
        "_families",
        "_gauges",
        "_lock",
        "_max_routes",
        "_multiprocess_dir",
        "_path",
        "_registry",
        "_route",
        "_routes",
    )

    def __init__(
        self,
        *,
        path: str | None = "/metrics",
        registry: CollectorRegistry | None = None,
        namespace: str = "http",
        route: RouteFunction | None = None,
        max_routes: int = 100,
        buckets: Sequence[float] = DEFAULT_BUCKETS,
        check: CheckFunction | None = None,
        multiprocess: bool | None = None,
    ) -> None:
        if path is not None and (not isinstance(path, str) or not path.startswith("/")):
            raise ValueError(f"path must start with '/' (or be None), got {path!r}")
        self._path = path
        if registry is None:
            registry = prometheus_client.REGISTRY
        if not isinstance(registry, CollectorRegistry):
            raise TypeError(
                f"registry must be a prometheus_client.CollectorRegistry, got {registry!r}"
            )
        self._registry = registry
        if not isinstance(namespace, str) or not _NAME.match(namespace):
            raise ValueError(
                f"namespace must be a metric name prefix such as 'http' or 'myapp_http', got {namespace!r}"
            )
        if route is not None and not callable(route):
            raise TypeError(
                f"route must be a function route(environ) -> str, got {route!r}"
            )
        self._route = route
        if type(max_routes) is not int or max_routes < 1:
            raise ValueError(
                f"max_routes must be a whole number >= 1, got {max_routes!r}"
            )
        self._max_routes = max_routes
        if check is not None and not callable(check):
            raise TypeError(
                f"check must be a function check(environ) -> bool, got {check!r}"
            )
        self._check = check
        self._multiprocess_dir = _multiprocess_dir(multiprocess)
        labels = ("method", "status", "route") if route else ("method", "status")
        self._families = _families(registry, namespace, labels, _buckets(buckets))
        in_progress = self._families.in_progress
        self._gauges = {m: in_progress.labels(m) for m in (*METHODS, "other")}
        self._routes: set[str] = set()
        self._children: dict[tuple[str, ...], tuple[Any, Any, Any]] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Metrics(path={self._path!r})"

    def __call__(self, app: WSGIApp) -> WSGIApp:
        path = self._path
        methods = METHODS
        gauges = self._gauges

        def metered(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            if path is not None and environ.get("PATH_INFO") == path:
                return self._expose(environ, start_response)
            method = environ["REQUEST_METHOD"]
            if method not in methods:
                method = "other"
            gauges[method].inc()
            return _Counted(environ, start_response, self, method).respond(app)

        return metered

    def _route_of(self, environ: Environ) -> str:
        assert self._route is not None
        route = self._route(environ)
        if route is None:
            return "other"
        if not isinstance(route, str):
            raise TypeError(
                f"the route function returned {route!r}; it must return a str or None"
            )
        routes = self._routes
        if route in routes:
            return route
        with self._lock:
            if len(routes) >= self._max_routes:
                return "other"
            routes.add(route)
        return route

    def _count(self, response: _Counted, elapsed: float) -> None:
        method = response._method
        families = self._families
        self._gauges[method].dec()
        if response.failed and not response.sent:
            # Nothing of the body went out: the server answers 500 itself.
            status = "500"
        else:
            status = response.status[:3] if response.status else "500"
        if self._route is None:
            labels: tuple[str, ...] = (method, status)
        else:
            labels = (method, status, self._route_of(response.environ))
        children = self._children.get(labels)
        if children is None:
            children = (
                families.requests.labels(*labels),
                families.duration.labels(*labels),
                families.body_bytes.labels(*labels),
            )
            self._children[labels] = children
        requests, duration, body_bytes = children
        requests.inc()
        duration.observe(elapsed)
        if response.sent:
            body_bytes.inc(response.sent)

    # -- the scrape ---------------------------------------------------------------

    def collect(self, accept: str = "") -> tuple[bytes, str]:
        """The metrics as Prometheus reads them, and their content type:
        OpenMetrics when ``accept`` asks for it, else the text format."""
        registry: Any = self._registry
        if self._multiprocess_dir is not None:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]
        try:
            encoder, content_type = choose_encoder(accept)
        except Exception:  # a client's odd Accept header: the plain format
            encoder, content_type = generate_latest, _PLAIN_TEXT
        return encoder(registry), content_type

    def _expose(
        self, environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        if method not in ("GET", "HEAD"):
            return plain_response(
                environ,
                start_response,
                "405 Method Not Allowed",
                "Metrics are read with GET.\n",
                [("Allow", "GET, HEAD")],
            )
        if self._check is not None and not self._check(environ):
            return plain_response(
                environ, start_response, "403 Forbidden", "Metrics are not public.\n"
            )
        body, content_type = self.collect(environ.get("HTTP_ACCEPT", ""))
        start_response(
            "200 OK",
            [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [] if method == "HEAD" else [body]
