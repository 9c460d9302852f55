"""A first run on someone's own repository: every error they can meet is one
`devloop: error:` line with the documented exit code, never a traceback, and nothing
changes on disk before the checks that refuse a run have passed (issue 14).

"Unwritable" is made so that it holds for root too (CI runs as root, and root ignores
permission bits): a read-only bind mount (bubblewrap's --ro-bind), a path under /proc, or
a file where a directory is needed. A full disk is a real one: a small tmpfs (bubblewrap's
--size --tmpfs) for ENOSPC, and RLIMIT_FSIZE for EFBIG.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from loop_harness import SLUG, git, plan_phase

DEVLOOP = [sys.executable, "-m", "devloop"]


def run(cwd: Path, *args: str, wrap: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    """devloop as a user runs it (a subprocess, the real entry point), maybe inside `wrap`."""
    return subprocess.run(
        [*(wrap or []), *DEVLOOP, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
    )


def read_only(*paths: Path) -> list[str]:
    """A bubblewrap prefix that shows the whole file system as it is, `paths` read-only:
    a write there fails with EROFS whoever the user is, root included."""
    binds = [arg for p in paths for arg in ("--ro-bind", str(p), str(p))]
    return ["bwrap", "--dev-bind", "/", "/", *binds]


def refused(proc: subprocess.CompletedProcess[str], code: int, *phrases: str) -> None:
    """Exit `code`, one `devloop: error:` message holding `phrases`, no Python stack."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("devloop: error: ")]
    assert len(errors) == 1, proc.stderr  # one message, not a chain of them
    for phrase in phrases:
        assert phrase in proc.stderr, (phrase, proc.stderr)


def no_run_made(repo: Path) -> None:
    """Neither the feature's branch nor its state exists."""
    assert git(repo, "branch", "--list", f"devloop/{SLUG}").strip() == ""
    assert not (repo / ".devloop" / "features" / SLUG).exists()
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"


# ------------------------------------------------------------------ demo --dir


def test_demo_dir_under_proc_is_refused_with_exit_2(tmp_path):
    proc = run(tmp_path, "demo", "--dir", "/proc/nope/demo")
    refused(proc, 2, "cannot write --dir /proc/nope/demo", "choose another place")
    assert not Path("/proc/nope").exists()


def test_demo_dir_below_a_file_is_refused_with_exit_2(tmp_path):
    (tmp_path / "notes.txt").write_text("mine\n")
    proc = run(tmp_path, "demo", "--dir", "notes.txt/sub")
    refused(proc, 2, "a file is in the way where a directory is needed", "notes.txt/sub")
    assert (tmp_path / "notes.txt").read_text() == "mine\n"


def test_demo_dir_under_a_read_only_parent_is_refused_and_writes_nothing(tmp_path):
    parent = tmp_path / "shelf"
    parent.mkdir()
    proc = run(tmp_path, "demo", "--dir", str(parent / "demo"), wrap=read_only(parent))
    refused(proc, 2, f"cannot write --dir {parent / 'demo'}", "read-only")
    assert list(parent.iterdir()) == []


# ------------------------------------------------------------------ an unwritable .devloop/


@pytest.fixture
def readonly_devloop(repo: Path) -> list[str]:
    (repo / ".devloop").mkdir()
    return read_only(repo / ".devloop")


def test_dry_run_with_a_read_only_devloop_dir_is_a_message(repo, readonly_devloop):
    proc = run(repo, "feature", "specs/goodbye.md", "--dry-run", wrap=readonly_devloop)
    refused(proc, 2, f"cannot write {repo / '.devloop' / 'dry-run' / SLUG}", "read-only")
    assert list((repo / ".devloop").iterdir()) == []


