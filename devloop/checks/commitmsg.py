"""Commit messages checked against Conventional Commits 1.0.0.

Plain functions over text, no git: the commit-msg hook, `devloop check commit-msg` and the
loop's commit step all call `validate()`. Each broken rule is one Problem with its own
rule name, line number and message, so a person sees every problem at once.

Lines git drops before it records a message are ignored here too: comment lines and
everything after the scissors line (`git commit -v`). Messages git or tools generate
(merges, reverts, fixup!/squash!/amend!) pass untouched.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from devloop.checks.results import CheckResult, Detail
from devloop.config import DEFAULT_COMMIT_TYPES, Config
from devloop.errors import UsageError, did_you_mean

DEFAULT_HEADER_MAX_LENGTH = 100
SCISSORS = "------------------------ >8 ------------------------"
GENERATED_PREFIXES = ("Merge ", 'Revert "', "fixup! ", "squash! ", "amend! ")
EXAMPLE = "feat(cli): add a --hooks option to init"

# type, optional (scope), optional !, then the colon. The type's characters are kept loose
# here so a wrong type gets the "not an allowed type" message rather than a format one.
_PREFIX = re.compile(r"(?P<type>[^\s():!]+)(?:\((?P<scope>[^()]*)\))?(?P<bang>!)?:")
_FOOTER = re.compile(r"(?P<token>BREAKING CHANGE|[A-Za-z][A-Za-z0-9-]*)(?P<sep>: | #)(?P<value>.*)")
_BREAKING_ANY_CASE = re.compile(r"(?P<token>breaking[ -]change)\s*(?::|#)", re.IGNORECASE)
_SPACED_TOKEN = re.compile(r"(?P<token>[A-Za-z][A-Za-z0-9-]*(?: [A-Za-z][A-Za-z0-9-]*){1,2}): \S")


@dataclass(frozen=True)
class Problem:
    rule: str  # e.g. "type-enum"; stable, for tests and for people searching the docs
    line: int  # 1-based line number in the message as written (comments included)
    message: str


@dataclass(frozen=True)
class Header:
    type: str
    scope: str | None
    breaking: bool
    description: str


def kept_lines(text: str, comment_char: str = "#") -> list[tuple[int, str]]:
    """(line number, line) for the lines git keeps: no comments, nothing past the scissors,
    trailing whitespace and leading/trailing blank lines dropped."""
    scissors = f"{comment_char} {SCISSORS}"
    kept: list[tuple[int, str]] = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.rstrip()
        if line == scissors:
            break
        if comment_char and line.startswith(comment_char):
            continue
        if not kept and not line:
            continue
        kept.append((number, line))
    while kept and not kept[-1][1]:
        kept.pop()
    return kept


def is_generated(header: str) -> bool:
    """Merge, revert and autosquash messages git writes itself: never rewritten by hand."""
    return header.startswith(GENERATED_PREFIXES)


def parse_header(header: str) -> tuple[Header | None, list[tuple[str, str]]]:
    """The header's parts, and the (rule, message) problems of its shape."""
    shape = f"expected `type(scope)!: description` (scope and ! optional), e.g. `{EXAMPLE}`"
    match = _PREFIX.match(header)
    if match is None:
        head = header.split(":", 1)[0]
        if ":" not in header:
            return None, [("header-format", f"the header has no ':' after a type; {shape}.")]
        if re.fullmatch(r"[^\s():!]+(?:\([^()]*\))?!?\s+", head) or re.fullmatch(
            r"[^\s():!]+\s+\([^()]*\)!?", head
        ):
            return None, [("header-format", f"no spaces before ':' or '(scope)'; {shape}.")]
        if re.match(r"[^\s():!]+!\(", head):
            return None, [("header-format", f"put '!' after the scope, before ':'; {shape}.")]
        if "(" in head and ")" not in head:
            return None, [("header-format", f"the scope is missing its ')'; {shape}.")]
        return None, [("header-format", f"the header does not start with a type; {shape}.")]

    parts = Header(
        type=match["type"],
        scope=match["scope"],
        breaking=bool(match["bang"]),
        description=header[match.end() :][1:],
    )
    problems = []
    if parts.scope is not None and not parts.scope.strip():
        problems.append(("scope-empty", "the scope is empty: name it, or drop the '()'."))
    after = header[match.end() :]
    if not after.strip():
        problems.append(("description-empty", f"the description after ': ' is empty; {shape}."))
    elif not after.startswith(" ") or after[1:2].isspace():
        problems.append(
            (
                "header-separator",
                f"exactly ': ' (a colon, then one space) must follow the type; {shape}.",
            )
        )
    return parts, problems


