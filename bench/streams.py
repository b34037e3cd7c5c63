"""Large bodies for the compression rows, the apps that stream them and
the gzip layers they pass through.

Kept apart from `bench.apps` (which imports Paste's error middleware, WebOb
and Werkzeug) so that the memory cases, each in a fresh interpreter, start
quickly.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterable, Iterator, Sequence

from paste.gzipper import middleware as PasteGzipper

from wsgimw import Compress
from wsgimw.types import Environ, StartResponse, WSGIApp

KIB = 1024
MIB = 1024 * KIB
STATUS = "200 OK"
JSON_TYPE = "application/json"

_WORDS = (
    "alpha",
    "beta",
    "gamma",
    "delta",
    "epsilon",
    "zeta",
    "eta",
    "theta",
    "iota",
    "kappa",
    "lambda",
    "mu",
    "nu",
    "xi",
    "omicron",
    "pi",
    "rho",
    "sigma",
    "tau",
    "upsilon",
    "phi",
    "chi",
    "psi",
    "omega",
)


def _record(rng: random.Random, index: int) -> dict[str, object]:
    """One row of what an API might list: ids, names, dates, numbers, text."""
    return {
        "id": index,
        "uuid": f"{rng.getrandbits(128):032x}",
        "name": f"{rng.choice(_WORDS).title()} {rng.choice(_WORDS).title()}",
        "email": f"{rng.choice(_WORDS)}.{rng.choice(_WORDS)}{rng.randrange(1000)}"
        "@example.org",
        "created": f"2024-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}T"
        f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:{rng.randrange(60):02d}Z",
        "score": round(rng.random() * 100, 3),
        "active": rng.random() < 0.7,
        "tags": rng.sample(_WORDS, rng.randrange(5)),
        "bio": " ".join(rng.choice(_WORDS) for _ in range(rng.randrange(5, 30))),
    }


def json_body(size: int) -> bytes:
    """A JSON array of records, at least ``size`` bytes, the same every run
    (gzip level 6 makes it about a quarter of its size)."""
    rng = random.Random(20240611)
    parts: list[str] = []
    total = 0
    while total < size:
        part = json.dumps(_record(rng, len(parts)))
        parts.append(part)
        total += len(part) + 2
    return ("[" + ",\n".join(parts) + "]").encode()


def cut(body: bytes, chunk_size: int) -> list[bytes]:
    """``body`` in chunks of ``chunk_size`` bytes (the last one shorter)."""
    return [body[i : i + chunk_size] for i in range(0, len(body), chunk_size)]


def streaming_app(chunks: Sequence[bytes]) -> WSGIApp:
    """An app that starts a JSON response (no Content-Length: it streams)
    and returns a generator yielding ``chunks``."""

    def stream() -> Iterator[bytes]:
        yield from chunks

    def json_stream_app(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        start_response(STATUS, [("Content-Type", JSON_TYPE)])
        return stream()

    return json_stream_app


def generating_app(pool: Sequence[bytes], size: int) -> WSGIApp:
    """An app streaming ``size`` bytes of JSON made on the fly from
    ``pool``'s chunks, over and over: it never holds more than the pool."""

    def stream() -> Iterator[bytes]:
        left = size
        while left > 0:
            for chunk in pool:
                if left <= len(chunk):
                    yield chunk[:left]
                    return
                left -= len(chunk)
                yield chunk

    def generated_app(
        environ: Environ, start_response: StartResponse
    ) -> Iterable[bytes]:
        start_response(STATUS, [("Content-Type", JSON_TYPE)])
        return stream()

    return generated_app


def compress_layer(app: WSGIApp) -> WSGIApp:
    """Compress as configured by default; the request picks the coding."""
    return Compress()(app)


def paste_gzipper(app: WSGIApp) -> WSGIApp:
    """Paste's gzip middleware, at its default compress_level=6."""
    middleware: WSGIApp = PasteGzipper(app)
    return middleware
