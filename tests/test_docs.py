"""The documentation says what the code does: the pivot format page lists the same columns."""

from __future__ import annotations

import re
from pathlib import Path

from proxisante.sources.pivot_format import TABLES

DOCS = Path(__file__).parents[1] / "docs"


def test_pivot_format_page_lists_every_table_and_column_with_its_kind() -> None:
    text = (DOCS / "pivot-format.md").read_text(encoding="utf-8")
    documented: dict[str, list[tuple[str, str]]] = {}
    for section in re.split(r"^### ", text, flags=re.MULTILINE)[1:]:
        name = re.match(r"`(\w+)`", section).group(1)  # type: ignore[union-attr]
        documented[name] = re.findall(r"^\| `(\w+)` \| ([\w:]+) \|", section, flags=re.MULTILINE)
    assert documented == {t.name: [(c.name, c.kind) for c in t.columns] for t in TABLES}
