"""Every deterministic check devloop runs: lint, format, tests, smoke, routing doc,
commit message, pre-flight, and all of them on exactly what is staged.

The loop's pre-flight, e2e and smoke steps and the git hooks call these same functions.
A check returns a CheckResult (name, passed, details with file and line, the command that
shows or fixes the problem) and never prints; cli.py renders. No model is involved and
nothing heavy is imported: the commit hooks run this module on every commit.

Running a configured command on particular files (lint and format of staged files):
- a `{files}` placeholder in the command is replaced by the files;
- otherwise a trailing `.` target is replaced by them (`ruff check .` -> `ruff check a.py`);
- otherwise the command runs as written, on the whole project. It still sees exactly the
  staged content, because `check_staged` runs inside `gitops.staged_worktree()`.
Which files count: `[commands] file_suffixes` when set; else the suffixes the tool is
known to check (ruff, flake8, black, mypy ... -> .py/.pyi; eslint -> .js/.ts ...); else
every staged file.
"""

from __future__ import annotations

import os
import re
import shlex
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from devloop import config as config_mod
from devloop import gitops, proc
from devloop.config import Config
from devloop.errors import ConfigError, UsageError
from devloop.proc import CommandRun
from devloop.redaction import redact

if TYPE_CHECKING:
    from devloop.sandbox import Runner

MAX_DETAILS = 40
ARG_CHARS = 100_000  # a narrowed command stays far below the OS limit on argument length
NOT_FOUND = 127  # the shell's exit status for a command it cannot find
FIX_ROUTING = "devloop routing --markdown > ROUTING.md"

_PY = (".py", ".pyi")
_JS = (".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts")
TOOL_SUFFIXES: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("ruff", "flake8", "pylint", "black", "isort", "mypy", "pyright", "pyflakes"), _PY
    ),
    **dict.fromkeys(("pycodestyle", "pydocstyle", "autopep8", "yapf", "bandit"), _PY),
    "eslint": _JS,
    "gofmt": (".go",),
    "rustfmt": (".rs",),
    "shellcheck": (".sh",),
    "shfmt": (".sh",),
}
_RUNNERS = {"uv", "poetry", "pdm", "hatch", "pipenv", "rye"}  # `X run tool ...`
_SHELL_BUILTINS = {"cd", "true", "false", ":", "echo", "test", "[", "exit", "set", "export"}


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


def _skipped(name: str, why: str) -> CheckResult:
    return CheckResult(name, True, why, skipped=True)


def _runner(cfg: Config, runner: Runner | None) -> Runner:
    from devloop import sandbox

    return runner if runner is not None else sandbox.default_runner(cfg)


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


# ------------------------------------------------------------ file targets


