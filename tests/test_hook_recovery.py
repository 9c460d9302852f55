"""A pre-commit hook killed outright (SIGKILL) mid-check leaves the unstaged work it set
aside under .git/devloop/staged/. The next check in that repository restores it; the
backups belong to the working tree they came from, wherever it is now:

- a copy made with `cp -a` restores its own copied backups into itself, and never
  touches the original (whose own backups stay for its own next commit);
- a repository moved with `mv` gets its work back in place.

Every commit here is a real `git commit` through devloop's installed hooks, and the kill
is a real SIGKILL of the hook process while its quick test runs."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

VENV_BIN = str(Path(sys.executable).parent)
UNSTAGED = {"mod.py": "VALUE = 1  # unstaged fix\n", "other.py": "OTHER = 2  # unstaged\n"}
STAGED_MOD = "VALUE = 0  # staged\n"


def env() -> dict[str, str]:
    return dict(os.environ, PATH=VENV_BIN + os.pathsep + os.environ.get("PATH", ""))


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, env=env())
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def commit(repo: Path, message: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", "commit", "-q", "-m", message],
        cwd=repo,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=120,
    )


def hook_processes(repo: Path) -> list[int]:
    """Host pids of `devloop check staged` processes working in `repo`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            cwd = Path(os.readlink(entry / "cwd"))
        except OSError:
            continue
        if b"check\0staged" in cmdline and cwd == repo.resolve():
            found.append(int(entry.name))
    return found


def kill_a_commit_mid_check(repo: Path, started: Path) -> None:
    """Start `git commit`, wait until the hook's quick test runs (the working tree then
    holds the staged versions), and SIGKILL the hook and the quick test."""
    proc = subprocess.Popen(
        ["git", "commit", "-q", "-m", "feat: never made"],
        cwd=repo,
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert proc.poll() is None, "the commit ended before its quick test started"
            assert time.monotonic() < deadline, "the quick test never started"
            time.sleep(0.02)
        hooks = hook_processes(repo)
        assert hooks, "no hook process found"
        for pid in hooks:
            os.kill(pid, signal.SIGKILL)
        os.kill(int(started.read_text()), signal.SIGKILL)
        assert proc.wait(timeout=30) != 0  # the hook died: no commit
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    started.unlink()


@pytest.fixture
def killed(git_repo, tmp_path, run_devloop) -> Path:
    """A repository whose pre-commit hook was killed mid-check: mod.py and other.py hold
    their staged versions, their unstaged versions are only in .git/devloop/staged/."""
    (git_repo / "mod.py").write_text("VALUE = 0\n")
    (git_repo / "other.py").write_text("OTHER = 1\n")
    started = arm_a_slow_hook(git_repo, tmp_path, run_devloop, UNSTAGED)
    kill_a_commit_mid_check(git_repo, started)
    assert (git_repo / "mod.py").read_text() == STAGED_MOD  # still swapped
    assert (git_repo / "other.py").read_text() == "OTHER = 1\n"
    assert (git_repo / ".git" / "devloop" / "staged" / "manifest.json").is_file()
    return git_repo


def arm_a_slow_hook(repo: Path, tmp_path: Path, run_devloop, unstaged: dict[str, str]) -> Path:
    """devloop's hooks installed in `repo` with a quick test that blocks (slow_quick_test),
    mod.py staged as STAGED_MOD and `unstaged` written over the working tree: the next
    commit's check swaps them aside and waits. Returns the file the check writes on start."""
    command = slow_quick_test(tmp_path)
    (repo / "devloop.toml").write_text(f'[commands]\nlint = "true"\nquick_test = "{command}"\n')
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "--no-verify", "-m", "chore: seed")
    assert run_devloop(repo, "hooks", "install").returncode == 0
    (repo / "mod.py").write_text(STAGED_MOD)
    git(repo, "add", "mod.py")
    for name, text in unstaged.items():
        (repo / name).write_text(text)
    return tmp_path / "started"


def slow_quick_test(tmp_path: Path) -> str:
    """A quick test that, while tmp_path/slow exists, says it started and sleeps."""
    started, gate = tmp_path / "started", tmp_path / "slow"
    gate.touch()
    return (
        f"if [ -f {gate} ]; then echo $$ > {started}.tmp && mv {started}.tmp {started}"
        " && exec sleep 60; fi"
    )


def fast_checks(tmp_path: Path) -> None:
    """From now on the quick test finishes at once."""
    (tmp_path / "slow").unlink(missing_ok=True)


def snapshot(repo: Path) -> dict[str, bytes]:
    """Every file of the working tree and of devloop's state in the git dir."""
    out = {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo).as_posix()
        if path.is_file() and (not rel.startswith(".git/") or rel.startswith(".git/devloop/")):
            out[rel] = path.read_bytes()
    return out


