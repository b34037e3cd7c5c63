"""``python -m bench.compiled``: wsgimw compiled with mypyc, beside pure Python.

Issue 12 asks what would reach its figures if pure Python cannot, and to
keep the pure-Python package the default. This is the second half of that
answer (the first is `bench.fused`): it copies the ``wsgimw`` package into a
temporary directory outside the checkout (the files as they are, or as a
commit has them with ``--rev``), makes a second copy and compiles every
module mypyc can there (mypy ships mypyc; a C compiler must be installed),
then runs ``python -m bench --rows ROWS`` twice or more, alternately with
the pure-Python copy and the compiled one first on ``sys.path``, and prints
the figures side by side. Nothing is written into the checkout; the
temporary directory is removed at the end unless ``--keep`` is given.

Each compiled run first imports every module and checks (and prints) that
the compiled ones really come from ``.so`` files and the others from
``.py``, so a figure can never be a pure-Python one by mistake.

Modules mypyc refuses at compile time are found by compiling: each one its
errors name is left out with the first error as the reason, and the rest
compiled again. Modules that compile but fail at run time are listed in
`RUNTIME_EXCLUDED`, with why.

Compiled, ``_response`` refuses subclasses made by interpreted code
("interpreted classes cannot inherit from compiled"): the bench's own
Exchange rows (``exchange_pass``, ``exchange_close``) and a user's Exchange
subclass fail with it. The rows this runs by default do not subclass it, as long as every wsgimw
module that does (accesslog, compress, ...) is compiled too.

A full build takes two and a half to four minutes on a loaded two-core
machine; ``--modules`` compiles fewer (e.g. the five the default
configuration runs through).
"""

from __future__ import annotations

import argparse
import io
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "wsgimw"
#: The rows issue 12 names, with what they are compared with.
ROWS = "^default$|^access_log$|compress_plain"
#: Never compiled: the package's entry points only import.
NOT_MODULES = frozenset({"__init__", "__main__"})
#: Modules mypyc compiles but that then fail at run time, and why.
RUNTIME_EXCLUDED = {
    "query": "QueryParser makes its QueryDict with object.__new__(QueryDict), "
    "which a compiled class refuses ('object.__new__(QueryDict) is not safe, "
    "use QueryDict.__new__()')",
    "pytest_plugin": "pluggy's hookimpl decorator sets an attribute on each hook "
    "function, and a compiled function takes none ('builtin_function_or_method' "
    "object has no attribute 'pytest_impl')",
}
# mypyc's error lines: "wsgimw/name.py:12: error: what".
_ERROR = re.compile(rf"^{PACKAGE}/(\w+)\.py:\d+: error: (.*)$", re.M)
# What mypy needs to check the copy: the checkout's pyproject.toml is not
# there, and some dependencies have no type hints.
_MYPY_INI = "[mypy]\nignore_missing_imports = True\n"


def all_modules(package: Path) -> list[str]:
    """The package's modules mypyc could compile, sorted."""
    return sorted(
        path.stem for path in package.glob("*.py") if path.stem not in NOT_MODULES
    )


def chosen_modules(available: Sequence[str], given: str | None) -> list[str]:
    """The modules to compile: ``given`` (comma-separated names) or every
    available one but `RUNTIME_EXCLUDED`'s. Raises ValueError for a name
    that is not a module of the package."""
    if given is None:
        return [name for name in available if name not in RUNTIME_EXCLUDED]
    names = [name.strip() for name in given.split(",") if name.strip()]
    unknown = [name for name in names if name not in available]
    if unknown:
        raise ValueError(
            f"not modules of {PACKAGE}: {', '.join(unknown)}; "
            f"choose among {', '.join(available)}"
        )
    if not names:
        raise ValueError("--modules names no module")
    return sorted(set(names))


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.compiled",
        description="Compile wsgimw with mypyc into a temporary directory and "
        "run the benchmark rows with it beside the pure-Python package.",
    )
    parser.add_argument(
        "--modules",
        metavar="NAMES",
        help="comma-separated modules to compile, e.g. "
        "'_response,accesslog,compress,auth,_htpasswd' (default: every module "
        "mypyc can compile)",
    )
    parser.add_argument(
        "--rows", default=ROWS, metavar="REGEX", help=f"bench rows (default {ROWS!r})"
    )
    parser.add_argument(
        "--rev",
        metavar="COMMIT",
        help="measure the package as this git commit has it, e.g. HEAD "
        "(default: the checkout's files as they are)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="pure-Python and compiled runs, alternated (default 1 of each)",
    )
    parser.add_argument(
        "--fast", action="store_true", help="pass --fast to each bench run"
    )
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the build directory and print its path",
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    try:
        args.modules = chosen_modules(all_modules(ROOT / PACKAGE), args.modules)
    except ValueError as error:
        parser.error(str(error))
    return args


