"""`devloop hooks install/uninstall`, the shell shims, and real `git commit`s through them."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from devloop.cli import fast
from devloop.git import hooks

VENV_BIN = str(Path(sys.executable).parent)
RUFF_CONFIG = """\
[commands]
lint = "ruff check ."
format = "ruff format --check ."
format_fix = "ruff format ."
"""


def git(repo: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env)


def hook_env() -> dict[str, str]:
    """What a person's shell would have: devloop's virtualenv on PATH."""
    return dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))


def commit(repo: Path, message: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`git commit` through the hooks; git sends hook output to stderr, so .stdout holds
    both streams."""
    return subprocess.run(
        ["git", "commit", "-m", message, *args],
        cwd=repo,
        env=hook_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def setup_project(repo: Path, run_devloop, config: str = RUFF_CONFIG) -> Path:
    """devloop configured (and committed) with the hooks installed."""
    (repo / "devloop.toml").write_text(config)
    git(repo, "add", "devloop.toml")
    assert git(repo, "commit", "-q", "--no-verify", "-m", "chore: configure").returncode == 0
    proc = run_devloop(repo, "hooks", "install")
    assert proc.returncode == 0, proc.stderr
    return repo


@pytest.fixture
def project(git_repo, run_devloop) -> Path:
    return setup_project(git_repo, run_devloop)


def hook_file(repo: Path, name: str = "pre-commit") -> Path:
    return repo / ".git" / "hooks" / name


def write_hook(path: Path, body: str) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)
    return path.read_bytes()


# ------------------------------------------------------------ install / uninstall


def test_install_writes_both_executable_shims(git_repo, run_devloop):
    proc = run_devloop(git_repo, "hooks", "install")
    assert proc.returncode == 0, proc.stderr
    for name in hooks.HOOK_NAMES:
        path = hook_file(git_repo, name)
        assert path.read_bytes() == hooks.shim(name).read_bytes()
        assert path.stat().st_mode & stat.S_IXUSR
        assert f"installed {path}" in proc.stdout
    assert "not configured here yet" in proc.stdout


def test_install_again_updates_in_place(git_repo, run_devloop):
    run_devloop(git_repo, "hooks", "install")
    proc = run_devloop(git_repo, "hooks", "install")
    assert proc.returncode == 0
    assert "updated" in proc.stdout
    assert not list(hook_file(git_repo).parent.glob("*.devloop-backup"))


def test_install_refuses_over_an_existing_hook_and_names_it(git_repo, run_devloop):
    original = write_hook(hook_file(git_repo, "commit-msg"), "exit 0")
    proc = run_devloop(git_repo, "hooks", "install")
    assert proc.returncode == 2
    assert str(hook_file(git_repo, "commit-msg")) in proc.stderr
    assert "--force" in proc.stderr
    assert hook_file(git_repo, "commit-msg").read_bytes() == original
    assert not hook_file(git_repo, "pre-commit").exists()  # nothing half-installed


def test_force_keeps_a_backup_and_chains_to_it(git_repo, run_devloop, tmp_path):
    marker = tmp_path / "old-hook-ran"
    original = write_hook(hook_file(git_repo), f'echo "$@" > "{marker}"')
    (git_repo / "devloop.toml").write_text(RUFF_CONFIG)
    git(git_repo, "add", "devloop.toml")
    git(git_repo, "commit", "-q", "--no-verify", "-m", "chore: configure")
    proc = run_devloop(git_repo, "hooks", "install", "--force")
    assert proc.returncode == 0, proc.stderr
    backup = hook_file(git_repo).with_name("pre-commit.devloop-backup")
    assert backup.read_bytes() == original
    assert "kept as pre-commit.devloop-backup" in proc.stdout

    (git_repo / "ok.py").write_text("VALUE = 1\n")
    git(git_repo, "add", "ok.py")
    done = commit(git_repo, "feat: chained")
    assert done.returncode == 0, done.stdout + done.stderr
    assert marker.exists()  # the old hook ran
    (git_repo / "bad.py").write_text("import os\n")
    git(git_repo, "add", "bad.py")
    linted = commit(git_repo, "feat: a lint error")
    assert linted.returncode != 0 and "FAIL  lint" in linted.stdout  # and so does devloop
    git(git_repo, "rm", "-q", "--cached", "bad.py")

    write_hook(backup, "echo old hook says no >&2; exit 3")
    (git_repo / "ok.py").write_text("VALUE = 2\n")
    git(git_repo, "add", "ok.py")
    blocked = commit(git_repo, "feat: blocked by the old hook")
    assert blocked.returncode != 0
    assert "old hook says no" in blocked.stdout


