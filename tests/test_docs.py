"""The documentation says what the code does: the pivot format page lists the same columns."""

from __future__ import annotations

import re
from pathlib import Path

from proxisante.ingest.pivot.format import TABLES
from tests.lib.paths import DOCS

DOCS = DOCS


def test_pivot_format_page_lists_every_table_and_column_with_its_kind() -> None:
    text = (DOCS / "pivot-format.md").read_text(encoding="utf-8")
    documented: dict[str, list[tuple[str, str]]] = {}
    for section in re.split(r"^### ", text, flags=re.MULTILINE)[1:]:
        name = re.match(r"`(\w+)`", section).group(1)  # type: ignore[union-attr]
        documented[name] = re.findall(r"^\| `(\w+)` \| ([\w:]+) \|", section, flags=re.MULTILINE)
    assert documented == {t.name: [(c.name, c.kind) for c in t.columns] for t in TABLES}


BEGIN, END = "<!-- library: begin -->", "<!-- library: end -->"


def library_table() -> str:
    """The library section of docs/measures.md, from the YAML files (`python tests/test_docs.py` prints it)."""
    from proxisante.measures.definition import library

    lines = ["| id | indicator | group | programme | scoring | direction | source (confidence) |",
             "|---|---|---|---|---|---|---|"]  # fmt: skip
    for m in library().values():
        lines.append(
            f"| `{m.id}` | {m.short_label} | {m.group} | {', '.join(m.programme)} | {m.scoring} | {m.direction} "
            f"| {m.source.text.split(';')[0].split('.')[0][:90].strip()} ({m.source.date:%Y}, {m.source.confidence}) |"
        )
    return "\n".join(lines)


def test_measures_page_lists_the_library() -> None:
    text = (DOCS / "measures.md").read_text(encoding="utf-8")
    section = text.split(BEGIN)[1].split(END)[0].strip()
    assert section == library_table(), "regenerate with: python tests/test_docs.py"


if __name__ == "__main__":
    print(library_table())


def test_security_page_names_tests_that_exist() -> None:
    """Each proof docs/security.md names (``tests/...py`` and ``::test_...`` after it) is a real test."""
    text = (DOCS / "security.md").read_text(encoding="utf-8")
    tests_root = DOCS.parent / "tests"
    current: Path | None = None
    named = 0
    for match in re.finditer(r"`(tests/[\w/]+\.py)?(::\w+)?", text):
        path, test = match.groups()
        if path:
            current = DOCS.parent / path
            assert current.is_file(), path
        if test:
            assert current is not None and current.is_relative_to(tests_root), test
            assert re.search(rf"^def {test[2:]}\(", current.read_text(encoding="utf-8"), re.MULTILINE), (
                f"{current.name}{test}"
            )
            named += 1
    assert named >= 20
    assert not re.findall(r"`test_\w+\.py", text), "name tests with their path from the project root"
