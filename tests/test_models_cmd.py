"""`devloop models`: prices per tier, lifecycle from the Models API, loud warnings."""

from __future__ import annotations

import pytest

from devloop.sim import SimServer


@pytest.fixture
def sim():
    with SimServer() as server:
        yield server


def test_offline_lists_tiers_with_prices(git_repo, run_devloop):
    proc = run_devloop(git_repo, "models", "--check")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    frontier = next(line for line in lines if line.startswith("frontier"))
    assert "claude-opus-5-5" in frontier and "$4" in frontier and "$20" in frontier
    assert "devloop's table" in frontier


def test_live_lifecycle_from_the_models_api(git_repo, run_devloop, sim):
    env = {"ANTHROPIC_BASE_URL": sim.base_url, "ANTHROPIC_API_KEY": "sk-test-models-0000"}
    proc = run_devloop(git_repo, "models", "--check", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "active (Models API)" in proc.stdout
    paths = [r.path for r in sim.requests]
    assert "/v1/models/claude-opus-5-5" in paths and "/v1/models/claude-haiku-5-5" in paths


def test_deprecated_model_warns_and_check_fails(git_repo, run_devloop, sim):
    (git_repo / "devloop.toml").write_text('[models]\nmid = "claude-sonnet-4-5"\n')
    env = {"ANTHROPIC_BASE_URL": sim.base_url, "ANTHROPIC_API_KEY": "sk-test-models-0000"}
    plain = run_devloop(git_repo, "models", env=env)
    assert plain.returncode == 0
    assert "WARNING: mid: claude-sonnet-4-5 is deprecated" in plain.stderr
    checked = run_devloop(git_repo, "models", "--check", env=env)
    assert checked.returncode == 1


def test_unpriced_model_is_refused_unless_allowed(git_repo, run_devloop):
    (git_repo / "devloop.toml").write_text('[models]\nlight = "claude-haiku-9"\n')
    refused = run_devloop(git_repo, "models")
    assert refused.returncode == 2
    assert '[models] light = "claude-haiku-9": is not in devloop\'s price table' in refused.stderr


def test_an_allowed_unpriced_model_is_a_loud_warning(git_repo, run_devloop):
    (git_repo / "devloop.toml").write_text(
        '[models]\nallow_unpriced = true\nlight = "claude-haiku-9"\n'
    )
    proc = run_devloop(git_repo, "models", "--check")
    assert proc.returncode == 1
    assert "WARNING: light: not in the price table" in proc.stderr
    assert "unpriced" in next(line for line in proc.stdout.splitlines() if line.startswith("light"))
