"""The private pages: ``/private/``, behind `BasicAuth`.

A controller of their own, so that every path that reaches them starts with
``/private`` (through ``routes.py``) or ``/demo/private``: the two prefixes
that ``wsgi.py`` protects.
"""

from gluon import current  # type: ignore[import-untyped]


def index():  # type: () -> str
    user = current.request.env.remote_user  # BasicAuth let the request in
    current.response.headers["Content-Type"] = "text/plain; charset=utf-8"
    return f"Hello {user}: only users with a password see this page.\n"
