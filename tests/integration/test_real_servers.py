"""The full wsgimw stack under real servers, checked with a real HTTP client.

Every server in ``servers_real.SERVERS`` (gunicorn's sync and gthread
workers, waitress, uWSGI, mod_wsgi-express, cheroot, Tornado's
WSGIContainer, wsgiref, and nginx in front of gunicorn) starts once for this
module and serves ``stack_app``; each test below runs against each of them,
with ``http.client``.

Every request comes from 127.0.0.2 and carries a forged ``X-Forwarded-For``
(a documentation address), so the access log's client address can be told
apart from both the forgery and 127.0.0.1, the address nginx connects from.
Every request also carries ``t=<token>`` as the last query parameter, which
names its one line in the access log.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import http.client
import json
import re
import secrets
import time
import zlib
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from servers_real import PASSWORD, SERVERS, USER, Live, serve

pytestmark = pytest.mark.integration

CLIENT = "127.0.0.2"
FORGED = "203.0.113.7"
CHALLENGE = 'Basic realm="wsgimw servers", charset="UTF-8"'
ERROR_PAGE = b"500 Internal Server Error\n"
# Apache's combined format, as AccessLog writes it.
LINE = re.compile(
    r"(?P<host>\S+) - (?P<user>\S+) \[[^\]]+\] "
    r'"GET (?P<target>\S+) HTTP/1\.[01]" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r'"-" "-"\Z'
)
#: The tokens of the requests made to each server, by server name.
TOKENS: dict[str, list[str]] = defaultdict(list)


@pytest.fixture(scope="module", params=list(SERVERS))
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    name: str = request.param
    directory = tmp_path_factory.mktemp(re.sub(r"\W", "-", name))
    with serve(name, directory) as server:
        yield server


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes
    token: str


def token_for(live: Live) -> str:
    token = secrets.token_hex(8)
    TOKENS[live.name].append(token)
    return token


def connect(live: Live, timeout: float = 15) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(
        "127.0.0.1", live.port, timeout=timeout, source_address=(CLIENT, 0)
    )


class NoAnswer(AssertionError):
    """The server's answer could not be read in full."""


def get(live: Live, path: str, **headers: str) -> Reply:
    """GET ``path`` with ``t=<a new token>`` added to its query."""
    token = token_for(live)
    target = f"{path}{'&' if '?' in path else '?'}t={token}"
    conn = connect(live)
    try:
        conn.request("GET", target, headers={"X-Forwarded-For": FORGED, **headers})
        response = conn.getresponse()
        return Reply(response.status, response.headers, response.read(), token)
    except (OSError, http.client.HTTPException) as error:
        raise NoAnswer(f"GET {target}: {error!r}" + diagnostics(live)) from error
    finally:
        conn.close()


def diagnostics(live: Live) -> str:
    log = live.files.access_log.read_text(encoding="utf-8")
    return f"\nserver {live.name}\n{live.output()}\n--- access log ---\n{log}"


def lines_for(live: Live, token: str, timeout: float = 10) -> list[str]:
    """The access lines of the request with ``token``, once there is one:
    the line is written at close(), which a server may call only after the
    client has the whole body."""
    deadline = time.monotonic() + timeout
    while True:
        text = live.files.access_log.read_text(encoding="utf-8")
        lines = [line for line in text.splitlines() if f"t={token} HTTP/" in line]
        if lines or time.monotonic() >= deadline:
            return lines
        time.sleep(0.02)


def assert_logged(
    live: Live, reply: Reply, *, sent: int | None = None, user: str = "-"
) -> None:
    """Exactly one access line for ``reply``: its status, the client's
    address, and the body bytes the client received (``sent`` if given)."""
    lines = lines_for(live, reply.token)
    assert len(lines) == 1, f"{len(lines)} lines for t={reply.token}" + diagnostics(
        live
    )
    match = LINE.match(lines[0])
    assert match, f"not a combined line: {lines[0]!r}" + diagnostics(live)
    size = len(reply.body) if sent is None else sent
    assert (match["host"], match["user"], match["status"], match["bytes"]) == (
        CLIENT,
        user,
        str(reply.status),
        str(size) if size else "-",
    ), diagnostics(live)


