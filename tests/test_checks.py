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
        ("pnpm exec eslint .", "eslint"),
        ("yarn dlx prettier --check .", "prettier"),
        ("bunx biome check .", "biome"),
        ("bundle exec rubocop {files}", "rubocop"),
        ("go vet ./...", "go"),
        ("cargo clippy -- -D warnings", "cargo"),
        ("'unbalanced", None),
    ],
)
def test_tool_name(command, tool):
    assert checks.tool_name(command) == tool


@pytest.mark.parametrize(
    ("command", "patterns"),
    [
        ("ruff check .", ("*.py", "*.pyi")),
        ("npx eslint .", commands.TOOL_PATTERNS["eslint"]),
        ("gofmt -l {files}", ("*.go",)),
        ("golangci-lint run", ("*.go",)),
        ("go vet ./...", ("*.go",)),
        ("cargo clippy -- -D warnings", ("*.rs",)),
        ("rustfmt --check {files}", ("*.rs",)),
        ("pnpm exec tsc --noEmit", ("*.ts", "*.tsx", "*.mts", "*.cts")),
        ("bundle exec rubocop {files}", ("*.rb", "*.rake", "*.gemspec", "Gemfile", "Rakefile")),
        ("ktlint {files}", ("*.kt", "*.kts")),
        ("clang-format --dry-run -Werror {files}", commands.TOOL_PATTERNS["clang-format"]),
        ("dotnet format --verify-no-changes", ("*.cs", "*.fs", "*.vb")),
        ("swiftlint lint .", ("*.swift",)),
        ("vendor/bin/phpcs .", ("*.php",)),
        ("make lint", None),
        ("npm run lint", None),
    ],
)
def test_file_patterns_are_inferred_from_the_tool(tmp_path, command, patterns):
    assert checks.file_patterns(cfg_for(tmp_path, lint=command), "lint") == patterns


def test_file_patterns_configured_per_command_then_suffixes_then_inferred(tmp_path):
    cfg = cfg_for(tmp_path, lint="ruff check .", format="gofmt -l .")
    cfg.commands.file_suffixes = [".md", "rst"]
    assert checks.file_patterns(cfg, "lint") == ("*.md", "*.rst")
    cfg.commands.lint_files = ["src/*.py", "Makefile"]
    assert checks.file_patterns(cfg, "lint") == ("src/*.py", "Makefile")
    assert checks.file_patterns(cfg, "format") == ("*.md", "*.rst")  # suffixes: both
    cfg.commands.file_suffixes = []
    assert checks.file_patterns(cfg, "format") == ("*.go",)


def test_patterns_match_names_or_whole_paths():
    files = ["main.go", "cmd/app/main.go", "web/app.ts", "Makefile", "src/a/b.py", "b.py"]
    assert [f for f in files if checks.matches(f, ("*.go",))] == ["main.go", "cmd/app/main.go"]
    assert [f for f in files if checks.matches(f, ("src/*.py",))] == ["src/a/b.py"]
    assert [f for f in files if checks.matches(f, ("Makefile", "web/*"))] == [
        "web/app.ts",
        "Makefile",
    ]
    assert [f for f in files if checks.matches(f, None)] == files
    assert not checks.matches("MAIN.GO", ("*.go",))  # case matters, as on the file system


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('lint_files = [".go"]', r'lint_files\[0\] = "\.go": is a suffix.*write "\*\.go"'),
        (
            'format_files = ["/abs/*.py"]',
            r'format_files\[0\] = "/abs/\*\.py": must be a glob pattern relative',
        ),
        (
            'lint_files = ["../other/*.go"]',
            r"must be a glob pattern relative to the repository root",
        ),
        ('lint_files = [""]', r"must be a glob pattern"),
        ('lint_files = "*.go"', r"lint_files.*list of strings"),
        ('file_suffixes = ["*.py"]', r'file_suffixes\[0\] = "\*\.py": must be a file name ending'),
    ],
)
def test_bad_file_patterns_are_config_errors(tmp_path, toml, message):
    (tmp_path / "devloop.toml").write_text(f"[commands]\n{toml}\n")
    with pytest.raises(config_mod.ConfigError, match=message):
        config_mod.load(tmp_path)


def test_a_command_is_given_only_the_files_it_checks(tmp_path):
    listed = tmp_path / "listed"
    for name in ("a.go", "b.rs", "c.go", "README.md"):
        (tmp_path / name).write_text("x\n")
    cfg = cfg_for(tmp_path, lint=f"ls {{files}} > {listed}")
    cfg.commands.lint_files = ["*.go"]
    assert checks.run_lint(cfg, ["a.go", "b.rs", "c.go", "README.md"]).passed
    assert listed.read_text().split() == ["a.go", "c.go"]
    skipped = checks.run_lint(cfg, ["b.rs", "README.md"])
    assert skipped.skipped and "none of the 2 file(s) is one it checks (*.go)" in skipped.summary


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
