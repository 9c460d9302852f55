"""The tiny calculator project the build-agent tests edit: its files and the tool calls."""

from __future__ import annotations

import sys
from pathlib import Path

PY = sys.executable
RUFF = str(Path(sys.executable).parent / "ruff")
TEST = f"{PY} -m unittest -q"
CALC = "def add(a, b):\n    return a + b\n"
TESTS = """import unittest

from src.calc import add


class CalcTest(unittest.TestCase):
    def test_add(self):
        self.assertEqual(add(2, 3), 5)
"""
MUL_TEST = """
    def test_mul(self):
        from src.calc import mul

        self.assertEqual(mul(2, 3), 6)
"""
EDITOR = "str_replace_based_edit_tool"


def write_calc(root: Path, config_name: str, config: str, ignore: str) -> None:
    """The calc project's files in `root` (a git repository), with its devloop config in
    `config_name` (devloop.toml or pyproject.toml) and `ignore` as its .gitignore."""
    (root / config_name).write_text(config)
    (root / ".gitignore").write_text(ignore)
    (root / "src").mkdir()
    (root / "src" / "calc.py").write_text(CALC)
    (root / "tests").mkdir()
    (root / "tests" / "__init__.py").write_text("")
    (root / "tests" / "test_calc.py").write_text(TESTS)


def edit(command: str, path: str, **fields) -> dict:
    """A text-editor tool_use, as a scenario reply gives it."""
    return {"name": EDITOR, "input": {"command": command, "path": path, **fields}}


ADD_MUL = edit(
    "str_replace",
    "src/calc.py",
    old_str="    return a + b\n",
    new_str="    return a + b\n\n\ndef mul(a, b):\n    return a * b\n",
)
WRONG_MUL = edit(
    "str_replace",
    "src/calc.py",
    old_str="    return a + b\n",
    new_str="    return a + b\n\n\ndef mul(a, b):\n    return a + b\n",
)


PLAN = """## Approach
Add one function and its test.

## Integration Contract
### Interfaces
- `mul(a, b) -> number` in src/calc.py
### Files
- src/calc.py, tests/test_calc.py
### Invariants
- add() is unchanged
"""
PASS = {"coverage": [], "findings": [], "verdict": "pass"}


def build_plan(files: list[dict]) -> dict:
    """The build plan of the "add mul" feature: one task touching `files`."""
    return {
        "summary": "Add mul().",
        "tasks": [
            {
                "id": "T1",
                "title": "Add mul",
                "description": "Add mul(a, b) to src/calc.py, with a test.",
                "files": files,
                "acceptance": ["mul(2, 3) == 6"],
                "tests": ["tests/test_calc.py"],
            }
        ],
    }


def plan_phase(files: list[dict], plan: str = PLAN) -> dict:
    """Scripted replies for steps 1-6 of the "add mul" feature, every gate passing."""
    return {
        "research": [{"text": "## Relevant code\n- src/calc.py: add()"}],
        "plan": [{"text": plan}],
        "validate-requirements": [{"json": PASS}],
        "validate-integration": [{"json": PASS}],
        "build-plan": [{"json": build_plan(files)}],
        "double-check": [{"json": PASS}],
    }
