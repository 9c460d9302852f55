"""The build agent's sandbox: every editor command, every refusal, the command policy."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from pathlib import Path

import pytest

from devloop import checks
from devloop import config as config_mod
from devloop.config import Config
from devloop.errors import ConfigError
from devloop.tools import BASH, EDITOR, TOOL_DEFINITIONS, ToolResult, Workspace, clip
from devloop.tools_policy import CommandPolicy, Refused, split_parts

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


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    target = tmp_path / "outside"
    target.mkdir()
    (target / "secret.txt").write_text("do not read\n")
    return target


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
    assert (outside / "secret.txt").read_text() == "do not read\n"
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


def test_allowed_command_runs_in_the_repo_root(repo):
    ws = Workspace(repo, make_cfg())
    out = ok(bash(ws, "ls src | head -5"))
    assert out == "pkg\n[exit code 0]"
    out = ok(bash(ws, "pwd"))
    assert out.splitlines()[0] == str(repo.resolve())
    out = ok(bash(ws, "ls no-such-file 2>&1"))  # a failing command is an answer, not an error
    assert "[exit code 2]" in out or "[exit code 1]" in out


def test_restart_is_accepted(repo):
    assert "fresh /bin/sh" in ok(Workspace(repo).run_tool(BASH, {"restart": True}))


def test_disallowed_command_refused_with_the_config_hint(repo):
    ws = Workspace(repo, make_cfg())
    message = err(bash(ws, "touch made.txt"))
    assert "`touch` is not an allowed command" in message
    assert '[tools] allow_commands = ["make build"]' in message
    assert "test: `pytest -q`" in message and "git " in message
    assert not (repo / "made.txt").exists()


@pytest.mark.parametrize(
    "command",
    [
        "ls && touch made.txt",
        "ls; touch made.txt",
        "ls || touch made.txt",
        "ls | xargs touch",
        "ls\ntouch made.txt",
        "echo $(touch made.txt)",
        "echo `touch made.txt`",
        'echo "$(touch made.txt)"',
        "echo hi > made.txt",
        "echo hi >> made.txt",
        "(touch made.txt)",
        "touch made.txt &",
    ],
)
def test_chaining_refused(repo, command):
    message = err(bash(Workspace(repo, make_cfg()), command))
    assert message.startswith("Refused") and "allow_commands" in message
    assert not (repo / "made.txt").exists()


def test_secrets_are_not_in_the_command_environment(repo, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", SECRET)
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_not_for_the_model_123")
    monkeypatch.setenv("DEVLOOP_HARMLESS", "visible")
    ws = Workspace(repo, make_cfg(allow_commands=["printenv", "env"]))
    for command in ("printenv", "env"):
        out = ok(bash(ws, command))
        assert "DEVLOOP_HARMLESS=visible" in out
        assert "ANTHROPIC_API_KEY" not in out and SECRET not in out
        assert "GITHUB_TOKEN" not in out


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    return stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z"  # zombie


def test_timeout_kills_the_whole_process_group(repo):
    (repo / "spawn.sh").write_text("sleep 30 &\necho $! > child.pid\necho started\nwait\n")
    ws = Workspace(repo, make_cfg(command_timeout_s=1.0, allow_commands=["sh spawn.sh"]))
    began = time.monotonic()
    message = err(bash(ws, "sh spawn.sh"))
    assert time.monotonic() - began < 8
    assert message.startswith("started\n[timed out after 1 s")
    assert "every process it started were killed" in message
    child = int((repo / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while not _gone(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _gone(child), f"child {child} survived the timeout"


@pytest.mark.skipif(shutil.which("setsid") is None, reason="needs setsid")
def test_child_that_left_the_group_does_not_hang(repo, monkeypatch):
    # It keeps the output pipe open after the group is killed: stop waiting for it.
    monkeypatch.setattr(checks, "DRAIN_S", 0.5)
    (repo / "escape.sh").write_text("setsid sleep 30 &\necho $! > child.pid\necho started\n")
    ws = Workspace(repo, make_cfg(command_timeout_s=1.0, allow_commands=["sh escape.sh"]))
    began = time.monotonic()
    try:
        message = err(bash(ws, "sh escape.sh"))
        assert time.monotonic() - began < 5
        assert "timed out" in message
    finally:
        child = int((repo / "child.pid").read_text())
        with contextlib.suppress(ProcessLookupError):
            os.kill(child, signal.SIGKILL)


def test_output_truncation_keeps_head_and_tail(repo):
    (repo / "many.txt").write_text("".join(f"line {n}\n" for n in range(5000)))
    ws = Workspace(repo, make_cfg(command_output_max_chars=300))
    out = ok(bash(ws, "cat many.txt"))
    assert out.startswith("line 0\n") and "line 4999\n[exit code 0]" in out
    assert "characters cut from the middle" in out and "line 2500\n" not in out
    assert clip("short", 300) == "short"


# ---------------------------------------------------------------- command policy


def policy(repo: Path, **commands) -> CommandPolicy:
    cfg = make_cfg(allow_commands=["make build", "npm run typecheck"])
    for key, value in commands.items():
        setattr(cfg.commands, key, value)
    return CommandPolicy.from_config(cfg, repo)


@pytest.mark.parametrize(
    "command",
    [
        "pytest -q",  # as configured
        "pytest tests/test_x.py -x",  # a checker: any files and flags
        "python -m pytest -k name",  # the test command runs pytest
        "ruff check src/pkg/mod.py",
        "ruff  check   .",  # whitespace normalised
        "make build",
        "make build --jobs 2",
        "npm run typecheck",
        "git status",
        "git diff HEAD~1 -- app.py",
        "git log --oneline -5",
        "grep -rn '/api/v1' src",  # a pattern, not a path
        "find . -name '*.py'",
        "ls src | grep mod | wc -l",
        "cat app.py 2>&1 | head -3",
        "ls >/dev/null && pwd",
        "cat src/*.py",
        f"cat {'/'.join(['.', 'src', 'pkg', 'mod.py'])}",
    ],
)
def test_policy_allows(repo, command):
    assert policy(repo).refusal(command) is None


@pytest.mark.parametrize(
    ("command", "why"),
    [
        ("make deploy", "`make` is not an allowed command"),
        ("pytestx", "`pytestx` is not an allowed command"),
        ("python -c 'import os'", "`python` is not an allowed command"),
        ("sh -c ls", "`sh` is not an allowed command"),
        ("A=1 ls", "`A=1` is not an allowed command"),
        ("git push", "git may only"),
        ("git -c core.pager=sh log", "git may only"),
        ("git diff --output=x.patch", "`git --output=x.patch` is not allowed"),
        ("find . -name x -delete", "find -delete is not allowed"),
        ("find . -exec rm x", "find -exec is not allowed"),
        ("rg --pre sh foo", "`rg --pre` is not allowed"),
        ("sort -o out app.py", "`sort -o` is not allowed"),
        ("uniq app.py out.txt", "uniq with an output file"),
        ("cat /etc/passwd", "`/etc/passwd` is outside the repository"),
        ("cat /et*/passwd", "outside the repository"),
        ("ls ..", "`..` is outside the repository"),
        ("cd .. && ls", "outside the repository"),
        ("pytest --rootdir=/", "outside the repository"),
        ("ls ~", "`~` expands"),
        ("echo $HOME", "`$`"),
        ("echo {a,b}", "unquoted `{`"),
        ("cat < app.py", "redirection"),
        ("echo 'unbalanced", "unbalanced single quote"),
        ("", "empty"),
    ],
)
def test_policy_refuses(repo, command, why):
    message = policy(repo).refusal(command)
    assert message is not None and why in message, message


def test_policy_configured_command_runs_as_written(repo):
    p = policy(repo, lint="ruff check . && ruff format --check .", smoke="test -f $HOME/x")
    assert p.refusal("ruff check .  &&  ruff format --check .") is None
    assert p.refusal("ruff format --check src") is None  # each part is a prefix
    assert p.refusal("test -f $HOME/x") is None  # exact: the user's own command
    assert p.refusal("test -f /etc/passwd") is not None


def test_policy_symlink_argument_refused(repo, outside):
    (repo / "link").symlink_to(outside)
    assert "`link/secret.txt` is outside" in policy(repo).refusal("cat link/secret.txt")


def test_split_parts_quoting():
    words = [[w.text for w in part] for part in split_parts("""grep -e 'a b' "c\\"d" e\\ f | wc""")]
    assert words == [["grep", "-e", "a b", 'c"d', "e f"], ["wc"]]
    assert split_parts("ls *.py")[0][1].expands and not split_parts("ls '*.py'")[0][1].expands
    with pytest.raises(Refused):
        split_parts('echo "unbalanced')


# ---------------------------------------------------------------- config


def test_tools_config_section(tmp_path):
    (tmp_path / "devloop.toml").write_text(
        "[tools]\nview_max_chars = 2000\ncommand_timeout_s = 30\nallow_commands = ['make build']\n"
    )
    cfg = config_mod.load(tmp_path)
    assert cfg.tools.view_max_chars == 2000 and cfg.tools.command_timeout_s == 30.0
    assert cfg.tools.allow_commands == ["make build"]
    assert Config().tools.file_max_bytes == 512_000
    assert config_mod.to_dict(Config())["tools"]["allow_commands"] == []
    with pytest.raises(ConfigError, match="tools.view_max_chars' must be a positive"):
        config_mod.parse({"tools": {"view_max_chars": 0}})
    with pytest.raises(ConfigError, match="unknown key 'tools.allow'"):
        config_mod.parse({"tools": {"allow": []}})
