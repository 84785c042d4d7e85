"""The package's layout is the data flow (docs/architecture.md): these tests keep it so.

- no import circle between netcontract's modules, counting imports inside functions (a hidden
  import is still a dependency);
- the pure core (contract, state, structural, results, probe/, report/, draft/, swarm/nodes,
  swarm/plan) imports nothing from live/ or swarm/live and no Docker SDK;
- only live/docker/engine.py imports `docker`;
- every folder of the package is named in docs/architecture.md's tree, and every module there exists.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "netcontract"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> set[str]:
    """Every netcontract module `name` imports, anywhere in its body."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    found: set[str] = set()
    is_package = MODULES[name].name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found.update(f"{base}.{a.name}" for a in node.names)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name) for name in MODULES}


def _cycle() -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(GRAPH[node]):
            # a package's __init__ importing its own submodule is not a circle of the layout
            if state.get(dep) == 1 and not node.startswith(dep + "."):
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (found := visit(dep)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for name in sorted(GRAPH):
        if name not in state and (found := visit(name)):
            return found
    return None


def test_no_import_circle() -> None:
    assert _cycle() is None, " -> ".join(_cycle() or [])


PURE = (
    "netcontract.contract",
    "netcontract.state",
    "netcontract.structural",
    "netcontract.results",
    "netcontract.probe",
    "netcontract.report",
    "netcontract.draft",
    "netcontract.swarm.nodes",
    "netcontract.swarm.plan",
    "netcontract.changes",
    "netcontract.notes",
    "netcontract.addresses",
)


@pytest.mark.parametrize("name", sorted(m for m in MODULES if m.startswith(PURE)))
def test_pure_core_reaches_no_engine(name: str) -> None:
    def reach(start: str) -> set[str]:
        seen, todo = set(), [start]
        while todo:
            for dep in GRAPH[todo.pop()] - seen:
                seen.add(dep)
                todo.append(dep)
        return seen

    edge = sorted(
        m for m in reach(name) if m.startswith(("netcontract.live", "netcontract.swarm.live"))
    )
    assert edge == [], f"{name} reaches the engine edge through {edge}"


def test_only_the_engine_adapter_imports_docker() -> None:
    importers = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom) and not node.level
                    else []
                )
            )
            if any(n == "docker" or n.startswith("docker.") for n in names):
                importers.append(name)
    assert sorted(set(importers)) == ["netcontract.live.docker.engine"]


def test_architecture_tree_matches_the_folders() -> None:
    """Every folder and module of the package is in docs/architecture.md's tree, and nothing else is."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    tree = text.split("## The tree", 1)[1].split("```", 2)[1]
    on_disk = {
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*")
        if "__pycache__" not in p.parts
        and p.name != "__init__.py"
        and (p.is_dir() or p.suffix == ".py")
    }
    named: set[str] = set()
    stack: list[tuple[int, str]] = []
    for line in tree.splitlines()[2:]:
        m = re.match(r"^( *)(\S+)", line)
        if not m:
            continue
        indent, word = len(m.group(1)), m.group(2)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        prefix = "/".join(w for _, w in stack)
        if word.endswith("/"):
            named.add(f"{prefix}/{word[:-1]}" if prefix else word[:-1])
            stack.append((indent, word[:-1]))
            continue
        # a module line: `name.py   what it does`, or several names on one line (`table.py json_report.py ...`)
        for name in line.split():
            if not name.endswith(".py"):
                break
            named.add(f"{prefix}/{name}" if prefix else name)
    assert sorted(named - on_disk) == [], "docs/architecture.md names what does not exist"
    assert sorted(on_disk - named) == [], "docs/architecture.md's tree lacks these"
