"""Checks that know which files a command applies to: a staged change in a Go, Rust or
TypeScript file reaches that language's linter, with the staged content, and only the
files it checks; the agent's task lint and pre-flight use the same patterns."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from devloop import checks, sandbox
from devloop import config as config_mod
from devloop.agent.worktree import Checks

FAKE_LINTER = """#!{python}
# A stand-in linter: records its arguments and the content of every file it was given,
# and fails on a file holding the word BAD, as `file:line: message`.
import json, pathlib, sys
args = sys.argv[1:]
seen = {{a: pathlib.Path(a).read_text() for a in args if pathlib.Path(a).is_file()}}
with open({log!r}, "a") as log:
    log.write(json.dumps({{"tool": {name!r}, "argv": args, "seen": seen}}) + "\\n")
bad = 0
for path, text in seen.items():
    for number, line in enumerate(text.splitlines(), 1):
        if "BAD" in line:
            print(f"{{path}}:{{number}}: {name} found BAD")
            bad = 1
sys.exit(bad)
"""


def git(repo: Path, *args: str) -> str:
    import subprocess

    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture
def tools(tmp_path, monkeypatch):
    """Install fake linters named like real ones on PATH; returns the log reader."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "linters.log"
    for name in ("golangci-lint", "rustfmt", "eslint", "mylinter"):
        script = bin_dir / name
        script.write_text(FAKE_LINTER.format(python=sys.executable, log=str(log), name=name))
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    def calls() -> list[dict]:
        if not log.is_file():
            return []
        return [json.loads(line) for line in log.read_text().splitlines()]

    return calls


def configure(repo: Path, config: str) -> None:
    (repo / "devloop.toml").write_text(config)
    git(repo, "add", "devloop.toml")
    git(repo, "commit", "-q", "--no-verify", "-m", "chore: configure")


def seed(repo: Path) -> None:
    """A repository in four languages, committed clean."""
    files = {
        "cmd/app/main.go": "package main\n\nfunc main() {}\n",
        "internal/store/store.go": "package store\n",
        "src/lib.rs": "pub fn lib() {}\n",
        "web/app.ts": "export const app = 1;\n",
        "tool.py": "VALUE = 1\n",
        "docs/notes.md": "# Notes\n",
    }
    for path, text in files.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "chore: seed")


CASES = {
    # language: (config, the staged file, what its linter must be given)
    "go": ('lint = "golangci-lint run {files}"', "cmd/app/main.go", "golangci-lint"),
    "rust": ('lint = "rustfmt --check {files}"', "src/lib.rs", "rustfmt"),
    "typescript": ('lint = "eslint ."', "web/app.ts", "eslint"),
    "declared": ('lint = "mylinter {files}"\nlint_files = ["*.go"]', "cmd/app/main.go", "mylinter"),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_a_staged_change_is_linted_by_its_languages_linter_as_staged(git_repo, tools, case):
    config, target, tool = CASES[case]
    configure(git_repo, f"[commands]\n{config}\n")
    seed(git_repo)
    staged_text = (git_repo / target).read_text() + "// BAD: the staged version\n"
    (git_repo / target).write_text(staged_text)
    for other in ("tool.py", "docs/notes.md", "src/lib.rs" if case != "rust" else "web/app.ts"):
        (git_repo / other).write_text((git_repo / other).read_text() + "// BAD too\n")
    git(git_repo, "add", "-A")
    unstaged_text = staged_text.replace("// BAD: the staged version", "// fixed, not staged")
    (git_repo / target).write_text(unstaged_text)

    run = checks.check_staged(git_repo)

    (call,) = tools()
    assert call["tool"] == tool
    assert call["argv"][-1:] == [target]  # only the one file of its language
    assert call["seen"] == {target: staged_text}  # the staged content, not the working tree's
    lint = next(r for r in run.results if r.name == "lint")
    assert not lint.passed
    assert [(d.file, d.line) for d in lint.details] == [(target, staged_text.count("\n"))]
    assert (git_repo / target).read_text() == unstaged_text  # put back after the check


def test_only_the_files_a_linter_checks_reach_it_and_others_skip_it(git_repo, tools):
    configure(git_repo, '[commands]\nlint = "golangci-lint run {files}"\n')
    seed(git_repo)
    for path in ("cmd/app/main.go", "internal/store/store.go", "web/app.ts", "tool.py"):
        (git_repo / path).write_text((git_repo / path).read_text() + "// edited\n")
    git(git_repo, "add", "-A")
    assert checks.check_staged(git_repo).passed
    (call,) = tools()
    assert call["argv"] == ["run", "cmd/app/main.go", "internal/store/store.go"]

    git(git_repo, "commit", "-q", "--no-verify", "-m", "chore: go")
    (git_repo / "web/app.ts").write_text("export const app = 2;\n")
    git(git_repo, "add", "-A")
    run = checks.check_staged(git_repo)
    lint = next(r for r in run.results if r.name == "lint")
    assert lint.skipped and "(*.go)" in lint.summary
    assert len(tools()) == 1  # not run again: no Go file was staged


def test_the_cli_reports_the_staged_go_file(git_repo, tools, run_devloop):
    configure(git_repo, '[commands]\nlint = "golangci-lint run {files}"\n')
    seed(git_repo)
    (git_repo / "internal/store/store.go").write_text("package store\n// BAD\n")
    git(git_repo, "add", "-A")
    proc = run_devloop(git_repo, "check", "staged", env={"PATH": os.environ["PATH"]})
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "internal/store/store.go" in proc.stdout and "golangci-lint found BAD" in proc.stdout


def test_the_agents_task_lint_gives_the_linter_only_its_changed_files(git_repo, tools):
    configure(git_repo, '[commands]\nlint = "rustfmt --check {files}"\n')
    seed(git_repo)
    cfg = config_mod.load(git_repo)
    task_checks = Checks(tests="", lint=True)
    runner = sandbox.default_runner(cfg)
    assert "on the files you changed matching *.rs" in task_checks.describe(cfg)
    (git_repo / "src/lib.rs").write_text("pub fn lib() {} // BAD\n")
    (git_repo / "web/app.ts").write_text("// BAD\n")
    failure = task_checks.run(cfg, ["src/lib.rs", "web/app.ts"], runner)
    (call,) = tools()
    assert call["argv"] == ["--check", "src/lib.rs"]
    assert failure is not None and "src/lib.rs:1: rustfmt found BAD" in failure
    assert task_checks.run(cfg, ["web/app.ts"], runner) is None
    assert len(tools()) == 1


def test_preflight_says_which_of_the_plans_files_each_check_covers(git_repo):
    configure(git_repo, '[commands]\nlint = "golangci-lint run"\nformat = "gofmt -l {files}"\n')
    cfg = config_mod.load(git_repo)
    result = checks.file_coverage(cfg, ["cmd/app/main.go", "web/app.ts", "internal/x.go"])
    assert result.passed
    assert result.summary == "lint (*.go) checks 2 of 3; format (*.go) checks 2 of 3"
    assert [d.file for d in result.details if d.file] == ["web/app.ts"]
