"""Which commands the build agent's `bash` tool may run, decided before anything runs.

The rule (`CommandPolicy.refusal`):
- The command is split at the control operators `|`, `&&`, `||`, `;` and newlines. It runs
  only when every part is allowed, so a pipe or a chain cannot smuggle in a command that
  would be refused on its own.
- Never allowed, because they can run or write something the parts do not show: `$`
  (variables, `$(...)`), backticks, subshells `( )`, unquoted braces, background `&`, a
  leading `~`, and redirection, except the harmless `2>&1` and `>/dev/null`.
- A part is allowed when its words start with one of:
  * a configured `[commands]` entry (lint, format, format_fix, test, quick_test, smoke)
    without its trailing `.` target; for well-known checkers (pytest, ruff, mypy ...) just
    the program (`pytest`, `uv run ruff`), so the model can pick files and flags; and
    `pytest` / `python -m pytest` whenever a configured command runs pytest;
  * a `[tools] allow_commands` prefix;
  * a read-only inspection command (ls, cat, grep, find without -exec/-delete,
    git status/diff/log/show ...).
- A configured command written exactly as configured is allowed whole, operators and all.
- Every argument that names an existing path, or looks like one (absolute, `..`, a glob),
  must resolve inside the repository.

This is a guardrail against accidents and wandering, not a jail: the test command runs
code the model wrote. Credentials are kept out by the environment (tools.py), not here.
"""

from __future__ import annotations

import glob
import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path

from devloop.checks import tool_name
from devloop.config import Config

CONFIGURED = ("lint", "format", "format_fix", "test", "quick_test", "smoke")
WIDEN_HINT = 'To allow more, the user can add prefixes to devloop.toml: [tools] allow_commands = ["make build"].'

# Programs whose every invocation only checks or formats files: the program alone is the
# prefix. Anything else (make, npm, tox, python -c ...) must match as configured.
CHECKERS = frozenset(
    "pytest ruff flake8 pylint black isort mypy pyright pyflakes pycodestyle pydocstyle "
    "autopep8 yapf bandit eslint prettier tsc jest vitest mocha gofmt rustfmt shellcheck "
    "shfmt".split()
)
READ_ONLY = frozenset(
    "ls cat head tail wc grep egrep fgrep rg find pwd tree diff sort uniq cut nl echo stat "
    "du cd which true".split()
)
GIT_READ_ONLY = frozenset(
    "status diff log show blame ls-files grep rev-parse shortlog describe".split()
)
# Options that make a read-only program run another program or write a file.
FIND_ACTIONS = frozenset("-exec -execdir -ok -okdir -delete -fprint -fprint0 -fprintf -fls".split())
LONG_OPTIONS = {
    "rg": ("--pre",),
    "sort": ("--output", "--compress-program"),
    "git": ("--output", "--ext-diff", "--open-files-in-pager"),
}
SHORT_OPTIONS = {"sort": "o", "tree": "o", "git": "O"}
_TARGETS = (".", "./", "{files}")  # a configured command's whole-project target
_WORD_END = " \t\n;|&<>()'\"`$"


class Refused(Exception):
    """The command cannot run; the message says why."""


@dataclass(frozen=True)
class Word:
    text: str
    expands: bool = False  # holds an unquoted glob character (* ? [)


def split_parts(command: str) -> list[list[Word]]:
    """The command's parts (split at | && || ; newline) as words with quotes removed.

    Raises Refused for anything whose effect the words would not show."""
    parts: list[list[Word]] = [[]]
    chars: list[str] = []
    open_word = expands = False

    def close() -> None:
        nonlocal open_word, expands
        if open_word:
            parts[-1].append(Word("".join(chars), expands))
        chars.clear()
        open_word = expands = False

    i, n = 0, len(command)
    while i < n:
        c = command[i]
        if c in " \t":
            close()
        elif c in "\n;|" or command.startswith("&&", i):
            close()
            parts.append([])
            i += 1 if command.startswith(("&&", "||"), i) else 0
        elif c == "&":
            raise Refused("background jobs (`&`) are not allowed")
        elif c in "<>":
            if chars and not "".join(chars).isdigit():
                close()  # `word>file`: the word ends here
            chars.clear()  # a file descriptor number belongs to the redirection
            open_word = expands = False
            i = _redirection(command, i)
            continue
        elif c == "'":
            end = command.find("'", i + 1)
            if end < 0:
                raise Refused("unbalanced single quote")
            chars.append(command[i + 1 : end])
            open_word, i = True, end
        elif c == '"':
            i = _double_quoted(command, i, chars)
            open_word = True
        elif c == "\\":
            if command[i + 1 : i + 2] != "\n":  # backslash-newline continues the line
                chars.append(command[i + 1 : i + 2])
                open_word = True
            i += 1
        elif c in "$`":
            raise Refused("`$` and backticks (variables, command substitution) are not allowed")
        elif c in "(){}":
            raise Refused(f"unquoted `{c}` (subshells, groups, brace expansion) is not allowed")
        elif c == "~" and (not chars or chars[-1] in "=:"):
            raise Refused("`~` expands to the home directory, outside the repository")
        else:
            expands = expands or c in "*?["
            chars.append(c)
            open_word = True
        i += 1
    close()
    return [part for part in parts if part]