def tool_name(command: str) -> str | None:
    """The program a command runs: `python -m ruff check .` -> ruff, `uv run mypy` -> mypy."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    while words and ("=" in words[0] and not words[0].startswith("-") or words[0] == "env"):
        words = words[1:]  # VAR=value prefixes
    if len(words) >= 2 and words[0] in _RUNNERS and words[1] == "run":
        words = words[2:]
    elif words and words[0] in ("npx", "pipx"):
        words = [w for w in words[1:] if w != "run"]
    if not words:
        return None
    program = os.path.basename(words[0])
    if re.fullmatch(r"python(\d+(\.\d+)?)?", program) and len(words) >= 3 and words[1] == "-m":
        return words[2]
    return program


def file_suffixes(cfg: Config, command: str) -> tuple[str, ...] | None:
    """Suffixes of the files `command` checks; None means every file."""
    configured = cfg.commands.file_suffixes
    if configured:
        return tuple(s if s.startswith(".") else f".{s}" for s in configured)
    return TOOL_SUFFIXES.get(tool_name(command) or "")


def narrow(command: str, files: Sequence[str]) -> str | None:
    """`command` aimed at `files` (see the module docstring), or None when it cannot be."""
    quoted = " ".join(shlex.quote(f) for f in files)
    if "{files}" in command:
        return command.replace("{files}", quoted)
    stripped = command.rstrip()
    for target in (" .", " ./"):
        if stripped.endswith(target):
            return f"{stripped[: -len(target)]} {quoted}"
    return None


def _batches(files: Sequence[str]) -> list[list[str]]:
    batches: list[list[str]] = [[]]
    size = 0
    for name in files:
        if batches[-1] and size + len(name) + 3 > ARG_CHARS:
            batches.append([])
            size = 0
        batches[-1].append(name)
        size += len(name) + 3
    return batches


# ------------------------------------------------------------ tool output

_ANSI = r"\x1b\[[0-9;]*[A-Za-z]"


@cache
def _patterns() -> dict[str, re.Pattern[str]]:
    """Compiled on first failure only: the commit hook's passing path never needs them."""
    return {
        "location": re.compile(
            r"(?P<file>[^\s:][^:]*?):(?P<line>\d+)(?::\d+)?:\s*(?P<message>\S.*)"
        ),
        "arrow": re.compile(r"\s*-->\s*(?P<file>\S.*?):(?P<line>\d+)(?::\d+)?\s*"),
        "reformat": re.compile(r"(?:would reformat:?)\s+(?P<file>\S.*)", re.IGNORECASE),
        "pytest": re.compile(
            r"(?:FAILED|ERROR) (?P<file>[^\s:]+)(?:::\S+)?(?: - (?P<message>.*))?"
        ),
    }


def parse_details(output: str) -> list[Detail]:
    """File/line findings from a tool's output: `file:line[:col]: message` (ruff concise,
    flake8, mypy, eslint unix), ruff's ` --> file:line:col` blocks, formatters' "would
    reformat FILE", pytest's "FAILED file::test - message"."""
    pattern = _patterns()
    details: list[Detail] = []
    heading, after_blank = "", True
    for raw in output.splitlines():
        line = re.sub(_ANSI, "", raw).rstrip()
        if not line.strip():
            after_blank = True
            continue
        if after_blank and not line[0].isspace():
            heading = line.strip()  # ruff prints "CODE message" above " --> file:line:col"
        after_blank = False
        if match := pattern["arrow"].fullmatch(line):
            details.append(Detail(heading or "see the output", match["file"], int(match["line"])))
        elif match := pattern["pytest"].fullmatch(line):
            details.append(Detail(match["message"] or line, match["file"]))
        elif match := pattern["location"].fullmatch(line):
            details.append(Detail(match["message"], match["file"], int(match["line"])))
        elif match := pattern["reformat"].fullmatch(line):
            details.append(Detail("needs formatting", match["file"].strip()))
    seen: set[tuple] = set()
    unique = []
    for detail in details:
        key = (detail.message, detail.file, detail.line)
        if key not in seen:
            seen.add(key)
            unique.append(detail)
    if len(unique) > MAX_DETAILS:
        rest = len(unique) - MAX_DETAILS
        unique = unique[:MAX_DETAILS] + [Detail(f"... and {rest} more; run the command to see all")]
    return unique


def _tail(output: str, lines: int = 20) -> list[Detail]:
    kept = [re.sub(_ANSI, "", line).rstrip() for line in output.splitlines() if line.strip()]
    return [Detail(line) for line in kept[-lines:]]


def _command_failure(
    name: str, run: CommandRun, timeout_s: float, runner: Runner
) -> CheckResult | None:
    """A result for a command that could not do its job at all, else None."""
    if run.timed_out:
        return CheckResult(
            name,
            False,
            f"`{run.command}` did not finish within {timeout_s:g} s; it was stopped",
            _tail(run.output),
            fix=run.command,
            output=redact(run.output),
        )
    if run.returncode == NOT_FOUND:
        program = tool_name(run.command) or run.command
        where = (
            " in the sandbox (a program under your home needs [sandbox] read)"
            if runner.sandboxed
            else ""
        )
        return CheckResult(
            name,
            False,
            f"`{program}` was not found{where}: install it, or fix [commands] {name} in the config",
            _tail(run.output, 5),
            fix=run.command,
            output=redact(run.output),
        )
    return None