def test_a_copy_restores_its_own_work_and_never_touches_the_original(killed, tmp_path):
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(killed), str(copy)], check=True)
    original = snapshot(killed)

    fast_checks(tmp_path)
    done = commit(copy, "feat: committed in the copy")
    assert done.returncode == 0, done.stdout
    assert "restored unstaged changes an interrupted earlier check had set aside" in done.stdout
    for name, text in UNSTAGED.items():  # the copy's set-aside work, back in the copy
        assert (copy / name).read_text() == text
    assert git(copy, "show", "HEAD:mod.py") == STAGED_MOD
    assert not (copy / ".git" / "devloop" / "staged").exists()

    assert snapshot(killed) == original  # not one byte of the original changed
    assert (killed / ".git" / "devloop" / "staged" / "manifest.json").is_file()

    fast_checks(tmp_path)  # and the original's own next commit restores the original
    done = commit(killed, "feat: committed in the original")
    assert done.returncode == 0, done.stdout
    for name, text in UNSTAGED.items():
        assert (killed / name).read_text() == text
    assert git(killed, "show", "HEAD:mod.py") == STAGED_MOD


def test_a_moved_repository_gets_its_work_back_in_place(killed, tmp_path):
    moved = tmp_path / "moved"
    os.rename(killed, moved)
    fast_checks(tmp_path)
    done = commit(moved, "feat: committed after a move")
    assert done.returncode == 0, done.stdout
    assert "restored unstaged changes" in done.stdout
    for name, text in UNSTAGED.items():
        assert (moved / name).read_text() == text
    assert not killed.exists()  # nothing was written at the old path
    assert git(moved, "status", "--porcelain") == " M mod.py\n M other.py\n"


def test_a_copy_made_while_the_hook_still_ran_restores_itself(git_repo, tmp_path, run_devloop):
    """The original's hook is alive (its pid in the lock): that stops a second check of
    the original, not the copy's recovery of its own copied backups."""
    unstaged = {"README.md": "# unstaged readme\n"}
    started = arm_a_slow_hook(git_repo, tmp_path, run_devloop, unstaged)
    proc = subprocess.Popen(
        ["git", "commit", "-q", "-m", "feat: slow"],
        cwd=git_repo,
        env=env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not started.exists():
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.02)
        copy = tmp_path / "copy"
        shutil.copytree(git_repo, copy, symlinks=True)
        assert (copy / "README.md").read_text() == "# sample\n"  # copied mid-swap
        fast_checks(tmp_path)
        done = commit(copy, "feat: in the copy")
        assert done.returncode == 0, done.stdout
        assert (copy / "README.md").read_text() == "# unstaged readme\n"
        # The original's check was left alone: still running, still swapped.
        assert proc.poll() is None
        assert (git_repo / "README.md").read_text() == "# sample\n"
    finally:
        os.kill(int(started.read_text()), signal.SIGKILL)  # its quick test: the check fails
        proc.communicate(timeout=60)
    assert (git_repo / "README.md").read_text() == "# unstaged readme\n"  # put back by itself


def test_a_shared_git_dir_never_restores_into_another_tree(git_repo, tmp_path, run_devloop):
    """A linked worktree directory copied with `cp -a` shares its git dir with the
    original: the copy refuses, naming the tree the backups belong to, and changes
    nothing in either."""
    main = git_repo
    linked = tmp_path / "linked"
    git(main, "worktree", "add", "-q", "-b", "side", str(linked))
    started = arm_a_slow_hook(linked, tmp_path, run_devloop, {"README.md": "# unstaged readme\n"})
    kill_a_commit_mid_check(linked, started)
    copy = tmp_path / "linked-copy"
    subprocess.run(["cp", "-a", str(linked), str(copy)], check=True)
    before, before_copy = snapshot(linked), snapshot(copy)
    state = Path(git(linked, "rev-parse", "--absolute-git-dir").strip()) / "devloop" / "staged"
    held = sorted(p.relative_to(state) for p in state.rglob("*"))

    fast_checks(tmp_path)
    done = commit(copy, "feat: in the copy")
    assert done.returncode != 0, done.stdout
    assert f"set aside in {linked}" in done.stdout and "nothing here was touched" in done.stdout
    assert snapshot(linked) == before
    assert sorted(p.relative_to(state) for p in state.rglob("*")) == held
    assert (copy / "README.md").read_text() == before_copy["README.md"].decode()

    fast_checks(tmp_path)  # the tree they belong to restores them
    assert commit(linked, "feat: in the linked worktree").returncode == 0
    assert (linked / "README.md").read_text() == "# unstaged readme\n"
