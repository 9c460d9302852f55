"""`devloop routing`: the effective table, ROUTING.md rendering and drift checking."""

from __future__ import annotations

from pathlib import Path

from devloop import config as config_mod
from devloop import routing
from devloop.steps import STEPS, resolve_step

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def test_committed_routing_md_is_the_default_config_rendering():
    expected = routing.render_markdown(config_mod.Config())
    assert (PROJECT_ROOT / "ROUTING.md").read_text(encoding="utf-8") == expected


def test_cli_markdown_equals_committed_routing_md(tmp_path, run_devloop):
    proc = run_devloop(tmp_path, "routing", "--markdown")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (PROJECT_ROOT / "ROUTING.md").read_text(encoding="utf-8")


def test_default_tiers_match_the_design():
    tiers = {r.step.number: r.tier for r in routing.routes(config_mod.Config())}
    assert [n for n, t in tiers.items() if t == "frontier"] == [1, 2, 3, 4, 6, 10]
    assert [n for n, t in tiers.items() if t == "mid"] == [5, 8, 9, 11, 12, 13, 14]
    assert [n for n, t in tiers.items() if t == "script"] == [7, 15]
    assert [s.number for s in STEPS if s.worker == "mixed"] == [12, 14]
    assert [s.number for s in STEPS if s.fresh_context] == [3, 4, 10]


def test_steps_resolve_by_number_or_key():
    assert resolve_step("2").key == "plan"
    assert resolve_step(10).key == "audit"
    assert resolve_step("Double-Check").number == 6


def test_override_changes_route_and_reason(git_repo, run_cli):
    (git_repo / "devloop.toml").write_text('[routing.steps]\nreview = "frontier"\n')
    result = run_cli(git_repo, "routing")
    assert result.exit_code == 0
    line = next(x for x in result.output.splitlines() if " review " in x)
    assert "claude-opus-5-5" in line and "config override" in line


def test_routing_check_passes_then_fails_on_drift(git_repo, run_devloop):
    (git_repo / "devloop.toml").write_text("[models]\nfrontier = 'claude-opus-5'\n")
    missing = run_devloop(git_repo, "routing", "check")
    assert missing.returncode == 1 and "missing" in missing.stderr

    md = run_devloop(git_repo, "routing", "--markdown").stdout
    assert "`claude-opus-5`" in md
    (git_repo / "ROUTING.md").write_text(md)
    ok = run_devloop(git_repo, "routing", "check")
    assert ok.returncode == 0, ok.stderr

    (git_repo / "devloop.toml").write_text("[routing.steps]\nimplement = 'frontier'\n")
    drift = run_devloop(git_repo, "routing", "check")
    assert drift.returncode == 1
    assert "out of date" in drift.stderr and "devloop routing --markdown" in drift.stderr