# ------------------------------------------------------------ command checks


def run_lint(
    cfg: Config, files: Sequence[str] | None = None, runner: Runner | None = None
) -> CheckResult:
    """The lint command, on `files` (relative to the project root) or the whole project.
    `runner`: how commands run (default: the sandbox when there is one; sandbox.py)."""
    return _file_check("lint", cfg.commands.lint, cfg.commands.lint, cfg, files, runner)


def run_format(
    cfg: Config, files: Sequence[str] | None = None, runner: Runner | None = None
) -> CheckResult:
    """The format check; its fix command is `format_fix` when configured."""
    fix = cfg.commands.format_fix or cfg.commands.format
    return _file_check("format", cfg.commands.format, fix, cfg, files, runner)


def _file_check(
    name: str,
    command: str,
    fix: str,
    cfg: Config,
    files: Sequence[str] | None,
    runner: Runner | None,
) -> CheckResult:
    if not command.strip():
        return _skipped(name, f"no {name} command configured ([commands] {name})")
    targets: list[str] = []
    scope = "whole project"
    commands = [command]
    if files is not None:
        suffixes = file_suffixes(cfg, command)
        targets = [f for f in files if suffixes is None or f.endswith(suffixes)]
        if not targets:
            kinds = "/".join(suffixes or ()) or "matching"
            return _skipped(name, f"no staged {kinds} files")
        narrowed = [narrow(command, batch) for batch in _batches(targets)]
        if narrowed[0] is None:  # cannot aim it at files: it checks the staged tree whole
            scope = "whole project, as staged"
        else:
            commands, scope = narrowed, f"{len(targets)} staged file(s)"
    run_with = _runner(cfg, runner)
    runs = [run_with.run(c, cfg.root, cfg.commands.timeout_s) for c in commands]
    output = "\n".join(r.output for r in runs)
    if all(r.returncode == 0 for r in runs):
        return CheckResult(name, True, f"{_program(command)} ({scope})", output=redact(output))
    for run in runs:
        if broken := _command_failure(name, run, cfg.commands.timeout_s, run_with):
            return broken
    details = parse_details(output) or _tail(output)
    flagged = list(dict.fromkeys(d.file for d in details if d.file))
    fix_command = narrow(fix, flagged or targets) if (flagged or targets) else None
    verb = "would reformat" if name == "format" else "found problems in"
    count = f"{len(flagged)} file(s)" if flagged else scope
    return CheckResult(
        name,
        False,
        f"{_program(command)} {verb} {count}",
        details,
        fix=fix_command or fix,
        output=redact(output),
    )


def _program(command: str) -> str:
    return tool_name(command) or command.split(" ", 1)[0]


def run_tests(cfg: Config, *, quick: bool = False, runner: Runner | None = None) -> CheckResult:
    """The test command (`quick_test` when quick), run as written in the project root."""
    name, key = ("quick tests", "quick_test") if quick else ("tests", "test")
    command = cfg.commands.quick_test if quick else cfg.commands.test
    return _whole_command(name, key, command, cfg, runner)


def run_smoke(cfg: Config, runner: Runner | None = None) -> list[CheckResult]:
    """Step 15's binary gate: the smoke command, then the quick tests."""
    return [
        _whole_command("smoke", "smoke", cfg.commands.smoke, cfg, runner),
        run_tests(cfg, quick=True, runner=runner),
    ]


def _whole_command(
    name: str, key: str, command: str, cfg: Config, runner: Runner | None
) -> CheckResult:
    if not command.strip():
        return _skipped(name, f"no {key} command configured ([commands] {key})")
    run_with = _runner(cfg, runner)
    run = run_with.run(command, cfg.root, cfg.commands.timeout_s)
    if run.returncode == 0:
        return CheckResult(name, True, f"`{command}` passed", output=redact(run.output))
    if broken := _command_failure(key, run, cfg.commands.timeout_s, run_with):
        broken.name = name
        return broken
    details = [d for d in parse_details(run.output) if d.file] or _tail(run.output)
    return CheckResult(
        name,
        False,
        f"`{command}` failed (exit {run.returncode})",
        details,
        fix=command,
        output=redact(run.output),
    )


