"""Compress measured as a stream: throughput beside the raw compressors and
its peers, on the same chunks of the same body.

Every candidate is fed one realistic JSON body cut into chunks of one size.
Compress and Paste's gzipper are whole WSGI paths: an app that streams the
chunks, the middleware, and a server loop that iterates the response,
closes it and lets go of it (`bench.harness.SERVE_AND_RELEASE`). The raw compressors and Django's
``compress_sequence`` are generators over the same chunks, iterated by the
same kind of loop. One request is one whole body, so a figure is a body's
length over the time one request takes.
"""

from __future__ import annotations

import gzip
import timeit
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass

import brotli
import zstandard
from django.utils.text import (  # type: ignore[import-untyped]
    compress_sequence as django_compress_sequence,
)

from bench import apps
from bench.budgets import Budget
from bench.harness import make_timer
from bench.streams import KIB, compress_layer, paste_gzipper, streaming_app
from wsgimw.types import Environ, ExcInfo, Headers, StartResponse, Write, WSGIApp

CHUNK_SIZES = (8 * KIB, 64 * KIB)
# architecture §6: "at least 95% of raw zlib.compressobj throughput at the same
# level on the same chunks". A ratio of two figures from one run: never scaled.
THROUGHPUT = Budget("MB/s >= 95% of raw", min_ratio=0.95)


def coding_environ(coding: str) -> Environ:
    """The browser's GET, accepting only ``coding``."""
    environ = apps.make_environ()
    environ["HTTP_ACCEPT_ENCODING"] = coding
    return environ


# -- the direct candidates: generators over the chunks -----------------------


def raw_gzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 31)
    compress = compressor.compress
    for chunk in chunks:
        yield compress(chunk)
    yield compressor.flush()


def raw_brotli(chunks: Iterable[bytes]) -> Iterator[bytes]:
    compressor = brotli.Compressor(quality=4)
    process = compressor.process
    for chunk in chunks:
        yield process(chunk)
    yield compressor.finish()


def raw_zstd(chunks: Iterable[bytes]) -> Iterator[bytes]:
    compressor = zstandard.ZstdCompressor(level=3).compressobj()
    compress = compressor.compress
    for chunk in chunks:
        yield compress(chunk)
    yield compressor.flush()


def django_gzip(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Django's streaming gzip (what GZipMiddleware wraps a streaming
    response's content in), without the random filename padding."""
    produced: Iterator[bytes] = django_compress_sequence(chunks)
    return produced


# One timeit code object per candidate, as for the per-request rows.
DRAIN = """
for piece in produce(chunks):
    pass
"""

_DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data),
}


@dataclass(frozen=True)
class Flow:
    """One throughput row: a way to compress the body, fed one chunk size."""

    key: str
    label: str
    coding: str
    chunk_size: int
    #: A middleware around `streaming_app`, served like a server would...
    layer: Callable[[WSGIApp], WSGIApp] | None = None
    #: ...or a generator over the chunks, drained by a loop.
    produce: Callable[[Iterable[bytes]], Iterator[bytes]] | None = None
    peer: str | None = None
    budget: Budget | None = None
    short: str = ""
    section: str = ""


def _size(chunk_size: int) -> str:
    return f"{chunk_size // KIB} KiB"


def _flows() -> tuple[Flow, ...]:
    flows: list[Flow] = []
    raw = {
        "gzip": (raw_gzip, "raw zlib.compressobj(6, DEFLATED, 31)", "raw zlib"),
        "br": (raw_brotli, "raw brotli.Compressor(quality=4)", "raw brotli"),
        "zstd": (raw_zstd, "raw ZstdCompressor(level=3).compressobj()", "raw zstd"),
    }
    for coding in ("gzip", "br", "zstd"):
        produce, raw_label, raw_short = raw[coding]
        for chunk_size in CHUNK_SIZES:
            size = _size(chunk_size)
            key = f"{coding}_{chunk_size // KIB}k"
            flows.append(
                Flow(
                    f"{key}_compress",
                    f"Compress() {coding}, {size}",
                    coding,
                    chunk_size,
                    layer=compress_layer,
                    peer=f"{key}_raw",
                    budget=THROUGHPUT,
                    section=f"{coding}, {size} chunks",
                )
            )
            flows.append(
                Flow(
                    f"{key}_raw",
                    f"{raw_label}, {size}",
                    coding,
                    chunk_size,
                    produce=produce,
                    short=raw_short,
                )
            )
            if coding != "gzip":
                continue
            flows.append(
                Flow(
                    f"{key}_paste",
                    f"Paste gzipper.middleware, {size}",
                    coding,
                    chunk_size,
                    layer=paste_gzipper,
                    peer=f"{key}_raw",
                    short="Paste",
                )
            )
            flows.append(
                Flow(
                    f"{key}_django",
                    f"Django compress_sequence, {size}",
                    coding,
                    chunk_size,
                    produce=django_gzip,
                    peer=f"{key}_raw",
                    short="Django",
                )
            )
    return tuple(flows)


FLOWS = _flows()


def _recording_start_response(
    seen: list[tuple[str, Headers]],
) -> StartResponse:
    def start(status: str, headers: Headers, exc_info: ExcInfo | None = None) -> Write:
        seen.append((status, headers))
        return apps.start_response(status, headers, exc_info)

    return start


def run_once(flow: Flow, chunks: Sequence[bytes]) -> bytes:
    """One request (or one drain) as the timer makes it, its output joined,
    after checking that a WSGI candidate said what it sent."""
    if flow.produce is not None:
        return b"".join(flow.produce(chunks))
    assert flow.layer is not None
    seen: list[tuple[str, Headers]] = []
    iterable = flow.layer(streaming_app(chunks))(
        coding_environ(flow.coding), _recording_start_response(seen)
    )
    try:
        output = b"".join(iterable)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    codings = [
        value for name, value in seen[-1][1] if name.lower() == "content-encoding"
    ]
    if [status for status, _ in seen] != [apps.STATUS] or codings != [flow.coding]:
        raise RuntimeError(f"{flow.label}: sent {seen!r}")
    return output


def check(flow: Flow, chunks: Sequence[bytes], body: bytes) -> int:
    """Make sure ``flow`` turns the chunks into ``body`` compressed with its
    coding (so a broken candidate fails loudly instead of timing nothing);
    return the compressed size."""
    output = run_once(flow, chunks)
    if _DECODERS[flow.coding](output) != body:
        raise RuntimeError(f"{flow.label}: the output does not decode to the body")
    return len(output)


def make_flow_timer(flow: Flow, chunks: Sequence[bytes]) -> timeit.Timer:
    """A timer whose every loop compresses the whole body once."""
    if flow.layer is not None:
        app = flow.layer(streaming_app(chunks))
        return make_timer(
            app, coding_environ(flow.coding), apps.start_response, release=True
        )
    return timeit.Timer(
        DRAIN,
        setup="produce, chunks = _target",
        globals={"_target": (flow.produce, chunks)},
    )
