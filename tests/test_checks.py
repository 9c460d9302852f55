"""The checks themselves: command narrowing, output parsing, the standalone
`devloop check lint|test|smoke|preflight` commands, the routing doc and pre-flight."""

from __future__ import annotations

import os
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from devloop import checks
from devloop import config as config_mod
from devloop.checks import CheckResult, Detail, commands, routing_doc
from devloop.checks import results as check_results

VENV_PATH = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")


def cfg_for(root: Path, **commands) -> config_mod.Config:
    cfg = config_mod.Config()
    cfg.root = root
    for key, value in commands.items():
        setattr(cfg.commands, key, value)
    return cfg


# ------------------------------------------------------------ narrowing


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("ruff check .", "ruff check a.py 'b c.py'"),
        ("ruff format --check .", "ruff format --check a.py 'b c.py'"),
        ("ruff check ./", "ruff check a.py 'b c.py'"),
        ("ruff check .  ", "ruff check a.py 'b c.py'"),
        ("mypy --strict {files} --pretty", "mypy --strict a.py 'b c.py' --pretty"),
        ("npm run lint", None),
        ("ruff check src", None),
        ("make lint.", None),
    ],
)
def test_narrow(command, expected):
    assert checks.narrow(command, ["a.py", "b c.py"]) == expected


@pytest.mark.parametrize(
    ("command", "tool"),
    [
        ("ruff check .", "ruff"),
        ("/usr/local/bin/flake8 src", "flake8"),
        ("python -m ruff check .", "ruff"),
        ("python3.11 -m mypy .", "mypy"),
        ("uv run black --check .", "black"),
        ("poetry run pylint pkg", "pylint"),
        ("npx eslint .", "eslint"),
        ("RUFF_CACHE_DIR=/tmp ruff check .", "ruff"),
        ("npm run lint", "npm"),
        ("'unbalanced", None),
    ],
)
def test_tool_name(command, tool):
    assert checks.tool_name(command) == tool


def test_file_suffixes_configured_inferred_or_all(tmp_path):
    cfg = cfg_for(tmp_path)
    assert checks.file_suffixes(cfg, "ruff check .") == (".py", ".pyi")
    assert checks.file_suffixes(cfg, "npx eslint .") == commands.TOOL_SUFFIXES["eslint"]
    assert checks.file_suffixes(cfg, "make lint") is None
    cfg.commands.file_suffixes = [".md", "rst"]
    assert checks.file_suffixes(cfg, "ruff check .") == (".md", ".rst")


def test_long_file_lists_are_split_into_batches(tmp_path, monkeypatch):
    monkeypatch.setattr(commands, "ARG_CHARS", 40)
    listed = tmp_path / "listed"
    files = [f"file{i:02}.py" for i in range(10)]
    for name in files:
        (tmp_path / name).write_text("x\n")
    cfg = cfg_for(tmp_path, lint=f"ls {{files}} >> {listed}")
    result = checks.run_lint(cfg, files)
    assert result.passed, result
    assert listed.read_text().split() == files
    assert len(commands._batches(files)) > 1


# ------------------------------------------------------------ tool output

RUFF_FULL = """\
F401 [*] `os` imported but unused
 --> pkg/mod.py:3:8
  |
3 | import os
  |        ^^
  |
help: Remove unused import: `os`

E711 Comparison to `None` should be `cond is None`
 --> pkg/other.py:10:4
   |
10 | if x == None:
   |

Found 2 errors.
"""


def test_parse_ruff_full_output():
    assert checks.parse_details(RUFF_FULL) == [
        Detail("F401 [*] `os` imported but unused", "pkg/mod.py", 3),
        Detail("E711 Comparison to `None` should be `cond is None`", "pkg/other.py", 10),
    ]


def test_parse_location_lines_from_many_tools():
    output = (
        "a.py:1:8: F401 `os` imported but unused\n"  # ruff concise, flake8
        "b.py:12: error: Incompatible types  [assignment]\n"  # mypy
        "\x1b[1mc.py\x1b[0m:3:1: E302 expected 2 blank lines\n"  # colour codes stripped
        "would reformat d.py\n"  # black
        "Would reformat: e.py\n"  # ruff format (older)
        "FAILED tests/test_x.py::test_y - AssertionError: boom\n"  # pytest
        "Found 3 errors.\n"
    )
    assert checks.parse_details(output) == [
        Detail("F401 `os` imported but unused", "a.py", 1),
        Detail("error: Incompatible types  [assignment]", "b.py", 12),
        Detail("E302 expected 2 blank lines", "c.py", 3),
        Detail("needs formatting", "d.py"),
        Detail("needs formatting", "e.py"),
        Detail("AssertionError: boom", "tests/test_x.py"),
    ]


