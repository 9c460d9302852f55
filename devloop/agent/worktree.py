"""The build agent's view of the working tree: its checks, what changed, test tampering.

- Checks are devloop's, run when the model says it is done: the test command (narrowed to
  a task's test files when it lists some) and lint on the files the work changed. Tests run
  model-written code, so they run in the sandbox (the step's check runner), and their
  output is redacted and clipped like a tool's.
- What changed is measured by content, not by `git status` alone: a snapshot maps every
  path that differs from HEAD to a digest, and two snapshots differ where a file was
  created, edited, deleted or put back. So a file touched by an earlier task and edited
  again by a later one counts for both.
- Checkpoints in the step's scratch directory let a killed step resume without redoing
  finished tasks; a step that finished starts over when the engine runs it again.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path, PurePosixPath
from typing import Any

from devloop import checks
from devloop.agent.tools.workspace import clip
from devloop.config import Config
from devloop.git import repository
from devloop.redaction import redact
from devloop.sandbox import Runner
from devloop.schemas import Task
from devloop.state import DEVLOOP_DIR, atomic_write

EXCLUDE = (DEVLOOP_DIR,)
CONTINUE = "Continue with the tools, then reply without a tool call when done."
UNCHANGED = "None of the files this task declares changed"
MISSING_TESTS = "The task's test files do not exist yet"
CACHE_PARTS = frozenset({"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"})
TEST_DIRS = frozenset({"tests", "test"})
TEST_NAMES = ("test_*.py", "*_test.py")
CHECKPOINT = "checkpoint.json"


# ------------------------------------------------------------ checks


@dataclass
class Checks:
    """The checks of one piece of work. `tests`: the test command to run ("" for none);
    `required`: test paths that must exist; `lint`: lint the files the work changed."""

    tests: str
    lint: bool
    required: tuple[str, ...] = ()
    # The test files this work may change: the task's own (declared under Files), or any
    # ("*": final remediation, where a test itself may be wrong).
    editable_tests: tuple[str, ...] = ()
    # Files the work must change (a task's declared files): none changed is a failure.
    declared: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()  # a task's own test commands, run after the tests

    def describe(self, cfg: Config) -> str:
        lines = []
        if self.declared:
            lines.append(f"- at least one of {', '.join(self.declared)} changed")
        if self.tests:
            lines.append(f"- tests: `{self.tests}`")
        lines += [f"- the task's own check: `{c}`" for c in self.commands]
        if self.lint and cfg.commands.lint:
            patterns = checks.file_patterns(cfg, "lint")
            which = f" matching {', '.join(patterns)}" if patterns else ""
            lines.append(f"- lint: `{cfg.commands.lint}`, on the files you changed{which}")
        if not lines:
            return "When you reply without a tool call, the work is done (no checks run)."
        return (
            "When you reply without a tool call, devloop runs these checks; the work is "
            "done when they pass:\n" + "\n".join(lines)
        )

    def run(self, cfg: Config, changed: list[str], runner: Runner) -> str | None:
        """None when every check passes; else the failures as the model should read them."""
        failures = []
        if self.declared and not set(self.declared) & set(changed):
            failures.append(
                f"{UNCHANGED}: {', '.join(self.declared)}. Make the task's change; passing "
                "checks on untouched files prove nothing."
            )
        missing = [p for p in self.required if not (cfg.root / p.split("::")[0]).exists()]
        if missing:
            failures.append(f"{MISSING_TESTS}: " + ", ".join(missing) + ". Write them.")
        elif self.tests:
            failures.append(run_tests(cfg, self.tests, runner))
        for command in self.commands:
            failures.append(run_tests(cfg, command, runner))
        if self.lint:
            files = [f for f in changed if (cfg.root / f).is_file()]
            failures.append(run_lint(cfg, files, runner))
        found = [f for f in failures if f]
        return "\n\n".join(found) if found else None

    def advice(self, failure: str) -> str:
        """What to say after `failure`, which these checks produced: it depends on what
        failed and on whether the work may change its test files."""
        if UNCHANGED in failure:
            return "Edit the files the task declares. " + CONTINUE
        if MISSING_TESTS in failure:
            return "Write the task's test files first, then make them pass. " + CONTINUE
        ran = [c for c in (self.tests, *self.commands) if c]
        if any(f"$ {c}\n" in failure for c in ran):
            if self.editable_tests == ("*",):
                text = (
                    "Find the cause. Change a test only when the test itself is wrong, and say "
                    "why in your final reply."
                )
            elif self.editable_tests:
                text = (
                    f"Fix the code, or this task's own tests ({', '.join(self.editable_tests)}) "
                    "where they are wrong; never weaken what a test checks to make it pass."
                )
            else:
                text = (
                    "The tests define the goal: fix the code until they pass. Do not edit, "
                    "skip or weaken a test to get there."
                )
            return f"{text} {CONTINUE}"
        if self.lint:
            return (
                "Fix what lint reports in the files you changed, without changing behaviour. "
                + (CONTINUE)
            )
        return CONTINUE


def run_tests(cfg: Config, command: str, runner: Runner) -> str | None:
    run = runner.run(command, cfg.root, cfg.commands.timeout_s)
    if run.returncode == 0 and not run.timed_out:
        return None
    if run.timed_out:
        status = f"[timed out after {cfg.commands.timeout_s:g} s ([commands] timeout_s)]"
    else:
        status = f"[exit code {run.returncode}]"
    output = clip(redact(run.output).rstrip(), cfg.tools.command_output_max_chars)
    return f"$ {command}\n{status}\n{output or '(no output)'}"


def run_lint(cfg: Config, files: list[str], runner: Runner) -> str | None:
    if not cfg.commands.lint.strip():
        return None
    result = checks.run_lint(cfg, files, runner)
    if result.passed:
        return None
    lines = [f"$ {result.fix or cfg.commands.lint}", f"[{result.summary}]"]
    for detail in result.details:
        where = ":".join(str(p) for p in (detail.file, detail.line) if p is not None)
        lines.append(f"{where + ': ' if where else ''}{detail.message}")
    return redact("\n".join(lines))


def task_commands(task: Task) -> list[str]:
    """The task's `tests` entries that are commands: their first word is a program on PATH
    or a file in the repository ("the existing tests pass" is prose, and is not run)."""
    import shutil

    out = []
    for entry in (t.strip() for t in task.tests):
        if not entry or not any(c.isspace() for c in entry):
            continue
        try:
            first = shlex.split(entry)[0]
        except ValueError:
            continue
        if shutil.which(first) or first.startswith(("./", "bin/", "scripts/")):
            out.append(entry)
    return out


def task_targets(task: Task) -> list[str]:
    """The task's `tests` entries that name files or directories (not commands)."""
    out = []
    for entry in (t.strip() for t in task.tests):
        if not entry or any(c.isspace() for c in entry):
            continue  # a command or a sentence: the build plan's prose, not a target
        path = entry.split("::")[0]
        if "/" in path or PurePosixPath(path).suffix:
            out.append(entry)
    return out


