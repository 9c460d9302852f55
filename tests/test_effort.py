"""Effort is table data: each model step's calls send its `effort` (the config's [effort]
overriding it), ROUTING.md and the dry run show it, and a model without effort gets none."""

from __future__ import annotations

import json

from loop_harness import SLUG, git, plan_phase

from devloop import config
from devloop.model.request import effort_for
from devloop.steps import STEPS


def test_each_plan_step_sends_its_tables_effort_and_the_config_overrides_one(repo, sim, devloop):
    (repo / "devloop.toml").write_text(
        (repo / "devloop.toml").read_text() + '\n[effort]\nbuild-plan = "low"\n'
    )
    git(repo, "commit", "-qam", "chore: effort")
    server = sim(plan_phase())
    result = devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "plan")
    assert result.code == 0, result
    sent = {
        step: [b["output_config"].get("effort") for b in server.bodies(step)]
        for step in ("research", "plan", "validate-requirements", "validate-integration")
    }
    assert sent == {key: ["high"] for key in sent}
    assert [b["output_config"]["effort"] for b in server.bodies("build-plan")] == ["low"]
    assert [b["output_config"]["effort"] for b in server.bodies("double-check")] == ["high"]
    explained = json.loads(devloop(repo, "routing", "explain", SLUG, "--json").out)
    efforts = {r["key"]: r["effort"] for r in explained["runs"]}
    assert efforts["research"] == "high" and efforts["build-plan"] == "low"


def test_routing_and_the_dry_run_show_the_effort(repo, devloop):
    routing = devloop(repo, "routing", "--markdown").out
    for step in STEPS:
        if step.effort:
            assert f"| `{step.key}` |" in routing
            row = next(line for line in routing.splitlines() if f"| `{step.key}` |" in line)
            assert f"| {step.effort} |" in row, row
    dry = json.loads(devloop(repo, "feature", "specs/goodbye.md", "--dry-run", "--json").out)
    efforts = {s["key"]: s["route"]["effort"] for s in dry["steps"]}
    assert efforts["e2e"] == "low" and efforts["audit"] == "high" and efforts["smoke"] is None
    assert dry["slug"] == SLUG


def test_a_model_that_takes_no_effort_level_is_sent_none(tmp_path):
    cfg = config.parse({})
    assert effort_for(cfg, "research", cfg.models.frontier) == "high"
    assert effort_for(cfg, "research", "claude-not-a-model") is None
    assert effort_for(cfg, "e2e", cfg.models.mid, asked="high") == "high"
