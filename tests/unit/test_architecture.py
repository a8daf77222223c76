"""The tree reads as the architecture: no import cycles, no hidden imports, layers point inward.

The import graph is read from the source (``ast``), top-level imports and ``TYPE_CHECKING`` blocks
included, so a cycle cannot hide behind a function-local import or a type-only import either.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lotse.settings import ROOT

PACKAGES = ("lotse", "storage", "translations", "rendering", "services", "bot", "cli", "scheduler",
            "actions", "console")  # fmt: skip
# A layer may import itself and the layers after it, never those before it.
LAYERS = (
    # Adapters, entry points and the composition root (``lotse.runtime`` wires the adapters it builds;
    # ``lotse.settings`` is read by every layer and counts as the lowest).
    ("cli", "bot", "console", "scheduler", "actions", "lotse"),
    ("services",),
    ("rendering",),
    ("translations",),
    ("storage",),
)
# Optional heavy dependencies that may be imported inside a function (with a comment saying why).
LAZY_ALLOWED = {"argostranslate", "ctranslate2", "sentencepiece"}


def modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            rel = path.relative_to(ROOT).with_suffix("")
            name = ".".join(rel.parts[:-1] if rel.name == "__init__" else rel.parts)
            found[name] = path
    return found


def _resolve(name: str, known: dict[str, Path]) -> str | None:
    while name:
        if name in known:
            return name
        name = name.rpartition(".")[0]
    return None


def imports(path: Path, known: dict[str, Path]) -> tuple[set[str], list[tuple[int, str]]]:
    """First-party modules imported at module level, and function-local first-party imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top: set[str] = set()
    local: list[tuple[int, str]] = []

    def targets(node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            return [a.name for a in node.names]
        base = node.module or ""
        return [base] + [f"{base}.{a.name}" for a in node.names]

    for node in ast.walk(tree):
        if not isinstance(node, ast.Import | ast.ImportFrom):
            continue
        for target in targets(node):
            mod = _resolve(target, known)
            root = target.split(".")[0]
            if mod is None:
                continue
            if node in tree.body or any(
                node in getattr(stmt, "body", []) for stmt in tree.body if isinstance(stmt, ast.If)
            ):
                top.add(mod)
            elif root not in LAZY_ALLOWED:
                local.append((node.lineno, mod))
    return top, local


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(path, known)[0] - {name} for name, path in known.items()}


def test_there_is_no_first_party_import_cycle(graph: dict[str, set[str]]):
    cycles = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == [], "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_function_local_first_party_imports():
    known = modules()
    hidden = [
        f"{path.relative_to(ROOT)}:{line} imports {mod}"
        for path in known.values()
        for line, mod in imports(path, known)[1]
    ]
    assert hidden == []


def test_layers_point_inward(graph: dict[str, set[str]]):
    def layer(mod: str) -> int:
        top = mod.split(".")[0]
        if mod == "lotse.settings":
            return len(LAYERS) - 1  # read by every layer, imports only the storage vocabulary
        return next(i for i, names in enumerate(LAYERS) if top in names)

    wrong = [f"{mod} -> {dep}" for mod, deps in graph.items() for dep in deps if layer(dep) < layer(mod)]
    assert wrong == []


def test_a_cycle_would_be_found(tmp_path):
    """The checker itself: two modules importing each other are reported."""
    graph = {"a": {"b"}, "b": {"a"}}
    seen: list[list[str]] = []

    def visit(node: str, stack: list[str]) -> None:
        for dep in graph[node]:
            if dep in stack:
                seen.append([*stack, dep])
            else:
                visit(dep, [*stack, dep])

    visit("a", ["a"])
    assert seen == [["a", "b", "a"]]
