"""The build agent's tools: every editor command and refusal, and the shell in the sandbox."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

import pytest
from conftest import running

from devloop import config as config_mod
from devloop.agent.tools.workspace import (
    BASH,
    EDITOR,
    TOOL_DEFINITIONS,
    ToolResult,
    Workspace,
    clip,
)
from devloop.config import Config
from devloop.errors import ConfigError

SECRET = "sk-ant-test-0123456789abcdef"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / "app.py").write_text("def f():\n    return 1\n\n\ndef g():\n    return 1\n")
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "mod.py").write_text("x = 1\n")
    (root / "src" / "pkg" / "deep").mkdir()
    (root / "src" / "pkg" / "deep" / "hidden.py").write_text("")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text("[core]\n")
    (root / ".devloop").mkdir()
    (root / ".devloop" / "plan.md").write_text("# plan\n")
    return root


def make_cfg(**tools) -> Config:
    cfg = Config()
    cfg.commands.test = "pytest -q"
    cfg.commands.lint = "ruff check ."
    for key, value in tools.items():
        setattr(cfg.tools, key, value)
    return cfg


def edit(ws: Workspace, **tool_input) -> ToolResult:
    return ws.run_tool(EDITOR, tool_input)


def bash(ws: Workspace, command: str) -> ToolResult:
    return ws.run_tool(BASH, {"command": command})


def ok(result: ToolResult) -> str:
    assert not result.is_error, result.content
    return result.content


def err(result: ToolResult) -> str:
    assert result.is_error, result.content
    return result.content


# ---------------------------------------------------------------- seam


def test_tool_definitions_and_result_block(repo):
    assert TOOL_DEFINITIONS == [
        {"type": "text_editor_20250728", "name": EDITOR, "max_characters": 16_000},
        {"type": "bash_20250124", "name": BASH},
    ]
    editor = Workspace(repo, make_cfg(view_max_chars=500)).tool_definitions()[0]
    assert editor["max_characters"] == 500
    block = ToolResult("boom", is_error=True).as_block("toolu_1")
    assert block == {
        "type": "tool_result",
        "tool_use_id": "toolu_1",
        "content": "boom",
        "is_error": True,
    }


def test_bad_calls_are_error_results_not_exceptions(repo):
    ws = Workspace(repo, make_cfg())
    assert "there is no tool 'shell'" in err(ws.run_tool("shell", {"command": "ls"}))
    assert "must be an object" in err(ws.run_tool(EDITOR, "view app.py"))
    assert "use one of: view, create, str_replace, insert" in err(edit(ws, path="app.py"))
    assert "unknown command 'undo_edit'; use one of: view, create" in err(
        edit(ws, command="undo_edit", path="app.py")
    )
    assert "unknown command ['view']" in err(edit(ws, command=["view"], path="app.py"))
    assert "`insert` is missing `insert_line`, `insert_text`" in err(
        edit(ws, command="insert", path="app.py")
    )
    assert "`create` is missing `path`, `file_text`" in err(edit(ws, command="create"))
    assert "`file_text` must be a string" in err(edit(ws, command="create", path="a", file_text=3))
    assert "path must be a non-empty string" in err(edit(ws, command="view", path=""))
    # An OSError (here: a parent that is a file) is reported, not raised.
    assert "Error:" in err(edit(ws, command="create", path="app.py/x.py", file_text="x"))
    assert "needs `command`" in err(ws.run_tool(BASH, {}))
    assert "Error:" in err(edit(ws, command="create", path="s.txt", file_text="\ud800"))
    assert "Error:" in err(edit(ws, command="view", path="a\ud800"))


# ---------------------------------------------------------------- view


def test_view_file_with_line_numbers(repo):
    ws = Workspace(repo, make_cfg())
    assert ok(edit(ws, command="view", path="app.py")) == (
        "1: def f():\n2:     return 1\n3: \n4: \n5: def g():\n6:     return 1"
    )
    (repo / "empty.txt").write_text("")
    assert ok(edit(ws, command="view", path="empty.txt")) == "empty.txt is empty."


def test_view_directory_two_levels_without_git(repo):
    (repo / "node_modules" / "lib").mkdir(parents=True)
    listing = ok(edit(ws := Workspace(repo, make_cfg()), command="view", path="."))
    lines = listing.splitlines()
    assert lines[0].startswith("./ (2 levels")
    assert {".devloop/", ".devloop/plan.md", "app.py", "src/", "src/pkg/"} <= set(lines)
    assert "node_modules/" in lines and "node_modules/lib/" not in lines  # not descended
    assert not any(line.startswith(".git/") or line == ".git/" for line in lines)
    assert "src/pkg/mod.py" not in lines  # third level
    assert "mod.py" in ok(edit(ws, command="view", path="src/pkg")).splitlines()


def test_view_range(repo):
    ws = Workspace(repo, make_cfg())
    assert ok(edit(ws, command="view", path="app.py", view_range=[2, 3])) == (
        "2:     return 1\n3: "
    )
    assert ok(edit(ws, command="view", path="app.py", view_range=[5, -1])) == (
        "5: def g():\n6:     return 1"
    )
    assert ok(edit(ws, command="view", path="app.py", view_range=[6, 60])).startswith("6:")
    for bad in ([0, 2], [3, 2], [1], "1-2", [1, True]):
        assert "view_range must be [start, end]" in err(
            edit(ws, command="view", path="app.py", view_range=bad)
        )
    assert "starts at line 9 but app.py has 6 lines" in err(
        edit(ws, command="view", path="app.py", view_range=[9, -1])
    )
    assert "is a directory" in err(edit(ws, command="view", path="src", view_range=[1, 2]))


def test_view_truncates_with_a_note_saying_how_to_see_the_rest(repo):
    (repo / "long.txt").write_text("".join(f"line {n}\n" for n in range(1, 201)))
    ws = Workspace(repo, make_cfg(view_max_chars=100))
    shown = ok(edit(ws, command="view", path="long.txt"))
    body, note = shown.rsplit("\n", 1)
    assert len(body) <= 100
    last = int(body.splitlines()[-1].split(":")[0])
    assert f"view_range [{last + 1}, 200]" in note and "200 lines" in note
    rest = ok(edit(ws, command="view", path="long.txt", view_range=[last + 1, -1]))
    assert rest.startswith(f"{last + 1}: line {last + 1}")
    (repo / "wide.txt").write_text("x" * 500 + "\n")
    assert "[line cut]" in ok(edit(ws, command="view", path="wide.txt"))


def test_big_file_refused_whole_but_viewable_in_parts(repo):
    (repo / "big.txt").write_text("".join(f"row {n}\n" for n in range(1000)))
    ws = Workspace(repo, make_cfg(file_max_bytes=1000))
    assert "view part of it with view_range" in err(edit(ws, command="view", path="big.txt"))
    assert ok(edit(ws, command="view", path="big.txt", view_range=[500, 501])) == (
        "500: row 499\n501: row 500"
    )
    assert "file_max_bytes" in err(
        edit(ws, command="str_replace", path="big.txt", old_str="row 1\n", new_str="")
    )
    assert "file_max_bytes" in err(edit(ws, command="create", path="new.txt", file_text="x" * 2000))


@pytest.mark.parametrize("data", [b"abc\x00def\n", b"caf\xe9\n"], ids=["nul", "latin1"])
def test_binary_files_refused(repo, data):
    (repo / "blob.bin").write_bytes(data)
    ws = Workspace(repo, make_cfg())
    for call in (
        {"command": "view", "path": "blob.bin"},
        {"command": "str_replace", "path": "blob.bin", "old_str": "abc", "new_str": "x"},
        {"command": "insert", "path": "blob.bin", "insert_line": 0, "insert_text": "x"},
        {"command": "create", "path": "blob.bin", "file_text": "text"},
    ):
        assert "cannot be viewed or edited" in err(ws.run_tool(EDITOR, call))
    assert (repo / "blob.bin").read_bytes() == data


# ---------------------------------------------------------------- create / str_replace / insert


def test_create_makes_parent_directories_and_overwrites(repo):
    ws = Workspace(repo, make_cfg())
    assert ok(edit(ws, command="create", path="new/dir/x.py", file_text="a\nb\n")) == (
        "Created new/dir/x.py (2 lines)."
    )
    assert (repo / "new" / "dir" / "x.py").read_text() == "a\nb\n"
    assert "Overwrote app.py" in ok(edit(ws, command="create", path="app.py", file_text="z"))
    assert (repo / "app.py").read_text() == "z"
    assert "is a directory" in err(edit(ws, command="create", path="src", file_text="z"))


def test_str_replace_exactly_one_match(repo):
    ws = Workspace(repo, make_cfg())
    out = ok(edit(ws, command="str_replace", path="app.py", old_str="g():", new_str="h():"))
    assert out.startswith("Edited app.py: replaced text at line 5") and "5: def h():" in out
    assert (repo / "app.py").read_text().count("def h():") == 1


def test_str_replace_zero_matches_gives_a_hint(repo):
    ws = Workspace(repo, make_cfg())
    message = err(
        edit(ws, command="str_replace", path="app.py", old_str="def g():\n  return 1", new_str="")
    )
    assert "0 matches" in message and "first line appears at line(s) 5" in message
    message = err(edit(ws, command="str_replace", path="app.py", old_str="nowhere", new_str=""))
    assert "0 matches" in message and "View the file" in message


def test_str_replace_multiple_matches_names_how_many(repo):
    before = (repo / "app.py").read_text()
    message = err(
        edit(
            Workspace(repo, make_cfg()),
            command="str_replace",
            path="app.py",
            old_str="return 1",
            new_str="return 2",
        )
    )
    assert "matches 2 times" in message and "lines 2, 6" in message
    assert (repo / "app.py").read_text() == before


def test_str_replace_details(repo):
    ws = Workspace(repo, make_cfg())
    assert "old_str is empty" in err(edit(ws, command="str_replace", path="app.py", old_str=""))
    ok(edit(ws, command="str_replace", path="app.py", old_str="\n\n\ndef g():\n    return 1"))
    assert (repo / "app.py").read_text() == "def f():\n    return 1\n"  # new_str omitted: deleted
    assert "does not exist" in err(
        edit(ws, command="str_replace", path="nope.py", old_str="a", new_str="b")
    )
    (repo / "crlf.txt").write_bytes(b"one\r\ntwo\r\nthree\r\n")  # the view hides the CRs
    ok(edit(ws, command="str_replace", path="crlf.txt", old_str="one\ntwo", new_str="1\n2"))
    assert (repo / "crlf.txt").read_bytes() == b"1\r\n2\r\nthree\r\n"


def test_insert_top_middle_end(repo):
    ws = Workspace(repo, make_cfg())
    (repo / "f.txt").write_text("a\nb")  # no final newline
    assert "after line 0" in ok(
        edit(ws, command="insert", path="f.txt", insert_line=0, insert_text="top")
    )
    ok(edit(ws, command="insert", path="f.txt", insert_line=2, insert_text="mid1\nmid2\n"))
    out = ok(edit(ws, command="insert", path="f.txt", insert_line=5, insert_text="end"))
    assert (repo / "f.txt").read_text() == "top\na\nmid1\nmid2\nb\nend\n"
    assert "Inserted 1 line after line 5" in out and "6: end" in out


def test_insert_out_of_range(repo):
    ws = Workspace(repo, make_cfg())
    for line in (-1, 7):
        message = err(edit(ws, command="insert", path="app.py", insert_line=line, insert_text="x"))
        assert f"insert_line {line} is out of range: app.py has 6 lines" in message
        assert "use 0 to insert at the top or 6" in message
    assert "must be an integer" in err(
        edit(ws, command="insert", path="app.py", insert_line="3", insert_text="x")
    )


# ---------------------------------------------------------------- where paths may go


def test_traversal_refused(repo, outside):
    ws = Workspace(repo, make_cfg())
    assert "outside the repository" in err(edit(ws, command="view", path="../outside/secret.txt"))
    assert "outside the repository" in err(
        edit(ws, command="create", path="src/../../outside/new.txt", file_text="x")
    )
    assert not (outside / "new.txt").exists()
    assert "outside the repository" in err(edit(ws, command="view", path="~/x"))


def test_absolute_paths(repo, outside):
    ws = Workspace(repo, make_cfg())
    assert "outside the repository" in err(
        edit(ws, command="view", path=str(outside / "secret.txt"))
    )
    assert "outside the repository" in err(
        edit(ws, command="create", path=str(outside / "x.txt"), file_text="x")
    )
    assert ok(edit(ws, command="view", path=str(repo / "src" / "pkg" / "mod.py"))) == "1: x = 1"


def test_symlink_escape_refused(repo, outside):
    (repo / "link.txt").symlink_to(outside / "secret.txt")
    (repo / "linkdir").symlink_to(outside)
    ws = Workspace(repo, make_cfg())
    assert "symlink" in err(edit(ws, command="view", path="link.txt"))
    assert "symlink" in err(edit(ws, command="view", path="linkdir"))
    assert "symlink" in err(edit(ws, command="create", path="linkdir/new.txt", file_text="x"))
    assert "symlink" in err(
        edit(ws, command="str_replace", path="link.txt", old_str="do not", new_str="did")
    )
    assert "symlink" in err(
        edit(ws, command="insert", path="link.txt", insert_line=0, insert_text="x")
    )
    assert not (outside / "new.txt").exists()
    assert (outside / "secret.txt").read_text() == "OUTSIDE-SECRET\n"
    assert "link.txt@" in ok(edit(ws, command="view", path=".")).splitlines()


def test_git_dir_off_limits(repo):
    ws = Workspace(repo, make_cfg())
    assert ".git/ is off limits" in err(
        edit(ws, command="create", path=".git/hooks/pre-commit", file_text="x")
    )
    assert ".git/ is off limits" in err(
        edit(ws, command="str_replace", path=".git/config", old_str="core", new_str="x")
    )
    assert ".git/ is off limits" in err(edit(ws, command="view", path=".git/config"))
    assert not (repo / ".git" / "hooks").exists()


def test_devloop_dir_and_config_read_only(repo):
    (repo / "devloop.toml").write_text("[tools]\n")
    ws = Workspace(repo, make_cfg())
    assert ok(edit(ws, command="view", path=".devloop/plan.md")) == "1: # plan"
    for call in (
        {"command": "create", "path": ".devloop/plan.md", "file_text": "x"},
        {"command": "str_replace", "path": ".devloop/plan.md", "old_str": "plan", "new_str": "x"},
        {"command": "insert", "path": ".devloop/plan.md", "insert_line": 0, "insert_text": "x"},
    ):
        assert ".devloop/ holds devloop's own state" in err(ws.run_tool(EDITOR, call))
    assert (repo / ".devloop" / "plan.md").read_text() == "# plan\n"
    assert "read-only" in err(
        edit(ws, command="create", path="devloop.toml", file_text='[tools]\nallow_commands=["sh"]')
    )
    assert (repo / "devloop.toml").read_text() == "[tools]\n"


def test_secrets_in_files_are_redacted(repo, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    (repo / ".env").write_text(f"KEY={SECRET}\n")
    shown = ok(edit(Workspace(repo, make_cfg()), command="view", path=".env"))
    assert SECRET not in shown and "[REDACTED]" in shown


# ---------------------------------------------------------------- commands


def test_shell_runs_in_the_repo_root(repo):
    ws = Workspace(repo, make_cfg())
    out = ok(bash(ws, "ls src | head -5"))
    assert out == "pkg\n[exit code 0]"
    out = ok(bash(ws, "pwd"))
    assert out.splitlines()[0] == str(repo.resolve())
    out = ok(bash(ws, "ls no-such-file 2>&1"))  # a failing command is an answer, not an error
    assert "[exit code 2]" in out or "[exit code 1]" in out


def test_restart_is_accepted(repo):
    assert "fresh /bin/sh" in ok(Workspace(repo).run_tool(BASH, {"restart": True}))


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("echo hi > made.txt && cat made.txt", "hi"),
        ("cd src && ls", "pkg"),
        ("(cd src/pkg; pwd)", "/src/pkg"),
        ("python3 -c 'print(6 * 7)'", "42"),
        ("for i in 1 2; do printf $i; done", "12"),
        ("A=b sh -c 'echo $A'", "b"),
        ("echo $(echo nested)", "nested"),
        ("cat app.py | grep -c return", "2"),
    ],
)
def test_the_shell_is_a_shell(repo, command, expected):
    """The OS is the boundary, so ordinary shell usage inside the repository just works."""
    out = ok(bash(Workspace(repo, make_cfg()), command))
    assert expected in out and out.endswith("[exit code 0]"), out


def test_secrets_are_not_in_the_command_environment(repo, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_not_for_the_model_123")
    monkeypatch.setenv("DEVLOOP_HARMLESS", "visible")
    monkeypatch.setenv("OLDPWD", "/home/someone")
    monkeypatch.setenv("UNLISTED", "not passed")
    cfg = make_cfg()
    cfg.sandbox.env = ["DEVLOOP_HARMLESS"]
    ws = Workspace(repo, cfg)
    for command in ("printenv", "env", "cat /proc/1/environ /proc/self/environ | tr '\\0' '\\n'"):
        out = ok(bash(ws, command))
        assert "DEVLOOP_HARMLESS=visible" in out
        assert "ANTHROPIC_API_KEY" not in out and SECRET not in out
        assert "GITHUB_TOKEN" not in out and "OLDPWD" not in out and "UNLISTED" not in out


def _gone_soon(marker: str, wait_s: float = 5.0) -> bool:
    deadline = time.monotonic() + wait_s
    while running(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not running(marker)


def test_timeout_kills_the_whole_process_group(repo):
    (repo / "spawn.sh").write_text("sleep 31.25 &\necho started\nwait\n")
    ws = Workspace(repo, make_cfg(command_timeout_s=1.0))
    began = time.monotonic()
    message = err(bash(ws, "sh spawn.sh"))
    assert time.monotonic() - began < 8
    assert message.startswith("started\n[timed out after 1 s")
    assert "every process it started were killed" in message
    assert _gone_soon("31.25"), "the child survived the timeout"


@pytest.mark.skipif(shutil.which("setsid") is None, reason="needs setsid")
def test_a_child_that_left_the_group_dies_with_the_command(repo):
    """setsid escapes the process group, not the sandbox's PID namespace."""
    (repo / "escape.sh").write_text("setsid sleep 32.75 &\necho started\nsleep 60\n")
    ws = Workspace(repo, make_cfg(command_timeout_s=1.0))
    began = time.monotonic()
    try:
        message = err(bash(ws, "sh escape.sh"))
        assert time.monotonic() - began < 5
        assert "timed out" in message
        assert _gone_soon("32.75"), "the setsid child outlived the timeout"
    finally:
        for pid in running("32.75"):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_background_jobs_end_with_their_command(repo):
    ws = Workspace(repo, make_cfg())
    assert ok(bash(ws, "(sleep 33.5 &) ; echo back")).startswith("back")
    assert _gone_soon("33.5")


