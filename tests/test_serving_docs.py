"""The examples of the serving reference pages (StaticFiles, ConditionalGet,
Mount) run as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("static.md", "conditional.md", "mount.md")


def _examples() -> list[Any]:
    found = []
    for page in PAGES:
        text = (ROOT / "docs" / "reference" / page).read_text(encoding="utf-8")
        blocks = re.findall(r"^```python\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
        assert blocks, page
        found += [
            pytest.param(page, block, id=f"{page}-{n}")
            for n, block in enumerate(blocks, 1)
        ]
    return found


@pytest.mark.parametrize(("page", "code"), _examples())
def test_docs_examples_run(
    page: str, code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"docs/reference/{page}", "exec"), {"__name__": "docs_example"})
