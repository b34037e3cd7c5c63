"""Before and after: this checkout's wsgimw beside the one of another git
revision, in one run, interleaved with the peers.

``python -m bench.versus REV`` exports the ``wsgimw`` package of ``REV``
(any git revision: a commit, a tag, ``HEAD~3``) into a temporary directory
as a package named ``wsgimw_before``, builds the rows of issue 12 from both
packages, and times them in the same process with the harness of
`bench.harness` (rows interleaved, a different order each repeat), so a
slow patch of the machine falls on every row alike:

* the default configuration (`bench.stacks.default_stack`), before, after
  and the Paste/WebOb stack doing the same jobs, over the bare app served a
  copy of the same environ;
* AccessLog through logging, before and after, and TransLogger, over the
  bare app;
* Compress when the client sends no Accept-Encoding, before and after, and
  Paste's gzipper, over the bare app answering the same page.

With ``--e2e`` it also serves the bare app, both default stacks and the
Paste stack with gunicorn (`bench.e2e`'s settings) and drives them with
wrk, in interleaved rounds, on the default request.

The old package is imported from outside the checkout and deleted at the
end; nothing is written into the tree.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import textwrap
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from bench import apps, e2e, harness, stacks, streams
from wsgimw.types import Environ, WSGIApp

ROOT = Path(__file__).resolve().parent.parent
#: The name the other revision's package is imported under.
BEFORE = "wsgimw_before"


@contextmanager
def exported(revision: str) -> Iterator[Path]:
    """A directory holding ``revision``'s ``wsgimw`` as package `BEFORE`
    (its imports are relative, so the new name is all it needs)."""
    with tempfile.TemporaryDirectory(prefix="wsgimw-versus-") as directory:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", revision, "wsgimw"],
            cwd=ROOT,
            capture_output=True,
            check=False,
        )
        if archive.returncode != 0:
            raise SystemExit(
                f"bench.versus: cannot export wsgimw at {revision!r}: "
                f"{archive.stderr.decode(errors='replace').strip()}"
            )
        tar_path = Path(directory) / "before.tar"
        tar_path.write_bytes(archive.stdout)
        with tarfile.open(tar_path) as tar:
            tar.extractall(directory, filter="data")
        (Path(directory) / "wsgimw").rename(Path(directory) / BEFORE)
        yield Path(directory)


def load_before(directory: Path) -> ModuleType:
    """Import the exported package from ``directory``."""
    sys.path.insert(0, str(directory))
    importlib.invalidate_caches()
    return importlib.import_module(BEFORE)


# -- the rows ----------------------------------------------------------------


def default_stack_of(package: ModuleType) -> Callable[[WSGIApp], WSGIApp]:
    """`bench.stacks.default_stack`, built from ``package``'s classes."""

    def wrap(app: WSGIApp) -> WSGIApp:
        stack: WSGIApp = package.compose(
            package.ErrorHandler(),
            package.AccessLog(format="combined", logger=stacks.DEFAULT_LOG),
            package.Compress(minimum_size=500),
            package.BasicAuth(
                htpasswd=stacks.HTPASSWD, realm="app", protect=[stacks.PROTECTED]
            ),
            package.QueryParser(),
        )(app)
        return stack

    return wrap


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    app: WSGIApp
    environ: Environ
    fresh: bool
    #: The row whose ns are subtracted (the bare app served the same way).
    over: str | None = None
    #: The row it is compared with, as peer ns / this row's ns.
    peer: str | None = None


def rows(before: ModuleType, after: ModuleType) -> list[Row]:
    """Every row, before and after, with its peer and its bare app."""
    default = stacks.make_default_environ()
    shared = apps.make_environ()
    plain = apps.make_plain_environ()
    return [
        Row(
            "bare_default",
            "bare app, default request copied",
            apps.hello_app,
            default,
            True,
        ),
        Row(
            "default_after",
            "default configuration, after",
            default_stack_of(after)(stacks.query_app),
            default,
            True,
            "bare_default",
            "paste_default",
        ),
        Row(
            "default_before",
            "default configuration, before",
            default_stack_of(before)(stacks.query_app),
            default,
            True,
            "bare_default",
            "paste_default",
        ),
        Row(
            "paste_default",
            "Paste/WebOb stack, same jobs",
            stacks.paste_default_stack(stacks.webob_query_app),
            default,
            True,
            "bare_default",
        ),
        Row("bare", "bare app", apps.hello_app, shared, False),
        Row(
            "access_after",
            "AccessLog through logging, after",
            after.AccessLog(format="combined", logger=apps.ACCESS_LOG)(apps.hello_app),
            shared,
            False,
            "bare",
            "translogger",
        ),
        Row(
            "access_before",
            "AccessLog through logging, before",
            before.AccessLog(format="combined", logger=apps.ACCESS_LOG)(apps.hello_app),
            shared,
            False,
            "bare",
            "translogger",
        ),
        Row(
            "translogger",
            "Paste TransLogger",
            apps.trans_logger(apps.hello_app),
            shared,
            False,
            "bare",
        ),
        Row("bare_page", "bare app, 2 KiB page", apps.page_app, plain, False),
        Row(
            "compress_after",
            "Compress not acting, after",
            after.Compress()(apps.page_app),
            plain,
            False,
            "bare_page",
            "paste_plain",
        ),
        Row(
            "compress_before",
            "Compress not acting, before",
            before.Compress()(apps.page_app),
            plain,
            False,
            "bare_page",
            "paste_plain",
        ),
        Row(
            "paste_plain",
            "Paste gzipper not acting",
            streams.paste_gzipper(apps.page_app),
            plain,
            False,
            "bare_page",
        ),
    ]


