"""The shape of the package holds: layers checked by import-linter, every package says its
job and what it may import, and no top-level module escapes the contracts."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "devloop"


def _contracts() -> list[dict]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def _top_level() -> set[str]:
    names = {f"devloop.{p.stem}" for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    names |= {f"devloop.{p.parent.name}" for p in PACKAGE.glob("*/__init__.py")}
    return names


def test_every_package_says_its_job_and_what_it_may_import():
    for init in PACKAGE.rglob("__init__.py"):
        if "sample" in init.parts:
            continue
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert len(doc.splitlines()) > 2, f"{init}: say what the package is for"
        assert "May import" in doc or init.parent == PACKAGE, f"{init}: say what it may import"


def test_only_the_model_package_may_import_the_sdk_and_no_module_is_left_out():
    (anthropic,) = [
        c
        for c in _contracts()
        if "anthropic" in c.get("forbidden_modules", [])
        and c["type"] == "forbidden"
        and "devloop.sim" != c["source_modules"][0]
    ]
    assert set(anthropic["source_modules"]) == _top_level() - {"devloop.model"}


def test_within_the_model_package_only_the_client_imports_the_sdk():
    importers = set()
    for path in (PACKAGE / "model").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            if any(n == "anthropic" or n.startswith("anthropic.") for n in names):
                importers.add(path.name)
    assert importers == {"client.py"}


def test_every_package_is_in_a_layer_or_the_sim():
    layers = next(c for c in _contracts() if c["type"] == "layers")["layers"]
    layered = {name.strip() for line in layers for name in line.replace(":", "|").split("|")}
    packages = {f"devloop.{p.parent.name}" for p in PACKAGE.glob("*/__init__.py")}
    assert packages - layered == {"devloop.sim"}


@pytest.mark.skipif(
    shutil.which("lint-imports") is None
    and not (Path(sys.executable).parent / "lint-imports").exists(),
    reason="import-linter not installed",
)
def test_the_import_contracts_hold():
    exe = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    proc = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "0 broken" in proc.stdout
