"""``python -m bench.versus REV``: another revision's wsgimw beside this one,
in one run. Figures are never asserted (benchmarks are not timed tests):
what is checked is that the other revision really is what runs as
"before", that every row is printed, and that nothing lands in the tree."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import versus

# It reads the git history, which a copy of the checkout may not have.
pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent


def _tree_status() -> str:
    return subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_the_before_package_is_the_revisions_own_copy_outside_the_tree() -> None:
    first = subprocess.run(
        ["git", "rev-list", "--max-parents=0", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[0]
    status = _tree_status()
    script = (
        "import sys\n"
        "from bench import versus\n"
        "with versus.exported('HEAD') as directory:\n"
        "    before = versus.load_before(directory)\n"
        "    print(before.__name__, before.__file__)\n"
        "    print(before.AccessLog.__module__)\n"
        f"with versus.exported({first!r}) as directory:\n"
        "    print(sorted(p.name for p in (directory / versus.BEFORE).iterdir()))\n"
        "print(directory.exists())\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    name_line, module_line, files_line, exists_line = result.stdout.splitlines()
    name, file = name_line.split(" ", 1)
    assert name == versus.BEFORE
    assert not Path(file).is_relative_to(ROOT)  # not the checkout's package
    assert module_line == f"{versus.BEFORE}.accesslog"
    assert "__init__.py" in files_line
    assert exists_line == "False"  # removed at the end
    assert _tree_status() == status


def test_an_unknown_revision_is_refused_with_a_message() -> None:
    with (
        pytest.raises(SystemExit, match="cannot export wsgimw at 'no-such-rev'"),
        versus.exported("no-such-rev"),
    ):
        pass  # pragma: no cover - never reached


def test_every_row_is_printed_with_its_peer(capsys: pytest.CaptureFixture[str]) -> None:
    status = _tree_status()
    assert versus.main(["HEAD", "--repeats", "2", "--sample-seconds", "0.001"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("before: wsgimw at HEAD; after: this checkout\n")
    for label in (
        "default configuration, after",
        "default configuration, before",
        "Paste/WebOb stack, same jobs",
        "AccessLog through logging, after",
        "AccessLog through logging, before",
        "Paste TransLogger",
        "Compress not acting, after",
        "Compress not acting, before",
        "Paste gzipper not acting",
    ):
        assert label in out
    assert out.count("faster than paste_default") == 2
    assert out.count("faster than translogger") == 2
    assert out.count("faster than paste_plain") == 2
    assert _tree_status() == status
    sys.modules.pop(versus.BEFORE, None)


def test_the_end_to_end_rounds_serve_both_revisions(tmp_path: Path) -> None:
    # One short round: every server answers the default request (checked
    # by bench.e2e.check) and gets a figure.
    script = (
        "from bench import versus\n"
        "with versus.exported('HEAD') as directory:\n"
        "    versus.load_before(directory)\n"
        "    figures = versus.measure_e2e(directory, 1, 1)\n"
        "print('\\n'.join(versus.report_e2e(figures)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:]] == [
        "bare",
        "after",
        "before",
        "paste_default",
    ]
