"""Install and remove devloop's git hooks (the shell shims in the top-level hooks/ folder).

A hook devloop did not write is never overwritten silently: `install` refuses and names
it; `install(force=True)` renames it to `<hook>.devloop-backup`, which devloop's shim runs
first (chaining); `uninstall` removes devloop's shim and puts the backup back. devloop's
shims are recognised by the MARKER line they carry.

The shims run `devloop check staged` and `devloop check commit-msg FILE`; the reports
those print are built here (`staged_report`, `commit_msg_report`), so the click CLI and
`fast_main` (the same two commands without importing click) print the same text.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from devloop.errors import UsageError, cannot_write
from devloop.git import repository
from devloop.resources import bundled_dir
from devloop.state import check_writable

HOOK_NAMES = ("pre-commit", "commit-msg")


MARKER = "devloop-managed-hook"


BACKUP_SUFFIX = ".devloop-backup"


def shim(name: str) -> Path:
    """The shipped shim for hook `name`."""
    return bundled_dir("hooks") / name


def is_devloop_hook(path: Path) -> bool:
    try:
        with open(path, "rb") as handle:
            return MARKER.encode() in handle.read(4096)
    except OSError:
        return False


def _exists(path: Path) -> bool:
    return path.exists() or path.is_symlink()  # a dangling symlink is still someone's hook


def _backup(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def hooks_dir(start: Path) -> Path:
    """Where git runs hooks from for the repository at `start` (honours core.hooksPath)."""
    return repository.find_repo(start).hooks_dir


def check_installable(start: Path, *, force: bool = False) -> Path:
    """Raise a UsageError (or a StorageError: the hooks directory cannot be written, say a
    core.hooksPath pointing somewhere impossible), before anything is written, if `install`
    would refuse."""
    directory = hooks_dir(start)
    configured = repository.config_value(start, "core.hooksPath")
    check_writable(
        directory, f"the hooks directory{' set by core.hooksPath' if configured else ''}"
    )
    for name in HOOK_NAMES:
        target = directory / name
        if not _exists(target) or is_devloop_hook(target):
            continue
        if not force:
            raise UsageError(
                f"{target} already exists and was not installed by devloop; not overwriting "
                f"it. Use `devloop hooks install --force` to keep it as {target.name}"
                f"{BACKUP_SUFFIX} and run it before devloop's check, or move it away."
            )
        if _exists(_backup(target)):
            raise UsageError(
                f"{target} is not devloop's, and {_backup(target)} already exists from an "
                "earlier --force install; move one of them away and retry."
            )
    return directory


def install(start: Path, *, force: bool = False) -> list[str]:
    """Install the pre-commit and commit-msg shims; returns what it did."""
    directory = check_installable(start, force=force)
    done = []
    for name in HOOK_NAMES:
        target = directory / name
        tmp = target.with_name(f".{name}.devloop-tmp")
        try:
            directory.mkdir(parents=True, exist_ok=True)
            # The new hook is whole on disk before the old one moves: a failed write
            # (a full disk) leaves the user's hook where it was.
            tmp.write_bytes(shim(name).read_bytes())
            os.chmod(tmp, 0o755)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise cannot_write(target, exc, "the hook") from None
        note = ""
        if _exists(target) and not is_devloop_hook(target):
            os.rename(target, _backup(target))
            note = f" (the previous hook is kept as {target.name}{BACKUP_SUFFIX} and runs first)"
            verb = "installed"
        else:
            verb = "updated" if _exists(target) else "installed"
        os.replace(tmp, target)  # never a half-written hook
        done.append(f"{verb} {target}{note}")
    return done


def uninstall(start: Path) -> list[str]:
    """Remove devloop's shims and restore the hooks they replaced; returns what it did."""
    directory = hooks_dir(start)
    done = []
    for name in HOOK_NAMES:
        target, backup = directory / name, _backup(directory / name)
        if _exists(target) and not is_devloop_hook(target):
            extra = f"; {backup} is also there" if _exists(backup) else ""
            done.append(f"left {target} alone: devloop did not install it{extra}")
            continue
        removed = _exists(target)
        if removed:
            target.unlink()
            done.append(f"removed {target}")
        if _exists(backup):
            os.rename(backup, target)
            done.append(f"restored the previous hook {target}")
        elif not removed:
            done.append(f"no devloop {name} hook in {directory}")
    return done
