"""`devloop routing explain SLUG` after real runs against the offline server."""

from __future__ import annotations

import json

from loop_harness import SLUG, build_phase, plan_phase, with_router


def full_run(repo, sim, devloop):
    s = sim({**plan_phase(), **build_phase(), "implement": [{"text": "mid try"}, {"text": "ok"}]})
    result = devloop(repo, "feature", "specs/goodbye.md")
    assert result.code == 0, result
    return s


def test_explain_shows_each_route_score_signals_and_escalation(
    repo, sim, devloop, escalating_agent
):
    with_router(repo, "hybrid")
    full_run(repo, sim, devloop)
    data = json.loads(devloop(repo, "routing", "explain", SLUG, "--json").out)
    assert data["schema"] == "devloop.explain/1" and data["feature"] == SLUG
    runs = {r["key"]: r for r in data["runs"]}
    assert len(data["runs"]) == 15
    research = runs["research"]
    assert (research["router"], research["tier"], research["rule_tier"]) == (
        "hybrid",
        "mid",
        "frontier",
    )
    assert research["score"] < research["threshold"] == 0.3
    assert "demoted from frontier" in research["reason"]
    assert {s["name"] for s in research["signals"]} >= {"files", "security", "repository"}
    assert runs["audit"]["tier"] == "frontier" and "never demoted" in runs["audit"]["reason"]
    assert runs["preflight"]["worker"] == "script" and runs["preflight"]["score"] is None
    (escalation,) = runs["implement"]["escalations"]
    assert (escalation["from_tier"], escalation["tier"]) == ("mid", "frontier")
    assert escalation["from_model"] == "claude-sonnet-5-5"
    assert escalation["model"] == "claude-opus-5-5"
    assert runs["implement"]["stage"] == "build plan, spec and repository"

    text = devloop(repo, "routing", "explain", SLUG)
    assert text.code == 0, text
    assert f"Routing of feature '{SLUG}'" in text.out
    line = next(x for x in text.out.splitlines() if x.lstrip().startswith("8 "))
    assert "implement" in line and "+escalated" in line and "hybrid" in line
    assert "Signals of steps 1, 2, 3, 4, 5 (from the spec and repository)" in text.out
    assert "Signals of steps 6, 8, 9, 10, 11, 12, 13, 14 (from the build plan" in text.out
    assert "Escalations:" in text.out and "step 8 (implement): call" in text.out
    assert "(mid, claude-sonnet-5-5, ok) -> call" in text.out


def test_explain_under_the_rule_router_and_errors(repo, sim, devloop):
    assert devloop(repo, "routing", "explain", SLUG).code == 1  # no ledger yet
    sim(plan_phase())
    assert devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "2").code == 0
    data = json.loads(devloop(repo, "routing", "explain", SLUG, "--json").out)
    assert [r["key"] for r in data["runs"]] == ["research", "plan"]
    assert all(r["router"] == "rule" and r["score"] is None for r in data["runs"])
    assert "Opus" not in data["runs"][0]["reason"] and data["runs"][0]["reason"]
    unknown = devloop(repo, "routing", "explain", "nope")
    assert unknown.code == 2 and SLUG in unknown.err
