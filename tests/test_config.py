"""Config loading: defaults, both sources, and every bad input gets a clear message + exit 2."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from devloop import config as config_mod
from devloop.errors import EXIT_USAGE, ConfigError


def write(repo: Path, text: str, name: str = "devloop.toml") -> Path:
    path = repo / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_without_any_config(git_repo):
    cfg = config_mod.load(git_repo)
    assert cfg.source is None
    assert cfg.root == git_repo.resolve()
    assert cfg.models.frontier == "claude-opus-5-5"
    assert cfg.models.mid == "claude-sonnet-5-5"
    assert cfg.models.light == "claude-haiku-5-5"
    assert cfg.git.branch_prefix == "devloop/"
    assert "feat" in cfg.git.commit_types and cfg.git.header_max_length == 100


def test_devloop_toml_is_read_from_a_subdirectory(git_repo):
    write(git_repo, '[models]\nmid = "claude-sonnet-5"\n[routing.steps]\n9 = "frontier"\n')
    sub = git_repo / "src" / "pkg"
    sub.mkdir(parents=True)
    cfg = config_mod.load(sub)
    assert cfg.root == git_repo.resolve()
    assert cfg.models.mid == "claude-sonnet-5"
    # step given by number is normalised to its key
    assert cfg.routing.steps == {"review": "frontier"}


def test_pyproject_tool_devloop_is_read(git_repo):
    write(
        git_repo,
        '[project]\nname = "x"\n[tool.devloop.budget]\nfeature_usd = 3\n',
        "pyproject.toml",
    )
    cfg = config_mod.load(git_repo)
    assert cfg.budget.feature_usd == 3.0
    assert cfg.source == git_repo / "pyproject.toml"


def test_devloop_toml_wins_over_pyproject(git_repo):
    write(git_repo, '[tool.devloop.models]\nmid = "claude-sonnet-5"\n', "pyproject.toml")
    write(git_repo, '[models]\nmid = "claude-sonnet-4-6"\n')
    assert config_mod.load(git_repo).models.mid == "claude-sonnet-4-6"


BAD_CONFIGS = [
    # (file text, substrings the message must contain)
    ("[models\nmid = 1\n", ["invalid TOML", "line 1", "column"]),
    (
        '[routing]\nrouter = "rule"\nroutr = "x"\n',
        ["[routing] routr: unknown key", "Did you mean 'router'"],
    ),
    ('[modles]\nmid = "x"\n', ["modles: unknown key", "Did you mean 'models'"]),
    (
        '[budget]\nfeature_usd = "ten"\n',
        ['[budget] feature_usd = "ten": must be an amount in USD, not a string'],
    ),
    (
        "[git]\nheader_max_length = true\n",
        ["[git] header_max_length = true: must be an integer"],
    ),
    ('[git]\ncommit_types = "feat"\n', ['[git] commit_types = "feat": must be a list of']),
    ('models = "opus"\n', ['models = "opus": must be a table ([models])']),
    (
        '[routing.steps]\nreview = "opus"\n',
        ['[routing.steps] review = "opus": is not a known tier', "frontier, mid, light"],
    ),
    ('[routing.steps]\nreveiw = "mid"\n', ["unknown step 'reveiw'", "Did you mean 'review'"]),
    ('[routing.steps]\n16 = "mid"\n', ["unknown step '16'"]),
    ('[routing.steps]\npreflight = "mid"\n', ["'preflight' is run by a script"]),
    ('[routing]\nrouter = "smart"\n', ['[routing] router = "smart": is not a known router']),
    ('[effort]\nplan = "extreme"\n', ['[effort] plan = "extreme": is not a known effort level']),
    ("[budget]\nfeature_usd = -1\n", ["[budget] feature_usd = -1: must be a positive amount"]),
    ("[budget]\ndaily_usd = 50\n", ["[budget] daily_usd = 50: is a team's ceiling", "team ="]),
    ('[budget]\nteam = "a"\nmonthly_usd = 0\n', ["[budget] monthly_usd = 0: must be a positive"]),
    (
        '[ledger]\nurl = "mysql://db/x"\n',
        ['[ledger] url = "mysql://db/x": is not a PostgreSQL URL'],
    ),
]


def test_team_budget_and_ledger_url(git_repo):
    write(
        git_repo,
        '[budget]\nteam = "platform"\ndaily_usd = 25.50\nmonthly_usd = 400\n'
        '[ledger]\nurl = "postgresql://devloop@db.example/devloop"\nrepository = "acme/shop"\n',
    )
    cfg = config_mod.load(git_repo)
    assert (cfg.budget.team, cfg.budget.daily_usd, cfg.budget.monthly_usd) == (
        "platform",
        Decimal("25.50"),
        Decimal("400"),
    )
    assert cfg.ledger.url == "postgresql://devloop@db.example/devloop"
    assert cfg.ledger.repository == "acme/shop"


def test_a_ledger_url_in_the_environment_must_be_postgresql(git_repo, run_devloop):
    proc = run_devloop(git_repo, "cost", env={"DEVLOOP_LEDGER_URL": "/tmp/ledger.db"})
    assert proc.returncode == EXIT_USAGE
    assert "DEVLOOP_LEDGER_URL='/tmp/ledger.db' is not a PostgreSQL URL" in proc.stderr


@pytest.mark.parametrize(("text", "expected"), BAD_CONFIGS)
def test_bad_config_message(git_repo, text, expected):
    path = write(git_repo, text)
    with pytest.raises(ConfigError) as info:
        config_mod.load(git_repo)
    message = info.value.message
    assert str(path) in message
    for fragment in expected:
        assert fragment in message


@pytest.mark.parametrize(("text", "expected"), BAD_CONFIGS)
def test_bad_config_exits_2_without_traceback(git_repo, run_devloop, text, expected):
    write(git_repo, text)
    proc = run_devloop(git_repo, "routing")
    assert proc.returncode == EXIT_USAGE
    assert proc.stderr.startswith("devloop: error: ")
    assert expected[0] in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_key_in_pyproject_names_the_table_and_key(git_repo):
    write(git_repo, "[tool.devloop.git]\nbranch_prefx = 'x/'\n", "pyproject.toml")
    with pytest.raises(ConfigError) as info:
        config_mod.load(git_repo)
    assert "pyproject.toml [tool.devloop.git] branch_prefx: unknown key" in info.value.message
    assert "Did you mean 'branch_prefix'" in info.value.message


def test_non_utf8_config(git_repo):
    (git_repo / "devloop.toml").write_bytes(b"[models]\nmid = '\xff'\n")
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        config_mod.load(git_repo)


def test_dash_c_must_name_a_directory(git_repo, run_devloop):
    proc = run_devloop(git_repo, "-C", "README.md", "routing")
    assert proc.returncode == 2
    assert "'README.md' is a file; give a directory." in proc.stderr
    missing = run_devloop(git_repo, "-C", "nowhere", "routing")
    assert missing.returncode == 2 and "-C nowhere: no such directory." in missing.stderr