def test_force_refuses_when_a_backup_already_exists(git_repo, run_devloop):
    write_hook(hook_file(git_repo), "exit 0")
    write_hook(hook_file(git_repo).with_name("pre-commit.devloop-backup"), "exit 0")
    proc = run_devloop(git_repo, "hooks", "install", "--force")
    assert proc.returncode == 2
    assert "already exists" in proc.stderr


def test_uninstall_restores_the_previous_hook(git_repo, run_devloop):
    original = write_hook(hook_file(git_repo), "echo mine")
    hook_file(git_repo).chmod(0o750)
    assert run_devloop(git_repo, "hooks", "install", "--force").returncode == 0
    proc = run_devloop(git_repo, "hooks", "uninstall")
    assert proc.returncode == 0, proc.stderr
    assert hook_file(git_repo).read_bytes() == original
    assert stat.S_IMODE(hook_file(git_repo).stat().st_mode) == 0o750
    assert not hook_file(git_repo, "commit-msg").exists()
    assert not list(hook_file(git_repo).parent.glob("*.devloop-backup"))
    assert "restored the previous hook" in proc.stdout


def test_uninstall_leaves_a_foreign_hook_alone(git_repo, run_devloop):
    original = write_hook(hook_file(git_repo), "echo not devloop's")
    proc = run_devloop(git_repo, "hooks", "uninstall")
    assert proc.returncode == 0
    assert "devloop did not install it" in proc.stdout
    assert hook_file(git_repo).read_bytes() == original


def test_uninstall_without_hooks_says_so(git_repo, run_devloop):
    proc = run_devloop(git_repo, "hooks", "uninstall")
    assert proc.returncode == 0
    assert "no devloop pre-commit hook" in proc.stdout


def test_install_honours_core_hooks_path(git_repo, run_devloop):
    git(git_repo, "config", "core.hooksPath", "githooks")
    sub = git_repo / "sub"
    sub.mkdir()
    proc = run_devloop(sub, "hooks", "install")  # from a subdirectory
    assert proc.returncode == 0, proc.stderr
    assert (git_repo / "githooks" / "pre-commit").is_file()
    assert not hook_file(git_repo).exists()


def test_install_outside_a_git_repository_is_a_clear_error(tmp_path, run_devloop):
    proc = run_devloop(tmp_path, "hooks", "install")
    assert proc.returncode == 2
    assert "not inside a git repository" in proc.stderr
    proc = run_devloop(tmp_path, "check", "staged")
    assert proc.returncode == 2
    assert "not inside a git repository" in proc.stderr


def test_init_with_hooks_does_both(git_repo, run_devloop):
    proc = run_devloop(git_repo, "init", "--hooks")
    assert proc.returncode == 0, proc.stderr
    assert (git_repo / "devloop.toml").is_file()
    assert hooks.is_devloop_hook(hook_file(git_repo))
    assert hooks.is_devloop_hook(hook_file(git_repo, "commit-msg"))


def test_init_with_hooks_refuses_before_writing_anything(git_repo, run_devloop):
    write_hook(hook_file(git_repo), "exit 0")
    proc = run_devloop(git_repo, "init", "--hooks")
    assert proc.returncode == 2
    assert not (git_repo / "devloop.toml").exists()