def vary(headers: http.client.HTTPMessage) -> list[str]:
    return [
        field.strip().lower()
        for value in headers.get_all("Vary") or []
        for field in value.split(",")
    ]


# -- 1. compression ------------------------------------------------------------------


def test_a_compressed_page_decodes_to_what_the_app_made(live: Live) -> None:
    packed = get(live, "/page", **{"Accept-Encoding": "gzip"})
    plain = get(live, "/page")
    assert packed.status == plain.status == 200, diagnostics(live)
    assert packed.headers["Content-Encoding"] == "gzip", diagnostics(live)
    # Compress made the whole body at once, so it could say how long it is.
    assert packed.headers["Content-Length"] == str(len(packed.body))
    assert plain.headers["Content-Encoding"] is None
    # The app's own checksum of what it made, sent beside the body.
    made = packed.headers["X-Page-SHA256"]
    body = gzip.decompress(packed.body)
    assert hashlib.sha256(body).hexdigest() == made
    assert body == plain.body
    assert len(packed.body) < len(body) / 3
    assert vary(packed.headers) == ["accept-encoding"]
    assert vary(plain.headers) == ["accept-encoding"]
    # The byte count is what went on the wire: the compressed length.
    assert_logged(live, packed)
    assert_logged(live, plain)


# -- 2. authentication ---------------------------------------------------------------


def test_the_protected_route_needs_the_password(live: Live) -> None:
    def basic(password: str) -> str:
        pair = f"{USER}:{password}".encode()
        return "Basic " + base64.b64encode(pair).decode()

    refused = get(live, "/private")
    wrong = get(live, "/private", Authorization=basic("not " + PASSWORD))
    allowed = get(live, "/private", Authorization=basic(PASSWORD))
    assert refused.status == wrong.status == 401, diagnostics(live)
    assert refused.headers.get_all("WWW-Authenticate") == [CHALLENGE]
    assert wrong.headers.get_all("WWW-Authenticate") == [CHALLENGE]
    assert allowed.status == 200, diagnostics(live)
    assert allowed.body == f"hello {USER}\n".encode()
    assert_logged(live, refused)
    assert_logged(live, wrong)
    assert_logged(live, allowed, user=USER)


# -- 3. errors -----------------------------------------------------------------------


def test_an_exception_is_a_clean_500_and_the_server_goes_on(live: Live) -> None:
    # uWSGI 2.0 raises SystemError from start_response(..., exc_info) though
    # it took the headers; the response core knows (_accepted_anyway).
    failed = get(live, "/boom")
    assert failed.status == 500, diagnostics(live)
    assert failed.body == ERROR_PAGE
    assert failed.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert b"on purpose" not in failed.body
    # ErrorHandler logged it (to stderr: no handler is configured).
    deadline = time.monotonic() + 10
    while "failed on purpose" not in live.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "stack_app failed on purpose" in live.output(), diagnostics(live)
    after = get(live, "/page")
    assert after.status == 200, diagnostics(live)
    assert live.running(), diagnostics(live)
    assert_logged(live, failed)


# -- 4. query parsing ----------------------------------------------------------------


def test_the_query_is_parsed_as_sent(live: Live) -> None:
    reply = get(
        live, "/query?tag=a&tag=b&q=caf%C3%A9+au+lait&mark=%E2%9C%93&sum=1%2B1&semi=x;y"
    )
    assert reply.status == 200, diagnostics(live)
    assert json.loads(reply.body) == {
        "pairs": [
            ["tag", "a"],
            ["tag", "b"],
            ["q", "café au lait"],
            ["mark", "✓"],
            ["sum", "1+1"],
            ["semi", "x;y"],
            ["t", reply.token],
        ],
        "values": {
            "tag": ["a", "b"],
            "q": ["café au lait"],
            "mark": ["✓"],
            "sum": ["1+1"],
            "semi": ["x;y"],
            "t": [reply.token],
        },
    }
    assert_logged(live, reply)


# -- 5. the client's address ---------------------------------------------------------