def test_parse_details_caps_and_dedupes():
    output = "".join(f"a.py:{i}: E1 msg\n" for i in range(100)) + "a.py:1: E1 msg\n"
    details = checks.parse_details(output)
    assert len(details) == check_results.MAX_DETAILS + 1
    assert "60 more" in details[-1].message


# ------------------------------------------------------------ running commands


def test_lint_failure_without_parsable_output_shows_its_tail(tmp_path):
    cfg = cfg_for(tmp_path, lint="echo something went wrong; exit 3")
    result = checks.run_lint(cfg)
    assert not result.passed
    assert result.details == [Detail("something went wrong")]
    assert result.fix == "echo something went wrong; exit 3"


def test_a_missing_tool_is_named(tmp_path):
    result = checks.run_lint(cfg_for(tmp_path, lint="no-such-linter-xyz ."))
    assert not result.passed
    assert "`no-such-linter-xyz` was not found" in result.summary


def test_a_command_that_hangs_is_stopped_at_the_timeout(tmp_path):
    cfg = cfg_for(tmp_path, test="sleep 30 & sleep 30")
    cfg.commands.timeout_s = 0.5
    started = time.monotonic()
    result = checks.run_tests(cfg)
    assert time.monotonic() - started < 10  # the background grandchild was killed too
    assert not result.passed
    assert "did not finish within 0.5 s" in result.summary


def test_unconfigured_commands_are_skipped(tmp_path):
    cfg = cfg_for(tmp_path)
    for result in (checks.run_lint(cfg), checks.run_format(cfg), checks.run_tests(cfg)):
        assert result.passed and result.skipped
    assert "[commands] lint" in checks.run_lint(cfg).summary


def test_format_failure_points_at_the_fix_command(tmp_path):
    (tmp_path / "ugly.py").write_text("x=1\n")
    cfg = cfg_for(
        tmp_path,
        format=f"{Path(sys.executable).parent}/ruff format --check .",
        format_fix="ruff format .",
    )
    result = checks.run_format(cfg, ["ugly.py"])
    assert not result.passed
    assert result.details[0].file == "ugly.py"
    assert result.fix == "ruff format ugly.py"


def test_run_side_by_side_keeps_order_and_runs_concurrently(tmp_path):
    cfg = cfg_for(tmp_path, lint="sleep 0.5", test="sleep 0.5")
    started = time.monotonic()
    results = check_results.run_side_by_side(
        [lambda: checks.run_lint(cfg), lambda: checks.run_tests(cfg)]
    )
    assert [r.name for r in results] == ["lint", "tests"]
    assert time.monotonic() - started < 0.95


def test_run_side_by_side_reraises_a_crash():
    def boom() -> CheckResult:
        raise ValueError("bad")

    with pytest.raises(ValueError, match="bad"):
        check_results.run_side_by_side([lambda: CheckResult("ok", True), boom])


# ------------------------------------------------------------ standalone commands


def write_config(repo: Path, text: str) -> None:
    (repo / "devloop.toml").write_text(text)