def test_feature_with_a_read_only_devloop_dir_is_refused_before_the_branch(
    repo, sim, readonly_devloop
):
    s = sim(plan_phase())
    proc = run(repo, "feature", "specs/goodbye.md", wrap=readonly_devloop)
    refused(proc, 2, f"cannot write the run lock {repo / '.devloop' / 'lock'}", "read-only")
    no_run_made(repo)
    assert s.count() == 0


# ------------------------------------------------------------------ [api] max_retries = -1


@pytest.fixture
def negative_retries(repo: Path) -> Path:
    with (repo / "devloop.toml").open("a") as config:
        config.write("\n[api]\nmax_retries = -1\n")
    git(repo, "commit", "-qam", "chore: a negative retry count")
    return repo


@pytest.mark.parametrize(
    "args",
    [("models",), ("feature", "specs/goodbye.md", "--dry-run"), ("feature", "specs/goodbye.md")],
    ids=["models", "dry-run", "feature"],
)
def test_a_negative_retry_count_never_reaches_the_sdk(negative_retries, sim, args):
    s = sim(plan_phase())  # a key and a base URL: the SDK would be started
    proc = run(negative_retries, *args)
    refused(proc, 2, "[api] max_retries = -1: must be 0 or more", "devloop.toml")
    assert "could not resolve response" not in proc.stderr
    assert s.server.requests == []  # not even count_tokens or the Models API was asked
    no_run_made(negative_retries)


# ------------------------------------------------------------------ budgets


def test_a_nan_feature_budget_is_refused_by_the_config(repo):
    with (repo / "devloop.toml").open("a") as config:
        config.write("\n[budget]\nfeature_usd = nan\n")
    for args in (("feature", "specs/goodbye.md", "--dry-run"), ("routing",)):
        proc = run(repo, *args)
        refused(proc, 2, "[budget] feature_usd = nan: must be a finite amount of USD")
        assert "$nan" not in proc.stdout


@pytest.mark.parametrize("amount", ["10000000", "1e15", "1e999"])
def test_a_budget_beyond_the_ledger_is_refused_before_the_branch(repo, sim, amount):
    s = sim(plan_phase())
    proc = run(repo, "feature", "specs/goodbye.md", "--budget", amount)
    refused(proc, 2, f"--budget {amount}: at most $1,000,000 (the ledger's limit)")
    no_run_made(repo)
    assert s.count() == 0


@pytest.mark.parametrize("amount", ["1e15", "1e999", "nan"])
def test_resume_with_a_budget_beyond_the_ledger_is_refused(repo, sim, devloop, amount):
    sim(plan_phase())
    assert devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "1").code == 0
    before = (repo / ".devloop" / "features" / SLUG / "state.json").read_text()
    proc = run(repo, "resume", SLUG, "--budget", amount)
    refused(proc, 2, f"--budget {amount}:")
    assert (repo / ".devloop" / "features" / SLUG / "state.json").read_text() == before


# ------------------------------------------------------------------ init and hooks


def test_init_in_a_read_only_repository_writes_nothing(git_repo):
    proc = run(git_repo, "init", wrap=read_only(git_repo))
    refused(proc, 2, f"cannot write the repository root {git_repo}", "read-only")
    assert not (git_repo / "devloop.toml").exists() and not (git_repo / "ROUTING.md").exists()
    assert git(git_repo, "status", "--porcelain").strip() == ""


def test_hooks_install_into_a_read_only_hooks_dir_is_a_message(git_repo):
    hooks = git_repo / ".git" / "hooks"
    hooks.mkdir(exist_ok=True)
    before = sorted(p.name for p in hooks.iterdir())
    proc = run(git_repo, "hooks", "install", wrap=read_only(hooks))
    refused(proc, 2, f"cannot write the hooks directory {hooks}", "read-only")
    assert sorted(p.name for p in hooks.iterdir()) == before


