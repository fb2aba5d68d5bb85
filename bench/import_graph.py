"""The module-level import graph of src/headstart, read from the source (AST, nothing imported).

Every `import` / `from ... import` counts, at any depth of a module (inside functions too):
an import inside a function still ties the two modules together, it only runs later.

    python bench/import_graph.py            # summary: cycles, upward imports, package graph
    python bench/import_graph.py --edges    # also every module's internal imports

`tests/test_imports.py` fails on what the summary reports as a problem.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "headstart"
# top of the house: they may import the libraries, never the other way round
UPPER = ("commands", "cli")
# library packages and shared modules, top to bottom (an import points down this list, or within one entry)
LAYERS = (
    "curate", "adapt", "methods", "train", "report", "eval", "export", "models", "data",
    ("run", "config", "registry", "io", "progress", "errors"),
)


def modules(src: Path = SRC) -> dict[str, Path]:
    """Dotted name -> file of every module under `src/headstart` (a package is its `__init__.py`)."""
    out = {}
    for path in sorted((src / ROOT).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(node: ast.ImportFrom, name: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = name.split(".") if is_package else name.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The headstart modules `name` imports (at any depth): `from a import b` is `a.b` when that is
    a module, else `a`."""
    out = set()
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(node, name, path.name == "__init__.py")
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        out.update(t for t in targets if t == ROOT or t.startswith(ROOT + "."))
    out.discard(name)
    return out


def graph(src: Path = SRC) -> dict[str, set[str]]:
    known = modules(src)
    return {name: imports(name, path, known) for name, path in known.items()}


def package(module: str) -> str:
    """`headstart.adapt.head` -> `adapt`; `headstart.run` -> `run`; the root -> `headstart`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sorted(out)


def package_edges(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for src, targets in edges.items():
        out[package(src)]
        for t in targets:
            if package(t) != package(src):
                out[package(src)].add(package(t))
    return dict(out)


def is_library(pkg: str) -> bool:
    return pkg not in UPPER and pkg != ROOT


def upward(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(module, target) where a library module imports `commands`, `cli` or the root `headstart`."""
    return sorted((m, t) for m, ts in edges.items() for t in ts
                  if is_library(package(m)) and (package(t) in UPPER or t == ROOT))


def _rank(pkg: str) -> int | None:
    for i, layer in enumerate(LAYERS):
        if pkg == layer or (isinstance(layer, tuple) and pkg in layer):
            return i
    return None


def against_layers(edges: dict[str, set[str]]) -> list[tuple[str, str]]:
    """(module, target) where a library module imports a package above its own layer in `LAYERS`."""
    out = []
    for m, ts in edges.items():
        a = _rank(package(m))
        for t in ts:
            b = _rank(package(t))
            if a is not None and b is not None and b < a:
                out.append((m, t))
    return sorted(out)


def inside_functions(src: Path = SRC) -> tuple[int, int]:
    """(headstart imports inside a function, all headstart import statements)."""
    inner = total = 0
    for path in modules(src).values():
        tree = ast.parse(path.read_text())
        nested = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
                  for n in ast.walk(f)}
        for node in ast.walk(tree):
            mod = (node.module or "") if isinstance(node, ast.ImportFrom) and not node.level else None
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [mod or ""]
            if isinstance(node, (ast.Import, ast.ImportFrom)) and any(n.startswith(ROOT) for n in names):
                total += 1
                inner += id(node) in nested
    return inner, total


def main(argv: list[str]) -> int:
    edges = graph()
    pkgs = package_edges(edges)
    lib = {p: {t for t in ts if is_library(t)} for p, ts in pkgs.items() if is_library(p)}
    module_cycles, package_cycles = cycles(edges), cycles(lib)
    up, layered = upward(edges), against_layers(edges)
    inner, total = inside_functions()
    print(f"{len(edges)} modules, {sum(map(len, edges.values()))} internal imports "
          f"({inner} of {total} import statements inside functions)")
    print("packages (-> what each imports):")
    for p in sorted(pkgs, key=lambda p: (_rank(p) if _rank(p) is not None else -1, p)):
        print(f"  {p:9s} -> {', '.join(sorted(pkgs[p])) or '-'}")
    print(f"module cycles: {module_cycles or 'none'}")
    print(f"library package cycles: {package_cycles or 'none'}")
    print(f"library imports of commands/cli/headstart: {up or 'none'}")
    print(f"imports against the layer order: {layered or 'none'}")
    if "--edges" in argv:
        for m in sorted(edges):
            print(f"{m}: {', '.join(sorted(edges[m]))}")
    return int(bool(module_cycles or package_cycles or up or layered))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
