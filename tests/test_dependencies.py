"""Every third-party package the code imports is declared in pyproject.toml: the product's code by
the project's dependencies, the tests and the benchmark by those or the ``dev`` extra. A package
that arrives only as another's dependency may leave with it."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from collections.abc import Iterator
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OWN = {"gateway", "gateway_sandbox", "tests", "bench", "migrations"}
PRODUCT = ("gateway", "gateway_sandbox", "migrations")
DEVELOPMENT = ("tests", "bench")


def normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(*, dev: bool) -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    if dev:
        requirements += project["optional-dependencies"]["dev"]
    return {normalized(re.split(r"[\s\[<>=!~;]", line, maxsplit=1)[0]) for line in requirements}


def imported(folder: Path) -> Iterator[tuple[str, Path]]:
    """(top-level package, module) for every absolute import of a package outside the project."""
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                if top not in sys.stdlib_module_names and top not in OWN and top != "__future__":
                    yield top, path


def undeclared(folders: tuple[str, ...], *, dev: bool) -> list[str]:
    distributions = packages_distributions()
    allowed = declared(dev=dev)
    found = []
    for folder in folders:
        if not (ROOT / folder).is_dir():
            continue
        for top, path in imported(ROOT / folder):
            providers = {normalized(name) for name in distributions.get(top, [])}
            if not providers & allowed:
                found.append(f"{path.relative_to(ROOT)} imports {top} ({sorted(providers)})")
    return sorted(set(found))


@pytest.mark.parametrize(
    ("folders", "dev"), [(PRODUCT, False), (DEVELOPMENT, True)], ids=["product", "development"]
)
def test_every_imported_package_is_declared(folders: tuple[str, ...], dev: bool) -> None:
    assert undeclared(folders, dev=dev) == []


def test_the_check_sees_an_undeclared_import(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text("import multidict\nfrom yaml import safe_load\nimport json\n")
    found = {top for top, _ in imported(tmp_path)}
    assert found == {"multidict", "yaml"}
    assert "multidict" not in declared(dev=True)  # arrives only through aiohttp and yarl
