"""The build agent's tools: the text editor and the shell the model calls.

`Workspace(root, cfg).run_tool(name, tool_input)` answers one `tool_use` block with a
`ToolResult`; `ToolResult.as_block(id)` is the `tool_result` to send back. Every problem
(a bad path, a missing parameter, a timed-out command) comes back as an `is_error` result
the model can act on, never as an exception that ends the run.

- The text editor (`str_replace_based_edit_tool`) is tools_editor.py: paths stay inside
  the repository; `.git/`, `.devloop/`, devloop.toml, the devloop table of pyproject.toml
  and the files devloop keeps private are not writable (private ones not even readable).
- The shell (`bash`) is a shell: each command runs in a fresh `/bin/sh -c` in the
  repository root, inside the OS sandbox (devloop/sandbox), which is the boundary; a timeout
  kills everything the command started; long output keeps its head and tail.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devloop import sandbox
from devloop.agent.tools.editor import Editor, ToolError
from devloop.config import Config
from devloop.errors import UsageError
from devloop.redaction import redact

EDITOR = "str_replace_based_edit_tool"
BASH = "bash"


def tool_definitions(cfg: Config | None = None) -> list[dict[str, Any]]:
    """The two client tools for a Messages request (schema-less; the names are fixed)."""
    limit = (cfg or Config()).tools.view_max_chars
    return [
        {"type": "text_editor_20250728", "name": EDITOR, "max_characters": limit},
        {"type": "bash_20250124", "name": BASH},
    ]


TOOL_DEFINITIONS = tool_definitions()


@dataclass(frozen=True)
class ToolResult:
    content: str
    is_error: bool = False

    def as_block(self, tool_use_id: str) -> dict[str, Any]:
        return {
            "type": "tool_result",
            "tool_use_id": tool_use_id,
            "content": self.content,
            "is_error": self.is_error,
        }


class Workspace:
    """The tools for one piece of work. `runner` runs the shell's commands (default: the
    sandbox, required); `private` lists files (relative to the root) the model never sees."""

    def __init__(
        self,
        root: Path | str,
        cfg: Config | None = None,
        *,
        runner: sandbox.Runner | None = None,
        private: Collection[str] = (),
    ) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise UsageError(f"workspace {self.root} is not a directory.")
        self.cfg = cfg or Config(root=self.root)
        self.limits = self.cfg.tools
        self.editor = Editor(self.root, self.limits, private)
        self.runner = runner or sandbox.runner(
            self.cfg, private=tuple(private), required=True, root=self.root
        )

    def tool_definitions(self) -> list[dict[str, Any]]:
        return tool_definitions(self.cfg)

    def run_tool(self, name: str, tool_input: Any) -> ToolResult:
        """Answer one tool_use block. Never raises for anything the model sent."""
        try:
            if not isinstance(tool_input, dict):
                raise ToolError(f"the input must be an object, not {type(tool_input).__name__}")
            if name == EDITOR:
                result = ToolResult(self.editor.run(tool_input))
            elif name == BASH:
                result = self._bash(tool_input)
            else:
                raise ToolError(f"there is no tool {name!r}; the tools are {EDITOR} and {BASH}")
        except ToolError as exc:
            result = ToolResult(f"Error: {exc}", is_error=True)
        except OSError as exc:  # the file system said no: the model can see why and adapt
            where = f" ({self.editor.shown(Path(exc.filename))})" if exc.filename else ""
            result = ToolResult(f"Error: {exc.strerror or exc}{where}", is_error=True)
        except ValueError as exc:  # e.g. text that cannot be encoded (a lone surrogate)
            result = ToolResult(f"Error: {exc}", is_error=True)
        # Files and command output may quote a credential from devloop's environment.
        return ToolResult(redact(result.content) or "(empty)", result.is_error)

    def _bash(self, args: dict[str, Any]) -> ToolResult:
        if args.get("restart"):
            return ToolResult(
                "Nothing to restart: each command runs in a fresh /bin/sh in the repository "
                "root, so no state (cd, variables) carries over between commands."
            )
        command = args.get("command")
        if not isinstance(command, str) or not command.strip():
            raise ToolError("bash needs `command` (a non-empty string), or `restart: true`")
        timeout = self.limits.command_timeout_s
        run = self.runner.run(command, self.root, timeout)
        output = clip(run.output, self.limits.command_output_max_chars).rstrip("\n")
        if run.timed_out:
            note = (
                f"[timed out after {timeout:g} s ([tools] command_timeout_s): the command and "
                "every process it started were killed. Run something narrower, such as a "
                "single test file.]"
            )
            return ToolResult(f"{output}\n{note}" if output else note, is_error=True)
        # A failing exit is an answer (the tests failed), not a failed tool call.
        return ToolResult(f"{output or '(no output)'}\n[exit code {run.returncode}]")

    def describe(self) -> str:
        """How the shell works, for the model (the agent's rules)."""
        return (
            "Each bash command runs in a fresh /bin/sh in the repository root (cd and "
            "variables do not carry over between commands), inside a sandbox: "
            + self.runner.describe()
            + " So commands that need the network or files outside the repository fail; "
            "say so in your reply rather than working around it. git works for reading "
            "(status, diff, log); .git is read-only, and devloop makes the commit."
        )


def clip(output: str, limit: int) -> str:
    """Keep the head and, mostly, the tail (where test summaries and errors end up)."""
    if len(output) <= limit:
        return output
    head = limit // 3
    tail = limit - head
    cut = len(output) - head - tail
    return (
        f"{output[:head]}\n[... {cut:,} characters cut from the middle of {len(output):,} "
        "([tools] command_output_max_chars); narrow the command to see them ...]\n"
        f"{output[-tail:]}"
    )