def validate(
    text: str,
    *,
    types: Sequence[str] = DEFAULT_COMMIT_TYPES,
    max_header_length: int = DEFAULT_HEADER_MAX_LENGTH,
    comment_char: str = "#",
) -> list[Problem]:
    """Every way `text` breaks the rules; an empty list when it is a valid message."""
    lines = kept_lines(text, comment_char)
    if not lines:
        return [Problem("message-empty", 1, "the commit message is empty; write a header like "
                        f"`{EXAMPLE}`.")]  # fmt: skip
    header_line, header = lines[0]
    if is_generated(header):
        return []

    problems: list[Problem] = []
    parts, header_problems = parse_header(header)
    problems += [Problem(rule, header_line, message) for rule, message in header_problems]
    if parts is not None and parts.type.lower() not in {t.lower() for t in types}:
        hint = did_you_mean(parts.type.lower(), [t.lower() for t in types])
        problems.append(
            Problem(
                "type-enum",
                header_line,
                f"type '{parts.type}' is not allowed here; use one of: {', '.join(types)}.{hint}",
            )
        )
    if len(header) > max_header_length:
        problems.append(
            Problem(
                "header-max-length",
                header_line,
                f"the header is {len(header)} characters; the limit is {max_header_length}. "
                "Move the detail into the body.",
            )
        )

    rest = lines[1:]
    if rest and rest[0][1]:
        problems.append(
            Problem(
                "body-leading-blank",
                rest[0][0],
                "leave one blank line between the header and the body.",
            )
        )
    problems += _footer_problems(rest)
    return problems


def _paragraphs(lines: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    paragraphs: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for number, line in lines:
        if line:
            current.append((number, line))
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    return paragraphs


def _is_footer(line: str) -> bool:
    return bool(_FOOTER.fullmatch(line) or _BREAKING_ANY_CASE.match(line))


def _footer_problems(rest: list[tuple[int, str]]) -> list[Problem]:
    """Check the trailing paragraph when it is a footer block (it starts with a footer).

    Inside the block a line that is not a footer continues the previous footer's value, as
    the specification says; only lines that are clearly meant as footers are checked.
    """
    paragraphs = _paragraphs(rest)
    if not paragraphs or not _is_footer(paragraphs[-1][0][1]):
        return []
    problems = []
    for number, line in paragraphs[-1]:
        breaking = _BREAKING_ANY_CASE.match(line)
        if breaking and breaking["token"] not in ("BREAKING CHANGE", "BREAKING-CHANGE"):
            problems.append(
                Problem(
                    "breaking-change-case",
                    number,
                    f"'{breaking['token']}' must be upper case: 'BREAKING CHANGE: ...' "
                    "or 'BREAKING-CHANGE: ...'.",
                )
            )
            continue
        footer = _FOOTER.fullmatch(line)
        if (footer and not footer["value"].strip()) or (breaking and not footer):
            token = breaking["token"] if breaking else footer["token"]
            problems.append(
                Problem(
                    "footer-value",
                    number,
                    f"the footer '{token}' needs a value: 'Token: value' or 'Token #value'.",
                )
            )
            continue
        spaced = None if footer else _SPACED_TOKEN.match(line)
        if spaced:
            token = spaced["token"]
            problems.append(
                Problem(
                    "footer-token",
                    number,
                    f"footer token '{token}' has spaces; write '{token.replace(' ', '-')}: ...' "
                    "(only BREAKING CHANGE may contain a space).",
                )
            )
    return problems


def check_commit_msg(
    path: Path, cfg: Config, *, comment_char: str = "#", label: str | None = None
) -> CheckResult:
    """The message in `path` against Conventional Commits and the [git] config.

    `label` is how details name the file (default: the path). A missing or unreadable
    file is a usage error (exit 2), not a failed check.
    """
    label = label or str(path)
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
    problems = validate(
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
