"""The full stack of architecture §1 and the equivalent Paste/WebOb stack.

wsgimw::

    compose(ErrorHandler(), AccessLog(stream=...), Compress(),
            BasicAuth(users=..., exempt=["/health"]), QueryParser())

Paste and WebOb, layer for layer::

    ErrorMiddleware(TransLogger(gzipper(exempt-or-AuthBasicHandler(
        WebOb Request(environ).GET(app)))))

Both serve the same app, in the same order of layers, the outermost first.

* Access log: wsgimw writes its combined line to a stream that keeps
  nothing (`NullStream`), its cheapest documented output; TransLogger can
  only write through a logger, here one whose handler formats the line and
  drops it (`bench.apps.FormatAndDiscard`). A second wsgimw variant logs
  through such a logger too (``logged=True``), for the like-for-like figure.
* Authentication: public requests go to ``/health``, which both stacks let
  through unchecked (BasicAuth's ``exempt=``; for Paste, which has no such
  option, a function layer that sends ``/health`` round AuthBasicHandler, as
  a Paste user would write it). Requests with credentials go to ``/hello``.
  wsgimw checks them against a bcrypt hash of cost 4 (the cheapest bcrypt),
  which it verifies once and then finds in its cache of verified
  credentials, as a browser's repeated requests do in production. Paste has
  no cache and calls its ``authfunc`` for every request: here one that
  compares SHA-256 digests, about the cost of wsgimw's cache lookup (an
  keyed BLAKE2b), so neither pays for bcrypt per request.
* Query: QueryParser makes its mapping and parses it only if the app reads
  it (the bench's app does not); the WebOb layer parses on every request,
  as ``Request(environ).GET`` does.
* Compression: both stacks' gzip layer sees every response; Compress leaves
  a body under its 500-byte ``minimum_size`` alone, Paste's gzipper
  compresses whatever it is given when the client accepts gzip.

The module-level apps (`bare_app`, `wsgimw_app`, `wsgimw_logged_app`,
`paste_app`) are what `bench.e2e` serves with gunicorn.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from pathlib import Path

import bcrypt
from paste.auth.basic import AuthBasicHandler
from paste.exceptions.errormiddleware import ErrorMiddleware as PasteErrorMiddleware
from paste.gzipper import middleware as PasteGzipper
from paste.translogger import TransLogger as PasteTransLogger
from webob import Request as WebObRequest  # type: ignore[import-untyped]

from bench import apps
from wsgimw import AccessLog, BasicAuth, Compress, ErrorHandler, QueryParser, compose
from wsgimw.types import Environ, StartResponse, WSGIApp

USER = "alice"
PASSWORD = "correct horse battery staple"
REALM = "bench"
#: The path every stack leaves unchecked, and one it checks.
PUBLIC = "/health"
PRIVATE = "/hello"
AUTHORIZATION = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
_PASSWORD_DIGEST = hashlib.sha256(PASSWORD.encode()).digest()

# Cost 4: verified once per process (about a millisecond), then cached.
_BCRYPT_HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()

STACK_LOG, STACK_LOG_HANDLER = apps.formatting_logger("bench.stack.wsgimw")
PASTE_LOG, PASTE_LOG_HANDLER = apps.formatting_logger("bench.stack.paste")


class LastLine(apps.NullStream):
    """A stream that keeps only the last line written (without its newline),
    for a check to see; what AccessLog(stream=) writes to here."""

    def __init__(self) -> None:
        super().__init__()
        self.last = ""

    def write(self, text: str) -> int:
        self.last = text.rstrip("\n")
        return len(text)


STACK_STREAM = LastLine()


def make_environ(*, gzip: bool, credentials: bool) -> Environ:
    """A stack request: ``GET /health?QUERY`` (public), or ``GET /hello?QUERY``
    with the user's credentials; accepting gzip only, or no coding."""
    environ = apps.make_fresh_environ(apps.QUERY)
    if gzip:
        environ["HTTP_ACCEPT_ENCODING"] = "gzip"
    else:
        del environ["HTTP_ACCEPT_ENCODING"]
    if credentials:
        environ["PATH_INFO"] = PRIVATE
        environ["HTTP_AUTHORIZATION"] = AUTHORIZATION
    else:
        environ["PATH_INFO"] = PUBLIC
    return environ


def wsgimw_stack(app: WSGIApp, *, logged: bool = False) -> WSGIApp:
    """The architecture §1 stack around ``app``; the access log to a stream that
    keeps nothing, or with ``logged`` to a logger that formats and drops."""
    access = (
        AccessLog(format="combined", logger=STACK_LOG)
        if logged
        else AccessLog(format="combined", stream=STACK_STREAM)
    )
    return compose(
        ErrorHandler(),
        access,
        Compress(),
        BasicAuth(users={USER: _BCRYPT_HASH}, realm=REALM, exempt=[PUBLIC]),
        QueryParser(),
    )(app)


def wsgimw_logged_stack(app: WSGIApp) -> WSGIApp:
    return wsgimw_stack(app, logged=True)


def _paste_check(environ: Environ, user: str, password: str) -> bool:
    # A per-request check of about the cost of wsgimw's cache lookup.
    digest = hashlib.sha256(password.encode()).digest()
    return user == USER and hmac.compare_digest(digest, _PASSWORD_DIGEST)


