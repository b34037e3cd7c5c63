"""The WSGI (PEP 3333) types wsgimw speaks, and `Middleware`.

On Python 3.11+ these are the standard library's `wsgiref.types`, so an app
typed against either is accepted by the other.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TypeAlias

if sys.version_info >= (3, 11):
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment
else:  # pragma: no cover - exercised on 3.10 only
    from typing import Any, Protocol

    WSGIEnvironment: TypeAlias = dict[str, Any]

    class StartResponse(Protocol):
        def __call__(
            self,
            status: str,
            headers: list[tuple[str, str]],
            exc_info: ExcInfo | None = ...,
            /,
        ) -> Callable[[bytes], object]: ...

    WSGIApplication: TypeAlias = Callable[
        [WSGIEnvironment, StartResponse], Iterable[bytes]
    ]

__all__ = [
    "Environ",
    "ExcInfo",
    "Headers",
    "Middleware",
    "StartResponse",
    "WSGIApp",
    "Write",
]

Environ: TypeAlias = WSGIEnvironment
WSGIApp: TypeAlias = WSGIApplication
Headers: TypeAlias = list[tuple[str, str]]
Write: TypeAlias = Callable[[bytes], object]
ExcInfo: TypeAlias = (
    tuple[type[BaseException], BaseException, TracebackType] | tuple[None, None, None]
)
#: Anything that takes a WSGI app and returns one: a function or a configured
#: wsgimw instance.
Middleware: TypeAlias = Callable[[WSGIApp], WSGIApp]
