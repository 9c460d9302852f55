"""Shared fixtures: real git repositories in temp dirs and a CLI runner.

Git identity comes from a throw-away global config so tests never read or write the
user's own ~/.gitconfig.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

# The e2e harness of `devloop feature` (fixtures repo, sim, devloop, agent): loop_harness.py;
# the model door's (fixture harness): door_harness.py; a throwaway PostgreSQL: pg_harness.py.
pytest_plugins = ["loop_harness", "door_harness", "pg_harness"]


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path_factory, monkeypatch):
    home = tmp_path_factory.mktemp("home")
    gitconfig = home / ".gitconfig"
    gitconfig.write_text(
        "[user]\n\tname = Devloop Test\n\temail = test@example.invalid\n"
        "[init]\n\tdefaultBranch = main\n[commit]\n\tgpgsign = false\n"
    )
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("HOME", str(home))
    # A developer's own shared ledger (or name) must never receive a test's rows.
    for name in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_AUTH_TOKEN",
        "NO_COLOR",
        "DEVLOOP_LEDGER_URL",
        "DEVLOOP_USER",
    ):
        monkeypatch.delenv(name, raising=False)


def git(cwd: Path, *args: str) -> str:
    """Run git in `cwd`; fail the test with git's output when it fails."""
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"git {' '.join(args)} failed: {proc.stderr}"
    return proc.stdout


@pytest.fixture
def git_repo(tmp_path: Path) -> Path:
    """An empty git repository with one initial commit."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "README.md").write_text("# sample\n")
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", "chore: initial commit")
    return repo


@pytest.fixture
def run_cli():
    """Invoke the devloop CLI in-process: run_cli(repo, "routing", "--markdown")."""
    from devloop.cli.main import cli

    def run(cwd: Path, *args: str, input: str | None = None, env: dict | None = None):
        runner = CliRunner()
        return runner.invoke(cli, ["-C", str(cwd), *args], input=input, env=env)

    return run


@pytest.fixture
def run_devloop():
    """Run devloop as a subprocess (the real entry point, real exit codes)."""
    import sys

    def run(cwd: Path, *args: str, input: str | None = None, env: dict | None = None):
        full_env = dict(os.environ, **(env or {}))
        return subprocess.run(
            [sys.executable, "-m", "devloop", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            input=input,
            env=full_env,
            timeout=120,
        )

    return run


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A directory next to the repository (another project) holding a secret."""
    target = tmp_path / "outside"
    target.mkdir()
    (target / "secret.txt").write_text("OUTSIDE-SECRET\n")
    return target


@pytest.fixture
def listener():
    """A TCP server on the host's 127.0.0.1: (port, the connections it accepted)."""
    import socket
    import threading

    server = socket.create_server(("127.0.0.1", 0))
    accepted: list[object] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            accepted.append(conn)
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1], accepted
    server.close()


def running(marker: str) -> list[int]:
    """Host pids whose command line holds `marker` (a process that must be gone)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def wheel(tmp_path_factory) -> Path:
    """devloop built as a wheel, once per test session."""
    import sys

    out = tmp_path_factory.mktemp("dist")
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (path,) = out.glob("devloop-*.whl")
    return path


@pytest.fixture(scope="session")
def wheel_site(wheel, tmp_path_factory) -> Path:
    """A folder with the wheel installed into it (pip --target, no dependencies): put it on
    PYTHONPATH to run the installed copy instead of the source tree."""
    import sys

    site = tmp_path_factory.mktemp("site")
    install = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site)]
    proc = subprocess.run([*install, str(wheel)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return site
