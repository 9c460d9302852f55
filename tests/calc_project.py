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
