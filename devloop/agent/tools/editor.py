"""The text editor tool (`str_replace_based_edit_tool`): view, create, str_replace, insert.

It runs in devloop's own process, so it enforces the sandbox's file rules itself. Paths are
relative to the repository root, or absolute inside it; anything that resolves outside
(`..`, absolute paths, symlinks) is refused. `.git/` can be neither viewed nor written;
`.devloop/` (devloop's own state) and `devloop.toml` (its configuration, sandbox included)
can be viewed but not written; pyproject.toml can be edited except its [tool.devloop] table.
The private files (untracked files the user had before the run) are neither listed, viewed
nor written. Binary files are refused; files over `[tools] file_max_bytes` can only be
viewed in parts (view_range). Lines are split at "\n" only and shown as "N: line"; CRLF
files keep their line endings through edits.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path, PurePosixPath
from typing import Any

from devloop.config import ToolsConfig

# Required parameters of each command (str_replace's new_str defaults to "").
EDITOR_COMMANDS: dict[str, tuple[str, ...]] = {
    "view": ("path",),
    "create": ("path", "file_text"),
    "str_replace": ("path", "old_str"),
    "insert": ("path", "insert_line", "insert_text"),
}
HIDDEN = ".git"  # neither viewed nor written: git's own data, which may hold credentials
READ_ONLY_DIR = ".devloop"  # devloop's state: the model may read its plan, not rewrite it
READ_ONLY_FILES = ("devloop.toml",)  # at the root: the model must not widen its own policy
PYPROJECT = "pyproject.toml"  # editable, but for its [tool.devloop] table
# Listed in a directory view but not descended into: large and never what the model wants.
NOT_DESCENDED = frozenset(
    "__pycache__ node_modules .venv venv .tox .mypy_cache .pytest_cache .ruff_cache".split()
)
SNIPPET_CONTEXT = 3  # lines shown around an edit


class ToolError(Exception):
    """A tool call that cannot be done; the message is what the model reads."""


class Editor:
    def __init__(self, root: Path, limits: ToolsConfig, private: Collection[str] = ()) -> None:
        self.root = root  # already resolved
        self.limits = limits
        # Private paths as git lists them: files, and directories with a trailing "/".
        self.private = frozenset(p.rstrip("/") for p in private)

    def is_private(self, shown: str) -> bool:
        path = PurePosixPath(shown)
        return any(str(p) in self.private for p in (path, *path.parents))

    def run(self, args: dict[str, Any]) -> str:
        """The answer to one editor call, or a ToolError saying what to fix."""
        command = args.get("command")
        valid = ", ".join(EDITOR_COMMANDS)
        if command is None:
            raise ToolError(f"missing `command`; use one of: {valid}")
        if not isinstance(command, str) or command not in EDITOR_COMMANDS:
            raise ToolError(f"unknown command {command!r}; use one of: {valid}")
        missing = [key for key in EDITOR_COMMANDS[command] if args.get(key) is None]
        if missing:
            names = ", ".join(f"`{m}`" for m in missing)
            raise ToolError(f"`{command}` is missing {names}")
        handler = getattr(self, f"_{command}")
        return handler(args)

    def _view(self, args: dict[str, Any]) -> str:
        path, shown = self._resolve(args["path"], write=False)
        view_range = args.get("view_range")
        if path.is_dir():
            if view_range is not None:
                raise ToolError(f"{shown} is a directory; view_range applies to files")
            return self._listing(path, shown)
        self._require_file(path, shown)
        size = path.stat().st_size
        if view_range is None:
            if size > self.limits.file_max_bytes:
                raise ToolError(
                    f"{shown} is {size:,} bytes, over the {self.limits.file_max_bytes:,}-byte "
                    "limit for viewing it whole; view part of it with view_range, e.g. [1, 200]"
                )
            start, end = 1, -1
        else:
            start, end = _parse_range(view_range)
        return self._numbered(path, shown, start, end)

    def _create(self, args: dict[str, Any]) -> str:
        path, shown = self._resolve(args["path"], write=True)
        text = _string(args, "file_text")
        if path.is_dir():
            raise ToolError(f"{shown} is a directory")
        if len(text.encode("utf-8")) > self.limits.file_max_bytes:
            raise ToolError(
                f"file_text is over the {self.limits.file_max_bytes:,}-byte limit "
                "([tools] file_max_bytes); write a smaller file"
            )
        existed = path.exists()
        old = self._read_text(path, shown) if existed else ""  # refuses binary, oversized
        self._check_config(shown, old, text)
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(path, text)
        verb = "Overwrote" if existed else "Created"
        return f"{verb} {shown} ({_count(len(_lines(text)), 'line')})."

    def _str_replace(self, args: dict[str, Any]) -> str:
        path, shown = self._resolve(args["path"], write=True)
        old = _string(args, "old_str")
        new = _string(args, "new_str") if args.get("new_str") is not None else ""
        if not old:
            raise ToolError(
                "old_str is empty; to add text use insert, to rewrite a file use create"
            )
        self._require_file(path, shown)
        text = self._read_text(path, shown)
        if "\r\n" in text and "\r" not in old:  # views hide CR: match what the model saw
            old, new = old.replace("\n", "\r\n"), new.replace("\r\n", "\n").replace("\n", "\r\n")
        found = _find_all(text, old)
        if not found:
            raise ToolError(
                f"old_str was not found in {shown} (0 matches). {_no_match_hint(text, old)}"
            )
        if len(found) > 1:
            lines = ", ".join(str(text.count("\n", 0, at) + 1) for at in found[:20])
            raise ToolError(
                f"old_str matches {len(found)} times in {shown} (starting at lines {lines}); it "
                "must match exactly once. Include more surrounding lines to make it unique."
            )
        at = found[0]
        updated = text[:at] + new + text[at + len(old) :]
        self._check_config(shown, text, updated)
        _write(path, updated)
        first = text.count("\n", 0, at) + 1
        last = first + new.count("\n")
        return f"Edited {shown}: replaced text at line {first}. It now reads:\n" + self._snippet(
            updated, first, last
        )

    def _insert(self, args: dict[str, Any]) -> str:
        path, shown = self._resolve(args["path"], write=True)
        line = args["insert_line"]
        if isinstance(line, bool) or not isinstance(line, int):
            raise ToolError(f"insert_line must be an integer line number, not {line!r}")
        insert = _string(args, "insert_text")
        self._require_file(path, shown)
        text = self._read_text(path, shown)
        lines = _lines(text, keepends=True)
        if not 0 <= line <= len(lines):
            raise ToolError(
                f"insert_line {line} is out of range: {shown} has {len(lines)} lines; use 0 "
                f"to insert at the top or {len(lines)} to insert after the last line"
            )
        newline = "\r\n" if "\r\n" in text else "\n"
        if newline == "\r\n" and "\r" not in insert:
            insert = insert.replace("\n", "\r\n")
        if not insert.endswith("\n"):
            insert += newline
        if line == len(lines) and lines and not lines[-1].endswith("\n"):
            lines[-1] += newline  # the old last line had no newline to end it
        lines.insert(line, insert)
        updated = "".join(lines)
        self._check_config(shown, text, updated)
        _write(path, updated)
        count = len(_lines(insert))
        return (
            f"Inserted {_count(count, 'line')} after line {line} of {shown}. It now reads:\n"
            + self._snippet(updated, line + 1, line + count)
        )

    # ------------------------------------------------------------ paths and files

    def _resolve(self, raw: Any, *, write: bool) -> tuple[Path, str]:
        """The real path for `raw` and how to name it to the model, or a ToolError."""
        if not isinstance(raw, str) or not raw.strip() or "\0" in raw:
            raise ToolError(f"path must be a non-empty string, not {raw!r}")
        if raw.startswith("~"):
            raise ToolError(f"{raw} is outside the repository; use a path relative to its root")
        given = Path(raw) if os.path.isabs(raw) else self.root / raw
        named = Path(os.path.normpath(given))  # as written, before symlinks are followed
        try:
            path = given.resolve()
        except (OSError, RuntimeError):
            raise ToolError(f"{raw} cannot be resolved (a symlink loop?)") from None
        if not path.is_relative_to(self.root):
            if named.is_relative_to(self.root):
                raise ToolError(
                    f"{raw} goes through a symlink that points outside the repository; "
                    "only files inside it can be used"
                )
            raise ToolError(
                f"{raw} is outside the repository ({self.root}); use a path relative to its root"
            )
        shown = self.shown(path)
        lexical = named.relative_to(self.root).parts if named.is_relative_to(self.root) else ()
        parts = {*path.relative_to(self.root).parts, *lexical}
        if HIDDEN in parts:
            raise ToolError(f"{shown}: .git/ is off limits; inspect history with git commands")
        if write and READ_ONLY_DIR in parts:
            raise ToolError(
                f"{shown}: .devloop/ holds devloop's own state (ledger, plans, transcripts) "
                "and is read-only to the build agent"
            )
        if write and shown in READ_ONLY_FILES:
            raise ToolError(
                f"{shown} is devloop's configuration (including the sandbox your commands run in) "
                "and is read-only to the build agent; say in your reply what should change"
            )
        if self.is_private(shown) or (lexical and self.is_private("/".join(lexical))):
            raise ToolError(
                f"{shown} is one of the user's own untracked files, which devloop keeps "
                "private: it is not shown to you and not committed. Work without it."
            )
        return path, shown

    def _check_config(self, shown: str, old: str, new: str) -> None:
        """pyproject.toml may change, except its [tool.devloop] table (devloop's config)."""
        if shown != PYPROJECT:
            return
        before, after = _devloop_table(old), _devloop_table(new)
        if after is _INVALID:
            raise ToolError(
                f"{shown} would not be valid TOML after this edit, so devloop cannot tell that "
                "its [tool.devloop] table stays the same; make the edit valid TOML"
            )
        if before != after:
            raise ToolError(
                f"{shown}: the [tool.devloop] table is devloop's configuration (including the "
                "sandbox) and read-only to the build agent; change the rest of the file and "
                "keep that table as it is, or say in your reply what should change"
            )

    def shown(self, path: Path) -> str:
        """A path as the model should write it: relative to the root."""
        try:
            return path.relative_to(self.root).as_posix() or "."
        except ValueError:
            return str(path)

    def _require_file(self, path: Path, shown: str) -> None:
        if path.is_dir():
            raise ToolError(f"{shown} is a directory")
        if not path.exists():
            raise ToolError(
                f"{shown} does not exist; view its directory to see what does, or create it"
            )
        if not path.is_file():
            raise ToolError(f"{shown} is not a regular file")

    def _read_text(self, path: Path, shown: str) -> str:
        size = path.stat().st_size
        if size > self.limits.file_max_bytes:
            raise ToolError(
                f"{shown} is {size:,} bytes, over the {self.limits.file_max_bytes:,}-byte limit "
                "([tools] file_max_bytes) for editing"
            )
        return _decode(path.read_bytes(), shown)

    def _numbered(self, path: Path, shown: str, start: int, end: int) -> str:
        """Lines start..end (-1: to the end) as "N: line", cut at view_max_chars. Streams,
        so a view_range into a huge file holds only what it shows."""
        limit = self.limits.view_max_chars
        out: list[str] = []
        used, total, cut_at = 0, 0, 0
        with path.open("rb") as handle:
            for total, raw in enumerate(handle, 1):
                if total < start or (end != -1 and total > end) or cut_at:
                    continue
                entry = f"{total}: {_decode(raw, shown).rstrip(chr(10)).rstrip(chr(13))}"
                if used + len(entry) + 1 > limit:
                    cut_at = total
                    if not out:  # one very long line: show its beginning
                        out.append(entry[:limit] + " [line cut]")
                    continue
                out.append(entry)
                used += len(entry) + 1
        if start > max(total, 1):
            raise ToolError(f"view_range starts at line {start} but {shown} has {total} lines")
        if total == 0:
            return f"{shown} is empty."
        if cut_at:
            last = end if end != -1 else total
            out.append(
                f"[cut at {limit:,} characters ([tools] view_max_chars): {shown} has {total} "
                f"lines; see the rest with view_range [{cut_at}, {last}] or a narrower range]"
            )
        return "\n".join(out)

    def _listing(self, directory: Path, shown: str) -> str:
        """Two levels of `directory`, `.git` left out, symlinks marked and not followed."""
        entries: list[str] = []

        def walk(folder: Path, prefix: str, depth: int) -> None:
            try:
                children = sorted(folder.iterdir(), key=lambda p: p.name)
            except OSError as exc:
                entries.append(f"{prefix}[cannot list: {exc.strerror}]")
                return
            for child in children:
                name = prefix + child.name
                if child.name == HIDDEN or self.is_private(self.shown(child)):
                    continue
                if child.is_symlink():
                    entries.append(f"{name}@")
                elif child.is_dir():
                    entries.append(f"{name}/")
                    if depth < 2 and child.name not in NOT_DESCENDED:
                        walk(child, f"{name}/", depth + 1)
                else:
                    entries.append(name)

        walk(directory, "", 1)
        header = f"{shown}/ (2 levels; .git left out; @ marks a symlink):"
        body = "\n".join(entries) or "(empty directory)"
        limit = self.limits.view_max_chars
        if len(body) > limit:
            body = body[: body.rfind("\n", 0, limit) + 1] + (
                f"[cut at {limit:,} characters: view a subdirectory to see more]"
            )
        return f"{header}\n{body}"

    def _snippet(self, text: str, first: int, last: int) -> str:
        lines = _lines(text)
        start = max(1, first - SNIPPET_CONTEXT)
        stop = min(len(lines), max(first, last) + SNIPPET_CONTEXT)
        shown = [f"{n}: {lines[n - 1].rstrip(chr(13))}" for n in range(start, stop + 1)]
        body = "\n".join(shown)
        limit = self.limits.view_max_chars
        return body if len(body) <= limit else body[:limit] + "\n[cut: view the file to see more]"


def _string(args: dict[str, Any], key: str) -> str:
    value = args.get(key)
    if not isinstance(value, str):
        raise ToolError(f"`{key}` must be a string, not {type(value).__name__}")
    return value


def _parse_range(value: Any) -> tuple[int, int]:
    ok = (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    )
    if not ok or value[0] < 1 or not (value[1] == -1 or value[1] >= value[0]):
        raise ToolError(
            f"view_range must be [start, end]: 1-indexed lines, start <= end, end -1 for the "
            f"end of the file; got {value!r}"
        )
    return value[0], value[1]


def _decode(data: bytes, shown: str) -> str:
    if b"\0" in data:
        raise ToolError(
            f"{shown} is a binary file (it contains NUL bytes); it cannot be viewed or edited"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(
            f"{shown} is not UTF-8 text (binary?); it cannot be viewed or edited"
        ) from None


def _lines(text: str, *, keepends: bool = False) -> list[str]:
    """Lines split at "\\n" only (str.splitlines also splits at form feeds and others)."""
    pieces = text.split("\n")
    lines = [p + "\n" if keepends else p for p in pieces[:-1]]
    return lines + [pieces[-1]] if pieces[-1] else lines


def _write(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:  # newlines as given
        handle.write(text)


def _find_all(text: str, sub: str) -> list[int]:
    """Every start of `sub`, overlapping ones included: each is a place it could mean."""
    found, at = [], text.find(sub)
    while at != -1:
        found.append(at)
        at = text.find(sub, at + 1)
    return found


def _no_match_hint(text: str, old: str) -> str:
    first = next((line.strip() for line in old.split("\n") if line.strip()), "")
    near = [n for n, line in enumerate(_lines(text), 1) if first and first in line]
    if near:
        where = ", ".join(map(str, near[:10]))
        return (
            f"Its first line appears at line(s) {where}: view that part and copy the text "
            "exactly, including whitespace and indentation."
        )
    return "View the file and copy the current text exactly, including whitespace and indentation."


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


_INVALID = object()


def _devloop_table(text: str) -> Any:
    """pyproject's [tool.devloop] table (None when absent), or _INVALID when not TOML."""
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return _INVALID
    tool = data.get("tool")
    return tool.get("devloop") if isinstance(tool, dict) else None