def narrowed(command: str, targets: list[str]) -> str:
    """`command` aimed at `targets`: checks.narrow's rule ({files} or a trailing `.`), else
    appended for runners that take files (pytest, unittest), one file as `unittest
    discover`'s pattern, the files' packages for `go test ./...`, else the whole command."""
    if not command.strip() or not targets:
        return command
    aimed = checks.narrow(command, targets)
    if aimed:
        return aimed
    tool = checks.tool_name(command)
    if tool == "pytest" or (tool == "unittest" and "discover" not in command.split()):
        return f"{command.rstrip()} {' '.join(shlex.quote(t) for t in targets)}"
    if tool == "unittest":
        return _discover_one(command, targets)
    if tool == "go":
        return _go_packages(command, targets)
    return command


def _go_packages(command: str, targets: list[str]) -> str:
    """`go test ./...` aimed at the packages (directories) of the target `_test.go` files."""
    words = command.split()
    if "test" not in words or words.count("./...") != 1:
        return command
    if not all(t.endswith("_test.go") for t in targets):
        return command
    packages = sorted({"./" + str(PurePosixPath(t).parent) for t in targets})
    packages = ["." if p == "./." else p for p in packages]
    return re.sub(r"(?<!\S)\./\.\.\.(?!\S)", " ".join(packages), command, count=1)


