"""No import cycle between the modules of ``src/proxisante``, and no import that runs back up the flow.

Every import counts, at any depth (an import inside a function hides an edge from the reader, not from
this test), relative imports resolved; only the body of ``if TYPE_CHECKING:`` is left out, since it never
runs. An edge to one of a module's own parent packages is left out too: importing a module runs its parents'
``__init__`` first anyway, so such an edge orders nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.lib.paths import SRC as PACKAGE_DIR

SRC = PACKAGE_DIR.parent
PACKAGE = "proxisante"


def modules(src: Path = SRC) -> dict[str, Path]:
    """Dotted module name → file, for every module and package under ``src/proxisante``."""
    found = {}
    for path in sorted((src / PACKAGE).rglob("*.py")):
        parts = path.relative_to(src).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported_names(tree: ast.AST, package: str) -> list[str]:
    """The absolute dotted names a module imports, ``package`` being where its relative imports start.

    ``from a import b`` gives both ``a`` and ``a.b`` (``b`` may be a module or a name defined in ``a``).
    """
    names: list[str] = []
    pending: list[ast.AST] = [tree]
    while pending:
        node = pending.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            pending.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                start = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{start}.{base}" if base else start
            names.append(base)
            names.extend(f"{base}.{alias.name}" for alias in node.names)
        pending.extend(ast.iter_child_nodes(node))
    return names


def import_graph(src: Path = SRC) -> dict[str, set[str]]:
    """Module → the other modules of the project it imports (parent packages left out, see above)."""
    known = modules(src)
    graph: dict[str, set[str]] = {name: set() for name in known}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for target in imported_names(ast.parse(path.read_text(encoding="utf-8")), package):
            while target and target not in known:  # ``a.b.name`` → the module ``a.b`` that defines it
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(f"{target}."):
                graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, targets = work[-1]
            target = next(targets, None)
            if target is not None:
                if target not in index:
                    index[target] = low[target] = len(index)
                    stack.append(target)
                    on_stack.add(target)
                    work.append((target, iter(sorted(graph[target]))))
                elif target in on_stack:
                    low[node] = min(low[node], index[target])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def _path(graph: dict[str, set[str]], component: list[str]) -> str:
    """One cycle through the component's first module, as ``a → b → a`` (breadth-first, so a shortest one)."""
    members, start = set(component), component[0]
    previous: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in sorted(graph[node] & members):
            if target == start:
                chain = [node]
                while chain[-1] != start:
                    chain.append(previous[chain[-1]])
                return " → ".join([*reversed(chain), start])
            if target not in previous:
                previous[target] = node
                queue.append(target)
    return " ↔ ".join(component)


def test_no_import_cycle_between_modules() -> None:
    graph = import_graph()
    found = cycles(graph)
    assert not found, "import cycles between modules:\n" + "\n".join(_path(graph, c) for c in found)


def test_the_graph_sees_every_kind_of_import(tmp_path: Path) -> None:
    """The reader finds imports inside functions, ``from . import`` and ``from .x import``, not type-only ones."""
    package = tmp_path / PACKAGE / "pkg"
    package.mkdir(parents=True)
    (tmp_path / PACKAGE / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from . import b\n")
    (package / "b.py").write_text("from .c import name\n")
    (package / "c.py").write_text("import typing\nif typing.TYPE_CHECKING:\n    from proxisante.pkg import d\n")
    (package / "d.py").write_text("from proxisante.pkg.a import f\n")
    graph = import_graph(tmp_path)
    assert graph["proxisante.pkg.a"] == {"proxisante.pkg.b"}
    assert graph["proxisante.pkg.b"] == {"proxisante.pkg.c"}
    assert graph["proxisante.pkg.c"] == set()
    assert cycles(graph) == []
    (package / "c.py").write_text("def g():\n    import proxisante.pkg.a\n")
    graph = import_graph(tmp_path)
    assert cycles(graph) == [["proxisante.pkg.a", "proxisante.pkg.b", "proxisante.pkg.c"]]
    assert _path(graph, cycles(graph)[0]) == "proxisante.pkg.a → proxisante.pkg.b → proxisante.pkg.c → proxisante.pkg.a"


# The flow, bottom to top: a package may import its own layer and the layers below, never one above.
# docs/architecture.md draws the same floors. ``disclosure`` depends on nothing of the project, so every
# release path (measures for protected audiences, reporting, research, web) may call it.
LAYERS: list[set[str]] = [
    {"formats", "spreadsheet", "definitions", "parameters", "vocab", "omop", "disclosure", "messages"},
    {"identity"},
    {"settings"},
    {"warehouse"},
    {"installation"},
    {"network"},
    {"ingest"},
    {"measures"},
    {"population"},
    {"economics", "territory"},
    {"synth", "reporting", "research"},
    {"main"},
    {"web"},
    {"cli"},
]


def top_level(module: str) -> str:
    """``proxisante.economics.payments`` → ``economics``; ``proxisante.formats`` → ``formats``."""
    return module.split(".")[1]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import from a package to one on a higher floor of :data:`LAYERS`, as ``a → b``."""
    floor = {name: level for level, names in enumerate(LAYERS) for name in names}
    return sorted(
        f"{module} → {target}"
        for module, targets in graph.items()
        if module != PACKAGE
        for target in targets
        if target != PACKAGE and floor[top_level(target)] > floor[top_level(module)]
    )


def test_every_package_has_a_floor() -> None:
    packages = {top_level(name) for name in modules() if name != PACKAGE}
    placed = set().union(*LAYERS)
    assert packages <= placed, f"packages missing from LAYERS: {sorted(packages - placed)}"


def test_no_import_runs_back_up_the_flow() -> None:
    found = upward_imports(import_graph())
    assert not found, "imports that run back up the flow:\n" + "\n".join(found)


def test_an_upward_import_is_seen(tmp_path: Path) -> None:
    package = tmp_path / PACKAGE
    (package / "warehouse").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "warehouse" / "__init__.py").write_text("def f():\n    from proxisante.web import app\n")
    (package / "web").mkdir()
    (package / "web" / "__init__.py").write_text("")
    (package / "web" / "app.py").write_text("from proxisante import warehouse\n")
    assert upward_imports(import_graph(tmp_path)) == [
        "proxisante.warehouse → proxisante.web",
        "proxisante.warehouse → proxisante.web.app",
    ]
