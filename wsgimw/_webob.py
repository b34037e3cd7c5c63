"""The parts of WebOb that wsgimw uses, imported in one place.

WebOb 1.8 imports the standard library's ``cgi`` module, deprecated since
Python 3.11 (WebOb uses the ``legacy-cgi`` package on 3.13+). Importing
wsgimw must not warn: many test suites run with warnings as errors.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.filterwarnings(
        "ignore", message="'cgi' is deprecated", category=DeprecationWarning
    )
    from webob.acceptparse import (  # type: ignore[import-untyped]
        AcceptValidHeader,
        create_accept_header,
    )
    from webob.exc import (  # type: ignore[import-untyped]
        HTTPException,
        WSGIHTTPException,
    )
    from webob.multidict import MultiDict  # type: ignore[import-untyped]

__all__ = [
    "AcceptValidHeader",
    "HTTPException",
    "MultiDict",
    "WSGIHTTPException",
    "create_accept_header",
]