def _paste_exempt(app: WSGIApp, checked: WSGIApp) -> WSGIApp:
    """What a Paste user writes for a public path: AuthBasicHandler has no
    exempt option."""

    def paste_exempt_app(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == PUBLIC or path.startswith(PUBLIC + "/"):
            return app(environ, start_response)
        return checked(environ, start_response)

    return paste_exempt_app


def _webob_query(app: WSGIApp) -> WSGIApp:
    """Parse the query as a WebOb app does, before calling ``app``."""

    def webob_query_app(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        WebObRequest(environ).GET  # noqa: B018  # parsed and cached in the environ
        return app(environ, start_response)

    return webob_query_app


def paste_stack(app: WSGIApp) -> WSGIApp:
    """Paste's and WebOb's layers for the same jobs, in the same order."""
    inner = _webob_query(app)
    authenticated: WSGIApp = AuthBasicHandler(inner, REALM, _paste_check)
    gzipped: WSGIApp = PasteGzipper(_paste_exempt(inner, authenticated))
    logged: WSGIApp = PasteTransLogger(gzipped, logger=PASTE_LOG)
    outer: WSGIApp = PasteErrorMiddleware(
        logged, debug=False, show_exceptions_in_wsgi_errors=False
    )
    return outer


# -- the default configuration -----------------------------------------------
#
# What a user who copies the README runs: AccessLog() through logging (its
# default) to a handler that formats every record, Compress(minimum_size=500),
# BasicAuth on an htpasswd file with a {SHA} line protecting /admin, and an
# app that reads the query string. The request is a browser's: credentials,
# a query string, gzip among its Accept-Encoding. Paste's and WebOb's layers
# do the same jobs, in the same order.

#: The htpasswd file of both default stacks: one ``{SHA}`` line for USER.
HTPASSWD = Path(__file__).resolve().with_name("bench.htpasswd")
#: The protected prefix of the default stacks, and the path requested.
PROTECTED = "/admin"
DEFAULT_PATH = PROTECTED + "/hello"
DEFAULT_LOG, DEFAULT_LOG_HANDLER = apps.formatting_logger("bench.default.wsgimw")
DEFAULT_PASTE_LOG, DEFAULT_PASTE_LOG_HANDLER = apps.formatting_logger(
    "bench.default.paste"
)


def make_default_environ() -> Environ:
    """The default configuration's request: a browser's ``GET
    /admin/hello?QUERY`` with the user's Basic credentials."""
    environ = apps.make_fresh_environ(apps.QUERY)
    environ["PATH_INFO"] = DEFAULT_PATH
    environ["HTTP_AUTHORIZATION"] = AUTHORIZATION
    return environ


def query_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The hello-world app, reading the query through QueryParser first."""
    if environ["wsgimw.query"].getall("tag") != apps.TAGS:
        raise RuntimeError("QueryParser read the wrong tags")
    return apps.hello_app(environ, start_response)


def webob_query_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The hello-world app, reading the query as a WebOb app does first."""
    if WebObRequest(environ).GET.getall("tag") != apps.TAGS:
        raise RuntimeError("WebOb read the wrong tags")
    return apps.hello_app(environ, start_response)


def default_stack(app: WSGIApp) -> WSGIApp:
    """The README's stack around ``app``, AccessLog logging through a
    logger whose handler formats each record."""
    return compose(
        ErrorHandler(),
        AccessLog(format="combined", logger=DEFAULT_LOG),
        Compress(minimum_size=500),
        BasicAuth(htpasswd=HTPASSWD, realm="app", protect=[PROTECTED]),
        QueryParser(),
    )(app)


def _htpasswd_lines(path: Path) -> dict[str, str]:
    """user -> hash, from the lines of an htpasswd file (comments skipped)."""
    users = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            user, _, hashed = line.partition(":")
            users[user] = hashed
    return users


_PASTE_USERS = _htpasswd_lines(HTPASSWD)


def _paste_sha_check(environ: Environ, user: str, password: str) -> bool:
    """What a Paste user writes to check a {SHA} htpasswd line."""
    stored = _PASTE_USERS.get(user)
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
    return stored is not None and hmac.compare_digest(stored, "{SHA}" + digest)


def _paste_protect(app: WSGIApp, checked: WSGIApp) -> WSGIApp:
    """What a Paste user writes for protect=: AuthBasicHandler checks every
    request it sees."""

    def paste_protect_app(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == PROTECTED or path.startswith(PROTECTED + "/"):
            return checked(environ, start_response)
        return app(environ, start_response)

    return paste_protect_app


def paste_default_stack(app: WSGIApp) -> WSGIApp:
    """Paste's and WebOb's layers for the default configuration's jobs."""
    authenticated: WSGIApp = AuthBasicHandler(app, "app", _paste_sha_check)
    gzipped: WSGIApp = PasteGzipper(_paste_protect(app, authenticated))
    logged: WSGIApp = PasteTransLogger(gzipped, logger=DEFAULT_PASTE_LOG)
    outer: WSGIApp = PasteErrorMiddleware(
        logged, debug=False, show_exceptions_in_wsgi_errors=False
    )
    return outer


# -- what bench.e2e serves ----------------------------------------------------

bare_app: WSGIApp = apps.hello_app
wsgimw_app: WSGIApp = wsgimw_stack(apps.hello_app)
wsgimw_logged_app: WSGIApp = wsgimw_logged_stack(apps.hello_app)
paste_app: WSGIApp = paste_stack(apps.hello_app)
default_app: WSGIApp = default_stack(query_app)
paste_default_app: WSGIApp = paste_default_stack(webob_query_app)
