"""The compiled runner's helpers (bench.compiled) do what they say. mypyc
itself is never run here: a full build takes minutes (python -m
bench.compiled runs it). They read the checkout's wsgimw sources and its git
history, which a copy of the checkout beside an installed wheel lacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import compiled

pytestmark = pytest.mark.integration


MODULES = compiled.all_modules(compiled.ROOT / "wsgimw")


def test_every_module_but_the_entry_points_is_a_candidate() -> None:
    assert {"accesslog", "_response"} <= set(MODULES)
    assert not {"__init__", "__main__"} & set(MODULES)
    assert sorted(MODULES) == MODULES


def test_the_default_choice_leaves_out_what_fails_at_run_time() -> None:
    chosen = compiled.chosen_modules(MODULES, None)
    assert set(chosen) == set(MODULES) - set(compiled.RUNTIME_EXCLUDED)
    assert compiled.chosen_modules(MODULES, " auth, _response,auth") == [
        "_response",
        "auth",
    ]
    with pytest.raises(ValueError, match="not modules of wsgimw: nope"):
        compiled.chosen_modules(MODULES, "auth,nope")
    with pytest.raises(ValueError, match="names no module"):
        compiled.chosen_modules(MODULES, " , ")


def test_arguments() -> None:
    args = compiled.parse_args([])
    assert args.rows == compiled.ROWS
    assert (args.rounds, args.fast, args.keep) == (1, False, False)
    assert "query" not in args.modules
    assert "accesslog" in args.modules
    args = compiled.parse_args(
        ["--modules", "accesslog", "--rows", "x", "--rounds", "2", "--fast", "--keep"]
    )
    assert (args.modules, args.rows, args.rounds, args.fast, args.keep) == (
        ["accesslog"],
        "x",
        2,
        True,
        True,
    )


@pytest.mark.parametrize(
    "argv", [["--rounds", "0"], ["--modules", "nope"], ["--rounds", "x"]]
)
def test_bad_arguments_exit_2(argv: list[str], capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_info:
        compiled.parse_args(argv)
    assert exit_info.value.code == 2
    assert "python -m bench.compiled" in capsys.readouterr().err


MYPYC_OUTPUT = """\
wsgimw/testing.py:75: error: Inheriting from most builtin types is unimplemented
wsgimw/testing.py:75: note: Potential workaround: @mypy_extensions.mypyc_attr
wsgimw/testing.py:564: error: Inheriting from most builtin types is unimplemented
wsgimw/check.py:1: error: Something else
other/thing.py:3: error: not ours
"""


def test_refused_modules_are_named_with_their_first_error() -> None:
    assert compiled.refused(MYPYC_OUTPUT, ["testing", "check", "auth"]) == {
        "testing": "Inheriting from most builtin types is unimplemented",
        "check": "Something else",
    }
    assert compiled.refused(MYPYC_OUTPUT, ["auth"]) == {}


class FakeMypyc:
    """Stands in for ``python -m mypyc``: refuses the modules in ``refuse``."""

    def __init__(self, *outputs: tuple[int, str]) -> None:
        self.outputs = list(outputs)
        self.calls: list[list[str]] = []

    def __call__(
        self, command: list[str], **options: Any
    ) -> subprocess.CompletedProcess[str]:
        self.calls.append(command)
        assert Path(options["cwd"], "mypy.ini").is_file()
        code, output = self.outputs.pop(0)
        return subprocess.CompletedProcess(command, code, output, "")


def test_build_leaves_out_what_mypyc_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled.export(None, tmp_path / "build")
    fake = FakeMypyc((1, MYPYC_OUTPUT), (0, "built"))
    monkeypatch.setattr(subprocess, "run", fake)
    built = compiled.build(["auth", "check", "testing"], tmp_path / "build")
    assert built.compiled == ["auth"]
    assert set(built.excluded) == {"check", "testing"}
    assert fake.calls[1][-1:] == ["wsgimw/auth.py"]
    assert built.seconds >= 0
    reasons = compiled.not_compiled(["auth", "check", "query", "rewrite"], built)
    assert reasons["check"].startswith("mypyc refuses it: Something else")
    assert reasons["query"] == compiled.RUNTIME_EXCLUDED["query"]
    assert reasons["rewrite"] == "not asked for (--modules)"
    assert "auth" not in reasons


def test_export_copies_the_sources_or_a_commits(tmp_path: Path) -> None:
    compiled.export(None, tmp_path / "files")
    assert (tmp_path / "files" / "wsgimw" / "accesslog.py").is_file()
    assert not list((tmp_path / "files").rglob("__pycache__"))
    compiled.export("HEAD", tmp_path / "commit")
    assert (tmp_path / "commit" / "wsgimw" / "accesslog.py").is_file()
    assert not (tmp_path / "commit" / "tests").exists()


def test_build_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    monkeypatch.setattr(subprocess, "run", FakeMypyc((1, "gcc: error: no space left")))
    with pytest.raises(RuntimeError, match="mypyc failed:\ngcc: error"):
        compiled.build(["auth"], tmp_path / "one")
    monkeypatch.setattr(subprocess, "run", FakeMypyc((1, MYPYC_OUTPUT)))
    with pytest.raises(RuntimeError, match="refused every module"):
        compiled.build(["testing"], tmp_path / "two")


def test_the_bench_command() -> None:
    command = compiled.bench_command(
        Path("/b"), ["auth", "accesslog"], "x", Path("/f"), False
    )
    assert command[1] == "-c"
    assert command[3:] == ["/b", "auth,accesslog", "--rows", "x", "--json", "/f"]
    command = compiled.bench_command(Path("/b"), [], "x", Path("/f"), True)
    assert command[3:5] == ["/b", ""]
    assert command[-1] == "--fast"


def test_imported_from_checks_where_modules_come_from() -> None:
    assert compiled.imported_from([]).endswith("wsgimw: pure Python")
    with pytest.raises(RuntimeError, match="not the build asked for: accesslog from"):
        compiled.imported_from(["accesslog"])


def test_the_boot_code_runs_the_bench(tmp_path: Path) -> None:
    figures = tmp_path / "figures.json"
    compiled.export(None, tmp_path)
    command = compiled.bench_command(tmp_path, [], "^compose$", figures, True)
    # As python -m bench.compiled runs it, only shorter.
    command += ["--repeats", "2", "--sample-ms", "1"]
    done = subprocess.run(
        command, cwd=compiled.ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.startswith(f"wsgimw from {tmp_path / 'wsgimw'}: pure Python\n")
    rows = {row["key"] for row in json.loads(figures.read_text())["rows"]}
    assert rows == {"bare", "nested", "compose"}


def row(median: float, extra: float | None) -> dict[str, float | None]:
    return {"median_ns": median, "extra_ns": extra}


def test_the_comparison_table() -> None:
    pure = [{"bare": row(200, None), "default": row(20_200, 20_000)}]
    fast = [{"bare": row(190, None), "default": row(12_190, 12_000)}]
    lines = compiled.comparison(pure, fast)  # type: ignore[arg-type]
    assert lines[0].split() == [
        "row",
        "round",
        "pure",
        "ns",
        "compiled",
        "pure",
        "extra",
        "comp",
        "extra",
        "comp/pure",
    ]
    assert lines[1].split() == ["bare", "1", "200", "190", "-", "-", "-"]
    assert lines[2].split() == [
        "default",
        "1",
        "20200",
        "12190",
        "+20000",
        "+12000",
        "0.60",
    ]


def test_main_builds_runs_both_and_cleans_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    made: list[Path] = []

    def fake_build(modules: list[str], directory: Path) -> compiled.Build:
        made.append(directory)
        kept = [name for name in modules if name != "check"]
        return compiled.Build(directory, kept, {"check": "mypyc refuses it: x"}, 1.0)

    runs: list[list[str]] = []

    def fake_run(command: list[str], figures: Path) -> dict[str, dict[str, Any]]:
        runs.append(command)
        return {
            "default": {"median_ns": 1000.0, "extra_ns": 800.0 if command[4] else 900.0}
        }

    monkeypatch.setattr(compiled, "build", fake_build)
    monkeypatch.setattr(compiled, "run_bench", fake_run)
    assert compiled.main(["--modules", "auth,check", "--rounds", "2"]) == 0
    out = capsys.readouterr().out
    assert "not compiled: check: mypyc refuses it: x" in out
    assert "not compiled: accesslog: not asked for (--modules)" in out
    assert [bool(command[4]) for command in runs] == [False, True, False, True]
    assert runs[0][3].endswith("pure")
    assert "0.89" in out
    assert not made[0].parent.exists()
    assert compiled.main(["--modules", "auth", "--keep", "--rev", "HEAD"]) == 0
    assert f"build kept in {made[1].parent}\n" in capsys.readouterr().out
    assert (made[1] / "wsgimw" / "auth.py").is_file()
    import shutil

    shutil.rmtree(made[1].parent)


def test_the_module_runs_as_a_script() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.compiled", "--rounds", "0"],
        cwd=compiled.ROOT,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(compiled.ROOT)},
    )
    assert done.returncode == 2
    assert "--rounds must be at least 1" in done.stderr