def measure_rows(
    table: Sequence[Row], repeats: int, sample_seconds: float
) -> dict[str, list[float]]:
    timers = {
        row.key: harness.make_timer(
            row.app, row.environ, apps.start_response, fresh=row.fresh
        )
        for row in table
    }
    return harness.measure(timers, repeats, sample_seconds)


def report_rows(table: Sequence[Row], samples: dict[str, list[float]]) -> list[str]:
    """One line a row: ns, extra ns over its bare app, ratio to its peer."""
    lines = [f"{'row':42} {'ns/req':>9} {'extra ns':>9}  vs peer"]
    for row in table:
        mine = samples[row.key]
        extra = (
            f"{harness.paired_difference(mine, samples[row.over]):+9.0f}"
            if row.over
            else f"{'-':>9}"
        )
        ratio = ""
        if row.peer:
            peer = samples[row.peer]
            ratio = f"{harness.paired_ratio(peer, mine):.2f}x faster than {row.peer}"
            if row.over:
                base = samples[row.over]
                peer_extra = harness.paired_difference(peer, base)
                this_extra = harness.paired_difference(mine, base)
                ratio += f"; extra {this_extra / peer_extra:.2f}x the peer's"
        lines.append(f"{row.label:42} {statistics.median(mine):9.0f} {extra}  {ratio}")
    return lines


# -- end to end --------------------------------------------------------------

_APP_MODULE = "wsgimw_versus_apps"


def write_e2e_apps(directory: Path) -> None:
    """A module gunicorn can import with both default stacks in it."""
    source = f"""
        from bench import stacks
        from bench.versus import default_stack_of
        import wsgimw, {BEFORE}

        after_app = default_stack_of(wsgimw)(stacks.query_app)
        before_app = default_stack_of({BEFORE})(stacks.query_app)
    """
    (directory / f"{_APP_MODULE}.py").write_text(textwrap.dedent(source))


def e2e_servers() -> list[e2e.Server]:
    return [
        e2e.Server("bare", "bare app", "bench.stacks:bare_app"),
        e2e.Server("after", "default configuration, after", f"{_APP_MODULE}:after_app"),
        e2e.Server(
            "before", "default configuration, before", f"{_APP_MODULE}:before_app"
        ),
        e2e.Server(
            "paste_default", "Paste stack, same jobs", "bench.stacks:paste_default_app"
        ),
    ]


def measure_e2e(directory: Path, seconds: float, rounds: int) -> dict[str, list[float]]:
    """Requests per second of each server, one figure per round."""
    wrk = e2e.wrk_path()
    e2e.gunicorn_version()
    write_e2e_apps(directory)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        [str(directory), str(ROOT), os.environ.get("PYTHONPATH", "")]
    )
    kind = e2e.KINDS[0]
    figures: dict[str, list[float]] = {}
    with e2e.serving(e2e_servers()) as running:
        for server in running:
            e2e.check(server, kind)
            e2e.drive(wrk, server.url, kind, min(seconds, 1))
        for number in range(rounds):
            shift = number % len(running)
            for server in running[shift:] + running[:shift]:
                run = e2e.drive(wrk, server.url, kind, seconds)
                figures.setdefault(server.server.key, []).append(
                    run.requests_per_second
                )
    return figures


def report_e2e(figures: dict[str, list[float]]) -> list[str]:
    bare = figures["bare"]
    lines = [f"{'server':32} {'req/s':>8}  share of bare  vs Paste"]
    for key, rates in figures.items():
        share = statistics.median(r / b for r, b in zip(rates, bare, strict=True))
        peer = statistics.median(
            r / p for r, p in zip(rates, figures["paste_default"], strict=True)
        )
        lines.append(
            f"{key:32} {statistics.median(rates):8.0f}  {share:12.1%}  {peer:.2f}x"
        )
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.versus", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "revision", help="the git revision to compare with (the 'before')"
    )
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--sample-seconds", type=float, default=0.2)
    parser.add_argument(
        "--e2e", action="store_true", help="also the gunicorn+wrk rounds"
    )
    parser.add_argument("--e2e-seconds", type=float, default=5)
    parser.add_argument("--e2e-rounds", type=int, default=3)
    options = parser.parse_args(argv)
    import wsgimw

    with exported(options.revision) as directory:
        before = load_before(directory)
        table = rows(before, wsgimw)
        samples = measure_rows(table, options.repeats, options.sample_seconds)
        print(f"before: wsgimw at {options.revision}; after: this checkout")
        print("\n".join(report_rows(table, samples)))
        if options.e2e:
            figures = measure_e2e(directory, options.e2e_seconds, options.e2e_rounds)
            print("\n".join(report_e2e(figures)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
