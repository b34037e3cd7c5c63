"""A Pyramid site behind wsgimw, built by PasteDeploy from an .ini file.

``production.ini`` beside this file holds the whole stack: a
``[pipeline:main]`` of wsgimw filters (``use = egg:wsgimw#errors``,
``#accesslog``, ``#compress``, ``#query``, ``#basic_auth``) in front of
``[app:site]``, which PasteDeploy makes by calling `main` below. Run it
with::

    python -m recipes.pyramid_site --port 6543

which loads the .ini with ``paste.deploy.loadapp``, sets up logging from
its ``[loggers]`` sections and serves the pipeline with waitress on
127.0.0.1. ``pserve recipes/pyramid_site/production.ini``, Pyramid's own
runner, does the same from the ``[server:main]`` section (fixed to port
6543). Then::

    curl --compressed -i http://127.0.0.1:6543/
    curl 'http://127.0.0.1:6543/search?q=wsgi&q=pyramid'
    curl -i http://127.0.0.1:6543/boom
    curl -u demo:wsgimw-demo http://127.0.0.1:6543/admin/

The pages:

* ``/`` and ``/report.json``: an HTML page and a JSON document large
  enough for ``egg:wsgimw#compress`` to compress;
* ``/search?q=...``: echoes ``environ["wsgimw.query"]``, the query that
  ``egg:wsgimw#query`` parsed;
* ``/boom``: raises, and ``egg:wsgimw#errors`` answers with a clean 500;
* ``/admin/``: behind ``egg:wsgimw#basic_auth``, with users from
  ``demo.htpasswd`` beside the .ini (``%(here)s/demo.htpasswd``).

**The demo password**: user ``demo``, password ``wsgimw-demo``, a bcrypt
hash made with ``htpasswd -c -B demo.htpasswd demo``. It is public: make
your own file for anything but this demo.

Pyramid itself knows nothing of wsgimw: the filters sit between the server
and the Pyramid app, and pass what they learn in the environ
(``wsgimw.query``, ``wsgimw.user``, ``REMOTE_USER``).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from pyramid.config import Configurator  # type: ignore[import-untyped]
from pyramid.request import Request  # type: ignore[import-untyped]
from pyramid.response import Response  # type: ignore[import-untyped]

from wsgimw.auth import USER_KEY
from wsgimw.query import ENVIRON_KEY
from wsgimw.types import WSGIApp

_AREAS = ("compress", "auth", "query")
#: Made-up releases, enough rows that the pages are worth compressing.
RELEASES = [
    {
        "version": f"1.{minor}.{patch}",
        "date": f"2024-{minor + 1:02d}-{patch * 3 + 1:02d}",
        "notes": f"Fixes and improvements to the {_AREAS[(minor + patch) % 3]} module.",
    }
    for minor in range(8)
    for patch in range(5)
]


def _page(title: str, body: str) -> str:
    return (
        f"<!doctype html><html><head><meta charset=utf-8>"
        f"<title>{html.escape(title)}</title></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>\n"
    )


def home(request: Request) -> Response:
    """An HTML table of every release: compressible text."""
    site_name = request.registry.settings.get("site_name", "pyramid_site")
    rows = "".join(
        f"<tr><td>{r['version']}</td><td>{r['date']}</td>"
        f"<td>{html.escape(r['notes'])}</td></tr>"
        for r in RELEASES
    )
    body = (
        "<p>Try <a href=/report.json>/report.json</a>, "
        "<a href='/search?q=wsgi'>/search?q=wsgi</a>, <a href=/boom>/boom</a> "
        "and <a href=/admin/>/admin/</a>.</p>"
        f"<table><tr><th>Version<th>Date<th>Notes</tr>{rows}</table>"
    )
    return Response(
        text=_page(site_name, body), content_type="text/html", charset="utf-8"
    )


def report(request: Request) -> Response:
    """The same releases as JSON."""
    return _json({"releases": RELEASES})


def search(request: Request) -> Response:
    """Echo the query that wsgimw's QueryParser put in the environ."""
    query = request.environ.get(ENVIRON_KEY)
    if query is None:
        # egg:wsgimw#query is missing from the pipeline: a server error,
        # which egg:wsgimw#errors turns into a clean 500.
        raise RuntimeError("no wsgimw.query in the environ: add egg:wsgimw#query")
    return _json(
        {"q": query.getall("q"), "pairs": [list(pair) for pair in query.items()]}
    )


def boom(request: Request) -> Response:
    """Fail on purpose: the error page comes from wsgimw's ErrorHandler."""
    raise RuntimeError("this view fails on purpose")


def admin(request: Request) -> Response:
    """The protected area. BasicAuth let the request in and named the user;
    without one (the filter left out of the pipeline) the page refuses."""
    user = request.environ.get(USER_KEY)
    if user is None:
        return Response(
            text="no authenticated user\n",
            status=403,
            content_type="text/plain",
            charset="utf-8",
        )
    body = f"<p>Logged in as {html.escape(user)}.</p>"
    return Response(
        text=_page("Admin", body), content_type="text/html", charset="utf-8"
    )


def _json(data: Mapping[str, Any]) -> Response:
    return Response(
        text=json.dumps(data, ensure_ascii=False),
        content_type="application/json",
        charset="utf-8",
    )


def main(global_config: Mapping[str, str], **settings: str) -> WSGIApp:
    """The Pyramid app factory ``[app:site]`` names with
    ``use = call:recipes.pyramid_site:main``; ``settings`` are the keys of
    that section."""
    with Configurator(settings=settings) as config:
        for name, pattern, view in (
            ("home", "/", home),
            ("report", "/report.json", report),
            ("search", "/search", search),
            ("boom", "/boom", boom),
            ("admin", "/admin", admin),
            ("admin_pages", "/admin/*rest", admin),
        ):
            config.add_route(name, pattern)
            config.add_view(view, route_name=name)
        app: WSGIApp = config.make_wsgi_app()
    return app