def test_output_truncation_keeps_head_and_tail(repo):
    (repo / "many.txt").write_text("".join(f"line {n}\n" for n in range(5000)))
    ws = Workspace(repo, make_cfg(command_output_max_chars=300))
    out = ok(bash(ws, "cat many.txt"))
    assert out.startswith("line 0\n") and "line 4999\n[exit code 0]" in out
    assert "characters cut from the middle" in out and "line 2500\n" not in out
    assert clip("short", 300) == "short"


# ---------------------------------------------------------------- config


def test_tools_config_section(tmp_path):
    (tmp_path / "devloop.toml").write_text(
        "[tools]\nview_max_chars = 2000\ncommand_timeout_s = 30\n"
    )
    cfg = config_mod.load(tmp_path)
    assert cfg.tools.view_max_chars == 2000 and cfg.tools.command_timeout_s == 30.0
    assert Config().tools.file_max_bytes == 512_000
    with pytest.raises(
        ConfigError, match=r"\[tools\] allow_commands: is no longer used: .* sandbox"
    ):
        config_mod.parse({"tools": {"allow_commands": ["make build"]}})
    with pytest.raises(ConfigError, match=r"\[tools\] view_max_chars = 0: must be at least 1"):
        config_mod.parse({"tools": {"view_max_chars": 0}})
    with pytest.raises(ConfigError, match=r"\[tools\] allow: unknown key"):
        config_mod.parse({"tools": {"allow": []}})
