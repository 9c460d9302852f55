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

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_FAILED: "a check or step failed",
    EXIT_USAGE: "usage or configuration error",
    EXIT_BUDGET: "a budget ceiling would be exceeded",
    EXIT_API: "model or API failure after retries, or the shared ledger cannot be reached",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); state saved",
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


def did_you_mean(
    word: str, options: Iterable[str], *, cutoff: float = 0.6, prefix: str = ""
) -> str:
    """The sentence " Did you mean 'x'?" for the option closest to `word` (shown after
    `prefix`), or "" when none is close: the one spelling hint every message uses."""
    import difflib

    close = difflib.get_close_matches(word, list(options), n=1, cutoff=cutoff)
    return f" Did you mean '{prefix}{close[0]}'?" if close else ""
