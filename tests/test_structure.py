"""The layout holds: no import cycle between the gateway's parts, a domain-free kit, no grab-bag
modules, small modules, and a server that never loads the sandbox.

The parts are the packages below ``gateway`` and its top-level modules. The composition root and the
entry points (``ROOTS``) may import any part and no part imports them. Imports inside
``if TYPE_CHECKING:`` blocks are annotations, not dependencies, and are not counted.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("gateway", "gateway_sandbox")
ROOTS = frozenset({"app", "routes", "composition", "worker", "cli", "__main__"})
FORBIDDEN_NAMES = frozenset({"common", "utils", "helpers"})
MAX_LINES = 400


def modules(package: str) -> Iterator[Path]:
    yield from sorted((REPO / package).rglob("*.py"))


def part_of(dotted: str) -> str | None:
    """The part of ``gateway`` a dotted module name belongs to (its package or top-level module)."""
    names = dotted.split(".")
    if names[0] != "gateway" or len(names) < 2:
        return None
    return names[1]


def is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported(tree: ast.AST) -> Iterator[str]:
    """Every absolute module a file imports (``from a import b`` counts ``a`` and ``a.b``)."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and is_type_checking(node):
            yield from (name for other in node.orelse for name in imported(other))
            continue
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        yield from imported(node)


def dependencies() -> dict[str, set[str]]:
    """Which parts of ``gateway`` each part imports (the entry points left out)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for path in modules("gateway"):
        relative = path.relative_to(REPO).with_suffix("")
        source = part_of(".".join(relative.parts))
        if source is None or source in ROOTS:
            continue
        for name in imported(ast.parse(path.read_text())):
            target = part_of(name)
            if target is not None and target != source:
                graph[source].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one part (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycle_between_the_parts_of_the_gateway() -> None:
    assert cycles(dependencies()) == []


def test_no_part_imports_the_composition_root_or_an_entry_point() -> None:
    graph = dependencies()
    offenders = {part: sorted(graph[part] & ROOTS) for part in graph if graph[part] & ROOTS}
    assert offenders == {}


def test_kit_imports_nothing_of_the_gateway_outside_kit() -> None:
    assert dependencies().get("kit", set()) == set()


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_is_a_grab_bag(package: str) -> None:
    named = [
        str(path.relative_to(REPO)) for path in modules(package) if path.stem in FORBIDDEN_NAMES
    ]
    assert named == []


@pytest.mark.parametrize("package", PACKAGES)
def test_every_module_is_under_the_size_limit(package: str) -> None:
    long = {
        str(path.relative_to(REPO)): lines
        for path in modules(package)
        if (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def test_the_server_and_the_worker_never_load_the_sandbox() -> None:
    probe = (
        "import sys\n"
        "import gateway.app, gateway.worker, gateway.cli, gateway.cli.serve\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'gateway_sandbox'))\n"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert loaded.stdout.strip() == "[]"