@pytest.mark.parametrize("where", ["file", "proc"])
def test_an_impossible_core_hooks_path_is_named_and_nothing_written(git_repo, where):
    target = "README.md/hooks" if where == "file" else "/proc/nope/hooks"
    git(git_repo, "config", "core.hooksPath", target)
    proc = run(git_repo, "hooks", "install")
    refused(proc, 2, "cannot write the hooks directory set by core.hooksPath", "/hooks")
    proc = run(git_repo, "init", "--hooks")  # refused before init writes its files too
    refused(proc, 2, "core.hooksPath")
    assert not (git_repo / "devloop.toml").exists()
    assert (git_repo / "README.md").read_text() == "# sample\n"


# ------------------------------------------------------------------ a full disk


def test_atomic_write_past_the_file_size_limit_keeps_the_old_file_and_no_temp(tmp_path):
    """RLIMIT_FSIZE makes the write fail with EFBIG (root is held to it too)."""
    target = tmp_path / "state.json"
    target.write_text("old\n")
    code = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from devloop.errors import DevloopError\n"
        "from devloop.state import atomic_write\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "try:\n"
        f"    atomic_write(Path({str(target)!r}), 'x' * 100_000)\n"
        "except DevloopError as exc:\n"
        "    print(exc.exit_code, exc.message)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.stderr == "" and proc.stdout.startswith("1 cannot write"), proc
    assert "file size limit" in proc.stdout and str(target) in proc.stdout
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_disk_that_fills_up_mid_run_is_one_message_and_leaves_no_temp_file(repo, sim):
    """.devloop/features on a 40 KiB tmpfs: the frozen prefix and state.json fit (about
    20 KiB in pages), the research transcript (about 45 KiB) does not, so its write fails
    with ENOSPC partway through step 1."""
    big = "## Relevant code\n" + "- src/app.py: hello() returns 'hi'\n" * 1_100
    s = sim(plan_phase(research=[{"text": big}]))
    features = repo / ".devloop" / "features"
    features.mkdir(parents=True)
    devloop = " ".join(shlex.quote(arg) for arg in [*DEVLOOP, "-C", str(repo)])
    script = (
        f"{devloop} feature specs/goodbye.md --stop-after 1 >out.txt 2>err.txt;"
        f" echo $? >code.txt; find {features} -type f >files.txt;"
        f" cat {features / SLUG / 'state.json'} >state.txt"
    )
    mount = ["bwrap", "--dev-bind", "/", "/", "--size", str(40 * 1024), "--tmpfs", str(features)]
    proc = subprocess.run(
        [*mount, "sh", "-c", script], cwd=repo.parent, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    out = {name: (repo.parent / f"{name}.txt").read_text() for name in ("code", "err", "files")}
    assert out["code"].strip() == "1", out
    assert "Traceback" not in out["err"] and "OSError" not in out["err"], out["err"]
    errors = [line for line in out["err"].splitlines() if line.startswith("devloop: error:")]
    assert len(errors) == 1 and "no space is left on the device" in errors[0], out["err"]
    assert "Free some space and run the command again." in errors[0]
    assert not [f for f in out["files"].split() if f.endswith(".tmp")], out["files"]
    state = json.loads((repo.parent / "state.txt").read_text())
    assert state["status"] == "failed" and "no space is left" in state["message"]
    assert s.count("research") == 1


# ------------------------------------------------------------------ a verdict as a tool call


def test_a_verdict_answered_with_a_tool_call_is_a_failed_step_not_a_crash(repo, sim):
    tool = {"tool_use": {"name": "bash", "input": {"command": "ls"}}}
    s = sim(plan_phase(**{"validate-requirements": [tool, tool]}))
    proc = run(repo, "feature", "specs/goodbye.md", "--stop-after", "plan")
    refused(proc, 4, "called a tool where a structured answer was asked for")
    assert "TypeError" not in proc.stderr
    assert s.count("validate-requirements") == 2  # answered badly, asked once more


# ------------------------------------------------------------------ check staged in a merge


def test_check_staged_during_an_unresolved_merge_says_what_to_do(repo):
    (repo / "src" / "app.py").write_text("def hello():\n    return 'hello'\n")
    git(repo, "checkout", "-qb", "other")
    git(repo, "commit", "-qam", "feat: hello")
    git(repo, "checkout", "-q", "main")
    (repo / "src" / "app.py").write_text("def hello():\n    return 'hey'\n")
    git(repo, "commit", "-qam", "feat: hey")
    merge = subprocess.run(["git", "merge", "other"], cwd=repo, capture_output=True, text=True)
    assert merge.returncode != 0 and "CONFLICT" in merge.stdout
    conflicted = (repo / "src" / "app.py").read_text()
    proc = run(repo, "check", "staged")  # the hook's fast path
    refused(proc, 2, "still have merge conflicts (src/app.py)", "`git add`", "git merge --abort")
    assert "checkout-index" not in proc.stderr
    assert (repo / "src" / "app.py").read_text() == conflicted  # the working tree untouched
    assert not (repo / ".git" / "devloop" / "staged").exists()


# ------------------------------------------------------------------ state and wording


def test_ab_clean_of_an_unknown_slug_is_an_error(repo, devloop):
    result = devloop(repo, "ab", "no-such-feature", "--clean")
    assert result.code == 2, result
    assert (
        "devloop: error: no A/B run 'no-such-feature'" in result.err and "known: none" in result.err
    )


def test_a_closed_pipe_exits_quietly_with_141(repo, sim, devloop):
    sim(plan_phase())
    assert devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "1").code == 0
    # `--help` prints while click parses; `check staged` is the hooks' fast path (no click).
    for args in (("cost", SLUG), ("status",), ("routing", "--help"), ("check", "staged")):
        read_end, write_end = os.pipe()
        os.close(read_end)  # the reader (`| head -1`) is gone before devloop writes a byte
        try:
            proc = subprocess.run(
                [*DEVLOOP, *args], cwd=repo, stdout=write_end, stderr=subprocess.PIPE
            )
        finally:
            os.close(write_end)
        assert proc.returncode == 141, (args, proc.stderr)
        assert proc.stderr == b"", (args, proc.stderr)


