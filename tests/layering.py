"""Read every import of our code (module level and inside functions) and check the layers.

Layers, lowest first (an import may only point down or stay inside its own layer without a cycle)::

    voxpop.core  <-  voxpop.config  <-  store  <-  spiders, classify  <-  alerts, voxpop.report,
        voxpop.curation, voxpop.learning, voxpop.review
        <-  voxpop.operations, voxpop.runtime  <-  voxpop.cli, scheduler, voxpop.workers, voxpop.demo, voxpop.web

``python -m tests.layering`` prints the module graph (packages collapsed to their layer names) and
any violation; ``tests/test_layout.py`` asserts there are none.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = ("voxpop", "store", "spiders", "classify", "alerts", "scheduler")
SKIP_DIRS = {"migrations", "__pycache__"}  # Alembic scripts are loaded by Alembic, not imported

# (prefix, layer): the longest matching prefix wins.
LAYERS: tuple[tuple[str, int], ...] = (
    ("voxpop.core", 0),
    ("voxpop.config", 1),
    ("store", 2),
    ("spiders", 3),
    ("classify", 3),
    ("alerts", 4),
    ("voxpop.report", 4),
    ("voxpop.curation", 4),  # the human-in-the-loop actions, learning and review (issue 15)
    ("voxpop.learning", 4),
    ("voxpop.review", 4),
    ("voxpop.operations", 5),
    ("voxpop.runtime", 5),
    ("voxpop.cli", 6),
    ("voxpop.curation_cli", 6),
    ("voxpop.rollup_cli", 6),  # voxpop rollup (issue 29)
    ("voxpop.__main__", 6),
    ("voxpop.workers", 6),
    ("voxpop.demo", 6),
    ("voxpop.web", 6),
    ("scheduler", 6),
    ("voxpop", 0),  # the package's own __init__ (a docstring and a version)
)


def layer_of(module: str) -> int:
    """The layer of a module (see :data:`LAYERS`)."""
    best = max((p for p, _ in LAYERS if module == p or module.startswith(p + ".")), key=len, default=None)
    if best is None:
        raise KeyError(f"{module} has no layer: add it to LAYERS in tests/layering.py")
    return dict(LAYERS)[best]


def our_modules(root: Path = ROOT) -> dict[str, Path]:
    """Every module of ours by dotted name."""
    found: dict[str, Path] = {}
    for top in OURS:
        single = root / f"{top}.py"
        if single.is_file():
            found[top] = single
            continue
        for path in (root / top).rglob("*.py"):
            if SKIP_DIRS & set(path.relative_to(root).parts):
                continue
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


def _targets(node: ast.AST, module: str, is_package: bool, known: Iterable[str]) -> list[str]:
    known = set(known)
    names: list[str] = []
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:
            package = module.split(".") if is_package else module.split(".")[:-1]
            package = package[: len(package) - (node.level - 1)]
            base = ".".join([*package, base] if base else package)
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
    out = []
    for name in names:
        while name and name not in known:  # `import a.b.c` of ours resolves to the longest known module
            name = name.rpartition(".")[0]
        if name and name.split(".")[0] in OURS:
            out.append(name)
    return out


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (anywhere in its body, TYPE_CHECKING blocks included)."""
    modules = our_modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        deps: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                deps.update(_targets(node, name, path.name == "__init__.py", modules))
        deps.discard(name)
        graph[name] = deps
    return graph


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Each import from a lower layer to a higher one, as ``a (L) -> b (L)``."""
    return sorted(f"{a} ({layer_of(a)}) -> {b} ({layer_of(b)})"
                  for a, deps in graph.items() for b in deps if layer_of(b) > layer_of(a))


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]
    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def area(module: str) -> str:
    """The room a module lives in, for the collapsed graph."""
    parts = module.split(".")
    return ".".join(parts[:2]) if parts[0] == "voxpop" and len(parts) > 1 else parts[0]


def main() -> int:
    graph = import_graph()
    rooms: dict[str, set[str]] = {}
    for a, deps in graph.items():
        rooms.setdefault(area(a), set()).update(area(b) for b in deps if area(b) != area(a))
    for room in sorted(rooms, key=lambda r: (layer_of(r), r)):
        print(f"[{layer_of(room)}] {room:22} -> {', '.join(sorted(rooms[room])) or '(nothing of ours)'}")
    up, circles = upward_imports(graph), cycles(graph)
    print(f"\n{len(graph)} modules; upward imports: {len(up)}; cycles: {len(circles)}")
    for line in up:
        print("  up:", line)
    for group in circles:
        print("  cycle:", " <-> ".join(group))
    return 1 if up or circles else 0


if __name__ == "__main__":
    raise SystemExit(main())
