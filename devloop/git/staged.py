"""The working tree showing exactly what is staged, for the length of a check.

`staged_worktree()` backs up every unstaged change (bytes, mode, symlinks) under
.git/devloop/staged/ and fsyncs it before touching anything, puts the staged versions in
place (`git checkout-index --prefix`, the index only read), and on leaving, whatever the
cause, puts every byte back with signals ignored. A run killed outright leaves its backups;
the next staged check restores them first (`recover`). A file edited during the check keeps
the edit; its unstaged version is saved under .git/devloop/recovered/.

Backups belong to the working tree they were taken from, wherever it is now: the manifest
names the tree by its directory's identity (device and inode) as well as its path, and a
recovery restores into the repository it runs in, never into the path on record. So a
repository moved with `mv` gets its work back in place, and a copy made with `cp -a`
restores its own copied backups into itself and never touches the original."""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from devloop import interrupts
from devloop.errors import Interrupted, UsageError
from devloop.git.repository import Entry, Repo, file_digest, git, unstaged_entries
from devloop.proc import pid_alive

STATE_DIR = "devloop/staged"  # under the git dir, while a staged check runs
RECOVERED_DIR = "devloop/recovered"  # unstaged work we would not overwrite


def _place(src: Path, dst: Path) -> None:
    """Make `dst` a byte- and mode-exact copy of `src` (a file or a symlink).

    Regular files are rewritten in place so their inode, hard links and ownership stay;
    copy2 also carries the mode and mtime over, so restored files look untouched.
    """
    import shutil

    if dst.is_symlink() or src.is_symlink():
        if dst.is_symlink() or dst.exists():
            dst.unlink()
        shutil.copy2(src, dst, follow_symlinks=False)
        return
    shutil.copy2(src, dst)


def _fsync_files(paths: Sequence[Path]) -> None:
    for path in paths:
        if path.is_symlink() or not path.is_file():
            continue
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@dataclass
class RestoreReport:
    restored: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # edited during the check: left as they are
    saved_to: Path | None = None  # where the unstaged versions of `kept` were saved


@dataclass
class StagedView:
    """What `staged_worktree` did, for the caller to report."""

    swapped: list[str] = field(default_factory=list)  # unstaged changes set aside meanwhile
    recovered: RestoreReport | None = None  # left behind by a killed run, restored first
    restore: RestoreReport = field(default_factory=RestoreReport)


@contextmanager
def staged_worktree(repo: Repo, unstaged: list[Entry] | None = None) -> Iterator[StagedView]:
    """While inside, every tracked file in the working tree holds its staged version.

    Files with unstaged changes are backed up (bytes, mode, symlinks) under
    .git/devloop/staged/ and fsynced before any of them is touched; their staged versions
    come from `git checkout-index --prefix` (same filters as a checkout, and the index is
    only read). On leaving, whatever the cause (pass, fail, exception, Ctrl-C, SIGTERM,
    SIGHUP), the originals are put back with signals ignored. If the process is killed
    outright, the backups stay on disk and the next staged check restores them first.
    Untracked files and intent-to-add files are left alone. `unstaged` saves a git call
    when the caller already has `unstaged_entries()`.
    """
    view = StagedView()
    state = repo.git_dir / STATE_DIR
    with interrupts.raising(_stopped):
        view.recovered = recover(repo)
        if view.recovered is not None:
            unstaged = None  # the recovery changed the working tree: ask git again
        if unstaged is None:
            unstaged = unstaged_entries(repo.toplevel)
        entries = [e for e in unstaged if e.status != "A"]
        if not entries:
            yield view
            return
        _lock(state)
        try:
            _swap_in(repo, state, entries, view)
            yield view
        finally:
            view.restore = _restore_no_matter_what(state, repo.toplevel, repo.git_dir)


def _stopped(signum: int) -> Interrupted:
    return Interrupted(f"stopped by signal {interrupts.name(signum)}.")


def _restore_no_matter_what(state: Path, toplevel: Path, git_dir: Path) -> RestoreReport:
    while True:  # a signal landing before SIG_IGN takes hold must not skip the restore
        try:
            with interrupts.ignored():
                return _restore(state, toplevel, git_dir)
        except (KeyboardInterrupt, Interrupted):
            continue


def _lock(state: Path) -> None:
    state.parent.mkdir(parents=True, exist_ok=True)
    try:
        state.mkdir()  # atomic: the lock
    except FileExistsError:
        raise UsageError(
            f"another `devloop check staged` started here at the same time ({state} "
            "exists). Wait for it to finish and retry."
        ) from None
    (state / "pid").write_text(str(os.getpid()), encoding="utf-8")


def recover(repo: Repo) -> RestoreReport | None:
    """Restore what a staged check that was killed outright left set aside, if anything,
    into this repository's working tree (see the module docstring)."""
    state = repo.git_dir / STATE_DIR
    if not (state.exists() or state.is_symlink()):
        return None
    manifest = _read_manifest(state)
    same_tree = manifest is None or _tree_of(manifest) in (None, _tree_id(repo.toplevel))
    if not same_tree and not _inside(repo.git_dir, repo.toplevel):
        _refuse_if_elsewhere(manifest, repo, state)
    try:
        pid = int((state / "pid").read_text(encoding="utf-8").strip())
    except (OSError, ValueError):
        pid = 0
    # A live pid matters only for the tree it is checking: a copy of a repository taken
    # while its check ran holds backups no process will restore but its own next check.
    if same_tree and pid and pid != os.getpid() and pid_alive(pid):
        raise UsageError(
            f"another `devloop check staged` is running here (pid {pid}). Wait for it; "
            f"if no such process is running, delete {state} and retry."
        )
    return _restore_no_matter_what(state, repo.toplevel, repo.git_dir)


