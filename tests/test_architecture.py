"""The architecture page is the one the code points to: every "architecture
§n" in the tree names a section of docs/explanation/architecture.md, and no
comment points to a design note outside the project."""

from __future__ import annotations

import re

from servers import ROOT

PAGE = ROOT / "docs" / "explanation" / "architecture.md"
FOLDERS = ("wsgimw", "tests", "bench", "recipes", "docs")
OUTSIDE = "DES" + "IGN"  # spelled apart so this file does not match itself


def _texts() -> list[tuple[str, str]]:
    found = []
    for folder in FOLDERS:
        for path in sorted((ROOT / folder).rglob("*")):
            if path.suffix in (".py", ".md", ".ini", ".toml") and path.is_file():
                found.append((str(path.relative_to(ROOT)), path.read_text("utf-8")))
    return found


def test_no_reference_to_a_design_note_outside_the_project() -> None:
    pattern = re.compile(rf"\b{OUTSIDE}\b(?: §|'s)")
    stale = [
        f"{name}:{text.count(chr(10), 0, match.start()) + 1}"
        for name, text in _texts()
        for match in pattern.finditer(text)
    ]
    assert not stale, (
        "point these to docs/explanation/architecture.md as 'architecture §n': "
        + ", ".join(stale)
    )


def test_every_architecture_section_referenced_exists() -> None:
    sections = set(re.findall(r"^## (\d+)\. ", PAGE.read_text("utf-8"), re.M))
    assert sections == {str(n) for n in range(1, 9)}
    cited = {
        number
        for _, text in _texts()
        for number in re.findall(r"architecture §(\d+)", text)
    }
    assert cited
    assert cited <= sections
