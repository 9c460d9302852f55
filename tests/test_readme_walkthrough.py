"""The README's walkthrough for your own repository is real: its devloop commands exist with
the options it gives, its steps come in a working order, and following it up to the paid run
(init, commit the config, set the key, write and commit a spec, dry run) works, with the
offline server standing in for the API."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## On your own repository"


def walkthrough() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert SECTION in readme
    return readme.split(SECTION, 1)[1].split("\n## ", 1)[0]


def shell_lines() -> list[str]:
    """The command lines of the walkthrough's ```sh blocks, comments and heredocs left out."""
    lines: list[str] = []
    for block in re.findall(r"```sh\n(.*?)```", walkthrough(), re.S):
        heredoc = None
        for line in block.splitlines():
            if heredoc is not None:
                heredoc = None if line.strip() == heredoc else heredoc
                continue
            if match := re.search(r"<<'(\w+)'", line):
                heredoc = match[1]
            lines.append(line.split(" #", 1)[0].strip())
    return [line for line in lines if line]


def test_the_walkthrough_goes_from_install_to_cost_in_order():
    text = walkthrough()
    lines = shell_lines()
    order = [
        "devloop init",
        "git commit",
        "export ANTHROPIC_API_KEY=",
        "devloop feature specs/idle-logout.md --dry-run",
        "devloop feature specs/idle-logout.md",
        "devloop cost idle-logout",
    ]
    at = [next(i for i, line in enumerate(lines) if line.startswith(step)) for step in order]
    assert at == sorted(at), lines
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pipx install ." in readme.split(SECTION, 1)[0]  # installed before the walkthrough
    assert "`[budget] feature_usd = 10`" in text


DEVLOOP_LINES = [line for line in shell_lines() if line.startswith("devloop ")]


@pytest.mark.parametrize("line", DEVLOOP_LINES)
def test_every_devloop_command_in_the_walkthrough_parses(line):
    from devloop.cli.main import cli

    args = shlex.split(line)[1:]
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, f"{line}: {result.output}"


@pytest.fixture
def api_server():
    from devloop.sim import SimServer

    with SimServer() as server:
        yield server


def test_following_the_walkthrough_up_to_the_run(git_repo, run_devloop, api_server):
    (git_repo / "calc.py").write_text("def add(a, b):\n    return a + b\n")
    (git_repo / "pyproject.toml").write_text('[project]\nname = "calc"\n')
    subprocess.run(["git", "add", "-A"], cwd=git_repo, check=True)
    subprocess.run(["git", "commit", "-qm", "chore: the project"], cwd=git_repo, check=True)
    # A user's shell: devloop on PATH (for the hooks), the key and the offline server's URL.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {
        "PATH": path,
        "ANTHROPIC_BASE_URL": api_server.base_url,
        "ANTHROPIC_API_KEY": "sk-walkthrough-0",
    }

    for line in shell_lines():
        if line.startswith("devloop feature") and "--dry-run" not in line:
            break  # the paid run: not in a test
        if line.startswith(("export ", "mkdir ")):
            continue  # the key is in `env`; the heredoc below writes the spec
        if line.startswith("devloop "):
            proc = run_devloop(git_repo, *shlex.split(line)[1:], env=env)
            assert proc.returncode == 0, f"{line}\n{proc.stdout}\n{proc.stderr}"
            last = proc
        elif line.startswith("git "):
            if "specs/idle-logout.md" in line:
                write_the_spec(git_repo)
            for part in line.split("&&"):
                proc = subprocess.run(
                    shlex.split(part),
                    cwd=git_repo,
                    capture_output=True,
                    text=True,
                    env={**os.environ, **env},
                )
                assert proc.returncode == 0, f"{part}\n{proc.stdout}\n{proc.stderr}"
    assert "count_tokens API" in last.stdout  # the key was used, for free counting only
    assert "  ok    models: every tier's model is in the price table" in last.stdout
    assert "  ok    budget: $10.00 left" in last.stdout
    paths = {r.path for r in api_server.requests}
    assert paths == {"/v1/messages/count_tokens"}  # no message was sent: nothing billed


def write_the_spec(repo: Path) -> None:
    """The heredoc of the walkthrough, written as the shell would."""
    text = walkthrough()
    body = re.search(r"<<'EOF'\n(.*?)\nEOF\n", text, re.S)[1]
    (repo / "specs").mkdir(exist_ok=True)
    (repo / "specs" / "idle-logout.md").write_text(body + "\n")
