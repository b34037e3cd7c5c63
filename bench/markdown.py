"""``python -m bench.markdown FIGURES.json``: the tables of docs/performance.md.

Reads what ``python -m bench --json FIGURES.json`` saved (with ``--e2e``, the
end-to-end rows too) and prints Markdown tables: one per heading of the
bench's own output, each row beside its peer with the ratio and the budget's
verdicts, then the machine they were measured on.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_VERDICT = {None: "", True: "PASS", False: "**MISS**"}


#: Columns whose cells are figures: right-aligned.
_FIGURES = frozenset(
    {
        "ns/req",
        "extra ns",
        "peer/this",
        "MB/s",
        "out/in",
        "this/peer",
        "growth",
        "req/s",
        "p50 ms",
        "p99 ms",
        "of bare",
        "vs Paste",
    }
)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    rule = [
        "---:" if name in _FIGURES or name.startswith("peak") else "---"
        for name in header
    ]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(rule) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _groups(rows: Sequence[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: list[tuple[str, list[dict[str, Any]]]] = []
    for row in rows:
        if not groups or groups[-1][0] != row["section"]:
            groups.append((row["section"], []))
        groups[-1][1].append(row)
    return groups


def _ns(value: float | None, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{value:+,.0f}" if sign else f"{value:,.0f}"


def per_request(figures: dict[str, Any]) -> list[str]:
    names = {row["key"]: row["name"] for row in figures["rows"]}
    scale = figures["budget_scale"]
    lines = [
        f"{figures['repeats']} interleaved repeats of ~{figures['sample_ms']:g} ms "
        f"per row; the bare app costs {_bare(figures):.0f} ns here, so ns budgets "
        f"scale by x{scale:.2f}.",
    ]
    for section, rows in _groups(figures["rows"]):
        lines += ["", f"**{section or 'Composition and the response core'}**", ""]
        lines += _table(
            [
                "row",
                "ns/req",
                "extra ns",
                "peer",
                "peer/this",
                "budget",
                "unscaled",
                f"scaled x{scale:.2f}",
            ],
            [
                [
                    row["name"],
                    _ns(row["median_ns"]),
                    _ns(row["extra_ns"], sign=True),
                    names.get(row["peer"], "-") if row["peer"] else "-",
                    "-"
                    if row["peer_over_this"] is None
                    else f"{row['peer_over_this']:.2f}x",
                    row["budget"] or "-",
                    _VERDICT[row["passed"]],
                    _VERDICT[row["passed_scaled"]],
                ]
                for row in rows
            ],
        )
    return lines


def _bare(figures: dict[str, Any]) -> float:
    return float(
        next(row["median_ns"] for row in figures["rows"] if row["key"] == "bare")
    )


def throughput(figures: dict[str, Any]) -> list[str]:
    flows = figures["throughput"]
    if not flows:
        return []
    names = {row["key"]: row["name"] for row in flows}
    body = flows[0]["body_bytes"] / (1 << 20)
    lines = [
        f"One {body:.2f} MiB JSON body per request, "
        f"{figures['throughput_repeats']} interleaved repeats.",
        "",
    ]
    lines += _table(
        ["row", "MB/s", "out/in", "peer", "this/peer", "budget", "verdict"],
        [
            [
                row["name"],
                f"{row['median_mbps']:.1f}",
                f"{row['compressed_bytes'] / row['body_bytes']:.1%}",
                names.get(row["peer"], "-") if row["peer"] else "-",
                "-"
                if row["this_over_peer"] is None
                else f"{row['this_over_peer']:.3f}x",
                row["budget"] or "-",
                _VERDICT[row["passed"]],
            ]
            for row in flows
        ],
    )
    return lines


def memory(figures: dict[str, Any]) -> list[str]:
    peaks = figures["memory"]
    if not peaks:
        return []
    small = peaks[0]["small_body_bytes"] >> 20
    large = peaks[0]["large_body_bytes"] >> 20
    return _table(
        [
            "row",
            f"peak RSS, {small} MiB body",
            f"peak RSS, {large} MiB body",
            "growth",
            "budget",
            "verdict",
        ],
        [
            [
                row["name"],
                f"{row['peak_rss_small_kib'] / 1024:.2f} MiB",
                f"{row['peak_rss_large_kib'] / 1024:.2f} MiB",
                f"{row['growth_kib'] / 1024:+.2f} MiB",
                row["budget"] or "-",
                _VERDICT[row["passed"]],
            ]
            for row in peaks
        ],
    )


def end_to_end(ended: dict[str, Any]) -> list[str]:
    lines = [
        f"gunicorn {ended['gunicorn']} ({ended['worker']}, 1 worker, "
        f"{ended['threads']} threads), wrk -t{ended['wrk_threads']} "
        f"-c{ended['wrk_connections']} -d{ended['seconds']:g}s --latency, "
        f"{ended['rounds']} round{'' if ended['rounds'] == 1 else 's'}; medians "
        "over rounds.",
    ]
    requests: dict[str, list[dict[str, Any]]] = {}
    for row in ended["rows"]:
        requests.setdefault(row["request"], []).append(row)
    for request, rows in requests.items():
        lines += ["", f"**{request}**", ""]
        lines += _table(
            [
                "server",
                "req/s",
                "p50 ms",
                "p99 ms",
                "of bare",
                "vs Paste",
                "budget",
                "verdict",
            ],
            [
                [
                    row["name"],
                    f"{_median(row['requests_per_second']):.0f}",
                    f"{_median([run['50%'] for run in row['latency_ms']]):.2f}",
                    f"{_median([run['99%'] for run in row['latency_ms']]):.2f}",
                    "-"
                    if row["share_of_bare"] is None
                    else f"{row['share_of_bare']:.1%}",
                    "-" if row["versus_peer"] is None else f"{row['versus_peer']:.2f}x",
                    row["budget"] or "-",
                    _VERDICT[row["passed"]],
                ]
                for row in rows
            ],
        )
    return lines


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[middle]
    return (ordered[middle - 1] + ordered[middle]) / 2


def render(figures: dict[str, Any]) -> str:
    machine = figures["machine"]
    packages = ", ".join(
        f"{name} {number}" for name, number in machine["packages"].items()
    )
    lines = [
        f"Python {machine['python']} ({machine['implementation']}) on "
        f"{machine['system']} {machine['machine']}, {machine['cores']} cores; {packages}.",
    ]
    if "rows" in figures:
        lines += ["", "### Per request", "", *per_request(figures)]
        if figures["throughput"]:
            lines += ["", "### Compress throughput", "", *throughput(figures)]
        if figures["memory"]:
            lines += ["", "### Compress memory", "", *memory(figures)]
    if "e2e" in figures:
        lines += ["", "### End to end", "", *end_to_end(figures["e2e"])]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else list(argv)
    if len(arguments) != 1:
        print("usage: python -m bench.markdown FIGURES.json", file=sys.stderr)
        return 2
    figures = json.loads(Path(arguments[0]).read_text(encoding="utf-8"))
    sys.stdout.write(render(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