# ------------------------------------------------------------ routing doc


def check_routing(cfg: Config) -> CheckResult:
    """ROUTING.md matches what `devloop routing --markdown` renders for this config."""
    from devloop import routing  # only when ROUTING.md or the config is involved

    name, doc = "routing doc", routing.ROUTING_DOC
    path = cfg.root / doc
    expected = routing.render_markdown(cfg)
    if not path.is_file():
        return CheckResult(name, False, f"{doc} is missing", [Detail("missing", doc)], FIX_ROUTING)
    actual = path.read_text(encoding="utf-8", errors="replace")
    if actual == expected:
        return CheckResult(name, True, f"{doc} matches the routing config")
    have, want = actual.splitlines(), expected.splitlines()
    line = next(
        (i for i, (a, b) in enumerate(zip(have, want, strict=False), 1) if a != b),
        min(len(have), len(want)) + 1,
    )
    detail = Detail("differs from what the routing config renders from here on", doc, line)
    return CheckResult(name, False, f"{doc} is out of date with the config", [detail], FIX_ROUTING)


# ------------------------------------------------------------ commit message


def check_commit_msg(
    path: Path, cfg: Config, *, comment_char: str = "#", label: str | None = None
) -> CheckResult:
    """The message in `path` against Conventional Commits and the [git] config.

    `label` is how details name the file (default: the path). A missing or unreadable
    file is a usage error (exit 2), not a failed check.
    """
    label = label or str(path)
    from devloop import commits  # not needed by the pre-commit hook's path

    name = "commit message"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(
            f"commit message file {path} does not exist. Pass the file git gives the "
            "commit-msg hook (usually .git/COMMIT_EDITMSG)."
        ) from None
    except OSError as exc:
        raise UsageError(f"cannot read commit message file {path}: {exc.strerror}.") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        detail = Detail(
            f"byte 0x{data[exc.start]:02x} at offset {exc.start} is not UTF-8; write the "
            "message in UTF-8",
            label,
            line,
        )
        return CheckResult(name, False, "the message is not valid UTF-8", [detail])
    problems = commits.validate(
        text,
        types=cfg.git.commit_types,
        max_header_length=cfg.git.header_max_length,
        comment_char=comment_char,
    )
    if not problems:
        return CheckResult(name, True, "follows Conventional Commits")
    details = [Detail(f"[{p.rule}] {p.message}", label, p.line) for p in problems]
    return CheckResult(
        name,
        False,
        f"{len(problems)} problem(s) with the message (Conventional Commits 1.0.0)",
        details,
        fix="git commit --edit --file .git/COMMIT_EDITMSG  (reopens a refused message)",
    )


# ------------------------------------------------------------ staged


