"""The one error hierarchy and the exit codes every command uses.

Each error carries a message a person can act on: what failed, where, what to do.
"""

from __future__ import annotations

from collections.abc import Iterable

EXIT_OK = 0
EXIT_FAILED = 1  # a check or step failed
EXIT_USAGE = 2  # usage or config error
EXIT_BUDGET = 3  # budget would be exceeded
EXIT_API = 4  # model/API failure after retries, or the shared ledger unreachable
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # stdout closed early (`| head`): what a shell shows for SIGPIPE

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_FAILED: "a check or step failed, or the disk filled up",
    EXIT_USAGE: "usage or configuration error, or a place devloop must write is not writable",
    EXIT_BUDGET: "a budget ceiling would be exceeded",
    EXIT_API: "model or API failure after retries, or the shared ledger cannot be reached",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); state saved",
    EXIT_BROKEN_PIPE: "the output was closed early (`devloop cost | head -1`); nothing else went wrong",
}


class DevloopError(Exception):
    """Base of every error devloop reports to a person."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(DevloopError):
    exit_code = EXIT_USAGE


class ConfigError(UsageError):
    """The configuration file is invalid."""


class UnknownStepError(UsageError):
    """A step name or number that is not in the step table."""


class UnpricedModelError(DevloopError):
    """A model (or a token category of it) has no verified price: never priced at $0."""

    exit_code = EXIT_USAGE


class LedgerError(DevloopError):
    """The ledger database is missing, locked or of an unknown schema."""


class LedgerUnreachable(LedgerError):
    """The shared (PostgreSQL) ledger cannot be reached: devloop refuses to spend what it
    cannot record (exit 4, like an API that cannot be reached)."""

    exit_code = EXIT_API


class CheckFailed(DevloopError):
    exit_code = EXIT_FAILED


class BudgetExceeded(DevloopError):
    exit_code = EXIT_BUDGET


class ApiError(DevloopError):
    """The model provider failed, after retries where retrying made sense."""

    exit_code = EXIT_API


class Interrupted(DevloopError):
    exit_code = EXIT_INTERRUPTED


class StorageError(DevloopError):
    """A file or directory devloop must write cannot be written. Made by `cannot_write`."""


# errno name -> (what the OS said, in words; what to do). A full disk is exit 1 (the work
# failed and can be re-run once there is room); a place that can never be written (no
# permission, read-only, a file in the way, nothing there) is exit 2, like any bad setting.
_FULL = ("ENOSPC", "EDQUOT", "EFBIG")
_OS_REASONS = {
    "ENOSPC": ("no space is left on the device", "free some space and run the command again"),
    "EDQUOT": ("the disk quota is used up", "free some space and run the command again"),
    "EFBIG": (
        "the file would exceed the file size limit (`ulimit -f`)",
        "raise the limit and run the command again",
    ),
    "EROFS": (
        "the file system is read-only",
        "run devloop where it can write, or make that file system writable",
    ),
    "EACCES": ("permission denied", "make it writable for this user, or choose another place"),
    "EPERM": (
        "the operation is not permitted",
        "make it writable for this user, or choose another place",
    ),
    "ENOTDIR": (
        "a file is in the way where a directory is needed",
        "move that file, or choose another place",
    ),
    "ENOENT": (
        "a directory on the way does not exist and cannot be made there",
        "create it first, or choose another place",
    ),
}


def cannot_write(
    path: object, exc: OSError, what: str = "", *, verb: str = "write"
) -> StorageError:
    """The error for an OSError met while writing `path` (`what`: what it was, e.g. "the
    run lock"): the path, the OS's reason in words and what to do, never a traceback."""
    import errno as errno_mod

    name = errno_mod.errorcode.get(exc.errno or 0, "")
    reason, fix = _OS_REASONS.get(name, (exc.strerror or str(exc), "fix that and try again"))
    label = f"{what} " if what else ""
    err = StorageError(f"cannot {verb} {label}{path}: {reason}. {fix[0].upper()}{fix[1:]}.")
    if name not in _FULL:
        err.exit_code = EXIT_USAGE
    return err


def did_you_mean(
    word: str, options: Iterable[str], *, cutoff: float = 0.6, prefix: str = ""
) -> str:
    """The sentence " Did you mean 'x'?" for the option closest to `word` (shown after
    `prefix`), or "" when none is close: the one spelling hint every message uses."""
    import difflib

    close = difflib.get_close_matches(word, list(options), n=1, cutoff=cutoff)
    return f" Did you mean '{prefix}{close[0]}'?" if close else ""
