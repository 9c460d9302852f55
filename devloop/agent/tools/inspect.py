"""Read-only tools for a step that looks at the code before it writes (research).

`view` is the text editor's view command, and nothing else of the editor: a step with these
tools cannot change a file. `search` finds a regular expression in the files git tracks.
Both are plain Python reading files: no command runs, so no sandbox is needed, and the
files devloop keeps private (untracked) are never read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from devloop.agent.tools.editor import Editor, ToolError
from devloop.agent.tools.workspace import EDITOR, ToolResult
from devloop.config import Config
from devloop.git import repository
from devloop.redaction import redact
from devloop.state import DEVLOOP_DIR

SEARCH = "search"
MAX_MATCHES = 60
MAX_LINE_CHARS = 200
READ_LIMIT = 512_000  # bytes: larger files are not searched


def definitions(cfg: Config) -> list[dict[str, Any]]:
    """The editor (view only, refused otherwise) and `search`."""
    return [
        {
            "type": "text_editor_20250728",
            "name": EDITOR,
            "max_characters": cfg.tools.view_max_chars,
        },
        {
            "name": SEARCH,
            "description": (
                "Search the repository's tracked files for a Python regular expression. "
                f"Returns `path:line: text` for each match, at most {MAX_MATCHES}."
            ),
            "input_schema": {
                "type": "object",
                "properties": {
                    "pattern": {"type": "string", "description": "a regular expression"},
                    "path": {
                        "type": "string",
                        "description": "a file or directory to search in (default: everything)",
                    },
                },
                "required": ["pattern"],
            },
        },
    ]


class Inspector:
    """Answers `view` and `search` for the repository at `root`."""

    def __init__(self, root: Path, cfg: Config, private: list[str]) -> None:
        self.root = root.resolve()
        self.editor = Editor(self.root, cfg.tools, private)

    def run(self, name: str, tool_input: Any) -> ToolResult:
        try:
            if not isinstance(tool_input, dict):
                raise ToolError("the input must be an object")
            if name == EDITOR:
                if tool_input.get("command") != "view":
                    raise ToolError("this step only reads: use the `view` command")
                return ToolResult(redact(self.editor.run(tool_input)) or "(empty)")
            if name == SEARCH:
                return ToolResult(redact(self._search(tool_input)))
            raise ToolError(f"there is no tool {name!r}; the tools are {EDITOR} and {SEARCH}")
        except ToolError as exc:
            return ToolResult(f"Error: {exc}", is_error=True)
        except OSError as exc:
            return ToolResult(f"Error: {exc.strerror or exc}", is_error=True)

    def _search(self, args: dict[str, Any]) -> str:
        try:
            pattern = re.compile(str(args.get("pattern", "")))
        except re.error as exc:
            raise ToolError(f"not a valid regular expression: {exc}") from None
        scope = str(args.get("path") or "").strip("/")
        matches: list[str] = []
        for rel in repository.tracked_files(self.root, exclude=(DEVLOOP_DIR,)):
            if scope and not (rel == scope or rel.startswith(scope + "/")):
                continue
            path = self.root / rel
            try:
                if path.is_symlink() or not path.is_file() or path.stat().st_size > READ_LIMIT:
                    continue
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            for number, line in enumerate(text.splitlines(), 1):
                if pattern.search(line):
                    matches.append(f"{rel}:{number}: {line.strip()[:MAX_LINE_CHARS]}")
                    if len(matches) > MAX_MATCHES:
                        return "\n".join(matches[:MAX_MATCHES]) + "\n... (more matches left out)"
        return "\n".join(matches) if matches else "No match."
