"""The package's layers: each module imports only from its own layer or the layers below it.

The order is the import-linter contract in pyproject.toml (``lint-imports`` checks the same);
this test reads it from there and checks every import statement of the package, including
imports inside functions, so that an import that climbs a layer fails the suite.
"""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "rmtsynth"


def _layers() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    contracts = config["tool"]["importlinter"]["contracts"]
    (layers,) = [c["layers"] for c in contracts if c["type"] == "layers"]
    return layers  # top first


def _layer_of(module: str, layers: list[str]) -> int | None:
    for index, layer in enumerate(layers):
        if module == layer or module.startswith(layer + "."):
            return index
    return None


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, root: Path = ROOT) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    name = _module_name(path, root)
    package = name.rsplit(".", 1)[0] if path.name != "__init__.py" else name
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                target = f"{base}.{node.module}" if node.module else base
            else:
                target = node.module or ""
            found.append((node.lineno, target))
            # ``from rmtsynth.figures import curves`` imports a submodule
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def test_layers_are_declared_for_every_package_folder() -> None:
    layers = _layers()
    folders = {f"rmtsynth.{p.name}" for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders <= set(layers), f"folders without a layer: {sorted(folders - set(layers))}"


def test_no_import_climbs_a_layer() -> None:
    layers = _layers()
    climbing = []
    for path in sorted(PACKAGE.rglob("*.py")):
        own = _layer_of(_module_name(path), layers)
        if own is None:
            continue
        for line, target in _imports(path):
            other = _layer_of(target, layers)
            if other is not None and other < own:  # a smaller index is a higher layer
                climbing.append(f"{path.relative_to(ROOT)}:{line} imports {target}")
    assert not climbing, "imports that climb a layer:\n" + "\n".join(climbing)


@pytest.mark.parametrize(
    "source",
    ["def f():\n    from rmtsynth.engine import sweep\n", "from ..engine.sweep import run_curves\n", "import rmtsynth.figures.curves\n"],
)
def test_the_check_sees_a_climbing_import(tmp_path: Path, source: str) -> None:
    layers = _layers()
    fake = tmp_path / "rmtsynth" / "core" / "bad.py"
    fake.parent.mkdir(parents=True)
    fake.write_text(source)
    own = _layer_of(_module_name(fake, tmp_path), layers)
    assert any(_layer_of(t, layers) < own for _, t in _imports(fake, tmp_path) if _layer_of(t, layers) is not None)


@pytest.mark.parametrize("module", ["rmtsynth", "rmtsynth.api", "rmtsynth.cli", "rmtsynth.runner"])
def test_importing_changes_no_environment_and_no_backend(module: str) -> None:
    import subprocess
    import sys

    code = (
        "import os, sys, matplotlib\n"
        "env = dict(os.environ); backend = matplotlib.rcParams._get_backend_or_none()\n"
        f"import {module}\n"
        "import rmtsynth\n"
        "assert dict(os.environ) == env, 'environment changed'\n"
        "assert matplotlib.rcParams._get_backend_or_none() == backend, 'backend changed'\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 0, result.stderr