def _redirection(command: str, i: int) -> int:
    """Skip an allowed redirection starting at command[i] (`>` or `<`); the index after it."""
    j = i + 1
    if j < len(command) and command[j] in ">&|":
        j += 1
    duplicate = command[j - 1] == "&"
    while j < len(command) and command[j] in " \t":
        j += 1
    k = j
    while k < len(command) and command[k] not in _WORD_END:
        k += 1
    target = command[j:k]
    if target == "/dev/null" or (duplicate and target in ("1", "2")):
        return k
    raise Refused(
        "redirection to or from files is not allowed (only `2>&1` and `>/dev/null`);"
        " write files with str_replace_based_edit_tool"
    )


def _double_quoted(command: str, i: int, chars: list[str]) -> int:
    """Append the contents of the "..." starting at command[i]; the index of its end."""
    i += 1
    while i < len(command):
        c = command[i]
        if c == '"':
            return i
        if c in "$`":
            raise Refused(
                "`$` and backticks inside double quotes are not allowed; use single quotes"
            )
        if c == "\\" and command[i + 1 : i + 2] in ('"', "\\", "$", "`", "\n"):
            i += 1
            c = command[i]
        chars.append(c)
        i += 1
    raise Refused("unbalanced double quote")


@dataclass
class CommandPolicy:
    root: Path
    prefixes: list[tuple[str, ...]] = field(default_factory=list)
    exact: set[str] = field(default_factory=set)  # configured commands, whitespace-normalised
    configured: dict[str, str] = field(default_factory=dict)  # for the description
    extra: list[str] = field(default_factory=list)  # [tools] allow_commands

    @classmethod
    def from_config(cls, cfg: Config, root: Path) -> CommandPolicy:
        policy = cls(root.resolve(), extra=[c for c in cfg.tools.allow_commands if c.strip()])
        runs_pytest = False
        for key in CONFIGURED:
            command = getattr(cfg.commands, key).strip()
            if not command:
                continue
            policy.configured[key] = command
            policy.exact.add(_normalise(command))
            try:
                parts = split_parts(command)
            except Refused:
                continue  # shell syntax the model may not use: exact match only
            for words in parts:
                prefix = _program_prefix([w.text for w in words])
                if prefix:
                    policy.prefixes.append(prefix)
                    runs_pytest = runs_pytest or os.path.basename(prefix[-1]) == "pytest"
        if runs_pytest:
            policy.prefixes += [
                ("pytest",),
                ("python", "-m", "pytest"),
                ("python3", "-m", "pytest"),
            ]
        for extra in policy.extra:
            try:
                policy.prefixes.append(tuple(shlex.split(extra)))
            except ValueError:
                continue  # unbalanced quotes: cannot match anything
        return policy

    def refusal(self, command: str) -> str | None:
        """None when `command` may run; else why not, what is allowed and how to widen it."""
        if _normalise(command) in self.exact:
            return None
        try:
            parts = split_parts(command)
            if not parts:
                raise Refused("the command is empty")
            for words in parts:
                self._check_part(words)
        except Refused as exc:
            return f"Refused `{command.strip()}`: {exc}.\n\n{self.describe()}"
        return None

    def _check_part(self, words: list[Word]) -> None:
        texts = [w.text for w in words]
        shown = " ".join(texts)
        for prefix in self.prefixes:
            if tuple(texts[: len(prefix)]) == prefix:
                args = words[len(prefix) :]
                break
        else:
            args = words[_read_only_length(texts, shown) :]
        for word in args:
            self._check_path(word)

    def _check_path(self, word: Word) -> None:
        """Refuse an argument naming an existing file or directory outside the repository.
        Only existing ones: a pattern such as `grep "/api"` is not a path, and a path that
        does not exist cannot be read (and these commands cannot create one)."""
        candidates = [word.text]
        if word.text.startswith("-") and "=" in word.text:
            candidates.append(word.text.split("=", 1)[1])  # --config=PATH
        for text in filter(None, candidates):
            targets = [text]
            if word.expands:
                targets += glob.glob(text, root_dir=None if os.path.isabs(text) else self.root)
            for target in targets:
                path = self.root / target  # an absolute target replaces the root
                try:
                    inside = path.resolve().is_relative_to(self.root)
                except (OSError, RuntimeError):  # a symlink loop
                    inside = False
                if not inside and os.path.lexists(path):
                    raise Refused(f"`{word.text}` is outside the repository")

    def describe(self) -> str:
        """What the model may run, in a few lines (refusals and the agent's prompt)."""
        lines = ["Commands run with /bin/sh in the repository root, each in a fresh shell."]
        if self.configured:
            listed = ", ".join(f"{k}: `{v}`" for k, v in self.configured.items())
            lines.append(
                f"Allowed: the project's commands ({listed}); for checkers such as pytest or "
                "ruff, any files and flags after the program."
            )
        else:
            lines.append(
                "Allowed: no project commands are configured ([commands] in devloop.toml)."
            )
        if self.extra:
            lines.append(
                "Also allowed by [tools] allow_commands: "
                + ", ".join(f"`{e}`" for e in self.extra)
                + "."
            )
        lines.append(
            "Read-only inspection: " + ", ".join(sorted(READ_ONLY)) + " (find without "
            "-exec/-delete); git " + "/".join(sorted(GIT_READ_ONLY)) + "."
        )
        lines.append(
            "Pipes and chains (| && || ;) only when every part is allowed. Never: redirection "
            "(except 2>&1, >/dev/null), $ or backticks, subshells, background jobs, paths "
            "outside the repository. Write files with str_replace_based_edit_tool."
        )
        lines.append(WIDEN_HINT)
        return "\n".join(lines)


