"""The two apps of the browser-security recipe and the servers they run on."""

from __future__ import annotations

import argparse
import html
import json
import threading
from collections.abc import Iterable, Sequence
from http.cookies import SimpleCookie
from socketserver import ThreadingMixIn
from urllib.parse import parse_qs
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from wsgimw import CORS, CrossOriginGuard, Pipeline, SecurityHeaders, compose
from wsgimw.security import NONCE_KEY
from wsgimw.types import Environ, StartResponse, WSGIApp

#: Longest request body the API reads.
MAX_BODY = 4096


def _respond(
    start_response: StartResponse,
    status: str,
    body: bytes,
    content_type: str,
    *extra: tuple[str, str],
) -> list[bytes]:
    start_response(
        status,
        [("Content-Type", content_type), ("Content-Length", str(len(body))), *extra],
    )
    return [body]


def _json(
    start_response: StartResponse, payload: object, *extra: tuple[str, str]
) -> list[bytes]:
    body = json.dumps(payload).encode() + b"\n"
    return _respond(start_response, "200 OK", body, "application/json", *extra)


def _read_body(environ: Environ) -> bytes:
    try:
        length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_BODY)
    except ValueError:
        length = 0
    return bytes(environ["wsgi.input"].read(length)) if length > 0 else b""


def _user(environ: Environ) -> str | None:
    cookie: SimpleCookie = SimpleCookie()
    try:
        cookie.load(environ.get("HTTP_COOKIE", ""))
    except Exception:  # a malformed Cookie header: nobody is logged in
        return None
    morsel = cookie.get("session")
    return morsel.value if morsel is not None else None


SAME_ORIGIN_FORM = b"""<!doctype html>
<title>Transfer</title>
<form method="post" action="/transfer">
  <input name="amount" value="10"><button id="send">Send</button>
</form>
<form method="post" action="/echo"><button id="probe">Probe</button></form>
"""


def api_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The API. ``/login`` sets the session cookie; ``/api/me`` says who
    the cookie names; ``/api/notes`` takes a JSON note; ``/transfer`` is
    the form endpoint to protect; ``/form`` posts to it from the API's own
    origin; ``/echo`` (exempt from the guard) shows what a browser sent."""
    path = environ.get("PATH_INFO", "")
    method = environ.get("REQUEST_METHOD", "GET")
    if path == "/login":
        cookie = "session=demo-user; Path=/; HttpOnly; SameSite=Lax"
        return _json(start_response, {"user": "demo-user"}, ("Set-Cookie", cookie))
    if path == "/api/me":
        return _json(start_response, {"user": _user(environ)})
    if path == "/api/notes" and method == "POST":
        try:
            note = json.loads(_read_body(environ) or b"null")
        except ValueError:
            body = b'{"error": "send a JSON body"}\n'
            return _respond(start_response, "400 Bad Request", body, "application/json")
        return _json(start_response, {"saved": note, "user": _user(environ)})
    if path == "/form":
        return _respond(
            start_response, "200 OK", SAME_ORIGIN_FORM, "text/html; charset=utf-8"
        )
    if path == "/transfer" and method == "POST":
        fields = parse_qs(_read_body(environ).decode("latin-1"))
        amount = fields.get("amount", ["0"])[0]
        body = f"transferred {amount!r}\n".encode()
        return _respond(start_response, "200 OK", body, "text/plain; charset=utf-8")
    if path == "/echo":
        return _json(
            start_response,
            {
                "sec_fetch_site": environ.get("HTTP_SEC_FETCH_SITE"),
                "origin": environ.get("HTTP_ORIGIN"),
            },
        )
    return _respond(start_response, "404 Not Found", b"not found\n", "text/plain")


def api_stack(page_origin: str) -> Pipeline:
    """The API's layers: CORS first, so a preflight is answered before
    anything else runs; the guard trusts the page's origin, whose calls are
    cross-origin by design (Sec-Fetch-Site: same-site)."""
    return compose(
        CORS(
            origins=[page_origin],
            allow_credentials=True,
            methods=["GET", "POST"],
            headers=["content-type"],
            paths=["/api"],
        ),
        CrossOriginGuard(trusted_origins=[page_origin], exempt=["/echo"]),
        SecurityHeaders(
            cross_origin_resource_policy="same-site",
            content_security_policy="default-src 'none'; form-action 'self'; "
            "frame-ancestors 'none'",
        ),
    )


def build_api(page_origin: str) -> WSGIApp:
    """The API app on its stack."""
    return api_stack(page_origin)(api_app)


PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Notes</title></head>
<body>
<h1>Notes</h1>
<p>Me: <output id="me">waiting</output></p>
<p>Saved: <output id="notes">waiting</output></p>
<p>{comment}</p>
<form id="transfer" method="post" action="{api}/transfer">
  <input name="amount" value="1000"><button id="send">Send</button>
</form>
<form id="echo" method="post" action="{api}/echo">
  <button id="probe">What does the browser send?</button>
</form>
<script nonce="{nonce}">
  document.body.dataset.own = "ran";
  const show = (id, text) => {{ document.getElementById(id).textContent = text; }};
  fetch("{api}/api/me", {{credentials: "include"}})
    .then((r) => r.json())
    .then((data) => show("me", "user=" + data.user))
    .catch((error) => show("me", "blocked: " + error.name));
  fetch("{api}/api/notes", {{
    method: "POST",
    credentials: "include",
    headers: {{"Content-Type": "application/json"}},
    body: JSON.stringify({{text: "hello"}}),
  }})
    .then((r) => r.json())
    .then((data) => show("notes", "saved=" + data.saved.text + " user=" + data.user))
    .catch((error) => show("notes", "blocked: " + error.name));
</script>
</body></html>
"""

