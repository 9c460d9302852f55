"""`devloop suggest`: outcome rates per step and tier, and the routing changes they support."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from loop_harness import plan_phase

from devloop import config as config_mod
from devloop.ledger import CallRecord, Ledger
from devloop.reports import suggest as suggest_mod
from devloop.steps import resolve_step

OPUS, SONNET = "claude-opus-5-5", "claude-sonnet-5-5"
USAGE = {"input_tokens": 1000, "output_tokens": 500}
COST = {"frontier": Decimal("0.05"), "mid": Decimal("0.01")}


def add_run(
    ledger: Ledger,
    feature: str,
    key: str,
    tier: str,
    *,
    status: str = "ok",
    escalated: bool = False,
    **signals,
) -> None:
    step = resolve_step(key)
    model = OPUS if tier == "frontier" else SONNET
    run = ledger.start_step_run(
        feature, step.number, key, worker=step.worker, tier=tier, model=model,
        route={"router": "rule", "tier": tier, "reason": "test"},
    )  # fmt: skip

    def call(on: str, escalated_from: int | None = None) -> int:
        return ledger.record_call(
            CallRecord(
                feature, key, on, OPUS if on == "frontier" else SONNET, "ok",
                step_run_id=run, usage=USAGE, cost_usd=COST[on],
                baseline_usd=COST["frontier"], escalated_from=escalated_from,
            )
        )  # fmt: skip

    first = call(tier)
    if escalated:
        call("frontier", escalated_from=first)
    state = "done" if status == "ok" else status
    ledger.finish_step_run(run, status, {"signals": {"status": state, **signals}})


@pytest.fixture
def history(git_repo):
    """Ten features' worth of runs: implement on mid goes badly, research on mid does as
    well as on frontier, plans written on mid are sent back, the audit is never demoted."""
    with Ledger.open(git_repo) as ledger:
        for i in range(1, 7):  # implement on mid: 3 escalated, 1 failed, 2 fine
            add_run(
                ledger, f"f{i}", "implement", "mid", escalated=i <= 3,
                status="failed" if i == 4 else "ok",
            )  # fmt: skip
        for i in range(1, 11):  # research: frontier in f1-f5, mid in f6-f10, all fine
            add_run(ledger, f"f{i}", "research", "frontier" if i <= 5 else "mid")
        for i in range(1, 11):  # plan: frontier in f1-f5 (passes); mid in f6-f10, 3 sent back
            tier = "frontier" if i <= 5 else "mid"
            add_run(ledger, f"f{i}", "plan", tier, round=0)
            verdict = "fail" if i >= 8 else "pass"
            add_run(
                ledger, f"f{i}", "validate-requirements", "frontier",
                verdict=verdict, round=0, first_time=verdict == "pass",
            )  # fmt: skip
            add_run(ledger, f"f{i}", "audit", tier, findings={"high": 0})
    return git_repo


def test_suggest_promotes_and_demotes_with_the_evidence(history):
    cfg = config_mod.load(history)
    with Ledger.open(history) as ledger:
        result = suggest_mod.suggest(ledger, cfg)
    recs = {r.step.key: r for r in result.recommendations}
    assert set(recs) == {"implement", "research"}
    implement = recs["implement"]
    assert (implement.action, implement.from_tier, implement.to_tier) == (
        "promote",
        "mid",
        "frontier",
    )
    assert (
        "67% of runs went badly" in implement.why and "6 runs over 6 features" in implement.evidence
    )
    # the escalated runs already paid a frontier call; the rest cost their frontier baseline
    assert implement.saving_per_feature == Decimal("-0.04")
    research = recs["research"]
    assert (research.action, research.to_tier) == ("demote", "mid")
    assert research.saving_per_feature > 0 and "5 mid runs over 5 features" in research.evidence
    assert result.config_snippet() == '[routing.steps]\nresearch = "mid"\nimplement = "frontier"\n'
    groups = {(g.step.key, g.tier): g for g in result.groups}
    assert groups[("plan", "mid")].bad_rate == pytest.approx(0.6)  # 3 of 5 sent back
    assert groups[("plan", "frontier")].bad_rate == 0
    assert groups[("validate-requirements", "frontier")].bad == 0  # rejecting is its job
    assert ("audit", "mid") in groups  # evidence, but steps 3, 4, 6 and 10 are never demoted


def test_a_human_rate_folds_review_time_into_the_comparison(history):
    cfg = config_mod.load(history)
    with Ledger.open(history) as ledger:
        api_only = suggest_mod.suggest(ledger, cfg)
        total = suggest_mod.suggest(ledger, cfg, human_rate=Decimal(120), human_minutes=30)
    before = next(r for r in api_only.recommendations if r.step.key == "implement")
    after = next(r for r in total.recommendations if r.step.key == "implement")
    # one failed run in six features: 1/6 of 30 minutes at $120/h = $10 per feature
    assert after.saving_per_feature - before.saving_per_feature == pytest.approx(
        Decimal(10), abs=Decimal("0.001")
    )
    assert any("$120/h" in note for note in total.notes)


def test_suggest_command_prints_and_never_changes_the_config(history, devloop):
    config = history / "devloop.toml"
    config.write_text("[loop]\nmax_revisions = 2\n")
    result = devloop(history, "suggest", "--human-rate", "$90/h")
    assert result.code == 0, result
    assert "Outcomes by step and tier over 10 feature(s)" in result.out
    assert "promote 8 implement: mid -> frontier" in result.out
    assert "demote 1 research: frontier -> mid" in result.out
    assert 'Proposed config (not applied):\n\n[routing.steps]\nresearch = "mid"' in result.out
    assert config.read_text() == "[loop]\nmax_revisions = 2\n"
    data = json.loads(devloop(history, "suggest", "--json").out)
    assert data["schema"] == "devloop.suggest/1" and data["features"] == 10
    assert [r["key"] for r in data["recommendations"]] == ["research", "implement"]
    assert data["recommendations"][1]["config"] == '[routing.steps] implement = "frontier"'
    assert devloop(history, "suggest", "--human-rate", "lots").code == 2


def test_with_too_little_data_it_says_so(repo, sim, devloop):
    assert devloop(repo, "suggest").code == 1  # no ledger yet
    sim(plan_phase())
    assert devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "plan").code == 0
    result = devloop(repo, "suggest")
    assert result.code == 0, result
    assert "No routing change to recommend" in result.out
    assert "Not enough data to judge:" in result.out
    assert "5 build-plan on mid: 1 run(s) over 1 feature(s); need 5 over 3" in result.out
    assert "1 research on mid: 0 run(s)" in result.out and "devloop ab SPEC" in result.out
    data = json.loads(devloop(repo, "suggest", "--json").out)
    assert data["recommendations"] == [] and data["config"] is None
    research = next(g for g in data["groups"] if g["key"] == "research")
    assert (research["tier"], research["runs"], research["failed_rate"]) == ("frontier", 1, 0)
