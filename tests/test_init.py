"""`devloop init`: writes config, ROUTING.md and .gitignore; never overwrites without --force."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from decimal import Decimal
from pathlib import Path

from devloop import config as config_mod

RUFF_CONFIGURED = '[project]\nname = "sample"\n\n[tool.ruff]\nline-length = 100\n'


def test_init_python_project(git_repo, run_devloop, tmp_path):
    (git_repo / "pyproject.toml").write_text(RUFF_CONFIGURED)
    (git_repo / ".gitignore").write_text("*.pyc")  # no trailing newline: must not be glued
    path = f"{tool_bin(tmp_path, 'ruff', 'pytest')}{os.pathsep}{os.environ['PATH']}"
    proc = run_devloop(git_repo, "init", env={"PATH": path})
    assert proc.returncode == 0, proc.stderr

    data = tomllib.loads((git_repo / "devloop.toml").read_text())
    assert data["commands"]["lint"] == "ruff check ."
    assert data["commands"]["format"] == "ruff format --check ."
    assert data["commands"]["test"] == "pytest -q"
    assert data["models"]["frontier"] == "claude-opus-5-5"
    assert (git_repo / ".gitignore").read_text().splitlines() == [
        "*.pyc",
        ".devloop/",
        "__pycache__/",
        ".pytest_cache/",
        ".mypy_cache/",
        ".ruff_cache/",
    ]

    cfg = config_mod.load(git_repo)
    assert cfg.commands.lint == "ruff check ."
    assert run_devloop(git_repo, "routing", "check").returncode == 0


def test_init_refuses_to_overwrite_then_force(git_repo, run_devloop):
    (git_repo / "devloop.toml").write_text("[models]\nmid = 'mine'\n")
    proc = run_devloop(git_repo, "init")
    assert proc.returncode == 2
    assert "already exists" in proc.stderr and "--force" in proc.stderr
    assert (git_repo / "devloop.toml").read_text() == "[models]\nmid = 'mine'\n"

    forced = run_devloop(git_repo, "init", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "mine" not in (git_repo / "devloop.toml").read_text()


def test_init_refuses_when_pyproject_has_config(git_repo, run_devloop):
    (git_repo / "pyproject.toml").write_text("[tool.devloop.models]\nmid = 'x'\n")
    proc = run_devloop(git_repo, "init")
    assert proc.returncode == 2 and "[tool.devloop]" in proc.stderr
    assert not (git_repo / "devloop.toml").exists()


def test_init_keeps_a_hand_written_routing_md(git_repo, run_devloop):
    (git_repo / "ROUTING.md").write_text("my own notes\n")
    proc = run_devloop(git_repo, "init")
    assert proc.returncode == 2 and "ROUTING.md" in proc.stderr
    assert (git_repo / "ROUTING.md").read_text() == "my own notes\n"
    assert not (git_repo / "devloop.toml").exists()


def test_init_gitignore_entry_not_duplicated(git_repo, run_devloop):
    (git_repo / ".gitignore").write_text(".devloop/\n")
    assert run_devloop(git_repo, "init").returncode == 0
    assert (git_repo / ".gitignore").read_text() == ".devloop/\n"


def test_init_ignores_the_by_products_of_the_ecosystems_it_finds(git_repo, run_devloop):
    (git_repo / "package.json").write_text('{"scripts": {"test": "jest"}}')
    (git_repo / "Cargo.toml").write_text('[package]\nname = "x"\n')
    (git_repo / ".gitignore").write_text("target/\n")
    assert run_devloop(git_repo, "init").returncode == 0
    lines = (git_repo / ".gitignore").read_text().splitlines()
    assert lines == ["target/", ".devloop/", "node_modules/"]


# ------------------------------------------------ commands only when their program resolves


def tool_bin(tmp_path: Path, *fakes: str) -> Path:
    """A PATH directory with git, a `devloop` that runs this checkout, and fake `fakes`
    (each records its arguments in <name>.log and exits 0); nothing else."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "git").symlink_to(shutil.which("git"))
    scripts = {"devloop": f'exec "{sys.executable}" -m devloop "$@"'}
    for name in fakes:
        scripts[name] = f'echo "$@" >> "{tmp_path}/{name}.log"'
    for name, body in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return bin_dir


