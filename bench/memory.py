"""Peak memory while a large body streams through a gzip layer.

Each case runs in a fresh interpreter (``python -m bench.memory LAYER
SIZE``), and what is reported is its peak resident set size, as the kernel
saw it (C allocations included; not a tracemalloc figure): the process's
RSS high-water mark, ``VmHWM`` in ``/proc/self/status``, reset to what is
resident just before the request (``/proc/self/clear_refs``) so that the
start-up's own peaks (imports, making the pool) cannot hide the request's.

Not ``resource.getrusage``'s ``ru_maxrss``: Linux carries a process's
``ru_maxrss`` across fork and exec, so in a child of the bench it never
reads below the bench's own RSS (about 34 MiB), hiding anything smaller;
and clear_refs does not reset it. It is the fallback where ``/proc`` is
missing, and the report says which was used.

The app never holds the body: it cycles through a fixed pool of JSON
chunks until it has yielded SIZE bytes, so the pool is the same in every
case and only the layer can make the peak grow with the body.

Imports are kept light here: only what a case needs.
"""

from __future__ import annotations

import gc
import json
import resource
import subprocess
import sys
import wsgiref.util
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.streams import (
    KIB,
    MIB,
    compress_layer,
    cut,
    generating_app,
    json_body,
    paste_gzipper,
)
from wsgimw.types import Environ, ExcInfo, Headers, Write, WSGIApp

POOL_SIZE = 256 * KIB
CHUNK_SIZE = 8 * KIB
SMALL = 1 * MIB
LARGE_FULL = 200 * MIB
LARGE_FAST = 8 * MIB
# "Peak memory independent of body size": what the large body may add to
# the small one's peak, for the allocator's and the kernel's page noise.
GROWTH_LIMIT_KIB = 1024
GROWTH_BUDGET_TEXT = "growth <= 1 MiB"

LAYERS: dict[str, Callable[[WSGIApp], WSGIApp]] = {
    "compress": compress_layer,
    "paste": paste_gzipper,
}
ROOT = Path(__file__).resolve().parent.parent


# -- one case, in its own interpreter ----------------------------------------


def _peak_kib() -> tuple[int, str]:
    """The peak RSS so far in KiB, and where it was read."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]), "VmHWM"
    except OSError:
        pass
    # Linux reports KiB (macOS bytes; this bench runs on Linux).
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "ru_maxrss"


def _reset_peak() -> bool:
    """Reset the peak RSS to what is resident now (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
    except OSError:
        return False
    return True


def _decoded_size(decoder: Any, data: bytes) -> int:
    """How many bytes ``data`` decodes to. The check must never hold a large
    piece of the body, nor copy one: the input goes in 16 KiB at a time
    (``unconsumed_tail`` is a copy of what is left of it) and comes out
    64 KiB at a time."""
    size = 0
    view = memoryview(data)
    for start in range(0, len(view), 16 * KIB):
        piece: Any = view[start : start + 16 * KIB]
        while piece:
            size += len(decoder.decompress(piece, 64 * KIB))
            piece = decoder.unconsumed_tail
    return size


def _start_response(
    status: str, headers: Headers, exc_info: ExcInfo | None = None
) -> Write:
    return _discard


def _discard(data: bytes) -> None:
    """A server's write() that sends nothing."""


def serve_once(layer: str, size: int) -> dict[str, int | bool | str]:
    """Stream one ``size``-byte response through ``layer`` with gzip, as a
    server would (iterate, drop each chunk, close); the figures in KiB."""
    pool = cut(json_body(POOL_SIZE)[:POOL_SIZE], CHUNK_SIZE)
    app = LAYERS[layer](generating_app(pool, size))
    environ: Environ = {"HTTP_ACCEPT_ENCODING": "gzip"}
    wsgiref.util.setup_testing_defaults(environ)
    # Decoded as it goes (the same cost for every layer), to be sure the
    # layer sent the whole body, gzipped.
    decoder = zlib.decompressobj(31)
    gc.collect()
    reset = _reset_peak()
    before, _ = _peak_kib()
    sent = decoded = 0
    iterable = app(environ, _start_response)
    try:
        for chunk in iterable:
            sent += len(chunk)
            decoded += _decoded_size(decoder, chunk)
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            close()
    peak, source = _peak_kib()
    decoded += len(decoder.flush())
    if decoded != size or not decoder.eof:
        raise RuntimeError(f"{layer}: {decoded} bytes decoded, expected {size}")
    return {
        "before_kib": before,
        "peak_kib": peak,
        "sent": sent,
        "reset": reset,
        "source": source,
    }


def main(argv: Sequence[str] | None = None) -> int:
    layer, size = sys.argv[1:] if argv is None else argv
    print(json.dumps(serve_once(layer, int(size))))
    return 0


# -- the cases, from the bench ----------------------------------------------


@dataclass(frozen=True)
class Peak:
    """One layer's peak RSS for the small and the large body, in KiB."""

    key: str
    label: str
    small_kib: int
    large_kib: int
    before_small_kib: int  # resident when the request started
    before_large_kib: int
    large: int  # the large body's size in bytes
    sent_large: int  # the compressed bytes sent for it
    reset: bool  # the peaks were reset before the requests
    source: str  # "VmHWM" or "ru_maxrss"
    budget: bool  # held to "no growth"

    @property
    def growth_kib(self) -> int:
        return self.large_kib - self.small_kib

    @property
    def passed(self) -> bool | None:
        return self.growth_kib <= GROWTH_LIMIT_KIB if self.budget else None


PEAKS = (
    ("compress", "Compress() gzip, streamed", True),
    ("paste", "Paste gzipper.middleware, buffered", False),
)


def _command(layer: str, size: int) -> list[str]:
    # The parent's warning filters too, so a child fails alike.
    flags = [f"-W{option}" for option in sys.warnoptions]
    return [sys.executable, *flags, "-m", "bench.memory", layer, str(size)]


def measure(large: int) -> list[Peak]:
    """Every case in its own interpreter, all at once (peaks, not times,
    are measured here), before any timing starts."""
    runs = {
        (layer, size): subprocess.Popen(
            _command(layer, size),
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for layer, _, _ in PEAKS
        for size in (SMALL, large)
    }
    figures = {}
    for (layer, size), process in runs.items():
        out, err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"bench.memory {layer} {size} failed:\n{err}")
        figures[layer, size] = json.loads(out)
    return [
        Peak(
            layer,
            label,
            figures[layer, SMALL]["peak_kib"],
            figures[layer, large]["peak_kib"],
            figures[layer, SMALL]["before_kib"],
            figures[layer, large]["before_kib"],
            large,
            figures[layer, large]["sent"],
            figures[layer, SMALL]["reset"] and figures[layer, large]["reset"],
            figures[layer, large]["source"],
            budget,
        )
        for layer, label, budget in PEAKS
    ]


if __name__ == "__main__":
    raise SystemExit(main())
