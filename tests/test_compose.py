"""compose() and Pipeline: ordering, flattening, repr, errors, fault matrix."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from wsgimw import Pipeline, Rewrite, compose
from wsgimw.testing import (
    FAULTS,
    Fault,
    LintError,
    ScriptedApp,
    call_app,
    check_fault,
    linted,
)
from wsgimw.types import Environ, Headers, Middleware, StartResponse, Write, WSGIApp


def tracing(name: str, trace: list[str]) -> Middleware:
    """A function middleware that records when it sees request and response."""

    def middleware(app: WSGIApp) -> WSGIApp:
        def traced(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            trace.append(f"{name} request")

            def start(status: str, headers: Headers, exc_info: object = None) -> Write:
                trace.append(f"{name} response")
                return start_response(status, headers)

            return app(environ, start)

        return traced

    middleware.__qualname__ = name
    return middleware


def hello(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def test_first_listed_is_outermost() -> None:
    trace: list[str] = []
    a, b, c = (tracing(n, trace) for n in "abc")
    call_app(compose(a, b, c)(hello))
    assert trace == [
        "a request",
        "b request",
        "c request",
        "c response",
        "b response",
        "a response",
    ]


def test_compose_equals_nesting_by_hand() -> None:
    made: list[str] = []

    def layer(name: str) -> Middleware:
        def middleware(app: WSGIApp) -> WSGIApp:
            made.append(name)

            def wrapped(
                environ: Environ, start_response: StartResponse
            ) -> Iterable[bytes]:
                return app(environ, start_response)

            wrapped.inner = app  # type: ignore[attr-defined]
            wrapped.name = name  # type: ignore[attr-defined]
            return wrapped

        return middleware

    a, b, c = layer("a"), layer("b"), layer("c")
    app = compose(a, b, c)(hello)
    assert made == ["c", "b", "a"]  # built inside out, once
    assert app.name == "a"  # type: ignore[attr-defined]
    assert app.inner.name == "b"  # type: ignore[attr-defined]
    assert app.inner.inner.name == "c"  # type: ignore[attr-defined]
    assert app.inner.inner.inner is hello  # type: ignore[attr-defined]


def test_nested_pipelines_flatten_and_layers_show_request_order() -> None:
    a, b, c, d = (Rewrite(headers=lambda s, h: (s, h)) for _ in range(4))
    inner = compose(b, c)
    outer = compose(a, inner, compose(d))
    assert outer.layers == (a, b, c, d)
    assert list(outer) == [a, b, c, d]
    assert len(outer) == 4
    assert outer == compose(a, b, c, d)
    assert hash(outer) == hash(compose(a, b, c, d))
    assert outer != compose(a, b)
    assert outer.__eq__("not a pipeline") is NotImplemented
    assert isinstance(outer, Pipeline)


def test_repr_shows_the_stack() -> None:
    def log_environ(app: WSGIApp) -> WSGIApp:
        return app

    class Classic:
        def __init__(self, app: WSGIApp) -> None:
            self.app = app

    pipeline = compose(log_environ, Rewrite(text=str.upper), Classic)  # type: ignore[arg-type]
    assert repr(pipeline) == (
        "compose(test_repr_shows_the_stack.<locals>.log_environ, "
        "Rewrite(text=str.upper), test_repr_shows_the_stack.<locals>.Classic)"
    )


def test_empty_pipeline_returns_the_app() -> None:
    assert compose()(hello) is hello


def test_classic_class_middleware_composes() -> None:
    class AddHeader:
        def __init__(self, app: WSGIApp) -> None:
            self.app = app

        def __call__(
            self, environ: Environ, start_response: StartResponse
        ) -> Iterable[bytes]:
            def start(status: str, headers: Headers, exc_info: object = None) -> Write:
                return start_response(status, [*headers, ("X-Classic", "yes")])

            return self.app(environ, start)

    result = call_app(compose(AddHeader)(hello))
    assert result.header("X-Classic") == "yes"


def test_a_wsgimw_class_instead_of_an_instance_is_refused() -> None:
    with pytest.raises(TypeError, match=r"pass an instance instead: Rewrite\(\)"):
        compose(Rewrite)  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [None, 42, "Compress"])
def test_non_callables_are_refused(bad: object) -> None:
    with pytest.raises(TypeError, match="compose\\(\\) takes middleware"):
        compose(bad)  # type: ignore[arg-type]


def test_wrapping_a_non_callable_is_refused() -> None:
    with pytest.raises(TypeError, match="wraps a WSGI app"):
        compose(Rewrite(text=str.upper))("app")  # type: ignore[arg-type]


def stack() -> Pipeline:
    return compose(
        Rewrite(headers=lambda status, headers: (status, [*headers, ("X-Outer", "1")])),
        Rewrite(text=str.upper, buffered=True, content_types=["text/*"]),
        Rewrite(body=lambda chunk: chunk.replace(b"o", b"0")),
    )


@pytest.mark.parametrize("fault", FAULTS, ids=str)
def test_fault_matrix_composed_pipeline(fault: Fault) -> None:
    check_fault(stack(), fault)


def test_composed_pipeline_result() -> None:
    result = call_app(stack()(ScriptedApp()))
    assert result.body == b"HELL0, W0RLD!"
    assert result.header("Content-Length") == "13"
    assert result.header("X-Outer") == "1"


def test_linted_pipeline_names_the_layer_that_breaks_the_contract() -> None:
    def adds_hop_by_hop(app: WSGIApp) -> WSGIApp:
        def wrapped(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
            def start(status: str, headers: Headers, exc_info: object = None) -> Write:
                return start_response(status, [*headers, ("Connection", "close")])

            return app(environ, start)

        return wrapped

    good = Rewrite(text=str.upper)
    build = linted(good, adds_hop_by_hop, Rewrite(headers=lambda s, h: (s, h)))
    app, lints = build(ScriptedApp())
    result = call_app(app, catch=True)
    assert isinstance(result.error, LintError)
    assert result.error.rule == "hop-by-hop"
    assert (
        "broken by test_linted_pipeline_names_the_layer_that_breaks_the_contract.<locals>.adds_hop_by_hop"
        in str(result.error)
    )
    assert [bool(lint.violations) for lint in lints] == [False, True, False, False]


def test_linted_pipeline_of_good_layers_is_clean() -> None:
    app, lints = linted(*stack())(ScriptedApp(style="lazy"))
    result = call_app(app)
    assert result.body == b"HELL0, W0RLD!"
    for lint in lints:
        lint.verify()
