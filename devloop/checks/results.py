"""What a check returns (CheckResult, Detail) and how results read as text.

A check never prints: it returns a CheckResult (name, passed, details with file and line,
the command that shows or fixes the problem); `render` turns results into the text the CLI
and the hooks print."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from devloop import proc

if TYPE_CHECKING:
    pass
MAX_DETAILS = 40
ANSI = r"\x1b\[[0-9;]*[A-Za-z]"


@dataclass
class Detail:
    message: str
    file: str | None = None  # relative to the project root, as the tool reported it
    line: int | None = None


@dataclass
class CheckResult:
    name: str
    passed: bool
    summary: str = ""  # one line: what ran, or why it failed or was skipped
    details: list[Detail] = field(default_factory=list)
    fix: str | None = None  # the command that shows or fixes the problem
    skipped: bool = False  # nothing to check (counts as passed)
    output: str = ""  # what the command printed, credentials redacted (for artifacts)


def skipped_result(name: str, why: str) -> CheckResult:
    return CheckResult(name, True, why, skipped=True)


def run_side_by_side(tasks: Sequence[Callable[[], CheckResult]]) -> list[CheckResult]:
    """Run independent checks at once, one thread each; results in the order given.

    The checks are read-only commands, so lint, format and quick tests need not wait for
    each other. An interrupt (Ctrl-C, SIGTERM) lands in the main thread: it kills every
    command still running, waits for the threads, and re-raises.
    """
    if len(tasks) == 1:
        return [tasks[0]()]
    results: list[CheckResult | None] = [None] * len(tasks)
    errors: list[BaseException] = []

    def work(index: int, task: Callable[[], CheckResult]) -> None:
        try:
            results[index] = task()
        except BaseException as exc:  # handed to the main thread below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i, t), daemon=True) for i, t in enumerate(tasks)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            thread.join()
    except BaseException:
        proc.kill_running()
        for thread in threads:
            thread.join()
        raise
    if errors:
        raise errors[0]
    return [r for r in results if r is not None]


def render(title: str, results: Sequence[CheckResult], notes: Sequence[str] = ()) -> str:
    """Results as the text devloop shows: a line per check; for a failure, its findings
    (file:line: message) and the command that shows or fixes them. Returns, never prints."""
    lines = [title]
    for result in results:
        status = "skip" if result.skipped else "ok" if result.passed else "FAIL"
        lines.append(f"  {status:<4}  {result.name}: {result.summary}")
        if result.passed:
            continue
        for detail in result.details:
            where = ":".join(str(p) for p in (detail.file, detail.line) if p is not None)
            lines.append(f"          {where + ': ' if where else ''}{detail.message}")
        if result.fix:
            lines.append(f"          to see or fix: {result.fix}")
    lines += [f"  note: {note}" for note in notes]
    return "\n".join(lines) + "\n"


def failure_summary(results: Sequence[CheckResult]) -> str | None:
    """The one-line summary of the failed checks ("2 check(s) failed: lint."), or None."""
    failed = [r.name for r in results if not r.passed]
    return f"{len(failed)} check(s) failed: {', '.join(failed)}." if failed else None


def output_tail(output: str, lines: int = 20) -> list[Detail]:
    kept = [re.sub(ANSI, "", line).rstrip() for line in output.splitlines() if line.strip()]
    return [Detail(line) for line in kept[-lines:]]