@pytest.mark.parametrize(
    ("args", "message", "usage"),
    [
        (["feature"], "Missing argument 'SPEC'.", "usage: devloop feature [OPTIONS] SPEC"),
        (["--bogus"], "No such option '--bogus'.", "usage: devloop [OPTIONS] COMMAND"),
        (["resume", "--from", "zzz"], "unknown step 'zzz'", "usage: devloop resume"),
        (["cost", "--by", "colour"], "Invalid value for '--by'", "usage: devloop cost"),
    ],
)
def test_click_usage_errors_are_in_devloops_style_with_exit_2(git_repo, args, message, usage):
    proc = run(git_repo, *args)
    refused(proc, 2, message, usage)
    assert "Error:" not in proc.stderr


def test_dash_c_works_after_the_subcommand_too(repo, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    before = run(elsewhere, "-C", str(repo), "routing")
    after = run(elsewhere, "routing", "-C", str(repo))
    assert before.returncode == after.returncode == 0, after.stderr
    assert after.stdout == before.stdout and "research" in after.stdout
    dry = run(elsewhere, "feature", "specs/goodbye.md", "--dry-run", "--json", "-C", str(repo))
    assert json.loads(dry.stdout)["slug"] == SLUG  # the spec is read relative to -C
    hooks = run(elsewhere, "hooks", "install", "-C", str(repo))  # a group's subcommand
    assert hooks.returncode == 0 and (repo / ".git" / "hooks" / "pre-commit").exists()
    missing = run(elsewhere, "status", "-C", str(tmp_path / "nowhere"))
    refused(missing, 2, "-C", "no such directory")


def test_dry_run_exits_1_when_pre_flight_lists_a_failure(repo, sim):
    sim({"review": ["unused"]})  # a key and the offline server: the api check passes
    ok = run(repo, "feature", "specs/goodbye.md", "--dry-run")
    assert ok.returncode == 0, ok.stderr
    assert "FAIL" not in ok.stdout
    config = repo / "devloop.toml"
    config.write_text(
        config.read_text().replace("[commands]\n", '[commands]\nlint = "no-such-linter-xyz ."\n')
    )
    bad = run(repo, "feature", "specs/goodbye.md", "--dry-run")
    assert "FAIL  tools" in bad.stdout, bad.stdout
    refused(bad, 1, "pre-flight found 1 problem(s) a run would stop at (tools)")
    assert "Dry run:" in bad.stdout  # the whole report first


# ------------------------------------------------------------------ the missing key


def test_a_missing_key_leaves_no_branch_and_the_same_command_then_works(repo, sim, devloop):
    result = devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "plan")
    assert result.code == 2, result
    assert "devloop: error: no API key: set ANTHROPIC_API_KEY" in result.err
    assert "run the same command again" in result.err
    no_run_made(repo)
    assert not (repo / ".devloop").exists()  # not even the lock or the ledger
    s = sim(plan_phase())
    again = devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "plan")
    assert again.code == 0, again
    assert "already exists" not in again.err
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == f"devloop/{SLUG}"
    assert s.count("research") == 1 and s.count("plan") == 1


