"""The package's import graph: no cycles, and the Jupyter-free layers stay Jupyter-free.

Every ``import`` in every module of ``jupyter_workbench`` counts, at the top of a module or
inside a function (a cycle through a function-level import is still a tangle: it breaks as
soon as someone moves the import up). A package's ``__init__`` running when one of its modules
is imported is not an edge (Python always does that); ``from pkg import name`` is. Imports
under ``if TYPE_CHECKING:`` are not edges either: they never run, they only name types.
"""

from __future__ import annotations

import ast
import functools
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parents[2] / "jupyter_workbench"
JUPYTER = {"jupyter_server", "tornado"}
# Layers that the CLI, kernels and scripts use without a Jupyter server.
PURE_LAYERS = (
    "jupyter_workbench.export",
    "jupyter_workbench.storage",
    "jupyter_workbench.environments",
)
# jupyter_client's KernelSpecManager subclass for the server (the one allowed exception).
PURE_EXCEPTIONS = {"jupyter_workbench.environments.kernelspecs"}


def _modules() -> dict[str, pathlib.Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _imports(name: str) -> tuple[set[str], set[str]]:
    """(modules of the package, top-level external packages) that module ``name`` imports."""
    tree = ast.parse(MODULES[name].read_text())
    here = name if _is_package(name) else name.rpartition(".")[0]
    internal, external = set(), set()
    type_only = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If)
        and ast.unparse(node.test) in ("TYPE_CHECKING", "typing.TYPE_CHECKING")
        for stmt in node.body
        for inner in ast.walk(stmt)
    }
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            targets = [(a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")[: len(here.split(".")) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [(module, [a.name for a in node.names])]
        else:
            continue
        for module, names in targets:
            if not module.startswith("jupyter_workbench"):
                external.add(module.split(".")[0])
                continue
            subs = [f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES]
            internal.update(subs)
            if len(subs) < len(names) or not names:  # a name from the module itself
                while module not in MODULES:  # import a.b.c of a package a.b: its __init__
                    module = module.rpartition(".")[0]
                internal.add(module)
    internal.discard(name)
    return internal, external


@functools.cache
def _graph() -> dict[str, tuple[set[str], set[str]]]:
    """Built when a test asks (not at collection: every pytest-xdist worker collects this file,
    and parsing the whole package costs each of them most of a CPU second)."""
    return {name: _imports(name) for name in MODULES}


def _cycles() -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    graph = _graph()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v][0]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_walk_sees_the_package():
    # The graph is real: known modules and known edges are in it.
    graph = _graph()
    assert "jupyter_workbench.contents.manager" in graph
    assert "jupyter_workbench.storage.service" in graph["jupyter_workbench.contents.manager"][0]
    assert "tornado" in graph["jupyter_workbench.api.base"][1]


def test_no_import_cycles():
    assert _cycles() == []


def test_pure_layers_never_import_jupyter_server_or_tornado():
    # Given every module of export/, storage/ and environments/ (but the kernelspec manager)
    offenders = []
    graph = _graph()
    for name in sorted(graph):
        if not name.startswith(PURE_LAYERS) or name in PURE_EXCEPTIONS:
            continue
        # When everything it imports within the package is followed (not through the exception)
        seen, todo = set(), [name]
        while todo:
            current = todo.pop()
            if current in seen or current in PURE_EXCEPTIONS:
                continue
            seen.add(current)
            internal, external = graph[current]
            offenders += [(name, current, e) for e in sorted(external & JUPYTER)]
            todo.extend(internal)
    # Then none reaches jupyter_server or tornado
    assert offenders == []
