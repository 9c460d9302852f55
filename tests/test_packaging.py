"""The wheel ships templates/ and hooks/, and devloop finds them when installed from it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_wheel_contains_templates_hooks_and_prices(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for folder in ("templates", "hooks"):
        shipped = {p for p in names if p.startswith(f"devloop/_bundled/{folder}/")}
        expected = {
            f"devloop/_bundled/{folder}/{p.relative_to(PROJECT_ROOT / folder).as_posix()}"
            for p in (PROJECT_ROOT / folder).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        assert expected and expected <= shipped
    assert "devloop/model/prices.toml" in names


def test_installed_wheel_finds_its_bundled_folders(wheel_site, tmp_path):
    target = wheel_site
    code = (
        "from devloop.resources import bundled_dir; "
        "print(bundled_dir('templates')); print(bundled_dir('hooks'))"
    )
    env = dict(os.environ, PYTHONPATH=str(target))
    found = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert found.returncode == 0, found.stderr
    for line in found.stdout.splitlines():
        assert Path(line).is_dir()
        assert Path(line).resolve().is_relative_to(target.resolve())


def test_source_checkout_finds_top_level_folders():
    from devloop.resources import bundled_dir

    assert bundled_dir("templates") == PROJECT_ROOT / "templates"
    assert bundled_dir("hooks") == PROJECT_ROOT / "hooks"