def _tree_id(toplevel: Path) -> list[int] | None:
    """The working tree's identity: its directory's device and inode (kept by `mv` on one
    file system, new for a copy)."""
    try:
        info = os.stat(toplevel)
    except OSError:
        return None
    return [info.st_dev, info.st_ino]


def _tree_of(manifest: dict) -> list[int] | None:
    tree = manifest.get("tree")
    return tree if isinstance(tree, list) else None


def _inside(git_dir: Path, toplevel: Path) -> bool:
    """Whether the git dir lives in the working tree (a plain repository's .git), so that
    backups under it moved or were copied together with the tree."""
    return git_dir == toplevel / ".git" or toplevel in git_dir.parents


def _read_manifest(state: Path) -> dict | None:
    import json

    try:
        data = json.loads((state / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _refuse_if_elsewhere(manifest: dict, repo: Repo, state: Path) -> None:
    """Backups in a git dir shared with another working tree (a copied linked worktree)
    that belong to that tree, still in its place: theirs to restore, not ours."""
    recorded = Path(str(manifest.get("toplevel", "")))
    if not recorded.is_absolute() or recorded == repo.toplevel:
        return
    if _tree_id(recorded) != _tree_of(manifest):
        return  # that tree is gone (or moved): these backups are this one's to restore
    raise UsageError(
        f"{state} holds unstaged changes a killed `devloop check staged` set aside in "
        f"{recorded}, which shares this git directory. Run `devloop check staged` in "
        f"{recorded} to put them back there first; nothing here was touched."
    )


def _restore(state: Path, toplevel: Path, git_dir: Path) -> RestoreReport:
    """Put the working tree at `toplevel` back from the backups in `state`, then delete
    `state`. The paths in the manifest are relative: the tree may have moved since.

    For each swapped path: if it already holds its original bytes, nothing to do; if it
    still holds the staged bytes devloop put there, the original comes back; if it holds
    anything else, someone edited it during the check: that edit stays, and the original
    unstaged version is saved under .git/devloop/recovered/ rather than overwritten.
    """
    import shutil
    import time

    report = RestoreReport()
    manifest = _read_manifest(state)
    if manifest is None:
        # The run stopped before its manifest was on disk, so before it touched the tree.
        shutil.rmtree(state, ignore_errors=True)
        return report
    for item in manifest["entries"]:
        rel = item["path"]
        target, backup = toplevel / rel, state / "backup" / rel
        current = file_digest(target)
        if current == item["original"]:
            continue
        if current == item["staged"]:
            if item["original"] is None:
                target.unlink()
            else:
                _place(backup, target)
            report.restored.append(rel)
            continue
        if item["original"] is not None:
            if report.saved_to is None:
                report.saved_to = git_dir / RECOVERED_DIR / time.strftime("%Y%m%d-%H%M%S")
            (report.saved_to / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(backup, report.saved_to / rel, follow_symlinks=False)
        report.kept.append(rel)
    for created in sorted(manifest.get("created_dirs", []), key=len, reverse=True):
        try:
            (toplevel / created).rmdir()  # only when empty again
        except OSError:
            pass
    shutil.rmtree(state, ignore_errors=True)
    return report


def _swap_in(repo: Repo, state: Path, entries: list[Entry], view: StagedView) -> None:
    import json
    import shutil

    backup_root, staged_root = state / "backup", state / "staged"
    paths = [e.path for e in entries]
    # 1. The staged versions, written outside the working tree.
    git(
        ["checkout-index", "-z", "--stdin", f"--prefix={staged_root}/"],
        repo.toplevel,
        input="\0".join(paths).encode("utf-8", "surrogateescape"),
    )
    # 2. Backups of the working-tree versions, and the manifest: on disk before step 3.
    items, created_dirs, written = [], [], []
    for rel in paths:
        target, staged = repo.toplevel / rel, staged_root / rel
        if not (staged.exists() or staged.is_symlink()):
            continue
        if target.is_dir() and not target.is_symlink():
            continue  # a directory stands where the file was: leave it
        original = file_digest(target)
        if original is not None:
            backup = backup_root / rel
            backup.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target, backup, follow_symlinks=False)
            written.append(backup)
        else:
            parent = target.parent
            while not parent.exists() and parent != repo.toplevel:
                created_dirs.append(parent.relative_to(repo.toplevel).as_posix())
                parent = parent.parent
        items.append({"path": rel, "original": original, "staged": file_digest(staged)})
    manifest = {
        "toplevel": str(repo.toplevel),  # where it was (for messages); restores go by `tree`
        "tree": _tree_id(repo.toplevel),
        "entries": items,
        "created_dirs": created_dirs,
    }
    manifest_tmp = state / "manifest.json.tmp"
    manifest_tmp.write_text(json.dumps(manifest), encoding="utf-8")
    _fsync_files([*written, manifest_tmp])
    os.replace(manifest_tmp, state / "manifest.json")
    # 3. Only now touch the working tree.
    for item in items:
        target = repo.toplevel / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        _place(staged_root / item["path"], target)
        view.swapped.append(item["path"])
