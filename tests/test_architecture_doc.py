"""The package table of docs/architecture.md says what the code imports.

Each top-level package and module of ``src/proxisante`` has one row; its "depends on" column names exactly the
other top-level packages and modules it imports (any depth, inside functions too, relative imports resolved),
so the table cannot drift from the code unnoticed. Imports only under ``if TYPE_CHECKING:`` do not count.
"""

from __future__ import annotations

import re

from tests.lib.paths import DOCS, SRC
from tests.test_architecture import LAYERS, import_graph

DOC = DOCS / "architecture.md"
HEADER = re.compile(r"^\|\s*package\s*\|\s*owns\s*\|\s*depends on\s*\|\s*$")


def top_level_units() -> set[str]:
    """Top-level packages (folders with Python modules, namespace packages too) and modules, ``__init__`` excepted."""
    units = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    units |= {p.name for p in SRC.iterdir() if p.is_dir() and any(p.rglob("*.py"))}
    return units


def real_dependencies() -> dict[str, set[str]]:
    """For each top-level unit, the other top-level units its modules import (the module graph of
    ``tests/test_architecture.py``, read at the scale of the table)."""
    units = top_level_units()
    deps: dict[str, set[str]] = {unit: set() for unit in units}
    for module, targets in import_graph().items():
        owner = module.split(".")[1] if "." in module else None
        for target in targets:
            unit = target.split(".")[1] if "." in target else None
            if owner in units and unit in units and unit != owner:
                deps[owner].add(unit)
    return deps


def documented_dependencies() -> tuple[dict[str, set[str]], list[str]]:
    """The package table's rows (package → depends-on set) and the problems found while reading it."""
    lines = DOC.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if HEADER.match(line))
    units = top_level_units()
    rows: dict[str, set[str]] = {}
    problems: list[str] = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3:
            problems.append(f"row without three cells: {line}")
            continue
        name_match = re.fullmatch(r"`(\w+)`", cells[0])
        if not name_match:
            problems.append(f"package cell is not one name in backticks: {cells[0]!r}")
            continue
        package = name_match.group(1)
        if package in rows:
            problems.append(f"{package}: two rows")
        depends = re.sub(r"\([^()]*\)", "", cells[2]).replace("`", "").strip()
        named: set[str] = set()
        if depends != "—":
            for item in depends.split(","):
                item = item.strip()
                if not re.fullmatch(r"[a-z_]+(\.[a-z_]+)*", item) or item.split(".")[0] not in units:
                    problems.append(f"{package}: {item!r} in 'depends on' is not a proxisante package or module")
                    continue
                named.add(item.split(".")[0])
        rows[package] = named
    return rows, problems


def test_package_table_lists_every_package_and_its_real_dependencies() -> None:
    real = real_dependencies()
    documented, problems = documented_dependencies()
    for unit in sorted(real.keys() - documented.keys()):
        problems.append(f"{unit}: no row in the package table")
    for unit in sorted(documented.keys() - real.keys()):
        problems.append(f"{unit}: row for a package that does not exist in src/proxisante")
    for unit in sorted(real.keys() & documented.keys()):
        missing, extra = real[unit] - documented[unit], documented[unit] - real[unit]
        if missing or extra:
            problems.append(
                f"{unit}: imports but not listed {sorted(missing)}; listed but not imported {sorted(extra)}; "
                f"should read: {', '.join(sorted(real[unit])) or '—'}"
            )
    assert not problems, "docs/architecture.md package table vs imports:\n" + "\n".join(problems)


def test_package_table_goes_bottom_to_top() -> None:
    """The rows follow the floors of ``LAYERS`` (the order the doc promises: a row imports only rows above it)."""
    documented, _ = documented_dependencies()
    floor = {name: level for level, names in enumerate(LAYERS) for name in names}
    order = [floor.get(name, -1) for name in documented]
    misplaced = [
        name for name, before, level in zip(list(documented)[1:], order, order[1:], strict=False) if level < before
    ]
    assert not misplaced, f"rows placed above a lower floor: {misplaced}"
