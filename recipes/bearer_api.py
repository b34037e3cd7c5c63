"""A JSON API behind bearer tokens: ``python -m recipes.bearer_api``.

`BearerAuth` accepts ``Authorization: Bearer <token>`` on every path but
``/health`` (and what is under it), which stays open for load balancers.
The tokens come from the ``API_TOKENS`` environment variable, separated by
commas, each either a bare token or ``name:token`` to tell them apart in
``REMOTE_USER`` and the logs::

    export API_TOKENS="ci:$(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
    python -m recipes.bearer_api --port 8000
    curl -H "Authorization: Bearer ${API_TOKENS#ci:}" http://127.0.0.1:8000/whoami

Tokens that expire or can be revoked need a lookup per request instead of
a fixed set: pass ``verify=``, a callable that returns the user name for a
valid token and None otherwise. `TokenStore` is a small in-memory one; a
real one asks a database, or checks a JWT's signature and expiry with a JWT
library (a verifier may also return the JWT's claims as a mapping with
``"sub"`` and ``"scope"``, for ``scopes=``)::

    store = TokenStore()
    application = build(verify=store.verify)
    token = store.issue("deploy-bot", seconds=3600)

``/health`` is exempt only when both the full path (``SCRIPT_NAME +
PATH_INFO``) and ``PATH_INFO`` alone are: mounted under a prefix such as
``/api``, pass ``exempt=["/health", "/api/health"]`` to `BearerAuth`.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from wsgiref.simple_server import make_server

from wsgimw.auth import USER_KEY, BearerAuth
from wsgimw.types import Environ, StartResponse, WSGIApp

#: The environment variable that holds the tokens.
ENV_VAR = "API_TOKENS"


def parse_tokens(text: str) -> dict[str, str]:
    """``"ci:tok1,tok2"`` as ``{"tok1": "ci", "tok2": "bearer"}``.

    A token holds no ``:`` or ``,`` (RFC 6750 b64token), so each item splits
    unambiguously; spaces around items and empty items are ignored.
    """
    tokens: dict[str, str] = {}
    for item in text.split(","):
        item = item.strip()
        if item:
            name, colon, token = item.rpartition(":")
            tokens[token] = name if colon else "bearer"
    return tokens


def api_app(environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
    """A stand-in JSON API: ``/health`` (open) and ``/whoami``."""
    path = environ.get("PATH_INFO", "")
    if path in ("/health", "/health/"):
        status, payload = "200 OK", {"status": "ok"}
    elif path == "/whoami":
        status, payload = "200 OK", {"user": environ[USER_KEY]}
    else:
        status, payload = "404 Not Found", {"error": "not found"}
    body = json.dumps(payload).encode() + b"\n"
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
    )
    return [body]


def build(
    *,
    tokens: Mapping[str, str] | None = None,
    verify: Callable[[str], str | None] | None = None,
) -> WSGIApp:
    """The API behind ``tokens`` (token -> user name) or ``verify``.

    Raises:
        ValueError: no tokens, a token that is not RFC 6750 b64token text or
            is shorter than 16 characters (the message never shows it).
    """
    return BearerAuth(tokens=tokens, verify=verify, realm="api", exempt=["/health"])(
        api_app
    )


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenStore:
    """Tokens that expire and can be revoked, for ``verify=``.

    Thread-safe. Tokens are random (``secrets.token_urlsafe(32)``: 256 bits)
    and kept as SHA-256 digests, looked up by the digest of the token
    presented: no comparison runs over a token's characters, so timing
    tells nothing, and the store itself holds nothing a client could send.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._tokens: dict[bytes, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def issue(self, user: str, *, seconds: float = 3600) -> str:
        """A new token for ``user``, valid for ``seconds``."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[_digest(token)] = (user, self._clock() + seconds)
        return token

    def revoke(self, token: str) -> None:
        """Make ``token`` invalid now."""
        with self._lock:
            self._tokens.pop(_digest(token), None)

    def verify(self, token: str) -> str | None:
        """The user of a valid token; None for an unknown or expired one."""
        key = _digest(token)
        with self._lock:
            entry = self._tokens.get(key)
            if entry is None:
                return None
            user, expires = entry
            if self._clock() >= expires:
                del self._tokens[key]
                return None
            return user


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the API on 127.0.0.1 until Ctrl-C."""
    parser = argparse.ArgumentParser(description="Serve an API behind bearer tokens.")
    parser.add_argument("--port", type=int, default=8000, help="default: 8000")
    args = parser.parse_args(argv)
    tokens = parse_tokens(os.environ.get(ENV_VAR, ""))
    if not tokens:
        parser.error(
            f"set {ENV_VAR} to one or more tokens, comma-separated, each TOKEN or "
            "NAME:TOKEN; make one with: python -c 'import secrets; "
            "print(secrets.token_urlsafe(32))'"
        )
    try:
        application = build(tokens=tokens)
    except ValueError as exc:
        # The message names a token by its place, never by its text.
        parser.error(f"{exc} (each item in {ENV_VAR} is TOKEN or NAME:TOKEN)")
    with make_server("127.0.0.1", args.port, application) as server:
        url = f"http://127.0.0.1:{server.server_port}"
        print(f"Serving on {url}/ with {len(tokens)} token(s) (Ctrl-C to stop). Try:")
        print(f"    curl {url}/health")
        print(f'    curl -H "Authorization: Bearer TOKEN" {url}/whoami', flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()


if __name__ == "__main__":
    main()
