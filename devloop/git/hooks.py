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

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from devloop.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, DevloopError, UsageError
from devloop.git import repository
from devloop.resources import bundled_dir

HOOK_NAMES = ("pre-commit", "commit-msg")
NOT_CONFIGURED = (
    "devloop is not configured here (no devloop.toml, no [tool.devloop] in pyproject.toml): "
    "nothing to check. Run `devloop init` to set it up."
)
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
    """Raise a UsageError, before anything is written, if `install` would refuse."""
    directory = hooks_dir(start)
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
    directory.mkdir(parents=True, exist_ok=True)
    done = []
    for name in HOOK_NAMES:
        target = directory / name
        note = ""
        if _exists(target) and not is_devloop_hook(target):
            os.rename(target, _backup(target))
            note = f" (the previous hook is kept as {target.name}{BACKUP_SUFFIX} and runs first)"
            verb = "installed"
        else:
            verb = "updated" if _exists(target) else "installed"
        tmp = target.with_name(f".{name}.devloop-tmp")
        tmp.write_bytes(shim(name).read_bytes())
        os.chmod(tmp, 0o755)
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


# ------------------------------------------------------- what the hooks run


def staged_report(start: Path) -> tuple[str, str | None]:
    """`devloop check staged`: (the text to show, the failure summary or None)."""
    from devloop import checks

    run = checks.check_staged(start)
    if not run.configured:
        return "".join(f"{line}\n" for line in [NOT_CONFIGURED, *run.notes]), None
    title = f"devloop check staged: {len(run.files)} staged file(s)"
    return checks.render(title, run.results, run.notes), checks.failure_summary(run.results)


def commit_msg_report(start: Path, message_file: Path) -> tuple[str, str | None]:
    """`devloop check commit-msg FILE`: (the text to show, the failure summary or None).
    A relative FILE is taken from `start`, as git passes it from the top level."""
    from devloop import checks
    from devloop import config as config_mod

    root = config_mod.find_root(start)
    if not config_mod.is_configured(root):
        return NOT_CONFIGURED + "\n", None
    path = message_file if message_file.is_absolute() else start / message_file
    result = checks.check_commit_msg(
        path,
        config_mod.load(start),
        comment_char=repository.comment_char(start),
        label=str(message_file),
    )
    return checks.render("devloop check commit-msg:", [result]), checks.failure_summary([result])


def fast_main(argv: Sequence[str]) -> int | None:
    """The two hook commands without the click CLI, whose import is a third of a hook's
    run time: for a console-script entry that tries this first. Returns the exit code, or
    None when `argv` is anything else (the caller then runs the full CLI)."""
    args = list(argv)
    start = Path.cwd().resolve()
    if args == ["check", "staged"]:
        job = lambda: staged_report(start)  # noqa: E731
    elif len(args) == 3 and args[:2] == ["check", "commit-msg"] and not args[2].startswith("-"):
        job = lambda: commit_msg_report(start, Path(args[2]))  # noqa: E731
    else:
        return None
    try:
        text, failure = job()
    except DevloopError as exc:
        print(f"devloop: error: {exc.message}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("devloop: interrupted.", file=sys.stderr)
        return EXIT_INTERRUPTED
    sys.stdout.write(text)
    sys.stdout.flush()
    if failure:
        print(f"devloop: error: {failure}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
