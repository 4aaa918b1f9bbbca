"""Import cycles among signoz_litellm_run's modules, and the modules over a size.

Every `import` counts, at the top of a module or inside a function (a function-level import still ties the two
modules together); imports under `if TYPE_CHECKING:` do not. Usage: `python scripts/import_cycles.py` prints each
cycle with its edges and exits 1 when there is one; `--lines N` also lists the modules longer than N lines.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "signoz_litellm_run"


def modules(root: Path = ROOT) -> dict[str, Path]:
    found = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        name = ".".join(path.relative_to(root).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that `name` imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    type_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.dump(node.test)
                 for sub in node.body for n in ast.walk(sub)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in type_only:
            continue
        if isinstance(node, ast.Import):
            candidates = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = name.split(".")[: len(name.split(".")) - node.level + (path.name == "__init__.py")]
                base = ".".join([*parts, base] if base else parts)
            candidates = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        found.update(c for c in candidates if c in known and c not in (name, PACKAGE))
    return found


def cycles(root: Path = ROOT) -> list[list[str]]:
    """The strongly connected groups of two or more modules (Tarjan), each sorted, names without the package."""
    found = modules(root)
    graph = {name: imports(name, path, set(found)) for name, path in found.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(m.removeprefix(PACKAGE + ".") for m in group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph)))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def main(argv: list[str]) -> int:
    found = cycles()
    for group in found:
        print("cycle:", " <-> ".join(group))
    if "--lines" in argv:
        limit = int(argv[argv.index("--lines") + 1])
        for name, path in modules().items():
            count = len(path.read_text(encoding="utf-8").splitlines())
            if count > limit:
                print(f"{count:5d} lines: {path.relative_to(ROOT)}")
    print(f"{len(modules())} modules, {len(found)} cycle(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
