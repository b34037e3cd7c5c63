"""compose(): fold middleware over an app, the first listed outermost."""

from __future__ import annotations

from collections.abc import Iterator

from .types import Middleware, WSGIApp

__all__ = ["Pipeline", "compose"]


def _check_layer(layer: object) -> None:
    if isinstance(layer, type) and layer.__module__.startswith("wsgimw."):
        raise TypeError(
            f"compose() got the class {layer.__name__}; pass an instance "
            f"instead: {layer.__name__}() (options are keyword arguments)"
        )
    if not callable(layer):
        raise TypeError(
            f"compose() takes middleware (callables app -> app), "
            f"got {layer!r} of type {type(layer).__name__}"
        )


def _describe(layer: object) -> str:
    # Functions show their name; instances and classes show their repr.
    if hasattr(layer, "__code__"):
        return str(getattr(layer, "__qualname__", repr(layer)))
    if isinstance(layer, type):
        return layer.__qualname__
    return repr(layer)


class Pipeline:
    """Middleware folded into one, the first listed outermost.

    ``Pipeline(a, b, c)(app)`` is ``a(b(c(app)))``: ``a`` sees the request
    first and the response last. Calling it builds the nesting once, so the
    composed app costs exactly what the hand-written nesting costs.
    """

    __slots__ = ("_layers",)

    def __init__(self, *middleware: Middleware) -> None:
        layers: list[Middleware] = []
        for layer in middleware:
            if isinstance(layer, Pipeline):
                layers.extend(layer.layers)
                continue
            _check_layer(layer)
            layers.append(layer)
        self._layers = tuple(layers)

    @property
    def layers(self) -> tuple[Middleware, ...]:
        """The middleware in request order: outermost first."""
        return self._layers

    def __call__(self, app: WSGIApp) -> WSGIApp:
        if not callable(app):
            raise TypeError(f"a Pipeline wraps a WSGI app (a callable), got {app!r}")
        for layer in reversed(self._layers):
            app = layer(app)
        return app

    def __iter__(self) -> Iterator[Middleware]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Pipeline):
            return NotImplemented
        return self._layers == other._layers

    def __hash__(self) -> int:
        return hash(self._layers)

    def __repr__(self) -> str:
        inner = ", ".join(_describe(layer) for layer in self._layers)
        return f"compose({inner})"


def compose(*middleware: Middleware) -> Pipeline:
    """Fold ``middleware`` into one `Pipeline`; the first listed is outermost.

    ``compose(a, b, c)(app) == a(b(c(app)))``. Nested pipelines flatten.
    Each item is anything that takes a WSGI app and returns one: a wsgimw
    instance such as ``Compress()``, a plain function, or a classic
    middleware class whose constructor takes the app.
    """
    return Pipeline(*middleware)
