"""The distribution: one install carries the gateway and the Contio sandbox; the gateway's serving
code never loads the sandbox; where the sandbox is left out (the production image), its commands
say they are for development.

The fresh environments get their third-party packages from the environment running the tests,
through a ``.pth`` line naming its site-packages: a plain path, so the ``.pth`` files found there
(this checkout's editable install among them) are not run, and only what the test installs or puts
on ``PYTHONPATH`` provides ``gateway`` and ``gateway_sandbox``. The wheel is built the way any
installer builds it, setuptools coming from the package index into pip's isolated build environment.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SOURCES = ("pyproject.toml", "README.md", "gateway", "gateway_sandbox")
_COPY_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")
PIP = (sys.executable, "-m", "pip", "--quiet", "--disable-pip-version-check")


def fresh_environment(path: Path) -> Path:
    """A new virtual environment holding no project code; answers its ``bin`` directory."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = path / "lib" / version / "site-packages"
    dependencies = sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]})
    (site / "dependencies.pth").write_text("\n".join(dependencies) + "\n")
    return path / "bin"


def clean_environ(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("VIRTUAL")}
    return {**env, **extra}


def run(args: list[str | Path], cwd: Path, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(arg) for arg in args],
        cwd=cwd,
        env=clean_environ(**extra),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_fresh_install_from_a_wheel_carries_both_packages_and_both_commands(
    tmp_path: Path,
) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, source / name, ignore=_COPY_IGNORE)
        else:
            shutil.copy2(REPO / name, source / name)
    wheels = tmp_path / "wheels"
    built = run(
        [
            *PIP,
            "wheel",
            "--no-deps",
            "--wheel-dir",
            wheels,
            source,
        ],
        cwd=tmp_path,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("gateway-*.whl")
    bin_dir = fresh_environment(tmp_path / "venv")
    installed = run(
        [*PIP, "--python", bin_dir / "python", "install", "--no-deps", "--no-index", wheel],
        cwd=tmp_path,
    )
    assert installed.returncode == 0, installed.stderr

    sandbox_help = run([bin_dir / "gateway", "sandbox", "--help"], cwd=tmp_path)
    serve_help = run([bin_dir / "gateway", "serve", "--help"], cwd=tmp_path)

    assert sandbox_help.returncode == 0, sandbox_help.stderr
    assert "--redirect-uri" in sandbox_help.stdout
    assert serve_help.returncode == 0, serve_help.stderr
    assert "--public-port" in serve_help.stdout
    listing = run(
        [
            bin_dir / "python",
            "-c",
            "import importlib.metadata, json, gateway_sandbox; print(json.dumps({"
            "'files': [str(f) for f in importlib.metadata.distribution('gateway').files],"
            "'sandbox': gateway_sandbox.__file__}))",
        ],
        cwd=tmp_path,
    )
    assert listing.returncode == 0, listing.stderr
    found = json.loads(listing.stdout)
    assert {
        "gateway/app.py",
        "gateway_sandbox/app.py",
        "gateway_sandbox/py.typed",
        "gateway_sandbox/oauth/templates/consent.html",
        "gateway_sandbox/user_api/meetings.py",
    } <= set(found["files"])
    assert Path(found["sandbox"]).is_relative_to(tmp_path / "venv")


def test_without_the_sandbox_its_commands_say_they_are_for_development(tmp_path: Path) -> None:
    # The production image's shape: gateway/ alone on PYTHONPATH (see the Dockerfile).
    shutil.copytree(REPO / "gateway", tmp_path / "app" / "gateway", ignore=_COPY_IGNORE)
    python = fresh_environment(tmp_path / "venv") / "python"
    image = {"PYTHONPATH": str(tmp_path / "app")}

    for command in ("sandbox", "dev"):
        result = run([python, "-m", "gateway", command], cwd=tmp_path, **image)
        assert result.returncode == 2, result.stderr
        assert f"`gateway {command}` is a development command" in result.stderr
        assert "Traceback" not in result.stderr
    served = run([python, "-m", "gateway", "serve", "--help"], cwd=tmp_path, **image)
    assert served.returncode == 0, served.stderr


def test_serving_and_the_worker_never_import_the_sandbox(tmp_path: Path) -> None:
    loaded = run(
        [
            sys.executable,
            "-c",
            "import importlib.util, sys, gateway.app, gateway.worker, gateway.cli, gateway.cli.serve;"
            "print(importlib.util.find_spec('gateway_sandbox') is not None);"
            "print(sorted(m for m in sys.modules if m.partition('.')[0] == 'gateway_sandbox'))",
        ],
        cwd=tmp_path,
    )
    assert loaded.returncode == 0, loaded.stderr
    importable, imported = loaded.stdout.split()
    assert importable == "True"  # installed here, and still not loaded
    assert imported == "[]"


def test_the_sandbox_imports_nothing_of_the_gateway() -> None:
    imported: set[str] = set()
    for path in (REPO / "gateway_sandbox").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                imported.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                imported.add(node.module)
    assert not {name for name in imported if name.partition(".")[0] == "gateway"}