def test_check_lint_passes_and_fails(git_repo, run_devloop):
    env = {"PATH": VENV_PATH}
    write_config(git_repo, '[commands]\nlint = "ruff check ."\nformat = "ruff format --check ."\n')
    (git_repo / "ok.py").write_text("VALUE = 1\n")
    proc = run_devloop(git_repo, "check", "lint", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ok    lint: ruff (whole project)" in proc.stdout
    (git_repo / "bad.py").write_text("import os\n")
    proc = run_devloop(git_repo, "check", "lint", env=env)
    assert proc.returncode == 1
    assert "bad.py:1: F401" in proc.stdout
    assert "to see or fix: ruff check bad.py" in proc.stdout
    assert "1 check(s) failed: lint." in proc.stderr


def test_check_test_and_quick(git_repo, run_devloop):
    write_config(git_repo, '[commands]\ntest = "exit 1"\nquick_test = "true"\n')
    proc = run_devloop(git_repo, "check", "test")
    assert proc.returncode == 1
    assert "`exit 1` failed (exit 1)" in proc.stdout
    assert run_devloop(git_repo, "check", "test", "--quick").returncode == 0


def test_check_smoke_runs_smoke_then_quick_tests(git_repo, run_devloop):
    write_config(git_repo, '[commands]\nsmoke = "true"\nquick_test = "echo nope; exit 2"\n')
    proc = run_devloop(git_repo, "check", "smoke")
    assert proc.returncode == 1
    assert "ok    smoke" in proc.stdout
    assert "FAIL  quick tests" in proc.stdout


def test_unconfigured_checks_pass_as_skipped(git_repo, run_devloop):
    proc = run_devloop(git_repo, "check", "lint")
    assert proc.returncode == 0
    assert "skip  lint" in proc.stdout


def test_check_routing_reports_missing_and_stale_docs(git_repo):
    cfg = config_mod.load(git_repo)
    missing = checks.check_routing(cfg)
    assert not missing.passed and missing.fix == routing_doc.FIX_ROUTING
    from devloop import routing

    text = routing.render_markdown(cfg)
    (git_repo / "ROUTING.md").write_text(text)
    assert checks.check_routing(cfg).passed
    lines = text.splitlines(keepends=True)
    lines[5] = "edited by hand\n"
    (git_repo / "ROUTING.md").write_text("".join(lines))
    stale = checks.check_routing(cfg)
    assert not stale.passed
    assert stale.details == [
        Detail("differs from what the routing config renders from here on", "ROUTING.md", 6)
    ]


# ------------------------------------------------------------ pre-flight


def test_preflight_passes_with_a_key_and_tools(git_repo):
    cfg = cfg_for(git_repo, lint="ruff check .", test="python -m pytest")
    env = {"ANTHROPIC_API_KEY": "k", "PATH": VENV_PATH}
    results = checks.preflight(cfg, env=env)
    assert [r.name for r in results] == ["git", "tools", "api", "models"]
    assert all(r.passed for r in results), results
    assert results[3].summary == "every tier's model is in the price table"


def test_preflight_says_an_allowed_unpriced_model_is_unpriced(git_repo):
    cfg = cfg_for(git_repo)
    cfg.models.allow_unpriced, cfg.models.light = True, "local-llama"
    (models,) = [r for r in checks.preflight(cfg, env={}) if r.name == "models"]
    assert models.passed and models.summary.startswith("UNPRICED (allowed by [models]")
    assert "light = local-llama" in models.summary
    # Under a ceiling (the run's --budget) the Door would refuse every call: a failure.
    (bounded,) = [
        r for r in checks.preflight(cfg, env={}, budget_left_usd=Decimal(5)) if r.name == "models"
    ]
    assert not bounded.passed and "a budget ceiling is set" in bounded.summary


def test_preflight_names_what_is_missing(tmp_path):
    cfg = cfg_for(tmp_path, lint="no-such-linter-xyz .", smoke="./smoke.sh")
    results = {r.name: r for r in checks.preflight(cfg, env={"PATH": "/nonexistent"})}
    assert not results["git"].passed
    assert not results["api"].passed and "ANTHROPIC_API_KEY" in results["api"].details[0].message
    messages = [d.message for d in results["tools"].details]
    assert any("no-such-linter-xyz" in m for m in messages)
    assert any("./smoke.sh" in m for m in messages)


def test_preflight_wants_a_key_even_with_a_base_url_or_endpoints(tmp_path):
    # The SDK client refuses to start without a key, so a base URL alone is not "ok".
    cfg = cfg_for(tmp_path)
    url_only = checks.preflight(cfg, env={"ANTHROPIC_BASE_URL": "http://127.0.0.1:1"})[2]
    assert not url_only.passed and "needs a key too" in url_only.summary
    assert "any key" in url_only.details[0].message
    cfg.endpoints.mid = "http://127.0.0.1:2"
    assert not checks.preflight(cfg, env={})[2].passed
    with_key = checks.preflight(cfg, env={"ANTHROPIC_API_KEY": "k"})[2]
    assert (
        with_key.passed and with_key.summary == "configured via ANTHROPIC_API_KEY, [endpoints] mid"
    )


def test_preflight_takes_the_loops_extra_inputs(git_repo):
    cfg = cfg_for(git_repo)
    (git_repo / "README.md").write_text("changed\n")
    results = {
        r.name: r
        for r in checks.preflight(
            cfg,
            env={"ANTHROPIC_API_KEY": "k"},
            plan_files=["README.md", "src/missing.py"],
            require_clean=True,
            budget_left_usd=Decimal("1.0"),
            estimated_usd=Decimal("2.5"),
        )
    }
    assert results["plan files"].details == [Detail("does not exist", "src/missing.py")]
    assert results["clean tree"].details == [Detail("uncommitted changes", "README.md")]
    assert "exceeds" in results["budget"].summary
    assert not any(r.passed for r in results.values() if r.name in ("plan files", "clean tree"))


def test_check_preflight_cli(git_repo, run_devloop):
    proc = run_devloop(git_repo, "check", "preflight")
    assert proc.returncode == 1
    assert "FAIL  api" in proc.stdout
    proc = run_devloop(git_repo, "check", "preflight", env={"ANTHROPIC_API_KEY": "k"})
    assert proc.returncode == 0, proc.stdout
