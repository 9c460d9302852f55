"""The two hook commands without the click CLI: `devloop check staged` and `devloop
check commit-msg FILE` run on every commit, and importing click is a third of a hook's run
time. The console-script entry (devloop/entry.py) tries `fast_main` first; the click
commands (cli/checks.py) print the same reports.

`--quiet` (what the hooks run): nothing at all when every check passes, the whole report
when one fails. Git tells a hook nothing of `git commit -q`, so the hooks are quiet on
success always; only what a person must know (a recovery that changed their working tree,
an edit kept during the check, a repository devloop is not configured in) is still said.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from devloop.errors import (
    EXIT_BROKEN_PIPE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    DevloopError,
    cannot_write,
)
from devloop.git import repository

NOT_CONFIGURED = (
    "devloop is not configured here (no devloop.toml, no [tool.devloop] in pyproject.toml): "
    "nothing to check. Run `devloop init` to set it up."
)


QUIET = ("-q", "--quiet")


def staged_report(start: Path, quiet: bool = False) -> tuple[str, str | None]:
    """`devloop check staged`: (the text to show, the failure summary or None)."""
    repository.pin_index_file()
    pending = repository.PendingSnapshot(start)  # git works while the checks are imported
    from devloop import checks

    run = checks.check_staged(start, pending)
    if not run.configured:
        return "".join(f"{line}\n" for line in [NOT_CONFIGURED, *run.notes]), None
    failure = checks.failure_summary(run.results)
    if quiet and failure is None:
        return "".join(f"devloop check staged: note: {a}\n" for a in run.alerts), None
    title = f"devloop check staged: {len(run.files)} staged file(s)"
    return checks.render(title, run.results, run.notes), failure


def commit_msg_report(
    start: Path, message_file: Path, quiet: bool = False
) -> tuple[str, str | None]:
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
    failure = checks.failure_summary([result])
    if quiet and failure is None:
        return "", None
    return checks.render("devloop check commit-msg:", [result]), failure


def fast_main(argv: Sequence[str]) -> int | None:
    """The two hook commands without the click CLI, whose import is a third of a hook's
    run time: for a console-script entry that tries this first. Returns the exit code, or
    None when `argv` is anything else (the caller then runs the full CLI)."""
    args = list(argv)
    quiet = any(a in QUIET for a in args[2:])
    rest = [a for a in args[2:] if a not in QUIET]
    start = Path.cwd().resolve()
    if args[:2] == ["check", "staged"] and not rest:
        job = lambda: staged_report(start, quiet)  # noqa: E731
    elif args[:2] == ["check", "commit-msg"] and len(rest) == 1 and not rest[0].startswith("-"):
        job = lambda: commit_msg_report(start, Path(rest[0]), quiet)  # noqa: E731
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
    except OSError as exc:  # as cli/main.py: a message, never a traceback
        where = exc.filename if exc.filename is not None else "a file"
        error = cannot_write(where, exc, verb="use")
        print(f"devloop: error: {error.message}", file=sys.stderr)
        return error.exit_code
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        quiet_broken_pipe()
    if failure:
        print(f"devloop: error: {failure}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def quiet_broken_pipe() -> None:
    """The reader of our output went away (`devloop cost | head -1`): exit quietly with
    the code a shell shows for SIGPIPE. stdout is pointed at /dev/null first, so the
    interpreter's last flush of what is still buffered cannot fail loudly."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    sys.exit(EXIT_BROKEN_PIPE)