#: A comment an attacker posted, which the page (wrongly) renders as HTML:
#: the Content-Security-Policy is what stops it.
INJECTED = '<script>document.body.dataset.injected = "ran";</script>'


def page_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """The page: its script carries the request's nonce."""
    if environ.get("PATH_INFO", "") != "/":
        return _respond(start_response, "404 Not Found", b"not found\n", "text/plain")
    api = environ["recipes.api_origin"]
    page = PAGE.format(api=html.escape(api), nonce=environ[NONCE_KEY], comment=INJECTED)
    return _respond(start_response, "200 OK", page.encode(), "text/html; charset=utf-8")


def build_page(api_origin: str) -> WSGIApp:
    """The page's stack: the policy allows the page's own nonce'd scripts,
    calls and form posts to the API, and nothing else."""
    headers = SecurityHeaders(
        content_security_policy={
            "default-src": ["'self'"],
            "script-src": ["'nonce-{nonce}'"],
            "connect-src": ["'self'", api_origin],
            "form-action": ["'self'", api_origin],
            "base-uri": ["'none'"],
            "frame-ancestors": ["'none'"],
        }
    )

    def with_api_origin(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        environ["recipes.api_origin"] = api_origin
        return page_app(environ, start_response)

    return headers(with_api_origin)


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    """wsgiref's server, one thread per connection: a browser opens several
    connections at once and may leave one idle."""

    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        print(f"{self.address_string()} {format % args}", flush=True)


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the API and the page on 127.0.0.1 until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Serve an API and a page.")
    parser.add_argument("--port", type=int, default=8000, help="API, default 8000")
    parser.add_argument("--page-port", type=int, default=8001, help="default 8001")
    args = parser.parse_args(argv)
    api_origin = f"http://127.0.0.1:{args.port}"
    page_origin = f"http://127.0.0.1:{args.page_port}"
    page = make_server(
        "127.0.0.1",
        args.page_port,
        build_page(api_origin),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    api = make_server(
        "127.0.0.1",
        args.port,
        build_api(page_origin),
        server_class=_ThreadingServer,
        handler_class=_QuietHandler,
    )
    thread = threading.Thread(target=page.serve_forever, daemon=True)
    thread.start()
    print(f"API on {api_origin}; page on {page_origin}/ (allowed) and", flush=True)
    print(f"http://localhost:{args.page_port}/ (another site). Ctrl-C stops.")
    try:
        api.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        page.shutdown()
        thread.join(timeout=5)
        page.server_close()
        api.server_close()


if __name__ == "__main__":
    main()