@dataclass
class StagedRun:
    """What `check_staged` did: the results, or why there was nothing to check."""

    configured: bool
    root: Path
    files: list[str] = field(default_factory=list)  # staged files, relative to root
    results: list[CheckResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # for the person: restores, recoveries

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def check_staged(start: Path) -> StagedRun:
    """Lint, format, routing doc and quick tests on exactly what is staged.

    Unstaged changes to tracked files are set aside while the checks run and put back
    byte for byte afterwards, whatever happens (see `gitops.staged_worktree`).
    """
    gitops.pin_index_file()
    snap = gitops.snapshot(start)
    recovered = gitops.recover(snap.repo)  # a killed earlier run's set-aside changes
    if recovered is not None:
        snap = gitops.snapshot(start)
    repo, root = snap.repo, config_mod.find_root(start)
    notes = [_recovery_note(recovered)] if recovered and recovered.restored + recovered.kept else []
    if not config_mod.is_configured(root):
        return StagedRun(False, root, notes=notes)
    try:
        cfg: Config | None = config_mod.load(root)
    except ConfigError:
        cfg = None  # maybe only the unstaged edit is broken: judge the staged config below
    files = _staged_under(repo, root, snap)
    run = StagedRun(True, root, files, notes=notes)
    if not files:
        run.notes.append("nothing is staged; nothing to check.")
        return run
    config_files = _config_files(cfg)
    routing_touched = bool({"ROUTING.md", *config_files} & set(files))
    if cfg is not None and not (
        cfg.commands.lint or cfg.commands.format or cfg.commands.quick_test or routing_touched
    ):
        run.notes.append("no lint, format or quick_test command configured; nothing to check.")
        return run
    with gitops.staged_worktree(repo, snap.unstaged) as view:
        swapped = set(view.swapped)
        if cfg is None or swapped & {_repo_path(repo, root / n) for n in config_files}:
            cfg = config_mod.load(root)  # the config has unstaged edits: use the staged one
        lintable = [f for f in files if (root / f).is_file() and not (root / f).is_symlink()]
        checked: Config = cfg
        tasks = [lambda: run_lint(checked, lintable), lambda: run_format(checked, lintable)]
        if routing_touched:
            tasks.append(lambda: check_routing(checked))
        tasks.append(lambda: run_tests(checked, quick=True))
        run.results = run_side_by_side(tasks)
    if view.swapped:
        run.notes.append(
            f"checked the staged versions; unstaged changes to {len(view.swapped)} file(s) "
            "were set aside meanwhile and are back in place."
        )
    if view.restore.kept:
        where = view.restore.saved_to
        run.notes.append(
            f"edited while the check ran, so left as they are now: {', '.join(view.restore.kept)}"
            + (f"; the unstaged versions from before the check are in {where}" if where else "")
        )
    return run


def _recovery_note(report: gitops.RestoreReport) -> str:
    note = "restored unstaged changes an interrupted earlier check had set aside: " + ", ".join(
        report.restored
    )
    if report.kept:
        note += (
            f"; kept newer edits to {', '.join(report.kept)} (old versions in {report.saved_to})"
        )
    return note


def _repo_path(repo: gitops.Repo, path: Path) -> str:
    return path.relative_to(repo.toplevel).as_posix()


def _staged_under(repo: gitops.Repo, root: Path, snap: gitops.Snapshot) -> list[str]:
    """Staged paths under `root` (added, modified, type-changed or deleted), relative to it.
    Intent-to-add entries (`git add -N`) are not part of the commit, so not staged here."""
    intent_to_add = {e.path for e in snap.unstaged if e.status == "A"}
    prefix = "" if root == repo.toplevel else _repo_path(repo, root) + "/"
    return [
        e.path[len(prefix) :]
        for e in snap.staged
        if e.path.startswith(prefix) and e.path not in intent_to_add
    ]


def _config_files(cfg: Config | None) -> list[str]:
    """The files whose staging means the routing doc must be checked again."""
    if cfg is None:
        return [config_mod.CONFIG_FILE, config_mod.PYPROJECT]
    if cfg.source is not None and cfg.source.name == config_mod.PYPROJECT:
        return [config_mod.CONFIG_FILE, config_mod.PYPROJECT]
    return [config_mod.CONFIG_FILE]


# ------------------------------------------------------------ pre-flight


def preflight(
    cfg: Config,
    *,
    env: Mapping[str, str] | None = None,
    plan_files: Sequence[str | Path] = (),
    require_clean: bool = False,
    budget_left_usd: Decimal | None = None,
    estimated_usd: Decimal | None = None,
) -> list[CheckResult]:
    """What can be known before a feature run starts. Standalone (`devloop check
    preflight`) this is: a git repository, the configured tools on PATH, an API key or base
    URL. The loop's step 7 adds its plan's files, a clean tree and the budget left."""
    env = os.environ if env is None else env
    results = [_git_check(cfg), _tools_check(cfg, env), _api_check(cfg, env)]
    if plan_files:
        results.append(_files_check(cfg, plan_files))
    if require_clean:
        results.append(_clean_check(cfg))
    if budget_left_usd is not None:
        results.append(_budget_check(budget_left_usd, estimated_usd))
    return results


def _git_check(cfg: Config) -> CheckResult:
    try:
        repo = gitops.find_repo(cfg.root)
    except UsageError as exc:
        return CheckResult("git", False, exc.message, fix="git init")
    return CheckResult("git", True, f"repository at {repo.toplevel}")


def _tools_check(cfg: Config, env: Mapping[str, str]) -> CheckResult:
    from devloop import sandbox

    found: list[str] = []
    missing: list[Detail] = []
    for key in ("lint", "format", "test", "quick_test", "smoke"):
        command = getattr(cfg.commands, key)
        if not command.strip():
            continue
        program = sandbox.first_program(command)
        if program is None or program in _SHELL_BUILTINS:
            ok = True  # a shell construct: the shell will tell at run time
        elif "/" in program:
            path = Path(program) if os.path.isabs(program) else cfg.root / program
            ok = path.is_file() and os.access(path, os.X_OK)
        else:
            import shutil

            ok = shutil.which(program, path=env.get("PATH", os.defpath)) is not None
        if ok:
            found.append(key)
        else:
            missing.append(Detail(f"[commands] {key}: `{program}` not found ({command!r})"))
    if missing:
        return CheckResult(
            "tools",
            False,
            f"{len(missing)} configured command(s) cannot run",
            missing,
            fix="install the tools, or fix [commands] in devloop.toml",
        )
    if not found:
        return _skipped("tools", "no commands configured ([commands])")
    return CheckResult("tools", True, f"found: {', '.join(found)}")


def _api_check(cfg: Config, env: Mapping[str, str]) -> CheckResult:
    keys = [k for k in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN") if env.get(k)]
    base = env.get("ANTHROPIC_BASE_URL")
    endpoints = [t for t in config_mod.MODEL_TIERS if getattr(cfg.endpoints, t, "")]
    if keys or base or endpoints:
        how = keys + (["ANTHROPIC_BASE_URL"] if base else [])
        how += [f"[endpoints] {', '.join(endpoints)}"] if endpoints else []
        return CheckResult("api", True, "configured via " + ", ".join(how))
    return CheckResult(
        "api",
        False,
        "no API key or base URL",
        [
            Detail(
                "set ANTHROPIC_API_KEY, or ANTHROPIC_BASE_URL / [endpoints] for a compatible server"
            )
        ],
        fix="export ANTHROPIC_API_KEY=...",
    )


def _files_check(cfg: Config, plan_files: Sequence[str | Path]) -> CheckResult:
    missing = [str(f) for f in plan_files if not (cfg.root / f).exists()]
    if missing:
        return CheckResult(
            "plan files",
            False,
            f"{len(missing)} file(s) the plan names do not exist",
            [Detail("does not exist", f) for f in missing],
        )
    return CheckResult("plan files", True, f"all {len(plan_files)} exist")


def _clean_check(cfg: Config) -> CheckResult:
    dirty = gitops.dirty_paths(cfg.root)
    if dirty:
        return CheckResult(
            "clean tree",
            False,
            f"{len(dirty)} tracked file(s) have uncommitted changes",
            [Detail("uncommitted changes", p) for p in dirty[:MAX_DETAILS]],
            fix="git stash  (or commit them)",
        )
    return CheckResult("clean tree", True, "no uncommitted changes to tracked files")


def _budget_check(left_usd: Decimal, estimated_usd: Decimal | None) -> CheckResult:
    if left_usd <= 0:
        return CheckResult("budget", False, f"no budget left (${left_usd:.2f})")
    if estimated_usd is not None and estimated_usd > left_usd:
        return CheckResult(
            "budget",
            False,
            f"the estimate ${estimated_usd:.2f} exceeds the ${left_usd:.2f} left",
            fix="raise [budget] feature_usd, or plan a smaller change",
        )
    return CheckResult("budget", True, f"${left_usd:.2f} left")
