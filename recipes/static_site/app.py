"""A small site with no framework: static assets, HTML pages and an API.

* ``/static/...``: the files of ``assets/`` (or of the folder named by the
  ``STATIC_SITE_ASSETS`` environment variable), served by `StaticFiles`.
  Run ``python -m wsgimw.static compress assets`` first, and each file that
  shrinks gets ``.br``, ``.zst`` and ``.gz`` siblings, sent to the clients
  that accept them. ``site.3f2a9c1b.css`` and ``app.9e107d9d.js`` have
  content-hashed names, so they are cached for a year (``immutable``).
* ``/`` and ``/about``: HTML pages, compressed by `Compress`, with strong
  ETags made by `ConditionalGet` from their bytes, so a browser that has a
  page gets a 304 instead of the page again.
* ``/api/...``: a JSON API, a WSGI app of its own, mounted with `Mount`: it
  sees ``SCRIPT_NAME = "/api"`` and the rest of the path in ``PATH_INFO``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path

from wsgimw import Compress, ConditionalGet, Mount, StaticFiles, compose
from wsgimw.types import Environ, StartResponse

ASSETS = Path(os.environ.get("STATIC_SITE_ASSETS") or Path(__file__).parent / "assets")

LAYOUT = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="stylesheet" href="/static/css/site.3f2a9c1b.css">
<script src="/static/js/app.9e107d9d.js" defer></script>
</head>
<body>
<header><nav><a href="/">Home</a><a href="/about">About</a>
<a href="/static/docs/manual.txt">Manual</a></nav></header>
<h1>{title}</h1>
{body}
<footer>Served by wsgimw: StaticFiles, ConditionalGet, Compress and Mount.</footer>
</body>
</html>
"""

PAGES = {
    "/": (
        "A small site",
        "<p>The stylesheet and the script come from StaticFiles, precompressed.</p>\n"
        '<p id="greeting">Asking the API mounted at /api for a greeting...</p>\n'
        + "<p>This page is compressed as it is sent, and it has a strong ETag "
        "made from its bytes: ask again with If-None-Match and it is a 304.</p>\n" * 8,
    ),
    "/about": (
        "About",
        "<p>No framework: a dict of pages, a JSON API and four wsgimw layers.</p>\n",
    ),
}


def pages(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The HTML pages: a list body, so ConditionalGet can make its ETag."""
    page = PAGES.get(environ.get("PATH_INFO") or "/")
    if page is None:
        body = b"Not found. Try /, /about, /api/hello or /static/robots.txt\n"
        start_response(
            "404 Not Found",
            [
                ("Content-Type", "text/plain; charset=utf-8"),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]
    title, content = page
    html = LAYOUT.format(title=title, body=content).encode("utf-8")
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(html))),
            ("Cache-Control", "no-cache"),  # always ask: a 304 is cheap
        ],
    )
    if environ["REQUEST_METHOD"] == "HEAD":
        return []
    return [html]


def api(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The JSON API, mounted at /api: its own paths start at its root."""
    if environ.get("PATH_INFO") == "/hello":
        status, data = (
            "200 OK",
            {
                "message": "hello from the API",
                "script_name": environ["SCRIPT_NAME"],
                "path_info": environ["PATH_INFO"],
            },
        )
    else:
        status, data = (
            "404 Not Found",
            {"error": "no such endpoint", "try": "/api/hello"},
        )
    body = json.dumps(data).encode("utf-8")
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


#: The layers in request order: StaticFiles answers /static/ before anything
#: else runs; Mount sends /api to the API; the pages are compressed by
#: Compress, outside ConditionalGet, which makes their ETags from the
#: uncompressed bytes (Compress then weakens them, as the bytes it sends differ).
pipeline = compose(
    StaticFiles(directory=ASSETS, prefix="/static/"),
    Mount("/api", api),
    Compress(),
    ConditionalGet(etag=True),
)
application = pipeline(pages)