def test_resume_without_a_key_changes_nothing(repo, sim, devloop, monkeypatch):
    sim(plan_phase())
    assert devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "1").code == 0
    git(repo, "checkout", "-q", "main")
    before = (repo / ".devloop" / "features" / SLUG / "state.json").read_text()
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    result = devloop(repo, "resume", SLUG)
    assert result.code == 2 and "no API key" in result.err, result
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"  # not switched
    assert (repo / ".devloop" / "features" / SLUG / "state.json").read_text() == before


# ------------------------------------------------------------------ the demo's Ctrl-C hint


def test_the_demos_ctrl_c_hint_says_what_works(tmp_path):
    target = tmp_path / "demo"
    proc = subprocess.Popen(
        [*DEVLOOP, "demo", "--dir", str(target), "--unsandboxed"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        for line in proc.stdout:  # interrupt once the loop has begun its first step
            if "research" in line and "running" in line:
                break
            assert time.monotonic() < deadline, "the demo never started a step"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err, err
    assert "devloop resume" not in err and "devloop resume" not in out
    assert "It cannot be resumed" in err and "run `devloop demo` again" in err
    assert str(target) in err
    status = subprocess.run(
        [*DEVLOOP, "-C", str(target), "status", "--json"], capture_output=True, text=True
    )
    assert "devloop resume" not in status.stdout  # the saved state says the same
    assert "It cannot be resumed" in status.stdout


def test_check_staged_with_a_read_only_git_dir_is_a_message_and_changes_nothing(repo):
    app = repo / "src" / "app.py"
    app.write_text("def hello():\n    return 'hello'\n")
    git(repo, "add", "src/app.py")
    app.write_text("def hello():\n    return 'hello, unstaged'\n")  # to be set aside
    proc = run(repo, "check", "staged", wrap=read_only(repo / ".git"))  # the fast path
    refused(proc, 2, f"{repo / '.git' / 'devloop'}", "read-only")
    assert app.read_text() == "def hello():\n    return 'hello, unstaged'\n"
    assert git(repo, "diff", "--cached", "--name-only").strip() == "src/app.py"


def test_the_readme_exit_code_table_is_errors_exit_codes():
    from devloop.errors import EXIT_CODES

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    table = readme.split("## Exit codes\n\n", 1)[1].split("\n\n", 1)[0]
    expected = ["| code | meaning |", "|---|---|"] + [
        f"| {code} | {meaning.replace('|', chr(92) + '|')} |"
        for code, meaning in EXIT_CODES.items()
    ]
    assert table.splitlines() == expected
