"""A timeit-based harness: interleaved repeats, figures paired per repeat.

Each candidate is timed by its own `timeit.Timer`. timeit compiles a fresh
function per Timer, so every candidate's server loop has its own code object
(and its own bytecode specialisation), and it switches the garbage collector
off while timing, as it does for everyone.

One *repeat* times every candidate once, in an order rotated by one place
per repeat, so that a slow patch of the machine falls on all candidates and
no candidate always runs first. Comparisons are made within a repeat
(candidate minus bare, peer over candidate) and summarised by their median,
which a noisy neighbour moves far less than a mean.
"""

from __future__ import annotations

import statistics
import timeit
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from wsgimw.types import Environ, StartResponse, WSGIApp

# What a server does with an app, per request: call it, iterate it to the
# end, and close what it returned if it can be closed (PEP 3333), even after
# an error. timeit runs this in a loop.
SERVE = """
iterable = app(environ, start_response)
try:
    for chunk in iterable:
        pass
finally:
    close = getattr(iterable, "close", None)
    if close is not None:
        close()
"""

# The same, for layers that write into the environ: each request gets its
# own copy of the template (``copy`` is the template's bound ``dict.copy``).
SERVE_FRESH = """
iterable = app(copy(), start_response)
try:
    for chunk in iterable:
        pass
finally:
    close = getattr(iterable, "close", None)
    if close is not None:
        close()
"""


# The same, letting go of the response once it is closed, as a server's
# request handler does when it returns. SERVE keeps the last response (and
# whatever it holds) alive until the next one has been made: no matter for
# small responses, but a compressor's state is up to a few MiB, and making
# the next one while the last is still alive defeats the allocator's reuse.
SERVE_AND_RELEASE = (
    SERVE
    + """iterable = close = None
"""
)


def make_timer(
    app: WSGIApp,
    environ: Environ,
    start_response: StartResponse,
    *,
    fresh: bool = False,
    release: bool = False,
) -> timeit.Timer:
    """A timer serving ``app`` the same ``environ`` on every request, or,
    with ``fresh``, a new copy of it on every request; with ``release``,
    dropping each response once it is closed (`SERVE_AND_RELEASE`)."""
    # The setup runs inside timeit's function, so the three names become
    # local variables there, the cheapest lookup Python has.
    if release:
        if fresh:
            raise ValueError("release is for shared environs only")
        return timeit.Timer(
            SERVE_AND_RELEASE,
            setup="app, environ, start_response = _target",
            globals={"_target": (app, environ, start_response)},
        )
    if fresh:
        return timeit.Timer(
            SERVE_FRESH,
            setup="app, copy, start_response = _target",
            globals={"_target": (app, environ.copy, start_response)},
        )
    return timeit.Timer(
        SERVE,
        setup="app, environ, start_response = _target",
        globals={"_target": (app, environ, start_response)},
    )


def calibrate(timer: timeit.Timer, sample_seconds: float, first_loops: int = 10) -> int:
    """How many loops make one sample last about ``sample_seconds``, trying
    ``first_loops`` first (1 for timers whose every loop is long)."""
    loops = first_loops
    while True:
        elapsed = timer.timeit(loops)
        # A tenth of the target is long enough to extrapolate from.
        if elapsed >= sample_seconds / 10:
            return max(1, round(loops * sample_seconds / elapsed))
        loops *= 10


def measure(
    timers: Mapping[str, timeit.Timer],
    repeats: int,
    sample_seconds: float,
    progress: Callable[[int], object] | None = None,
    first_loops: int = 10,
    warm_up: bool = False,
) -> dict[str, list[float]]:
    """ns per request for each timer, one figure per repeat. With
    ``warm_up``, one untimed loop runs before each sample, so that what the
    candidate before it left behind (the allocator's state, after one that
    maps and unmaps megabytes per request) does not fall on its figure."""
    names = list(timers)
    loops = {
        name: calibrate(timers[name], sample_seconds, first_loops) for name in names
    }
    samples: dict[str, list[float]] = {name: [] for name in names}
    for repeat in range(repeats):
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            if warm_up:
                timers[name].timeit(1)
            seconds = timers[name].timeit(loops[name])
            samples[name].append(seconds / loops[name] * 1e9)
        if progress is not None:
            progress(repeat + 1)
    return samples


@dataclass(frozen=True)
class Summary:
    """One candidate's figures, all in ns per request."""

    median: float
    mean: float
    stdev: float


def summarise(samples: Sequence[float]) -> Summary:
    stdev = statistics.stdev(samples) if len(samples) > 1 else 0.0
    return Summary(statistics.median(samples), statistics.fmean(samples), stdev)


def paired_difference(samples: Sequence[float], base: Sequence[float]) -> float:
    """Median over repeats of ``sample - base``: the extra ns per request."""
    return statistics.median(s - b for s, b in zip(samples, base, strict=True))


def paired_ratio(peer: Sequence[float], samples: Sequence[float]) -> float:
    """Median over repeats of ``peer / sample``: above 1, the sample is faster."""
    return statistics.median(p / s for p, s in zip(peer, samples, strict=True))
