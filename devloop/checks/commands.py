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
  staged content, because `check_staged` runs inside `git.staged.staged_worktree()`.
Which files count: `[commands] lint_files` / `format_files` (glob patterns) when set; else
the older `file_suffixes`; else the patterns the tool is known to check (TOOL_PATTERNS: ruff
-> *.py, eslint -> *.js/*.ts, gofmt and `go vet` -> *.go, cargo -> *.rs, rubocop -> *.rb
...); else every file. A command whose files are not among those given is skipped.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Sequence
from fnmatch import fnmatchcase
from functools import cache
from typing import TYPE_CHECKING

from devloop.checks.results import (
    ANSI,
    MAX_DETAILS,
    CheckResult,
    Detail,
    output_tail,
    skipped_result,
)
from devloop.config import Config
from devloop.proc import CommandRun
from devloop.redaction import redact

if TYPE_CHECKING:
    from devloop.sandbox import Runner
ARG_CHARS = 100_000  # a narrowed command stays far below the OS limit on argument length
NOT_FOUND = 127  # the shell's exit status for a command it cannot find
FILE_CHECKS = ("lint", "format")  # [commands] keys that check files: each has <key>_files

_PY = ("*.py", "*.pyi")
_JS = ("*.js", "*.jsx", "*.mjs", "*.cjs", "*.ts", "*.tsx", "*.mts", "*.cts")
_TS = ("*.ts", "*.tsx", "*.mts", "*.cts")
_C = ("*.c", "*.h", "*.cc", "*.cpp", "*.cxx", "*.hh", "*.hpp", "*.hxx")
_RUBY = ("*.rb", "*.rake", "*.gemspec", "Gemfile", "Rakefile")
_WEB = (
    "*.json",
    "*.jsonc",
    "*.css",
    "*.scss",
    "*.less",
    "*.html",
    "*.vue",
    "*.md",
    "*.yaml",
    "*.yml",
)

# The files a known tool checks, by the program a command runs (`tool_name`). A tool that is
# a whole toolchain (go, cargo, dotnet, swift) stands for its language: `go vet ./...` runs
# when a Go file is staged. Wrappers (make, npm run, gradle, mvn) are not here: what they
# run is the project's choice, so they get every file unless [commands] lint_files says.
TOOL_PATTERNS: dict[str, tuple[str, ...]] = {
    **dict.fromkeys(
        ("ruff", "flake8", "pylint", "black", "isort", "mypy", "pyright", "basedpyright"), _PY
    ),
    **dict.fromkeys(("pyflakes", "pycodestyle", "pydocstyle", "autopep8", "yapf", "bandit"), _PY),
    **dict.fromkeys(("eslint", "oxlint", "standard", "xo", "deno"), _JS),
    "tsc": _TS,
    "biome": _JS + ("*.json", "*.jsonc", "*.css"),
    "prettier": _JS + _WEB,
    **dict.fromkeys(
        ("go", "gofmt", "goimports", "golangci-lint", "staticcheck", "revive"), ("*.go",)
    ),
    **dict.fromkeys(("cargo", "rustfmt", "clippy-driver"), ("*.rs",)),
    **dict.fromkeys(("rubocop", "standardrb", "reek"), _RUBY),
    **dict.fromkeys(("ktlint", "ktfmt", "detekt"), ("*.kt", "*.kts")),
    **dict.fromkeys(("google-java-format", "checkstyle", "pmd"), ("*.java",)),
    **dict.fromkeys(("clang-format", "clang-tidy", "cppcheck", "cpplint"), _C),
    **dict.fromkeys(("dotnet", "csharpier"), ("*.cs", "*.fs", "*.vb")),
    **dict.fromkeys(("phpcs", "phpcbf", "php-cs-fixer", "phpstan", "psalm", "pint"), ("*.php",)),
    **dict.fromkeys(("swift", "swiftlint", "swift-format", "swiftformat"), ("*.swift",)),
    **dict.fromkeys(("shellcheck", "shfmt"), ("*.sh", "*.bash")),
    **dict.fromkeys(("stylua", "luacheck", "selene"), ("*.lua",)),
    **dict.fromkeys(("scalafmt", "scalafix"), ("*.scala", "*.sc")),
    **dict.fromkeys(("mix", "credo"), ("*.ex", "*.exs")),
    "dart": ("*.dart",),
    "stylelint": ("*.css", "*.scss", "*.less"),
    **dict.fromkeys(("markdownlint", "markdownlint-cli2", "mdformat"), ("*.md",)),
    "yamllint": ("*.yml", "*.yaml"),
    "hadolint": ("Dockerfile", "*.dockerfile", "Dockerfile.*"),
    "sqlfluff": ("*.sql",),
    "terraform": ("*.tf", "*.tfvars"),
    "buf": ("*.proto",),
    "taplo": ("*.toml",),
}
_RUNNERS = {"uv", "poetry", "pdm", "hatch", "pipenv", "rye"}  # `X run tool ...`
_EXEC = {"npm": ("exec",), "pnpm": ("exec", "dlx"), "yarn": ("exec", "dlx"), "bun": ("x",)}
_BUNDLE = ("bundle", "exec")


def _runner(cfg: Config, runner: Runner | None) -> Runner:
    from devloop import sandbox

    return runner if runner is not None else sandbox.default_runner(cfg)


def tool_name(command: str) -> str | None:
    """The program a command runs: `python -m ruff check .` -> ruff, `uv run mypy` -> mypy,
    `npx eslint .` / `pnpm exec eslint .` -> eslint, `bundle exec rubocop` -> rubocop."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    while words and ("=" in words[0] and not words[0].startswith("-") or words[0] == "env"):
        words = words[1:]  # VAR=value prefixes
    if len(words) >= 2 and words[0] in _RUNNERS and words[1] == "run":
        words = words[2:]
    elif words and words[0] in ("npx", "pipx", "bunx"):
        words = [w for w in words[1:] if w != "run"]
    elif len(words) >= 2 and words[1] in _EXEC.get(words[0], ()):
        words = words[2:]
    elif tuple(words[:2]) == _BUNDLE:
        words = words[2:]
    if not words:
        return None
    program = os.path.basename(words[0])
    if re.fullmatch(r"python(\d+(\.\d+)?)?", program) and len(words) >= 3 and words[1] == "-m":
        return words[2]
    return program


def file_patterns(cfg: Config, key: str) -> tuple[str, ...] | None:
    """The glob patterns of the files the `key` command ("lint" or "format") checks:
    `[commands] <key>_files`; else the older `file_suffixes`; else what the tool is known to
    check (TOOL_PATTERNS); None means every file."""
    configured = getattr(cfg.commands, f"{key}_files")
    if configured:
        return tuple(configured)
    if cfg.commands.file_suffixes:
        return tuple(
            "*" + (s if s.startswith(".") else f".{s}") for s in cfg.commands.file_suffixes
        )
    return TOOL_PATTERNS.get(tool_name(getattr(cfg.commands, key)) or "")


def matches(path: str, patterns: Sequence[str] | None) -> bool:
    """Whether `path` (relative, with forward slashes) is one a command with `patterns`
    checks. A pattern with a slash matches the whole path (`*` crosses directories: `src/*.go`
    covers src/a/b.go); one without matches the file name (`*.go`, `Gemfile`)."""
    if patterns is None:
        return True
    name = path.rsplit("/", 1)[-1]
    return any(fnmatchcase(path if "/" in p else name, p) for p in patterns)


def select_files(cfg: Config, key: str, files: Sequence[str]) -> list[str]:
    """The files among `files` the `key` command checks, in their order."""
    patterns = file_patterns(cfg, key)
    return [f for f in files if matches(f, patterns)]


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
        line = re.sub(ANSI, "", raw).rstrip()
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


def _command_failure(
    name: str, run: CommandRun, timeout_s: float, runner: Runner
) -> CheckResult | None:
    """A result for a command that could not do its job at all, else None."""
    if run.timed_out:
        return CheckResult(
            name,
            False,
            f"`{run.command}` did not finish within {timeout_s:g} s; it was stopped",
            output_tail(run.output),
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
            output_tail(run.output, 5),
            fix=run.command,
            output=redact(run.output),
        )
    return None


def run_lint(
    cfg: Config, files: Sequence[str] | None = None, runner: Runner | None = None
) -> CheckResult:
    """The lint command, on `files` (relative to the project root) or the whole project.
    `runner`: how commands run (default: the sandbox when there is one; devloop/sandbox)."""
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
        return skipped_result(name, f"no {name} command configured ([commands] {name})")
    targets: list[str] = []
    scope = "whole project"
    commands = [command]
    if files is not None:
        targets = select_files(cfg, name, files)
        if not targets:
            patterns = file_patterns(cfg, name) or ()
            return skipped_result(
                name, f"none of the {len(files)} file(s) is one it checks ({', '.join(patterns)})"
            )
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
    details = parse_details(output) or output_tail(output)
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
    """The smoke gate: the smoke command, then the quick tests."""
    return [
        _whole_command("smoke", "smoke", cfg.commands.smoke, cfg, runner),  # not a step
        run_tests(cfg, quick=True, runner=runner),
    ]


def _whole_command(
    name: str, key: str, command: str, cfg: Config, runner: Runner | None
) -> CheckResult:
    if not command.strip():
        return skipped_result(name, f"no {key} command configured ([commands] {key})")
    run_with = _runner(cfg, runner)
    run = run_with.run(command, cfg.root, cfg.commands.timeout_s)
    if run.returncode == 0:
        return CheckResult(name, True, f"`{command}` passed", output=redact(run.output))
    if broken := _command_failure(key, run, cfg.commands.timeout_s, run_with):
        broken.name = name
        return broken
    details = [d for d in parse_details(run.output) if d.file] or output_tail(run.output)
    return CheckResult(
        name,
        False,
        f"`{command}` failed (exit {run.returncode})",
        details,
        fix=command,
        output=redact(run.output),
    )
