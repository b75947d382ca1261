"""The package table of docs/architecture.md says what the code imports.

Each top-level package and module of ``src/proxisante`` has one row; its "depends on" column names exactly the
other top-level packages and modules it imports (any depth, inside functions too, relative imports resolved),
so the table cannot drift from the code unnoticed. Imports only under ``if TYPE_CHECKING:`` do not count.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "proxisante"
DOC = ROOT / "docs" / "architecture.md"
HEADER = re.compile(r"^\|\s*package\s*\|\s*owns\s*\|\s*depends on\s*\|\s*$")


def top_level_units() -> set[str]:
    """Top-level packages (folders with Python modules, namespace packages too) and modules, ``__init__`` excepted."""
    units = {p.stem for p in SRC.glob("*.py") if p.stem != "__init__"}
    units |= {p.name for p in SRC.iterdir() if p.is_dir() and any(p.rglob("*.py"))}
    return units


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(node: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement under ``node``, at any depth, except the body of ``if TYPE_CHECKING:``."""
    found: list[ast.Import | ast.ImportFrom] = []
    children = list(ast.iter_child_nodes(node))
    while children:
        child = children.pop(0)
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            found.append(child)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            children[:0] = child.orelse  # the ``else:`` branch runs at run time
        else:
            found.extend(_imports(child))
    return found


def _module_names(path: Path, source: str | None = None) -> list[str]:
    """Absolute dotted names the module at ``path`` imports (``from a import b`` gives both ``a`` and ``a.b``).

    ``source`` stands for the file's text when given (the reader's own test).
    """
    package = list(path.relative_to(SRC.parent).with_suffix("").parts)
    if package[-1] == "__init__":
        package.pop()
    else:
        package = package[:-1]  # the package a module's relative imports start from
    names: list[str] = []
    for node in _imports(ast.parse(source if source is not None else path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
            continue
        if node.level:
            base = package[: len(package) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        names.append(module)
        names.extend(f"{module}.{alias.name}" for alias in node.names)
    return names


def real_dependencies() -> dict[str, set[str]]:
    """For each top-level unit, the other top-level units its modules import."""
    units = top_level_units()
    deps: dict[str, set[str]] = {unit: set() for unit in units}
    for path in sorted(SRC.rglob("*.py")):
        parts = path.relative_to(SRC).with_suffix("").parts
        owner = parts[0]
        if owner not in units:
            continue
        for name in _module_names(path):
            dotted = name.split(".")
            if dotted[0] == "proxisante" and len(dotted) > 1 and dotted[1] in units and dotted[1] != owner:
                deps[owner].add(dotted[1])
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


def test_the_reader_sees_imports_inside_functions_and_relative_ones() -> None:
    """The import reader itself: nested and relative imports count, ``TYPE_CHECKING`` ones do not."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from proxisante.web import app\nelse:\n    import proxisante.formats\n"
        "def f():\n    from ..warehouse import load\n    import proxisante.settings\n"
        "from . import panel\n"
    )
    names = _module_names(SRC / "population" / "example.py", source)  # a module that is never written
    assert {"proxisante.warehouse.load", "proxisante.settings", "proxisante.formats"} <= set(names)
    assert "proxisante.population.panel" in names
    assert not any(name.startswith("proxisante.web") for name in names)
    init_names = _module_names(SRC / "population" / "__init__.py", "from .panel import x\nfrom .. import runtime\n")
    assert {"proxisante.population.panel", "proxisante.runtime"} <= set(init_names)
