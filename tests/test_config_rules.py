"""Every config key has a rule (configkeys.RULES), every rule refuses what it should, from
devloop.toml and from [tool.devloop] in pyproject.toml, with the file, the key and the value
named and exit 2; and the README's config reference is the one the rules render."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from devloop import config as config_mod
from devloop import configkeys
from devloop.errors import EXIT_USAGE, ConfigError

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def api_server():
    from devloop.sim import SimServer

    with SimServer() as server:
        yield server


ALL_KEYS = sorted(key for key, _ in configkeys.keys())

# key -> (a value it must refuse, as TOML; how the message shows the key; what it says).
# Adding a config field without a line here fails test_every_key_is_refused_when_out_of_range.
BAD_VALUES: dict[str, tuple[str, str, str]] = {
    "models.frontier": ('"gpt-4o"', '[models] frontier = "gpt-4o"', "not in devloop's price table"),
    "models.mid": ('" "', '[models] mid = " "', "must name a model id"),
    "models.light": ('"claude-haiku-9"', "[models] light", "not in devloop's price table"),
    "models.allow_unpriced": ('"yes"', "[models] allow_unpriced", "must be true or false"),
    "endpoints.frontier": ('"ftp://host"', "[endpoints] frontier", "an http(s) URL"),
    "endpoints.mid": ('"gateway.internal"', "[endpoints] mid", "an http(s) URL"),
    "endpoints.light": ('"https://"', "[endpoints] light", "an http(s) URL"),
    "api.max_retries": ("-1", "[api] max_retries = -1", "must be 0 or more"),
    "api.timeout_s": ("-5", "[api] timeout_s = -5", "must be a finite number of seconds"),
    "api.attribution_headers": ("1", "[api] attribution_headers = 1", "must be true or false"),
    "api.on_model_mismatch": ('"ignore"', "[api] on_model_mismatch", "not a known model-mismatch"),
    "api.max_continuations": ("-1", "[api] max_continuations = -1", "must be 0 or more"),
    "routing.router": ('"smart"', "[routing] router", "is not a known router"),
    "routing.steps": ('{ review = "opus" }', "[routing.steps] review", "is not a known tier"),
    "routing.high_threshold": ("1.5", "[routing] high_threshold = 1.5", "between 0 and 1"),
    "routing.low_threshold": ("-0.1", "[routing] low_threshold = -0.1", "between 0 and 1"),
    "effort": ('{ plan = "extreme" }', '[effort] plan = "extreme"', "not a known effort level"),
    "commands.lint": ('"ruff check \'src"', "[commands] lint", "not a shell command line"),
    "commands.format": ('"black --check \\"x"', "[commands] format", "not a shell command"),
    "commands.format_fix": ('"ruff format \'."', "[commands] format_fix", "not a shell command"),
    "commands.test": ('"pytest \\u0000"', "[commands] test", "must not contain a NUL"),
    "commands.quick_test": ('"pytest \'-q"', "[commands] quick_test", "not a shell command"),
    "commands.smoke": ('"./run \\"smoke"', "[commands] smoke", "not a shell command"),
    "commands.timeout_s": ("0", "[commands] timeout_s = 0", "seconds above 0"),
    "commands.lint_files": ('["*.go", ".go"]', '[commands] lint_files[1] = ".go"', 'write "*.go"'),
    "commands.format_files": (
        '["../x/*.rs"]',
        '[commands] format_files[0] = "../x/*.rs"',
        "relative to the repository root",
    ),
    "commands.file_suffixes": (
        '[".py", " "]',
        '[commands] file_suffixes[1] = " "',
        "a file name ending",
    ),
    "budget.feature_usd": ("inf", "[budget] feature_usd = inf", "must be a finite amount of USD"),
    "budget.step_usd": ("0", "[budget] step_usd = 0", "must be a positive amount of USD"),
    "budget.team": ('" platform"', '[budget] team = " platform"', "without surrounding spaces"),
    "budget.daily_usd": ("-5", "[budget] daily_usd = -5", "must be a positive amount of USD"),
    "budget.monthly_usd": ("nan", "[budget] monthly_usd = nan", "must be a finite amount of USD"),
    "ledger.url": ('"mysql://x/y"', '[ledger] url = "mysql://x/y"', "is not a PostgreSQL URL"),
    "ledger.repository": ('"a\\tb"', '[ledger] repository = "a\\tb"', "control characters"),
    "budget.steps": ("{ implement = -2 }", "[budget.steps] implement = -2", "positive amount"),
    "git.branch_prefix": (
        '"bad..name/"',
        '[git] branch_prefix = "bad..name/"',
        "cannot contain '..'",
    ),
    "git.commit_types": ("[]", "[git] commit_types = []", "must list at least one type"),
    "git.header_max_length": ("0", "[git] header_max_length = 0", "must be at least 30"),
    "loop.max_revisions": ("-3", "[loop] max_revisions = -3", "must be 0 or more"),
    "loop.spec_max_bytes": ("0", "[loop] spec_max_bytes = 0", "must be at least 1"),
    "loop.project_map_tokens": ("0", "[loop] project_map_tokens = 0", "must be at least 1"),
    "loop.task_map_tokens": ("-5", "[loop] task_map_tokens = -5", "must be 0 or more"),
    "loop.code_tokens": ("-1", "[loop] code_tokens = -1", "must be at least 1"),
    "loop.research_turns": ("0", "[loop] research_turns = 0", "must be at least 1"),
    "loop.max_tokens": ("{ plan = 0 }", "[loop.max_tokens] plan = 0", "must be at least 1"),
    "loop.remediate_severity": ('"urgent"', "[loop] remediate_severity", "not a known severity"),
    "tools.view_max_chars": ("0", "[tools] view_max_chars = 0", "must be at least 1"),
    "tools.file_max_bytes": ("-1", "[tools] file_max_bytes = -1", "must be at least 1"),
    "tools.command_timeout_s": (
        "nan",
        "[tools] command_timeout_s = nan",
        "finite number of seconds",
    ),
    "tools.command_output_max_chars": ("0", "[tools] command_output_max_chars", "at least 1"),
    "sandbox.mode": ('"maybe"', "[sandbox] mode", "is not a known sandbox mode"),
    "sandbox.network": ('"no"', "[sandbox] network", "must be true or false"),
    "sandbox.read": ('["relative/dir"]', "[sandbox] read[0]", "must be an absolute path"),
    "sandbox.env": ('["GITHUB_TOKEN"]', "[sandbox] env[0]", "looks like a credential"),
    "agent.attempts": ("0", "[agent] attempts = 0", "must be at least 1"),
    "agent.max_turns": ("0", "[agent] max_turns = 0", "must be at least 1"),
    "agent.max_tool_calls": ("0", "[agent] max_tool_calls = 0", "must be at least 1"),
    "agent.escalate": ('"yes"', "[agent] escalate", "must be true or false"),
    "agent.docs_files": ('["../NOTES.md"]', "[agent] docs_files[0]", "must be a path relative"),
    "agent.diff_max_chars": ("0", "[agent] diff_max_chars = 0", "must be at least 1"),
}


def toml_for(key: str, value: str, *, pyproject: bool) -> str:
    table, _, name = key.rpartition(".")
    root = "tool.devloop" if pyproject else ""
    section = ".".join(p for p in (root, table) if p)
    return (f"[{section}]\n" if section else "") + f"{name} = {value}\n"


def test_every_config_field_has_a_rule():
    assert set(configkeys.RULES) == set(ALL_KEYS), (
        "a config key without a rule in devloop/configkeys.py (or a rule for no key)"
    )


@pytest.mark.parametrize("source", ["devloop.toml", "pyproject.toml"])
@pytest.mark.parametrize("key", ALL_KEYS)
def test_every_key_is_refused_when_out_of_range(git_repo, key, source):
    assert key in BAD_VALUES, f"add a value [{key}] must refuse to BAD_VALUES"
    value, shown, problem = BAD_VALUES[key]
    pyproject = source == "pyproject.toml"
    path = git_repo / source
    path.write_text(toml_for(key, value, pyproject=pyproject), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        config_mod.load(git_repo)
    message = info.value.message
    if pyproject:
        shown = shown.replace("[", "[tool.devloop.", 1)
    assert message.startswith(f"{path} {shown}"), message
    assert problem in message
    assert info.value.exit_code == EXIT_USAGE


# The values the issue found accepted silently, through the real command line, both sources.
ISSUE_CASES = [
    ("api.timeout_s", "-5", "[api] timeout_s = -5: must be a finite number of seconds above 0."),
    ("loop.max_revisions", "-3", "[loop] max_revisions = -3: must be 0 or more."),
    ("git.header_max_length", "0", "[git] header_max_length = 0: must be at least 30."),
    ("git.branch_prefix", '"bad..name/"', '[git] branch_prefix = "bad..name/": a git branch'),
    ("budget.feature_usd", "inf", "[budget] feature_usd = inf: must be a finite amount of USD."),
    ("budget.feature_usd", "nan", "[budget] feature_usd = nan: must be a finite amount of USD."),
    ("models.mid", '"gpt-4o"', '[models] mid = "gpt-4o": is not in devloop\'s price table'),
    ("api.max_retries", "-1", "[api] max_retries = -1: must be 0 or more."),
]


@pytest.mark.parametrize("source", ["devloop.toml", "pyproject.toml"])
@pytest.mark.parametrize(("key", "value", "expected"), ISSUE_CASES)
def test_the_values_the_issue_found_are_refused_by_the_cli(
    git_repo, run_devloop, api_server, key, value, expected, source
):
    pyproject = source == "pyproject.toml"
    (git_repo / source).write_text(toml_for(key, value, pyproject=pyproject), encoding="utf-8")
    fix = "delete the line" if key != "models.mid" else "[models] allow_unpriced = true"
    if pyproject:
        expected = expected.replace("[", "[tool.devloop.", 1)
        fix = fix.replace("[", "[tool.devloop.", 1)
    # With a key and a base URL set, as when the SDK used to die on max_retries = -1.
    env = {"ANTHROPIC_BASE_URL": api_server.base_url, "ANTHROPIC_API_KEY": "sk-test-rules-0000"}
    proc = run_devloop(git_repo, "models", env=env)  # the command that reads the API
    assert proc.returncode == EXIT_USAGE, proc.stdout + proc.stderr
    assert proc.stderr.startswith(f"devloop: error: {git_repo / source} {expected}")
    assert fix in proc.stderr
    assert "Traceback" not in proc.stderr
    assert api_server.requests == []  # refused before anything was sent


def test_low_threshold_above_high_is_refused(git_repo):
    (git_repo / "devloop.toml").write_text("[routing]\nlow_threshold = 0.8\nhigh_threshold = 0.6\n")
    with pytest.raises(ConfigError, match=r"\[routing\] low_threshold = 0.8: must be at most"):
        config_mod.load(git_repo)


def test_budget_above_the_ledger_limit_is_refused(git_repo):
    (git_repo / "devloop.toml").write_text("[budget]\nfeature_usd = 10000000\n")
    with pytest.raises(ConfigError, match="at most 1,000,000"):
        config_mod.load(git_repo)


def test_step_tables_are_normalised_to_step_keys(git_repo):
    (git_repo / "devloop.toml").write_text(
        '[effort]\n2 = "low"\n[budget.steps]\n8 = 2.5\n[loop.max_tokens]\n"review" = 9000\n'
    )
    cfg = config_mod.load(git_repo)
    assert cfg.effort == {"plan": "low"}
    assert str(cfg.budget.steps["implement"]) == "2.5"
    assert cfg.loop.max_tokens == {"review": 9000}


# --------------------------------------------------------------- branch prefixes


PREFIXES = [
    "devloop/", "", "feature/x/", "ok.dot/", "é/", "a@b/", "team-", "x.lockx/",
    "bad..name/", "a.lock/", ".hidden/", "a/.x/", "-lead/", "a//b/", "/abs/", "@{x/",
    "a b/", "a~/", "a^/", "a:/", "a?/", "a*/", "a[/", "a\\/", "tab\t/", "del\x7f/",
]  # fmt: skip


@pytest.mark.parametrize("prefix", PREFIXES)
def test_branch_prefix_rule_agrees_with_git(git_repo, prefix):
    name = prefix + "some-feature"
    proc = subprocess.run(
        ["git", "check-ref-format", "--branch", name], cwd=git_repo, capture_output=True
    )
    assert (configkeys.ref_problem(prefix) is None) == (proc.returncode == 0), name


# --------------------------------------------------------------- model ids


def test_the_price_table_reader_agrees_with_pricing():
    from devloop.model import pricing

    assert configkeys.priced_models() == frozenset(pricing.known_models())


def test_default_models_are_priced():
    defaults = config_mod.ModelsConfig()
    known = configkeys.priced_models()
    assert {defaults.for_tier(t) for t in config_mod.MODEL_TIERS} <= known


def test_unpriced_model_names_the_key_and_the_way_out(git_repo):
    (git_repo / "devloop.toml").write_text('[models]\nmid = "claude-sonet-5-5"\n')
    with pytest.raises(ConfigError) as info:
        config_mod.load(git_repo)
    message = info.value.message
    assert '[models] mid = "claude-sonet-5-5": is not in devloop\'s price table' in message
    assert "Did you mean 'claude-sonnet-5-5'?" in message
    assert "[models] allow_unpriced = true" in message


def test_allow_unpriced_lets_an_unpriced_model_through(git_repo):
    (git_repo / "devloop.toml").write_text(
        '[models]\nallow_unpriced = true\nlight = "local-llama"\n'
    )
    cfg = config_mod.load(git_repo)
    assert cfg.models.light == "local-llama" and cfg.models.allow_unpriced


def test_preflight_does_not_call_an_allowed_unpriced_model_ok(git_repo, run_devloop):
    (git_repo / "devloop.toml").write_text(
        '[models]\nallow_unpriced = true\nlight = "local-llama"\n'
    )
    proc = run_devloop(git_repo, "check", "preflight")
    line = next(x for x in proc.stdout.splitlines() if "models:" in x)
    assert line.startswith("  ok    models: UNPRICED (allowed by [models] allow_unpriced)")
    assert "light = local-llama" in line


@pytest.mark.parametrize(
    "budget",
    ["[budget]\nfeature_usd = 5\n", "[budget]\nstep_usd = 1\n", "[budget.steps]\nplan = 1\n"],
)
def test_an_allowed_unpriced_model_cannot_sit_under_a_ceiling(git_repo, budget):
    (git_repo / "devloop.toml").write_text(
        '[models]\nallow_unpriced = true\nmid = "local-llama"\n' + budget
    )
    with pytest.raises(ConfigError) as info:
        config_mod.load(git_repo)
    assert '[models] mid = "local-llama": has no price, and [budget]' in info.value.message
    assert "Remove [budget]" in info.value.message


# --------------------------------------------------------------- the reference


def test_readme_config_reference_is_the_generated_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- config-reference:start -->\n", "<!-- config-reference:end -->"
    assert start in readme and end in readme
    shown = readme.split(start, 1)[1].split(end, 1)[0].strip("\n")
    expected = configkeys.reference_markdown().strip("\n")
    assert shown == expected, (
        "README's config reference is stale: replace the text between the config-reference "
        "markers with the output of\n  python -c 'from devloop.configkeys import "
        "reference_markdown; print(reference_markdown())'"
    )


def test_reference_lists_every_key_with_its_default():
    text = configkeys.reference_markdown()
    for key in ALL_KEYS:
        table, _, name = key.rpartition(".")
        assert f"`[{table or key}]`" in text
        if table:
            assert f"| `{name}` |" in text
    assert "| `max_revisions` | integer | `2` | 0 or more |" in text
    assert "| `feature_usd` | USD amount | none |" in text
