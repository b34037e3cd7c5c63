"""The WSGI entry point of the recipe's Django project, with the stack.

Any WSGI server loads ``application`` from here, as Django's own template
sets it up: ``gunicorn recipes.frameworks.django_site.wsgi``. ``python -m
recipes.frameworks.django_site.wsgi --port 8000`` serves it with the
standard library's server.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from django.core.wsgi import get_wsgi_application  # type: ignore[import-untyped]

from recipes.frameworks import DEMO_USERS, PROTECTED, REALM, serve
from wsgimw import AccessLog, BasicAuth, Compress, ErrorHandler, QueryParser, compose
from wsgimw.types import WSGIApp

os.environ.setdefault(
    "DJANGO_SETTINGS_MODULE", "recipes.frameworks.django_site.settings"
)

pipeline = compose(
    ErrorHandler(),  # outermost: what anything below raises becomes a clean 500
    AccessLog(format="combined"),  # one line per request, 401s and 500s included
    Compress(),
    BasicAuth(users=DEMO_USERS, realm=REALM, protect=[PROTECTED]),
    QueryParser(),
)
application: WSGIApp = pipeline(get_wsgi_application())


def main(argv: Sequence[str] | None = None) -> None:
    """Serve ``application`` on 127.0.0.1 until Ctrl-C."""
    serve(application, argv, "Django")


if __name__ == "__main__":
    main()
