"""The package layout of docs/internals.md: no import circles, and no layer imports a higher one.

Every import counts, including those inside functions: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "src" / "vpcflow"

# Lower numbers are lower layers (docs/internals.md, "The layout"). A top-level module or package
# may import from its own layer and lower ones only.
LAYERS = {
    "errors": 0,
    "settings": 0,
    "timeparse": 0,
    "processes": 0,
    "networks": 0,
    "schema": 0,
    "parse": 1,
    "aws": 1,
    "sources": 2,
    "generate": 2,
    "store": 3,
    "enrich": 3,
    "engines": 4,
    "queries": 5,
    "insights": 5,
    "detect": 6,
    "troubleshoot": 6,
    "api": 7,
    "demo": 8,
    "web": 9,
    "cli": 10,
    "__main__": 11,
    "__init__": 11,
}


def _imports() -> dict[str, set[str]]:
    """Module name (dotted, below vpcflow) -> the vpcflow modules it imports."""
    modules = {}
    for path in PKG.rglob("*.py"):
        rel = path.relative_to(PKG).with_suffix("")
        parts = list(rel.parts)
        is_pkg = parts[-1] == "__init__"
        name = ".".join(parts[:-1] if is_pkg else parts) or "__init__"
        modules[name] = (path, is_pkg, parts[:-1] if is_pkg else parts)
    graph: dict[str, set[str]] = {}
    for name, (path, is_pkg, parts) in modules.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = parts[: len(parts) - node.level + (1 if is_pkg else 0)]
                    mod = ".".join(base + ([node.module] if node.module else []))
                else:
                    if not (node.module or "").startswith("vpcflow"):
                        continue
                    mod = node.module.removeprefix("vpcflow").lstrip(".")
                targets = [mod] + [f"{mod}.{a.name}".lstrip(".") for a in node.names]
            elif isinstance(node, ast.Import):
                targets = [
                    a.name.removeprefix("vpcflow").lstrip(".")
                    for a in node.names
                    if a.name.startswith("vpcflow")
                ]
            for t in targets:
                while t and t not in modules:
                    t = t.rpartition(".")[0]
                if t and t != name and not name.startswith(t + "."):
                    deps.add(t)
        graph[name] = deps
    return graph


def test_no_import_circles():
    graph = _imports()

    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for d in graph.get(todo.pop(), ()):
                if d not in seen:
                    seen.add(d)
                    todo.append(d)
        return seen

    circles = sorted(f"{a} -> {b} -> ... -> {a}" for a in graph for b in graph[a] if a in reach(b))
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_lower_layers_never_import_higher_ones():
    graph = _imports()
    top = {name: name.split(".")[0] for name in graph}
    unknown = sorted({t for t in top.values() if t not in LAYERS})
    assert not unknown, f"place these in LAYERS (and docs/internals.md): {unknown}"
    upward = sorted(
        f"{a} ({LAYERS[top[a]]}) imports {b} ({LAYERS[top[b]]})"
        for a, deps in graph.items()
        for b in deps
        if LAYERS[top[a]] < LAYERS[top[b]]
    )
    assert not upward, "lower layers import higher ones:\n" + "\n".join(upward)


def test_the_storage_layer_knows_nothing_of_engines_or_analyses():
    graph = _imports()
    above = {"engines", "queries", "insights", "detect", "troubleshoot", "api", "demo", "cli"}
    for name, deps in graph.items():
        if name.split(".")[0] == "store":
            assert not {d.split(".")[0] for d in deps} & above, (name, deps)
