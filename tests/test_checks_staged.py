"""`devloop check staged`: it checks exactly what is staged, and whatever happens (pass,
fail, crash, Ctrl-C, SIGTERM, even SIGKILL then a rerun) the working tree and the index
end byte for byte as they were, with no unstaged work lost."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from devloop import checks
from devloop.checks import staged
from devloop.git import repository

RUFF_CONFIG = """\
[commands]
lint = "ruff check ."
format = "ruff format --check ."
format_fix = "ruff format ."
"""


def git(repo: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def state(repo: Path) -> dict[str, object]:
    """Every byte and mode of the working tree, plus the index file's hash."""
    files: dict[str, object] = {}
    for path in sorted(repo.rglob("*")):
        rel = path.relative_to(repo).as_posix()
        if rel == ".git" or rel.startswith(".git/") or ".ruff_cache" in rel:
            continue
        if path.is_symlink():
            files[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            files[rel] = "dir"
        else:
            files[rel] = (path.read_bytes(), path.stat().st_mode)
    index = hashlib.sha256((repo / ".git" / "index").read_bytes()).hexdigest()
    return {"files": files, "index": index}


def configure(repo: Path, config: str = RUFF_CONFIG) -> Path:
    (repo / "devloop.toml").write_text(config)
    git(repo, "add", "devloop.toml")
    git(repo, "commit", "-q", "--no-verify", "-m", "chore: configure")
    return repo


def env_with_venv() -> dict[str, str]:
    return dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"])


@pytest.fixture(autouse=True)
def _ruff_on_path(monkeypatch):
    monkeypatch.setenv("PATH", env_with_venv()["PATH"])


@pytest.fixture
def partial(git_repo) -> Path:
    """A repo where mod.py's staged version has a lint error its unstaged version fixes,
    plus unstaged edits in other tracked files of several kinds."""
    configure(git_repo)
    (git_repo / "other.py").write_text("OTHER = 1\n")
    (git_repo / "gone.py").write_text("GONE = 1\n")
    (git_repo / "script.sh").write_text("echo hi\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "--no-verify", "-m", "chore: seed")
    (git_repo / "mod.py").write_text("import os\n\nVALUE = 1\n")
    git(git_repo, "add", "mod.py")
    (git_repo / "mod.py").write_text("VALUE = 1\n")  # the fix, unstaged
    (git_repo / "other.py").write_text("OTHER = 2  # unstaged\n")
    (git_repo / "gone.py").unlink()  # an unstaged deletion
    (git_repo / "script.sh").chmod(0o755)  # an unstaged mode change
    (git_repo / "untracked.txt").write_text("never touched\n")
    return git_repo


def test_the_check_sees_the_staged_content_and_restores_everything(partial):
    before = state(partial)
    run = checks.check_staged(partial)
    assert not run.passed
    lint = next(r for r in run.results if r.name == "lint")
    assert lint.details[0].file == "mod.py" and lint.details[0].line == 1
    assert "F401" in lint.details[0].message
    assert state(partial) == before
    assert not (partial / ".git" / "devloop" / "staged").exists()
    assert any("set aside" in note for note in run.notes)


def test_staged_fix_with_unstaged_error_passes(git_repo):
    configure(git_repo)
    (git_repo / "mod.py").write_text("VALUE = 1\n")
    git(git_repo, "add", "mod.py")
    (git_repo / "mod.py").write_text("import os\n\nVALUE = 1\n")
    before = state(git_repo)
    run = checks.check_staged(git_repo)
    assert run.passed, run.results
    assert state(git_repo) == before


def test_quick_tests_see_the_staged_tree(git_repo, tmp_path):
    """Unstaged edits in files that are not even staged are hidden from the checks."""
    seen = tmp_path / "seen.txt"
    configure(git_repo, f'[commands]\nquick_test = "cat README.md > {seen}"\n')
    (git_repo / "new.txt").write_text("new\n")
    git(git_repo, "add", "new.txt")
    (git_repo / "README.md").write_text("unstaged edit\n")
    before = state(git_repo)
    assert checks.check_staged(git_repo).passed
    assert seen.read_text() == "# sample\n"
    assert state(git_repo) == before


def test_a_crash_in_a_check_restores_everything(partial, monkeypatch):
    before = state(partial)

    def boom(cfg, files=None):
        assert (partial / "mod.py").read_text().startswith("import os")  # swapped in
        raise RuntimeError("lint crashed")

    monkeypatch.setattr(staged, "run_lint", boom)
    with pytest.raises(RuntimeError, match="lint crashed"):
        checks.check_staged(partial)
    assert state(partial) == before


def test_keyboard_interrupt_in_a_check_restores_everything(partial, monkeypatch):
    before = state(partial)

    def interrupted(cfg, files=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(staged, "run_format", interrupted)
    with pytest.raises(KeyboardInterrupt):
        checks.check_staged(partial)
    assert state(partial) == before


def slow_check(repo: Path, started: Path) -> None:
    """Config whose quick test signals it has started, then sleeps."""
    command = f"echo $$ > {started}.tmp && mv {started}.tmp {started} && exec sleep 60"
    (repo / "devloop.toml").write_text(f'[commands]\nlint = "true"\nquick_test = "{command}"\n')
    git(repo, "commit", "-q", "--no-verify", "-m", "chore: slow", "--", "devloop.toml")


def start_check(repo: Path, started: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "devloop", "check", "staged"],
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env_with_venv(),
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    deadline = time.monotonic() + 60
    while not started.exists():
        assert proc.poll() is None, proc.communicate()[0]
        assert time.monotonic() < deadline, "the quick test never started"
        time.sleep(0.02)
    return proc


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def gone_soon(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not alive(pid)


@pytest.mark.parametrize(
    ("sig", "to_group"),
    [(signal.SIGINT, True), (signal.SIGTERM, False), (signal.SIGHUP, False)],
    ids=["ctrl-c", "sigterm", "sighup"],
)
def test_a_signal_mid_check_restores_everything(partial, tmp_path, sig, to_group):
    started = tmp_path / "started"
    slow_check(partial, started)
    before = state(partial)
    proc = start_check(partial, started)
    assert (partial / "mod.py").read_text() == "import os\n\nVALUE = 1\n"  # staged, meanwhile
    assert (partial / "gone.py").read_text() == "GONE = 1\n"
    if to_group:
        os.killpg(proc.pid, sig)  # Ctrl-C reaches the whole foreground group
    else:
        os.kill(proc.pid, sig)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130, out
    assert "interrupted" in out or "stopped by signal" in out
    assert state(partial) == before
    assert gone_soon(int(started.read_text())), "the quick test kept running"


def test_sigkill_leaves_backups_that_the_next_run_restores(partial, tmp_path):
    started = tmp_path / "started"
    slow_check(partial, started)
    before = state(partial)
    proc = start_check(partial, started)
    os.killpg(proc.pid, signal.SIGKILL)  # nothing can run after this one
    proc.wait()
    os.kill(int(started.read_text()), signal.SIGKILL)  # its orphaned quick test
    assert (partial / "mod.py").read_text() == "import os\n\nVALUE = 1\n"  # still swapped
    assert (partial / ".git" / "devloop" / "staged" / "manifest.json").is_file()

    (partial / "devloop.toml").write_text('[commands]\nlint = "true"\n')  # a fast rerun
    git(partial, "add", "devloop.toml")
    before["files"]["devloop.toml"] = (
        (partial / "devloop.toml").read_bytes(),
        (partial / "devloop.toml").stat().st_mode,
    )
    before["index"] = state(partial)["index"]
    run = checks.check_staged(partial)
    assert any("interrupted earlier check" in note for note in run.notes), run.notes
    assert state(partial) == before
    assert not (partial / ".git" / "devloop" / "staged").exists()


def test_an_edit_made_during_the_check_is_kept_not_overwritten(partial):
    """A file edited while the check ran keeps that edit; the older unstaged version is
    saved under .git/devloop/recovered/ instead of being lost."""
    (partial / "devloop.toml").write_text(
        '[commands]\nquick_test = "echo edited-meanwhile > other.py"\n'
    )
    git(partial, "add", "devloop.toml")
    run = checks.check_staged(partial)
    assert (partial / "other.py").read_text() == "edited-meanwhile\n"
    [saved] = (partial / ".git" / "devloop" / "recovered").glob("*/other.py")
    assert saved.read_text() == "OTHER = 2  # unstaged\n"
    assert any("edited while the check ran" in note for note in run.notes)
    assert (partial / "mod.py").read_text() == "VALUE = 1\n"  # the others came back


def test_another_running_check_is_not_disturbed(partial, tmp_path):
    started = tmp_path / "started"
    slow_check(partial, started)
    proc = start_check(partial, started)
    try:
        with pytest.raises(Exception, match="another `devloop check staged` is running"):
            checks.check_staged(partial)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        proc.communicate(timeout=60)
    assert (partial / "mod.py").read_text() == "VALUE = 1\n"


def test_intent_to_add_files_are_neither_checked_nor_touched(git_repo):
    configure(git_repo)
    (git_repo / "later.py").write_text("import os\n")
    git(git_repo, "add", "-N", "later.py")
    (git_repo / "ok.py").write_text("VALUE = 1\n")
    git(git_repo, "add", "ok.py")
    before = state(git_repo)
    run = checks.check_staged(git_repo)
    assert run.passed, run.results
    assert run.files == ["ok.py"]
    assert state(git_repo) == before


def test_a_deleted_directory_is_recreated_then_removed_again(git_repo):
    configure(git_repo, '[commands]\nquick_test = "test -f pkg/deep/mod.py"\n')
    (git_repo / "pkg" / "deep").mkdir(parents=True)
    (git_repo / "pkg" / "deep" / "mod.py").write_text("VALUE = 1\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-q", "--no-verify", "-m", "chore: pkg")
    (git_repo / "new.py").write_text("NEW = 1\n")
    git(git_repo, "add", "new.py")
    (git_repo / "pkg" / "deep" / "mod.py").unlink()
    (git_repo / "pkg" / "deep").rmdir()
    (git_repo / "pkg").rmdir()
    before = state(git_repo)
    assert checks.check_staged(git_repo).passed  # the staged tree still has pkg/deep/mod.py
    assert state(git_repo) == before


def test_symlinks_with_unstaged_changes_are_restored(git_repo):
    configure(git_repo, '[commands]\nquick_test = "test \\"$(readlink link)\\" = README.md"\n')
    os.symlink("README.md", git_repo / "link")
    git(git_repo, "add", "link")
    git(git_repo, "commit", "-q", "--no-verify", "-m", "chore: link")
    (git_repo / "link").unlink()
    os.symlink("elsewhere", git_repo / "link")
    (git_repo / "x.txt").write_text("x\n")
    git(git_repo, "add", "x.txt")
    before = state(git_repo)
    assert checks.check_staged(git_repo).passed
    assert state(git_repo) == before


def test_the_first_commit_of_a_repository(tmp_path):
    repo = tmp_path / "fresh"
    repo.mkdir()
    git(repo, "init", "-q")
    (repo / "devloop.toml").write_text(RUFF_CONFIG)
    (repo / "bad.py").write_text("import os\n")
    git(repo, "add", "bad.py")
    run = checks.check_staged(repo)
    assert run.files == ["bad.py"]
    assert not run.passed


def test_odd_file_names_are_checked_and_named(git_repo):
    configure(git_repo)
    (git_repo / "sub dir").mkdir()
    (git_repo / "sub dir" / "ünï côde.py").write_text("import os\n")
    git(git_repo, "add", "-A")
    run = checks.check_staged(git_repo)
    lint = next(r for r in run.results if r.name == "lint")
    assert lint.details[0].file == "sub dir/ünï côde.py"
    assert lint.fix == "ruff check 'sub dir/ünï côde.py'"


def test_nothing_staged_passes_with_a_note(git_repo):
    configure(git_repo)
    run = checks.check_staged(git_repo)
    assert run.passed and run.results == []
    assert "nothing is staged" in run.notes[0]


def test_no_commands_configured_passes_without_touching_anything(git_repo):
    configure(git_repo, "[git]\nheader_max_length = 72\n")
    (git_repo / "bad.py").write_text("import os\n")
    git(git_repo, "add", "bad.py")
    run = checks.check_staged(git_repo)
    assert run.passed and run.results == []
    assert "nothing to check" in run.notes[0]


def test_files_of_other_kinds_are_not_linted(git_repo):
    configure(git_repo)
    (git_repo / "notes.md").write_text("import os\n")
    git(git_repo, "add", "notes.md")
    run = checks.check_staged(git_repo)
    assert run.passed
    lint = next(r for r in run.results if r.name == "lint")
    assert lint.skipped and ".py" in lint.summary


def test_configured_suffixes_choose_the_files(git_repo, tmp_path):
    listed = tmp_path / "listed.txt"
    configure(
        git_repo,
        f'[commands]\nlint = "ls {{files}} > {listed}"\nfile_suffixes = [".md", "txt"]\n',
    )
    for name in ("a.md", "b.txt", "c.py"):
        (git_repo / name).write_text("x\n")
    git(git_repo, "add", "-A")
    assert checks.check_staged(git_repo).passed
    assert listed.read_text().split() == ["a.md", "b.txt"]


def test_a_config_in_a_subdirectory_checks_files_under_it(git_repo, run_devloop):
    sub = git_repo / "service"
    sub.mkdir()
    (sub / "devloop.toml").write_text(RUFF_CONFIG)
    (sub / "bad.py").write_text("import os\n")
    (git_repo / "outside.py").write_text("import sys\n")
    git(git_repo, "add", "-A")
    proc = run_devloop(sub, "check", "staged", env={"PATH": env_with_venv()["PATH"]})
    assert proc.returncode == 1
    assert "bad.py:1:" in proc.stdout
    assert "outside.py" not in proc.stdout


def test_an_unstaged_config_edit_does_not_change_what_is_checked(git_repo):
    configure(git_repo)
    (git_repo / "bad.py").write_text("import os\n")
    git(git_repo, "add", "bad.py")
    (git_repo / "devloop.toml").write_text('[commands]\nlint = "true"\n')  # unstaged
    assert not checks.check_staged(git_repo).passed
    (git_repo / "devloop.toml").write_text("[commands\nbroken = ")  # unstaged and invalid
    run = checks.check_staged(git_repo)
    assert not run.passed
    assert (git_repo / "devloop.toml").read_text() == "[commands\nbroken = "


def test_the_hook_path_imports_neither_anthropic_rich_gitpython_nor_tree_sitter(git_repo):
    configure(git_repo, '[commands]\nlint = "true"\n')
    (git_repo / "ok.py").write_text("VALUE = 1\n")
    git(git_repo, "add", "ok.py")
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "devloop", "check", "staged"],
        cwd=git_repo,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    modules = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    heavy = {m for m in modules if m.split(".")[0] in ("anthropic", "rich", "git", "httpx")}
    heavy |= {m for m in modules if m.startswith(("tree_sitter", "devloop.codemap"))}
    assert heavy == set()


def test_gitops_reads_state_with_plumbing_that_never_writes_the_index(partial):
    before = state(partial)
    snap = repository.snapshot(partial)
    assert {e.path for e in snap.staged} == {"mod.py"}
    assert {e.path: e.status for e in snap.unstaged} == {
        "mod.py": "M",
        "other.py": "M",
        "gone.py": "D",
        "script.sh": "M",
    }
    assert state(partial) == before