def commit_py(repo: Path, path_env: str, **extra: str) -> subprocess.CompletedProcess[str]:
    (repo / "app.py").write_text("VALUE = 1\n")
    env = dict(os.environ, PATH=path_env, **extra)
    subprocess.run(["git", "add", "-A"], cwd=repo, env=env, check=True)
    return subprocess.run(
        ["git", "commit", "-m", "feat: add the app"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
    )


def test_init_on_a_path_without_ruff_or_pytest(git_repo, run_devloop, tmp_path):
    (git_repo / "pyproject.toml").write_text(RUFF_CONFIGURED)
    bin_dir = tool_bin(tmp_path)
    assert shutil.which("ruff", path=str(bin_dir)) is None
    proc = run_devloop(git_repo, "init", "--hooks", env={"PATH": str(bin_dir)})
    assert proc.returncode == 0, proc.stderr

    commands = tomllib.loads((git_repo / "devloop.toml").read_text())["commands"]
    assert [commands[k] for k in ("lint", "format", "format_fix", "test")] == ["", "", "", ""]
    assert "ruff" not in (git_repo / "devloop.toml").read_text()
    assert "pytest" not in (git_repo / "devloop.toml").read_text()
    lines = proc.stdout.splitlines()
    assert "  left out lint, format, format_fix: `ruff` is not on PATH" in lines
    assert "  left out test: `pytest` is not on PATH" in lines
    assert (
        "  to add one: install the tool, then set it under [commands] in devloop.toml, "
        'e.g. lint = "ruff check ."'
    ) in lines

    # The hooks are installed; a Python commit is not blocked by a tool that is not there.
    done = commit_py(git_repo, str(bin_dir), GIT_TRACE="1")
    assert done.returncode == 0, done.stdout + done.stderr
    assert ".git/hooks/pre-commit" in done.stderr  # git ran the hook (GIT_TRACE), and it passed
    assert "not found" not in done.stdout + done.stderr
    assert (
        "app.py"
        in subprocess.run(
            ["git", "show", "--stat", "HEAD"], cwd=git_repo, capture_output=True, text=True
        ).stdout
    )


def test_init_writes_the_commands_whose_programs_are_on_path(git_repo, run_devloop, tmp_path):
    (git_repo / "pyproject.toml").write_text(RUFF_CONFIGURED)
    bin_dir = tool_bin(tmp_path, "ruff", "pytest")
    proc = run_devloop(git_repo, "init", "--hooks", env={"PATH": str(bin_dir)})
    assert proc.returncode == 0, proc.stderr
    assert "left out" not in proc.stdout

    commands = tomllib.loads((git_repo / "devloop.toml").read_text())["commands"]
    assert commands["lint"] == "ruff check ."
    assert commands["format"] == "ruff format --check ."
    assert commands["format_fix"] == "ruff format ."
    assert commands["test"] == "pytest -q"
    assert "detected commands: lint = 'ruff check .'" in proc.stdout

    # The commit hook runs the configured ruff on the staged Python file.
    done = commit_py(git_repo, str(bin_dir))
    assert done.returncode == 0, done.stdout + done.stderr
    ran = (tmp_path / "ruff.log").read_text().splitlines()
    assert "check app.py" in ran and "format --check app.py" in ran


def test_init_uses_package_json_scripts_only_with_npm_on_path(git_repo, run_devloop, tmp_path):
    (git_repo / "package.json").write_text('{"scripts": {"test": "jest", "lint": "eslint ."}}')
    without = run_devloop(git_repo, "init", env={"PATH": str(tool_bin(tmp_path / "a"))})
    assert without.returncode == 0, without.stderr
    assert "  left out lint, test: `npm` is not on PATH" in without.stdout.splitlines()
    assert tomllib.loads((git_repo / "devloop.toml").read_text())["commands"]["test"] == ""

    with_npm = run_devloop(
        git_repo, "init", "--force", env={"PATH": str(tool_bin(tmp_path / "b", "npm"))}
    )
    assert with_npm.returncode == 0, with_npm.stderr
    commands = tomllib.loads((git_repo / "devloop.toml").read_text())["commands"]
    assert (commands["lint"], commands["test"]) == ("npm run lint", "npm test")


def test_init_writes_a_spending_ceiling_and_says_so(git_repo, run_devloop):
    proc = run_devloop(git_repo, "init")
    assert proc.returncode == 0, proc.stderr
    assert config_mod.load(git_repo).budget.feature_usd == Decimal(10)
    assert (
        "  spending ceiling: [budget] feature_usd = 10: a feature stops before a call that "
        "could take its spend past $10.00; change it there, or per run with --budget"
    ) in proc.stdout.splitlines()


def test_readme_states_the_ceiling_init_writes():
    from devloop.project import INIT_FEATURE_USD

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert f"`[budget] feature_usd = {INIT_FEATURE_USD}`" in readme
