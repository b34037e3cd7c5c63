"""The testing recipe (recipes/pytest_pipeline) passes as a user would run it.

Its pytest.ini makes it a project of its own, so the run loads wsgimw's
pytest plugin by its entry point, as a user's project does (wsgimw's own
suite turns the plugin off: see pyproject)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from servers import ROOT

from wsgimw.check import ROWS

RECIPE = ROOT / "recipes" / "pytest_pipeline"
PYTEST_OPTIONS = ["-p", "no:cacheprovider", "-q", "-rA", "--no-header"]


def _test_names(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")
    }


def test_the_recipe_suite_passes_under_pytest() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "pytest", str(RECIPE), *PYTEST_OPTIONS],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    passed = [
        line.split("::")[-1].split()[0]
        for line in run.stdout.splitlines()
        if line.startswith("PASSED")
    ]
    # Every test in the file ran and passed: none collected away or skipped.
    assert {name.partition("[")[0] for name in passed} == _test_names(
        RECIPE / "test_pipeline.py"
    )
    # The plugin's wsgi_fault ran the stack through every row of the matrix.
    rows = [name for name in passed if name.startswith("test_the_stack_survives")]
    assert rows == [f"test_the_stack_survives_every_fault[{row}]" for row in ROWS]
    assert "test_head_has_the_headers_and_no_body" in passed