def test_the_logged_client_is_the_one_that_connected(live: Live) -> None:
    reply = get(live, "/whoami")
    seen = json.loads(reply.body)
    if live.name == "nginx+gunicorn":
        # nginx connects from 127.0.0.1 and appends the address it saw; with
        # trusted_proxies=1 AccessLog takes that one, not the forged first.
        assert seen == {
            "remote_addr": "127.0.0.1",
            "forwarded_for": f"{FORGED}, {CLIENT}",
        }, diagnostics(live)
    else:
        # Direct: REMOTE_ADDR is the client; the header is not believed.
        # waitress drops X-Forwarded-For from clients it does not trust.
        forwarded = None if live.name == "waitress" else FORGED
        assert seen == {"remote_addr": CLIENT, "forwarded_for": forwarded}, diagnostics(
            live
        )
    assert_logged(live, reply)


# -- 6. streaming --------------------------------------------------------------------


@dataclass
class Stream:
    status: int
    headers: http.client.HTTPMessage
    decoded: bytes
    wire: int
    token: str


def read_acknowledged(live: Live, coding: str, *, pieces: int, wait: float) -> Stream:
    """GET /stream and acknowledge each piece once it has been read: the app
    makes piece n+1 only after that (see stack_app)."""
    token = token_for(live)
    conn = connect(live, timeout=wait + 10)
    try:
        conn.request(
            "GET",
            f"/stream?id={token}&pieces={pieces}&wait={wait:g}&t={token}",
            headers={"Accept-Encoding": coding, "X-Forwarded-For": FORGED},
        )
        response = conn.getresponse()
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS) if coding == "gzip" else None
        decoded, wire = b"", 0

        def read_more() -> bool:
            nonlocal decoded, wire
            data = response.read1(65536)
            wire += len(data)
            decoded += decoder.decompress(data) if decoder else data
            return bool(data)

        for n in range(1, pieces + 1):
            piece = f"data: piece {n}\n\n".encode()
            while piece not in decoded and read_more():
                pass
            if piece not in decoded:
                break
            (live.files.ack_dir / f"{token}-{n}").touch()
        while read_more():
            pass
        if decoder is not None:
            decoded += decoder.flush()
            assert decoder.eof, "the gzip stream did not end"
        return Stream(response.status, response.headers, decoded, wire, token)
    except (OSError, http.client.HTTPException, zlib.error) as error:
        raise NoAnswer(f"GET /stream: {error!r}" + diagnostics(live)) from error
    finally:
        conn.close()


@pytest.mark.parametrize("coding", ["identity", "gzip"])
def test_each_piece_reaches_the_client_before_the_next_is_made(
    live: Live, coding: str
) -> None:
    pieces = 3
    # A server that buffers is given 1 s, not 10, to show it.
    wait = 10.0 if live.streams else 1.0
    stream = read_acknowledged(live, coding, pieces=pieces, wait=wait)
    assert stream.status == 200, diagnostics(live)
    assert stream.headers["Content-Type"] == "text/event-stream"
    expected_coding = "gzip" if coding == "gzip" else None
    assert stream.headers["Content-Encoding"] == expected_coding, diagnostics(live)
    if live.streams:
        expected = b"".join(
            f"data: piece {n}\n\n".encode() for n in range(1, pieces + 1)
        )
        expected += b"data: done\n\n"
    else:
        # Tornado's WSGIContainer sends nothing until the app has finished
        # (by design, with no setting to change it): piece 1 never reaches
        # the client alone, so the app waits for its acknowledgement in vain,
        # and the whole body comes with a Content-Length Tornado adds.
        expected = b"data: piece 1\n\ndata: no ack for piece 1 within 1 s\n\n"
        assert stream.headers["Content-Length"] == str(stream.wire)
    assert stream.decoded == expected, diagnostics(live)
    # nginx acts on the app's X-Accel-Buffering and drops it; the others
    # pass it on.
    proxied = live.name == "nginx+gunicorn"
    assert stream.headers["X-Accel-Buffering"] == (None if proxied else "no")
    reply = Reply(stream.status, stream.headers, b"", stream.token)
    assert_logged(live, reply, sent=stream.wire)


# -- last: nothing logged twice ------------------------------------------------------


def test_every_request_has_exactly_one_access_line(live: Live) -> None:
    assert_logged(live, get(live, "/whoami"))
    text = live.files.access_log.read_text(encoding="utf-8")
    tokens = TOKENS[live.name]
    counts = {token: text.count(f"t={token} HTTP/") for token in tokens}
    assert set(counts.values()) == {1}, f"{counts}" + diagnostics(live)
