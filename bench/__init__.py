"""Benchmarks for wsgimw against hand-written code and its peers (architecture §6).

Run ``python -m bench`` (or ``make bench``). Every timing is measured in one
process run, a row and its peer on the same request, with the candidates
interleaved so that machine noise hits all of them alike; each is printed
beside its peer as a ratio, with the architecture §6 budget it is held to: as
written, and scaled by how this machine's bare app compares with its reference (architecture §6).
Compress is also measured as a stream (MB/s beside the raw compressors,
`bench.compression`) and for peak memory, each memory case in a fresh
interpreter (`bench.memory`). The full stack of architecture §1 is measured beside
the same stack built from Paste and WebOb (`bench.stacks`), in process and,
with ``--e2e``, served by gunicorn and driven by wrk (`bench.e2e`).
``python -m bench.markdown FIGURES.json`` turns saved figures into the
tables of docs/performance.md.
"""