# -- building -------------------------------------------------------------------


@dataclass
class Build:
    """A compiled copy of the package: where, what was compiled, what not."""

    directory: Path
    compiled: list[str]
    excluded: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def refused(output: str, trying: Sequence[str]) -> dict[str, str]:
    """The modules of ``trying`` that mypyc's ``output`` names in an error,
    each with its first error."""
    found: dict[str, str] = {}
    for match in _ERROR.finditer(output):
        name, message = match.groups()
        if name in trying:
            found.setdefault(name, message)
    return found


def export(rev: str | None, directory: Path) -> None:
    """Put the package's sources into ``directory``: the checkout's files as
    they are, or as commit ``rev`` has them (so that work in progress in a
    shared checkout changes neither run)."""
    if rev is None:
        shutil.copytree(
            ROOT / PACKAGE,
            directory / PACKAGE,
            ignore=shutil.ignore_patterns("__pycache__", "*.so"),
        )
        return
    archive = subprocess.run(
        ["git", "archive", "--format=tar", rev, PACKAGE],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(directory, filter="data")


def build(modules: Sequence[str], directory: Path) -> Build:
    """Compile ``modules`` of the package copy in ``directory`` (see
    `export`), leaving out each one mypyc refuses; the .so files land beside
    the copy's sources, as ``mypyc`` puts them."""
    started = time.monotonic()
    (directory / "mypy.ini").write_text(_MYPY_INI, encoding="utf-8")
    result = Build(directory, list(modules))
    while True:
        if not result.compiled:
            raise RuntimeError("mypyc refused every module")
        paths = [f"{PACKAGE}/{name}.py" for name in result.compiled]
        done = subprocess.run(
            [sys.executable, "-m", "mypyc", *paths],
            cwd=directory,
            capture_output=True,
            text=True,
        )
        if done.returncode == 0:
            break
        output = done.stdout + done.stderr
        bad = refused(output, result.compiled)
        if not bad:  # not a module mypyc names: nothing to leave out
            raise RuntimeError(f"mypyc failed:\n{output[-3000:]}")
        for name, reason in bad.items():
            result.excluded[name] = f"mypyc refuses it: {reason}"
            result.compiled.remove(name)
    result.seconds = time.monotonic() - started
    return result


def not_compiled(available: Sequence[str], built: Build) -> dict[str, str]:
    """Each module of ``available`` left interpreted, with why."""
    reasons = {}
    for name in available:
        if name in built.compiled:
            continue
        reasons[name] = built.excluded.get(name) or RUNTIME_EXCLUDED.get(
            name, "not asked for (--modules)"
        )
    return reasons


# -- running the bench ----------------------------------------------------------

# Run in each bench process: put the package copy first, check where every
# module comes from, then run the bench. argv: [the copy's directory, the
# compiled modules comma-separated, bench arguments...].
_BOOT = """\
import sys
build, compiled = sys.argv[1], sys.argv[2]
del sys.argv[1:3]
sys.path.insert(0, build)
from bench.compiled import imported_from
print(imported_from(compiled.split(",") if compiled else []), flush=True)
from bench.cli import main
sys.exit(main(sys.argv[1:]))
"""


def imported_from(compiled: Sequence[str]) -> str:
    """Import every module of the package; a line saying where they came
    from. Raises RuntimeError when a module meant to be compiled is not a
    .so file, or one meant to be interpreted is not a .py file."""
    import importlib

    package = importlib.import_module(PACKAGE)
    where = Path(package.__file__ or "").parent
    wrong = []
    for name in all_modules(where):
        module = importlib.import_module(f"{PACKAGE}.{name}")
        suffix = ".so" if name in compiled else ".py"
        if not (module.__file__ or "").endswith(suffix):
            wrong.append(f"{name} from {module.__file__}")
    if wrong:
        raise RuntimeError(f"not the build asked for: {'; '.join(wrong)}")
    kind = f"{len(compiled)} modules compiled (.so)" if compiled else "pure Python"
    return f"{PACKAGE} from {where}: {kind}"


def bench_command(
    build_dir: Path,
    compiled: Sequence[str],
    rows: str,
    figures: Path,
    fast: bool,
) -> list[str]:
    """The command of one bench run, with the package in ``build_dir``."""
    command = [
        sys.executable,
        "-c",
        _BOOT,
        str(build_dir),
        ",".join(compiled),
        "--rows",
        rows,
        "--json",
        str(figures),
    ]
    return [*command, "--fast"] if fast else command


def run_bench(command: Sequence[str], figures: Path) -> dict[str, dict[str, float]]:
    """Run one bench (its output shown as it goes); key -> its figures."""
    subprocess.run(command, cwd=ROOT, check=True)
    saved = json.loads(figures.read_text(encoding="utf-8"))
    return {row["key"]: row for row in saved["rows"]}


def comparison(
    pure: Sequence[dict[str, dict[str, float]]],
    compiled: Sequence[dict[str, dict[str, float]]],
) -> list[str]:
    """The side-by-side table: per row, each round's pure and compiled
    ns/req and extra ns, and compiled over pure."""
    lines = [
        f"{'row':<22} {'round':>5} {'pure ns':>10} {'compiled':>10} "
        f"{'pure extra':>11} {'comp extra':>11} {'comp/pure':>9}"
    ]
    for key in pure[0]:
        for number, (p, c) in enumerate(zip(pure, compiled, strict=True), 1):
            pure_extra, comp_extra = p[key]["extra_ns"], c[key]["extra_ns"]
            ratio = (
                f"{comp_extra / pure_extra:.2f}"
                if pure_extra and comp_extra is not None
                else "-"
            )
            lines.append(
                f"{key:<22} {number:>5} {p[key]['median_ns']:>10.0f} "
                f"{c[key]['median_ns']:>10.0f} {_signed(pure_extra):>11} "
                f"{_signed(comp_extra):>11} {ratio:>9}"
            )
    return lines


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.0f}"


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    started = time.monotonic()
    directory = Path(tempfile.mkdtemp(prefix="wsgimw-mypyc-"))
    # Both runs from one copy of the sources: the checkout may change
    # while the build runs.
    plain, native = directory / "pure", directory / "compiled"
    try:
        export(args.rev, plain)
        shutil.copytree(plain, native)
        print(f"compiling {len(args.modules)} modules with mypyc ...", flush=True)
        built = build(args.modules, native)
        print(f"compiled in {built.seconds:.0f} s: {', '.join(built.compiled)}")
        for name, why in not_compiled(all_modules(ROOT / PACKAGE), built).items():
            print(f"  not compiled: {name}: {why}")
        pure: list[dict[str, dict[str, float]]] = []
        compiled: list[dict[str, dict[str, float]]] = []
        for number in range(1, args.rounds + 1):
            for build_dir, names, results in (
                (plain, [], pure),
                (native, built.compiled, compiled),
            ):
                kind = "compiled" if names else "pure Python"
                print(f"\n== round {number}: {kind} ==", flush=True)
                figures = directory / f"figures-{kind[:4]}-{number}.json"
                command = bench_command(build_dir, names, args.rows, figures, args.fast)
                results.append(run_bench(command, figures))
        print("\n== pure Python beside compiled (ns; extra over the bare row) ==")
        print("\n".join(comparison(pure, compiled)))
        print(f"\nwhole run: {time.monotonic() - started:.0f} s")
    finally:
        if args.keep:
            print(f"build kept in {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
