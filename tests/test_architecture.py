"""The package's shape, checked from the source: no import cycles, small modules, short functions.

The import graph is read from the AST of every module under ``qmonexec/``.
It counts every ``import`` statement wherever it stands: at module level,
inside functions (a lazy import only moves the cost; the two modules still
depend on each other) and under ``if TYPE_CHECKING:`` (a type-only import is
still a dependency of the design, and becomes a run-time one as soon as a
name is needed for more than an annotation).  ``from PKG import name`` is an
edge to the module ``PKG.name`` when there is one, else to ``PKG`` itself;
importing a submodule is not counted as importing its parent package.
Every violation fails; there is no list of known exceptions.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.support import ROOT

PACKAGE = ROOT / "qmonexec"

#: At most this many plain modules directly in ``qmonexec/`` (subpackages and dunder files apart).
MAX_TOP_LEVEL_MODULES = 8
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))
            if "__pycache__" not in p.parts}


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The qmonexec modules that module ``name`` (file ``path``) imports, anywhere in it."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            for alias in node.names:
                child = f"{base}.{alias.name}"
                found.add(child if child in modules else base)
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    """Module name -> the qmonexec modules it imports (see the module docstring)."""
    modules = _modules()
    return {name: _imports(name, path, modules) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _functions(tree: ast.AST, prefix: str) -> Iterator[tuple[str, int]]:
    """``(qualified name, lines)`` of every function and method in ``tree``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = f"{prefix}.{node.name}"
            yield name, (node.end_lineno or node.lineno) - node.lineno + 1
            yield from _functions(node, name)
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}.{node.name}")
        else:
            yield from _functions(node, prefix)


def violations() -> set[str]:
    """Every rule broken by the package as it is on disk, one line each."""
    found: set[str] = set()
    for component in _cycles(import_graph()):
        found.add("cycle: " + " <-> ".join(component))
    top = [p.name for p in PACKAGE.glob("*.py") if not p.name.startswith("__")]
    if len(top) > MAX_TOP_LEVEL_MODULES:
        found.add(f"qmonexec has {len(top)} top-level modules (at most "
                  f"{MAX_TOP_LEVEL_MODULES}): {', '.join(sorted(top))}")
    for name, path in _modules().items():
        text = path.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            found.add(f"module {name} is over {MAX_MODULE_LINES} lines")
        for function, lines in _functions(ast.parse(text, str(path)), name):
            if lines > MAX_FUNCTION_LINES:
                found.add(f"function {function} is over {MAX_FUNCTION_LINES} lines")
    return found


def test_the_package_keeps_its_architecture_rules() -> None:
    assert sorted(violations()) == []


def test_the_graph_counts_imports_inside_functions() -> None:
    # qmp/guard.py imports the validator's check only inside check_command.
    assert "qmonexec.shell.check" in import_graph()["qmonexec.qmp.guard"]


def test_the_graph_counts_type_checking_imports() -> None:
    # save/plan.py names the validator's Policy only under TYPE_CHECKING.
    assert "qmonexec.shell" in import_graph()["qmonexec.save.plan"]


@pytest.mark.parametrize("leaf", ["qmonexec.vocabulary", "qmonexec.limits"])
def test_the_shared_fact_modules_import_nothing_of_qmonexec(leaf: str) -> None:
    assert import_graph()[leaf] == set()


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