def _discover_one(command: str, targets: list[str]) -> str:
    """`unittest discover` aimed at one test file: its name as the pattern (`-p`), when the
    file lies under the start directory and the command sets no pattern or positional
    arguments of its own; else the whole command (discover takes one pattern)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return command
    if len(targets) != 1 or "::" in targets[0]:
        return command
    after = words[words.index("discover") + 1 :]
    start = "."
    rest = iter(after)
    for word in rest:
        if word in ("-s", "--start-directory"):
            start = next(rest, ".")
        elif word in ("-t", "--top-level-directory"):
            next(rest, None)
        elif word in ("-p", "--pattern") or not word.startswith("-"):
            return command
    target = PurePosixPath(targets[0])
    inside = start in (".", "./") or PurePosixPath(start.rstrip("/")) in target.parents
    if not inside or target.suffix != ".py":
        return command
    return f"{command.rstrip()} -p {shlex.quote(target.name)}"


# ------------------------------------------------------------ what changed

Snapshot = dict[str, str]


def snapshot(root: Path, hidden: Callable[[str], bool] | None = None) -> Snapshot:
    """Every path (relative to `root`) that differs from HEAD, with a digest of its content.
    New untracked paths `hidden` says are not the work's (private files, by-products) are
    left out: they are never hashed, shown or committed."""
    root = root.resolve()
    top = repository.find_repo(root).toplevel.resolve()
    out: Snapshot = {}
    for name, tracked in repository.changes(root, exclude=EXCLUDE):
        path = top / name  # porcelain paths are relative to the top level
        try:
            rel = path.relative_to(root).as_posix()
        except ValueError:
            continue
        if not tracked and hidden is not None and hidden(rel + ("/" if name.endswith("/") else "")):
            continue
        out[rel] = repository.file_digest(path) or "deleted"
    return out


def changed_between(before: Snapshot, after: Snapshot) -> list[str]:
    """Paths whose content differs between the snapshots (absent means: as in HEAD)."""
    return sorted(p for p in set(before) | set(after) if before.get(p) != after.get(p))


def is_test_path(path: str) -> bool:
    parts = PurePosixPath(path).parts
    if CACHE_PARTS.intersection(parts) or path.endswith((".pyc", ".pyo")):
        return False
    name = parts[-1] if parts else ""
    return any(fnmatch(name, p) for p in TEST_NAMES) or bool(TEST_DIRS.intersection(parts[:-1]))


def tampered(task: Task, changed: list[str]) -> list[str]:
    """Changed test files the task did not declare in `files`: tests under tests/, named
    test_*.py or *_test.py, or listed in the task's `tests`."""
    declared = {_clean(f.path) for f in task.files}
    listed = {_clean(t.split("::")[0]) for t in task_targets(task)}
    return [
        p
        for p in changed
        if p not in declared and not _is_cache(p) and (p in listed or is_test_path(p))
    ]


def tests_in(changed: list[str]) -> list[str]:
    return [p for p in changed if is_test_path(p)]


def _clean(path: str) -> str:
    return PurePosixPath(path.strip()).as_posix().removeprefix("./")


def _is_cache(path: str) -> bool:
    return bool(CACHE_PARTS.intersection(PurePosixPath(path).parts))


# ------------------------------------------------------------ checkpoints


class Checkpoint:
    """The step's progress in scratch/checkpoint.json: the tree when the step began, the
    tasks finished, the task in flight. A finished step's checkpoint is not reused."""

    def __init__(
        self, scratch: Path, root: Path, hidden: Callable[[str], bool] | None = None
    ) -> None:
        self.path = scratch / CHECKPOINT
        self.root = root
        self.hidden = hidden
        data: dict[str, Any] = {}
        if self.path.is_file():
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = {}  # unreadable: start over rather than trust part of it
        if not data or data.get("finished"):
            data = {"before": snapshot(root, hidden), "tasks": {}, "current": None}
        self.data = data
        self._save()

    @property
    def before(self) -> Snapshot:
        return self.data["before"]

    def changed(self) -> list[str]:
        """The files changed since the step first began (across re-runs)."""
        return changed_between(self.before, snapshot(self.root, self.hidden))

    def done(self, key: str) -> dict[str, Any] | None:
        return self.data["tasks"].get(key)

    def start(self, key: str) -> Snapshot:
        """The tree before task `key`: kept from a killed run that had started it."""
        current = self.data.get("current")
        if current and current.get("key") == key:
            return current["before"]
        self.data["current"] = {"key": key, "before": snapshot(self.root, self.hidden)}
        self._save()
        return self.data["current"]["before"]

    def finish_task(self, key: str, record: dict[str, Any]) -> None:
        self.data["tasks"][key] = record
        self.data["current"] = None
        self._save()

    def finish(self) -> None:
        self.data["finished"] = True
        self._save()

    def _save(self) -> None:
        atomic_write(self.path, json.dumps(self.data, indent=1, sort_keys=True) + "\n")


def task_key(task: Task) -> str:
    """A finished task is skipped on a re-run only while the build plan says the same."""
    digest = hashlib.sha256(json.dumps(task.to_dict(), sort_keys=True).encode()).hexdigest()
    return f"{task.id}:{digest[:12]}"
