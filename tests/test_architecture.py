"""Packages import each other downward, in the layer order of the design, without cycles,
and through their public faces (``bastion.<package>``, i.e. its ``__init__``).

Every import counts: module level, inside functions, and under ``TYPE_CHECKING``.

To see the test fail, add an upward import, e.g. append to ``src/bastion/policy/paths.py``::

    def _upward() -> None:
        from bastion.agent import Agent  # noqa: F401

then run ``pytest tests/test_architecture.py``: ``test_imports_point_down_the_layers`` names
``policy/paths.py -> bastion.agent (policy is below agent)`` and ``test_no_import_cycles``
names the cycle ``agent -> ... -> policy -> agent``. (At module level the same import breaks
Python's own import first — a cycle.) An import of ``bastion.policy.rules`` from ``agent/``
fails ``test_imports_use_public_faces``.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "bastion"

#: top to bottom; a package may import packages in its own layer or below (no cycles)
LAYERS: list[set[str]] = [
    {"__main__"},
    {"cli", "ui"},
    {"agent"},
    {"runtime"},  # the wiring: opens store, vault, audit; retention at start
    {"tools", "providers", "mcp_client", "rights", "sync"},
    {"policy", "sandbox", "journal", "net"},
    {"audit", "store", "vault", "config"},
    {"privacy", "errors", "fsutil", "home", "safefs", "keyctl", "textsafe",
     "jsonsafe", "lazyattrs", "datamodel", "_codecache"},  # leaves: import no package
]
RANK = {pkg: i for i, layer in enumerate(LAYERS) for pkg in layer}

#: deep imports (past a package's ``__init__``) that predate this test: none are left. Export
#: a name from the package's ``__init__`` (lazily, PEP 562, when it is heavy) and import it there.
KNOWN_DEEP: set[tuple[str, str]] = set()


def _package(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports() -> list[tuple[str, str, str]]:
    """(file, importing package, imported module) for every ``bastion`` import."""
    found = []
    for path in sorted(SRC.rglob("*.py")):
        pkg = _package(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            modules: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module == "bastion":  # from bastion import audit → the package audit
                    modules = [f"bastion.{a.name}" for a in node.names]
                else:
                    modules = [node.module]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            for module in modules:
                parts = module.split(".")
                if parts[0] == "bastion" and len(parts) > 1 and parts[1] != pkg \
                        and parts[1] != "__version__":
                    found.append((str(path.relative_to(SRC)), pkg, module))
    return found


def test_every_package_has_a_layer() -> None:
    packages = {_package(p) for p in SRC.rglob("*.py")} - {"__init__"}
    assert sorted(packages - set(RANK)) == [], "place the new package in LAYERS"


def test_imports_point_down_the_layers() -> None:
    upward = [f"{file} -> {module} ({pkg} is below {module.split('.')[1]})"
              for file, pkg, module in _imports()
              if RANK[pkg] > RANK.get(module.split(".")[1], len(LAYERS))]
    assert upward == []


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = defaultdict(set)
    for _, pkg, module in _imports():
        graph[pkg].add(module.split(".")[1])
    cycles: list[list[str]] = []

    def visit(node: str, stack: list[str], done: set[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in stack:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in done:
                visit(nxt, [*stack, nxt], done)
        done.add(node)

    done: set[str] = set()
    for start in sorted(graph):
        if start not in done:
            visit(start, [start], done)
    assert cycles == []


def test_imports_use_public_faces() -> None:
    deep = sorted({f"{file} -> {module}" for file, pkg, module in _imports()
                   if len(module.split(".")) > 2 and (pkg, module) not in KNOWN_DEEP})
    assert deep == [], "import from the package's __init__ (export the name there)"
