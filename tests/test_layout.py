"""The tree a newcomer reads: no import cycle, no function over 60 lines, and the README's layout
table names every module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("unet_tp", "autograder", "solutions")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _imports(path: Path, name: str, modules: dict[str, Path]) -> set[str]:
    """The kit's modules ``name`` imports, anywhere in the file (inside functions too)."""
    out = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        out |= {t for t in targets if t in modules and t != name}
    return out


def test_no_import_cycle_among_the_kits_modules():
    modules = _modules()
    graph = {m: _imports(p, m, modules) for m, p in modules.items()}
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return path[path.index(node) :] + [node]
        if node in done:
            return None
        for nxt in sorted(graph[node]):
            cycle = visit(nxt, path + [node])
            if cycle:
                return cycle
        done.add(node)
        return None

    for module in sorted(graph):
        cycle = visit(module, [])
        assert cycle is None, " -> ".join(cycle)


def test_no_function_over_60_lines():
    long = []
    for path in _modules().values():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                start = min([node.lineno] + [d.lineno for d in node.decorator_list])
                if node.end_lineno - start + 1 > 60:
                    long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}")
    assert long == []


def test_the_readme_layout_names_every_module():
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout") :]
    layout = layout[: layout.find("\n## ", 5)] if "\n## " in layout[5:] else layout
    named = set(re.findall(r"[\w/]*?(\w+\.py)", layout))
    missing = [
        str(p.relative_to(ROOT))
        for p in _modules().values()
        if p.name not in ("__init__.py", "__main__.py")
        and p.name not in named
        and p.parent.name != "solutions"
    ]
    assert missing == [], f"README's layout table does not name: {missing}"


def _top_level_names(tree: ast.Module) -> list[str]:
    """The names a module's top-level statements bind (functions, classes, plain assignments)."""
    names = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return names


def test_no_module_binds_a_top_level_name_twice():
    """A second ``def _kept`` or ``_BOX =`` silently replaces the first for every caller that
    runs after it (a test then checks another cell than it says; repair's reading process
    worked only because its ``__main__`` block ran before the second definition)."""
    paths = list(_modules().values()) + sorted((ROOT / "tests").glob("*.py"))
    twice = []
    for path in paths:
        names = _top_level_names(ast.parse(path.read_text()))
        twice += [
            f"{path.relative_to(ROOT)}: {n}" for n in sorted(set(names)) if names.count(n) > 1
        ]
    assert twice == []
