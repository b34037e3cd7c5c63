"""Put a password on a site's admin pages: ``python -m recipes.admin_prefix``.

`BasicAuth` with ``protect=["/admin"]`` asks for a user name and password on
``/admin`` and everything under it (``/ADMIN`` too, and any path with a
``..`` segment), and leaves the rest of the site alone. Users come from an
htpasswd file made with Apache's tool::

    htpasswd -c -B /etc/mysite/admin.htpasswd alice
    ADMIN_HTPASSWD=/etc/mysite/admin.htpasswd python -m recipes.admin_prefix
    curl -u alice http://127.0.0.1:8000/admin/

Here a small raw WSGI app stands in for the site. With Django, wrap the
application in ``wsgi.py`` the same way::

    import os

    from django.core.wsgi import get_wsgi_application
    from wsgimw.auth import BasicAuth

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    application = BasicAuth(
        htpasswd=os.environ["ADMIN_HTPASSWD"],
        realm="mysite admin",
        protect=["/admin"],
    )(get_wsgi_application())

Django's admin keeps its own login behind this one: an attacker must get
past both, and the admin's login form is no longer open to the whole
internet. Add users or change passwords with ``htpasswd -B FILE USER`` while
the site runs: the file is read again within a second, and a removed user
is refused from then on. Serve it over HTTPS only: Basic sends the password
with every request.

Mounted under a prefix (``waitress-serve --url-prefix=/mysite``, a
``SCRIPT_NAME`` set by the server or by a proxy-prefix middleware), the
site still routes on ``PATH_INFO``: ``/mysite/admin/`` reaches it as
``PATH_INFO="/admin/"``. ``protect=["/admin"]`` covers that: it is matched
on ``PATH_INFO`` alone as well as on the full path, ``SCRIPT_NAME +
PATH_INFO``, and either one under ``/admin`` asks for a password.
``exempt=`` works the other way round: a request is let through only when
both its full path and its ``PATH_INFO`` are exempt, so a mounted site
lists both forms (``exempt=["/health", "/mysite/health"]``). As a second
line of defence, the admin pages below refuse a request that reaches them
without a user.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import os
from collections.abc import Iterable, Sequence
from wsgiref.simple_server import make_server

from wsgimw.auth import USER_KEY, BasicAuth
from wsgimw.types import Environ, StartResponse, WSGIApp

#: The environment variable that names the htpasswd file.
ENV_VAR = "ADMIN_HTPASSWD"
REALM = "site admin"


def site_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """A stand-in site: a public home page and an admin area."""
    path = environ.get("PATH_INFO", "") or "/"
    if path == "/":
        status, text = "200 OK", "<h1>Welcome</h1><p>The public site.</p>"
    elif path == "/admin" or path.startswith("/admin/"):
        # BasicAuth let the request in: the user name is in the environ. If
        # it is not, BasicAuth was left out or mis-configured: refuse.
        user = environ.get(USER_KEY)
        if user is None:
            status, text = "403 Forbidden", "<h1>Forbidden</h1>"
        else:
            name = html.escape(user)
            status, text = "200 OK", f"<h1>Admin</h1><p>Logged in as {name}.</p>"
    else:
        status, text = "404 Not Found", "<h1>Not found</h1>"
    body = f"<!doctype html><meta charset=utf-8>{text}\n".encode()
    start_response(
        status,
        [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ],
    )
    return [body]


def build(htpasswd: str | os.PathLike[str]) -> WSGIApp:
    """The site with its admin pages behind ``htpasswd``'s users.

    Raises:
        ValueError: the file cannot be read, holds no users or a hash that
            is not supported; the message says how to fix it.
    """
    return BasicAuth(htpasswd=htpasswd, realm=REALM, protect=["/admin"])(site_app)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the site on 127.0.0.1 until Ctrl-C."""
    parser = argparse.ArgumentParser(
        description="Serve a site whose /admin pages need a password."
    )
    parser.add_argument(
        "--htpasswd",
        default=os.environ.get(ENV_VAR),
        help=f"the htpasswd file (default: ${ENV_VAR})",
    )
    parser.add_argument("--port", type=int, default=8000, help="default: 8000")
    args = parser.parse_args(argv)
    if not args.htpasswd:
        parser.error(
            f"give --htpasswd FILE or set {ENV_VAR}; make the file with "
            "htpasswd -c -B FILE USER"
        )
    try:
        application = build(args.htpasswd)
    except ValueError as exc:
        parser.error(str(exc))
    with make_server("127.0.0.1", args.port, application) as server:
        url = f"http://127.0.0.1:{server.server_port}"
        print(f"Serving on {url}/ (Ctrl-C to stop). Try:")
        print(f"    curl {url}/")
        print(f"    curl -u USER {url}/admin/", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
