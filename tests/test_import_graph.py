"""engine/ has no import circles: its module-level import graph is acyclic.

A circle works only while every module in it is imported in a lucky order; the
first reordering (or a new `from x import y`) turns it into an ImportError on
a half-initialised module. The graph is read from the source with `ast`, so
the test needs neither torch nor Qt and sees every module, imported or not.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
ENGINE = ROOT / "engine"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _top_level(statements: list[ast.stmt]) -> list[ast.stmt]:
    """Statements that run at import: into `try`/`if` blocks, but not `if TYPE_CHECKING:`."""
    found = []
    for node in statements:
        if isinstance(node, ast.If):
            if "TYPE_CHECKING" not in ast.unparse(node.test):
                found += _top_level(node.body) + _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            found += _top_level(node.body + node.orelse + node.finalbody)
            for handler in node.handlers:
                found += _top_level(handler.body)
        else:
            found.append(node)
    return found


def imported_at_module_level(path: Path, modules: set[str]) -> set[str]:
    """What `path` imports when it is itself imported: modules of `modules` where the
    name is one of them, otherwise the name as written (`torch`, `torch.nn`)."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in _top_level(ast.parse(path.read_text(encoding="utf-8")).body):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:  # `from pkg import module` needs the module, not all of pkg
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return found


def import_graph(root: Path = ENGINE) -> nx.DiGraph:
    files = {module_name(p): p for p in root.rglob("*.py")}
    graph = nx.DiGraph()
    graph.add_nodes_from(files)
    for name, path in files.items():
        graph.add_edges_from((name, target) for target in imported_at_module_level(path, set(files)))
    return graph


def test_listing_the_export_formats_loads_no_torch() -> None:
    """`engine.export` (FORMATS, for the CLI's choices) imports torch only when a format runs.

    What the parent package `engine/__init__.py` loads is its own business (the
    graph has no implicit child -> parent edges).
    """
    graph = import_graph()
    reached = nx.descendants(graph, "engine.export")
    assert "engine.errors" in reached and "engine.export.onnx" not in reached
    assert not {name for name in reached if name.split(".")[0] == "torch"}, sorted(reached)
    assert nx.has_path(graph, "engine.export.onnx", "torch")  # the reader sees torch where it is


def test_the_engine_has_no_import_circles() -> None:
    graph = import_graph()
    assert len(graph) > 30 and graph.has_edge("engine.compiler", "engine.shapes")
    cycles = list(nx.simple_cycles(graph.subgraph(n for n in graph if n.startswith("engine"))))
    assert cycles == [], "import circles: " + "; ".join(" -> ".join([*c, c[0]]) for c in cycles)


def test_the_graph_reader_sees_a_circle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.b import thing\n")
    (package / "b.py").write_text("try:\n    from . import a, name\nexcept ImportError:\n    pass\n")
    (package / "c.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                  "    from pkg import a\n\ndef f():\n    from pkg import b\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        graph = import_graph(package)
    finally:
        ROOT = saved
    assert set(graph.edges) == {("pkg.a", "pkg.b"), ("pkg.b", "pkg.a"), ("pkg.b", "pkg"),
                                ("pkg.c", "typing")}


def test_the_engine_never_imports_qt_or_pyqtgraph():
    """engine/ must run with no screen: no module of it imports Qt, even inside a function."""
    import ast
    from pathlib import Path

    engine = Path(__file__).resolve().parent.parent / "engine"
    offenders = []
    for path in sorted(engine.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.name}: {n}" for n in names
                          if n.split(".")[0] in ("PySide6", "PyQt5", "PyQt6", "pyqtgraph", "gui")]
    # The console script's `netcanvas` (no command) hands over to the GUI: the one way in.
    assert offenders == ["cli.py: gui.app"]