def _normalise(command: str) -> str:
    return " ".join(command.split())


def _program_prefix(words: list[str]) -> tuple[str, ...]:
    """The words a configured part must start with: the program alone for a checker,
    else the whole part less a trailing whole-project target."""
    while words and words[-1] in _TARGETS:
        words = words[:-1]
    tool = tool_name(shlex.join(words)) if words else None
    if tool in CHECKERS:
        for i, word in enumerate(words):
            if os.path.basename(word) == tool:
                return tuple(words[: i + 1])
    return tuple(words)


def _read_only_length(texts: list[str], shown: str) -> int:
    """How many leading words name an allowed read-only command (1, or 2 for git)."""
    program, args = texts[0], texts[1:]
    if program == "git":
        if not args or args[0] not in GIT_READ_ONLY:
            raise Refused(
                f"`{shown}` is not allowed: git may only " + "/".join(sorted(GIT_READ_ONLY))
            )
    elif program not in READ_ONLY:
        raise Refused(f"`{program}` is not an allowed command")
    if program == "find" and (bad := FIND_ACTIONS.intersection(args)):
        raise Refused(f"find {' '.join(sorted(bad))} is not allowed (it runs or deletes)")
    if program == "uniq" and len([a for a in args if not a.startswith("-")]) > 1:
        raise Refused("uniq with an output file is not allowed")
    for arg in args:
        if arg.startswith("--") and any(
            arg == o or arg.startswith(o + "=") for o in LONG_OPTIONS.get(program, ())
        ):
            raise Refused(f"`{program} {arg}` is not allowed (it runs a program or writes a file)")
        short = SHORT_OPTIONS.get(program, "")
        if short and arg.startswith("-") and not arg.startswith("--") and short in arg[1:]:
            raise Refused(f"`{program} {arg}` is not allowed (it runs a program or writes a file)")
    return 2 if program == "git" else 1
