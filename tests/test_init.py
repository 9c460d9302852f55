"""`devloop init`: writes config, ROUTING.md and .gitignore; never overwrites without --force."""

from __future__ import annotations

import tomllib

from devloop import config as config_mod


def test_init_python_project(git_repo, run_devloop):
    (git_repo / "pyproject.toml").write_text('[project]\nname = "sample"\n')
    (git_repo / ".gitignore").write_text("*.pyc")  # no trailing newline: must not be glued
    proc = run_devloop(git_repo, "init")
    assert proc.returncode == 0, proc.stderr

    data = tomllib.loads((git_repo / "devloop.toml").read_text())
    assert data["commands"]["lint"] == "ruff check ."
    assert data["commands"]["format"] == "ruff format --check ."
    assert "pytest" in data["commands"]["test"]
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