# ------------------------------------------------------------ the shims


def test_hooks_pass_and_say_so_when_devloop_is_not_configured(git_repo, run_devloop):
    assert run_devloop(git_repo, "hooks", "install").returncode == 0
    (git_repo / "bad.py").write_text("import os\n")
    git(git_repo, "add", "bad.py")
    done = commit(git_repo, "not a conventional message")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("devloop is not configured here") == 2


def test_shim_falls_back_to_python_m_devloop(git_repo, run_devloop, tmp_path):
    ran = tmp_path / "quick-test-ran"
    config = f'[commands]\nlint = "true"\nquick_test = "touch {ran}"\n'
    project = setup_project(git_repo, run_devloop, config)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "python3"  # a python that can import devloop, but no `devloop`
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
    wrapper.chmod(0o755)
    (project / "ok.py").write_text("VALUE = 1\n")
    git(project, "add", "ok.py")
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin")
    assert subprocess.run(["sh", "-c", "command -v devloop"], env=env).returncode != 0
    proc = subprocess.run(
        [str(hook_file(project))], cwd=project, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert ran.exists() and proc.stdout == ""  # devloop's checks ran, and passed quietly


def test_shim_says_clearly_when_neither_devloop_nor_python_is_found(project, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for name in hooks.HOOK_NAMES:
        proc = subprocess.run(
            ["/bin/sh", str(hook_file(project, name)), ".git/COMMIT_EDITMSG"],
            cwd=project,
            env={"PATH": str(empty), "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 1
        assert "'devloop' is not on PATH" in proc.stderr
        assert "--no-verify" in proc.stderr


def test_shims_are_short_posix_shell():
    for name in hooks.HOOK_NAMES:
        text = hooks.shim(name).read_text()
        assert text.startswith("#!/bin/sh\n")
        assert hooks.MARKER in text
        assert len(text.splitlines()) < 30
        assert subprocess.run(["sh", "-n", str(hooks.shim(name))]).returncode == 0


# ------------------------------------------------------------ real commits


def test_a_good_commit_passes_and_the_hooks_say_nothing(project):
    """Git tells a hook nothing of -q, so devloop's hooks are quiet whenever the checks
    pass: `git commit -q` prints nothing at all, `git commit` only git's own summary."""
    (project / "good.py").write_text("VALUE = 1\n")
    git(project, "add", "good.py")
    done = commit(project, "feat: add a good module")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "devloop" not in done.stdout and "ok    lint" not in done.stdout
    assert done.stdout.startswith("[main ")
    (project / "good.py").write_text("VALUE = 2\n")
    git(project, "add", "good.py")
    quiet = commit(project, "fix: change the good module", "-q")
    assert quiet.returncode == 0 and quiet.stdout == ""
    assert git(project, "log", "-1", "--format=%s").stdout == "fix: change the good module\n"


def test_a_failing_hook_still_shows_its_whole_report_under_q(project):
    (project / "bad.py").write_text("import os\n\nVALUE = 1\n")
    git(project, "add", "bad.py")
    done = commit(project, "feat: add a bad module", "-q")
    assert done.returncode != 0
    assert "devloop check staged: 1 staged file(s)" in done.stdout
    assert "FAIL  lint" in done.stdout and "ok    format" in done.stdout
    assert "bad.py:1:" in done.stdout and "to see or fix: ruff check bad.py" in done.stdout
    assert "devloop: error: 1 check(s) failed: lint." in done.stdout
    git(project, "rm", "-q", "--cached", "bad.py")
    (project / "good.py").write_text("VALUE = 1\n")
    git(project, "add", "good.py")
    message = commit(project, "Added a module", "-q")
    assert message.returncode != 0 and "FAIL  commit message" in message.stdout


def test_a_recovery_is_said_even_when_the_checks_pass_quietly(project):
    """What a person must know (their working tree was changed back) is never quiet."""
    staged_dir = project / ".git" / "devloop" / "staged"
    (project / "good.py").write_text("VALUE = 1\n")
    git(project, "add", "good.py")
    (project / "good.py").write_text("VALUE = 1  # unstaged\n")
    # The on-disk state of a check killed after its swap (see test_hook_recovery.py for a
    # real kill): backups and manifest written, the staged version in the working tree.
    from devloop.git import repository, staged

    repo = repository.find_repo(project)
    with pytest.raises(KeyboardInterrupt):
        with staged.staged_worktree(repo):
            manifest = (staged_dir / "manifest.json").read_bytes()
            backup = (staged_dir / "backup" / "good.py").read_bytes()
            raise KeyboardInterrupt
    staged_dir.mkdir(parents=True)
    (staged_dir / "backup").mkdir()
    (staged_dir / "backup" / "good.py").write_bytes(backup)
    (staged_dir / "manifest.json").write_bytes(manifest)
    (staged_dir / "pid").write_text("999999999")
    (project / "good.py").write_text("VALUE = 1\n")  # the staged bytes, as the swap left
    done = commit(project, "feat: add a good module", "-q")
    assert done.returncode == 0, done.stdout
    assert "restored unstaged changes an interrupted earlier check had set aside: good.py" in (
        done.stdout
    )
    assert (project / "good.py").read_text() == "VALUE = 1  # unstaged\n"


def test_a_lint_error_in_a_staged_file_blocks_the_commit(project):
    (project / "bad.py").write_text("import os\n\nVALUE = 1\n")
    git(project, "add", "bad.py")
    done = commit(project, "feat: add a bad module")
    assert done.returncode != 0
    assert "FAIL  lint" in done.stdout
    assert "bad.py:1:" in done.stdout and "F401" in done.stdout
    assert "to see or fix: ruff check bad.py" in done.stdout
    assert git(project, "rev-list", "--count", "HEAD").stdout.strip() == "2"


def test_a_format_failure_names_the_file_and_the_formatter(project):
    (project / "ugly.py").write_text("VALUE=1\n")
    git(project, "add", "ugly.py")
    done = commit(project, "feat: add an ugly module")
    assert done.returncode != 0
    assert "FAIL  format" in done.stdout
    assert "ugly.py" in done.stdout
    assert "to see or fix: ruff format ugly.py" in done.stdout


def test_a_fix_only_in_the_working_tree_still_blocks_and_survives(project):
    (project / "mod.py").write_text("import os\n\nVALUE = 1\n")
    git(project, "add", "mod.py")
    fixed = "VALUE = 1\n"
    (project / "mod.py").write_text(fixed)  # fixed, but not staged
    done = commit(project, "feat: add mod")
    assert done.returncode != 0
    assert "F401" in done.stdout
    assert (project / "mod.py").read_text() == fixed
    assert git(project, "show", ":mod.py").stdout == "import os\n\nVALUE = 1\n"


def test_a_staged_fix_with_an_unstaged_new_error_passes_and_survives(project):
    (project / "mod.py").write_text("VALUE = 1\n")
    git(project, "add", "mod.py")
    broken = "import sys\n\nVALUE = 1\n"
    (project / "mod.py").write_text(broken)  # a new error, not staged
    done = commit(project, "feat: add mod")
    assert done.returncode == 0, done.stdout + done.stderr
    assert (project / "mod.py").read_text() == broken
    assert git(project, "show", "HEAD:mod.py").stdout == "VALUE = 1\n"
    assert git(project, "status", "--porcelain").stdout == " M mod.py\n"


def test_commit_all_and_commit_with_paths_check_what_is_committed(project):
    (project / "a.py").write_text("VALUE = 1\n")
    (project / "b.py").write_text("import os\n")
    git(project, "add", "a.py", "b.py")
    git(project, "commit", "-q", "--no-verify", "-m", "chore: seed")
    (project / "a.py").write_text("VALUE = 2\n")
    (project / "b.py").write_text("import os\nimport sys\n")
    assert commit(project, "fix: only a", "--", "a.py").returncode == 0
    done = commit(project, "fix: everything", "-a")
    assert done.returncode != 0
    assert "b.py" in done.stdout


def test_the_commit_msg_hook_blocks_a_bad_message(project):
    (project / "good.py").write_text("VALUE = 1\n")
    git(project, "add", "good.py")
    done = commit(project, "Added a module")
    assert done.returncode != 0
    assert "[header-format]" in done.stdout
    assert git(project, "rev-list", "--count", "HEAD").stdout.strip() == "2"


def test_messages_git_generates_pass_the_commit_msg_hook(project):
    (project / "good.py").write_text("VALUE = 1\n")
    git(project, "add", "good.py")
    assert commit(project, "feat: add good").returncode == 0
    env = hook_env()
    revert = git(project, "revert", "--no-edit", "HEAD", env=env)
    assert revert.returncode == 0, revert.stdout + revert.stderr
    (project / "good.py").write_text("VALUE = 2\n")
    git(project, "add", "good.py")
    assert commit(project, "x", "--fixup", "HEAD").returncode == 0
    git(project, "checkout", "-q", "-b", "side", "HEAD~1")
    (project / "side.py").write_text("SIDE = 1\n")
    git(project, "add", "side.py")
    assert commit(project, "feat: side").returncode == 0
    git(project, "checkout", "-q", "main")
    merge = git(project, "merge", "--no-ff", "--no-edit", "side", env=env)
    assert merge.returncode == 0, merge.stdout + merge.stderr


def test_a_stale_routing_doc_blocks_a_config_change(git_repo, run_devloop):
    project = setup_project(git_repo, run_devloop, '[commands]\nlint = "true"\n')
    routing = run_devloop(project, "routing", "--markdown").stdout
    (project / "ROUTING.md").write_text(routing)
    git(project, "add", "ROUTING.md")
    assert commit(project, "docs: routing").returncode == 0
    (project / "devloop.toml").write_text(
        '[commands]\nlint = "true"\n[routing.steps]\nreview = "frontier"\n'
    )
    git(project, "add", "devloop.toml")
    done = commit(project, "chore: review on the frontier model")
    assert done.returncode != 0
    assert "FAIL  routing doc" in done.stdout
    assert "devloop routing --markdown > ROUTING.md" in done.stdout
    (project / "ROUTING.md").write_text(run_devloop(project, "routing", "--markdown").stdout)
    git(project, "add", "ROUTING.md")
    assert commit(project, "chore: review on the frontier model").returncode == 0


# ------------------------------------------------------------ pre-commit framework

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def framework() -> str | None:
    path = Path(VENV_BIN) / "pre-commit"
    return str(path) if path.exists() else None


@pytest.mark.skipif(framework() is None, reason="the pre-commit framework is not installed")
def test_pre_commit_manifest_is_valid():
    proc = subprocess.run(
        [framework(), "validate-manifest", str(PROJECT_ROOT / ".pre-commit-hooks.yaml")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.skipif(framework() is None, reason="the pre-commit framework is not installed")
def test_manifest_hooks_run_under_the_framework(git_repo, run_devloop, tmp_path):
    """The manifest's entries and stages, run as local hooks (no network needed)."""
    import yaml

    manifest = yaml.safe_load((PROJECT_ROOT / ".pre-commit-hooks.yaml").read_text())
    local = [dict(h, language="system") for h in manifest]
    for hook in local:
        hook.pop("minimum_pre_commit_version", None)
    config = {"repos": [{"repo": "local", "hooks": local}]}
    (git_repo / ".pre-commit-config.yaml").write_text(yaml.safe_dump(config))
    (git_repo / "devloop.toml").write_text(RUFF_CONFIG)
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "--no-verify", "-m", "chore: configure")
    env = dict(hook_env(), PRE_COMMIT_HOME=str(tmp_path / "pre-commit-home"))
    installed = subprocess.run(
        [framework(), "install", "--hook-type", "pre-commit", "--hook-type", "commit-msg"],
        cwd=git_repo,
        env=env,
        capture_output=True,
        text=True,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr

    (git_repo / "bad.py").write_text("import os\n")
    git(git_repo, "add", "bad.py")
    blocked = git(git_repo, "commit", "-m", "feat: bad", env=env)
    assert blocked.returncode != 0
    assert "F401" in blocked.stdout + blocked.stderr

    (git_repo / "bad.py").write_text("VALUE = 1\n")
    git(git_repo, "add", "bad.py")
    bad_message = git(git_repo, "commit", "-m", "no type here", env=env)
    assert bad_message.returncode != 0
    assert "[header-format]" in bad_message.stdout + bad_message.stderr
    good = git(git_repo, "commit", "-m", "feat: good", env=env)
    assert good.returncode == 0, good.stdout + good.stderr


# ------------------------------------------------------------ click-free fast path


def test_fast_main_matches_the_cli(project, run_devloop, monkeypatch, capsys):
    monkeypatch.setenv("PATH", hook_env()["PATH"])
    monkeypatch.chdir(project)
    (project / "bad.py").write_text("import os\n")
    git(project, "add", "bad.py")
    cli = run_devloop(project, "check", "staged", env={"PATH": hook_env()["PATH"]})
    assert fast.fast_main(["check", "staged"]) == cli.returncode == 1
    out, err = capsys.readouterr()
    assert (out, err) == (cli.stdout, cli.stderr)

    (project / "MSG").write_text("feat: fine\n")
    assert fast.fast_main(["check", "commit-msg", "MSG"]) == 0
    assert "ok    commit message" in capsys.readouterr().out
    assert fast.fast_main(["check", "commit-msg", "MISSING"]) == 2
    assert "MISSING does not exist" in capsys.readouterr().err

    # --quiet: the same through both doors; silent when passing, whole when failing.
    for args in (["check", "staged", "--quiet"], ["check", "commit-msg", "-q", "MSG"]):
        cli = run_devloop(project, *args, env={"PATH": hook_env()["PATH"]})
        code = fast.fast_main(args)
        assert code == cli.returncode and capsys.readouterr() == (cli.stdout, cli.stderr)
    assert cli.returncode == 0 and cli.stdout == cli.stderr == ""
    git(project, "rm", "-q", "--cached", "bad.py")
    (project / "ok.py").write_text("VALUE = 1\n")
    git(project, "add", "ok.py")
    assert fast.fast_main(["check", "staged", "-q"]) == 0
    assert capsys.readouterr() == ("", "")


def test_fast_main_leaves_everything_else_to_the_cli(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for argv in (["check", "lint"], ["check", "staged", "-h"], ["hooks", "install"], []):
        assert fast.fast_main(argv) is None
    assert fast.fast_main(["check", "staged"]) == 2  # not a repository: a usage error
    assert "not inside a git repository" in capsys.readouterr().err


def test_a_hook_that_hangs_devloops_commit_is_stopped_with_everything_it_started(git_repo):
    """The feature commit runs the user's hooks under a timeout: the hook and any process it
    left behind are stopped as one group, and the commit reports it instead of hanging."""
    import time

    from devloop.git import repository
    from devloop.proc import pid_alive

    hook = git_repo / ".git" / "hooks" / "pre-commit"
    hook.write_text(f"#!/bin/sh\nsleep 60 &\necho $! > {git_repo / 'child.pid'}\nsleep 60\n")
    hook.chmod(0o755)
    (git_repo / "new.txt").write_text("x\n")
    started = time.monotonic()
    done = repository.commit(git_repo, "feat: x\n", paths=["new.txt"], timeout_s=1)
    assert time.monotonic() - started < 20
    assert not done.ok and "did not finish within 1 s" in done.output
    child = int((git_repo / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while pid_alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not pid_alive(child)
