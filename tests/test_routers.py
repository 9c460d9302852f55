"""The routers: rule, complexity and hybrid; the signals they read; calibration.

Dry runs show each router's decisions without a model; the loop tests prove the run makes
the same decision in one place and records it (ledger and state.json).
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest
from loop_harness import SLUG, git, plan_phase, read_state, with_router

from devloop import config as config_mod
from devloop import routing
from devloop.ledger import Ledger
from devloop.routing import signals
from devloop.steps import STEPS, resolve_step

SECURE_SPEC = """# Check IAM permission policies before uploads

Before `upload()` in src/app.py stores a file, check the caller's IAM role against the
bucket's access policy and refuse what the policy does not allow.
"""
MODEL_STEPS = [s for s in STEPS if s.calls_model]


def dry(devloop, repo: Path, spec: str = "specs/goodbye.md") -> dict[str, dict]:
    result = devloop(repo, "feature", spec, "--dry-run", "--json")
    # No key in these tests: pre-flight's api check fails, and only that one.
    assert result.code == 1 and "would stop at (api)" in result.err, result
    return {s["key"]: s for s in json.loads(result.out)["steps"]}


def tiers(steps: dict[str, dict]) -> dict[str, str]:
    return {key: s["route"]["tier"] for key, s in steps.items()}


def spec_signals(score_items: list[tuple[str, float]] = ()) -> signals.Signals:
    items = tuple(signals.Signal(name, 1, value, name) for name, value in score_items)
    return signals.Signals(signals.SPEC_STAGE, items)


# ------------------------------------------------------------------ routers


def test_the_same_spec_routes_differently_under_each_router(repo, devloop):
    rule = tiers(dry(devloop, repo))
    with_router(repo, "complexity")
    complexity = dry(devloop, repo)
    with_router(repo, "hybrid")
    hybrid = dry(devloop, repo)
    # A one-file spec scores low: complexity sends every model step to light, hybrid
    # demotes research and plan to mid and keeps the validations and the audit.
    assert (rule["research"], rule["build-plan"], rule["audit"]) == ("frontier", "mid", "frontier")
    assert {tiers(complexity)[s.key] for s in MODEL_STEPS} == {"light"}
    assert tiers(hybrid)["research"] == tiers(hybrid)["plan"] == "mid"
    assert [tiers(hybrid)[k] for k in ("validate-requirements", "double-check", "audit")] == [
        "frontier"
    ] * 3
    assert rule != tiers(complexity) != tiers(hybrid) != rule
    # Every step shows its route, score and reason; adaptive ones the score and threshold.
    for key, step in hybrid.items():
        route = step["route"]
        assert route["reason"] and route["tier"] == (step["model"] and route["tier"] or "script")
        if resolve_step(key).calls_model:
            assert 0 <= route["score"] < 0.3 and route["router"] == "hybrid"
            assert route["threshold"] in (0.3, 0.7)
            names = [s["name"] for s in route["signals"]]
            assert names == ["files", "packages", "modified", "integrations", "security",
                             "repository"]  # fmt: skip
            assert sum(s["contribution"] for s in route["signals"]) == pytest.approx(
                route["score"], abs=1e-3
            )
    assert "demoted from frontier" in hybrid["research"]["route"]["reason"]
    assert "re-scores this step from the build plan" in hybrid["review"]["route"]["reason"]
    assert complexity["research"]["model"] == "claude-haiku-5-5"
    text = devloop(repo, "feature", "specs/goodbye.md", "--dry-run").out
    assert "Router: hybrid; complexity score" in text and "1 research: frontier -> mid" in text


def test_a_security_sensitive_spec_is_promoted(repo, devloop):
    (repo / "specs" / "secure.md").write_text(SECURE_SPEC)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "docs: a security spec")
    assert tiers(dry(devloop, repo, "specs/secure.md"))["build-plan"] == "mid"  # rule router
    with_router(repo, "hybrid")
    steps = dry(devloop, repo, "specs/secure.md")
    for key in ("build-plan", "implement", "review", "remediate", "e2e", "commit"):
        route = steps[key]["route"]
        assert route["tier"] == "frontier" and route["rule_tier"] == "mid", key
        assert route["reason"].startswith("hybrid router: promoted from mid")
        assert "security +0.8" in route["reason"]
    security = next(s for s in steps["implement"]["route"]["signals"] if s["name"] == "security")
    assert security["detail"].startswith("permissions") and security["contribution"] >= 0.8
    assert steps["implement"]["route"]["score"] >= 0.7


def test_security_words_and_files_feed_the_score():
    plain = signals.collect("# Add goodbye\nEdit src/app.py.", Path.cwd())
    secure = signals.collect("# Rotate the API keys\nEncrypt secrets at rest.", Path.cwd())
    assert secure.security == ("cryptography", "secrets")
    assert secure.score > 0.7 > plain.score
    # "author", "signature" of a function or a retry policy are not security words
    benign = signals.collect(
        "Show the author and the function signature; retry policy.", Path.cwd()
    )
    assert benign.security == ()


@pytest.mark.parametrize("router", ["hybrid"])
def test_validation_steps_are_never_demoted(router):
    cfg = config_mod.Config()
    cfg.routing.router = router
    cfg.routing.low_threshold = cfg.routing.high_threshold = 1.0  # every score is "very low"
    routes = {s.number: routing.decide(s, cfg, spec_signals()) for s in MODEL_STEPS}
    assert [n for n, r in routes.items() if r.tier == "frontier"] == [3, 4, 6, 10]
    assert routes[1].tier == routes[2].tier == "mid"
    for n in (3, 4, 6, 10):
        assert "never demoted" in routes[n].reason and routes[n].rule_tier == "frontier"


def test_a_config_override_pins_a_step_under_an_adaptive_router():
    cfg = config_mod.Config()
    cfg.routing.router = "complexity"
    cfg.routing.steps = {"review": "frontier"}
    route = routing.decide(resolve_step("review"), cfg, spec_signals())
    assert route.tier == "frontier" and "keeps a per-step override" in route.reason
    assert routing.decide(resolve_step("preflight"), cfg, spec_signals()).tier == "script"


@pytest.mark.parametrize("router", ["complexity", "hybrid"])
def test_an_unreadable_repository_routes_to_frontier_with_the_reason(tmp_path, router):
    found = signals.collect(SECURE_SPEC, tmp_path)  # not a git repository
    assert found.missing and found.missing[0].startswith("repository: cannot list the files")
    cfg = config_mod.Config()
    cfg.routing.router = router
    route = routing.decide(resolve_step("build-plan"), cfg, found)
    assert route.tier == "frontier" and route.model == "claude-opus-5-5"
    assert route.score is None and "signal is missing (repository: cannot list" in route.reason
    assert route.to_dict()["missing"] == list(found.missing)


def test_a_missing_build_plan_routes_later_steps_to_frontier(git_repo, tmp_path):
    cfg = config_mod.Config()
    cfg.routing.router = "hybrid"
    absent = signals.collect("Edit README.md", git_repo, build_plan_file=tmp_path / "05.json")
    route = routing.decide(resolve_step("implement"), cfg, absent)
    assert (
        route.tier == "frontier"
        and "05.json does not exist (the build-plan step writes it)" in route.reason
    )
    broken = tmp_path / "05-build-plan.json"
    broken.write_text("{not json")
    found = signals.collect("Edit README.md", git_repo, build_plan_file=broken)
    assert "cannot read 05-build-plan.json" in found.missing[0]
    assert routing.decide(resolve_step("review"), cfg, lambda: found).tier == "frontier"


def test_build_plan_signals_count_new_and_modified_files(git_repo, tmp_path):
    plan = {
        "summary": "Add a client for the payments API.",
        "tasks": [
            {
                "id": "T1",
                "title": "HTTP client",
                "description": "Call the REST API with httpx.",
                "files": [
                    {"path": "src/pay/client.py", "action": "create"},
                    {"path": "src/api/routes.py", "action": "modify"},
                    {"path": "tests/test_client.py", "action": "create"},
                ],
                "acceptance": [],
                "tests": [],
            }
        ],
    }
    path = tmp_path / "05-build-plan.json"
    path.write_text(json.dumps(plan))
    found = signals.collect("# Payments", git_repo, build_plan_file=path)
    by_name = {s.name: s for s in found.items}
    assert found.stage == signals.PLAN_STAGE and not found.missing
    assert by_name["files"].value == 3 and by_name["packages"].value == 2  # tests left out
    assert by_name["modified"].value == pytest.approx(1 / 3, abs=1e-3)
    assert by_name["integrations"].detail == "http"
    assert found.security == ("payment",)


# ------------------------------------------------------------------ the run


def test_a_run_routes_once_per_step_and_records_the_route(repo, sim, devloop):
    with_router(repo, "hybrid")
    s = sim(plan_phase())
    result = devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "plan")
    assert result.code == 0, result
    models = {r.step: r.body["model"] for r in s.server.message_requests()}
    assert models["research"] == models["plan"] == "claude-sonnet-5-5"  # demoted
    assert models["validate-requirements"] == models["double-check"] == "claude-opus-5-5"
    db = sqlite3.connect(repo / ".devloop" / "ledger.db")
    rows = dict(db.execute("SELECT step_key, route_json FROM step_runs").fetchall())
    research = json.loads(rows["research"])
    assert research["router"] == "hybrid" and research["tier"] == "mid"
    assert research["rule_tier"] == "frontier" and research["threshold"] == 0.3
    assert research["stage"] == signals.SPEC_STAGE and research["score"] < 0.3
    assert {s["name"] for s in research["signals"]} >= {"files", "security"}
    assert "demoted from frontier" in research["reason"]
    double = json.loads(rows["double-check"])
    assert double["stage"] == signals.PLAN_STAGE and double["tier"] == "frontier"
    assert read_state(repo)["steps"]["research"]["route"] == research
    outcome = json.loads(
        db.execute(
            "SELECT outcome_json FROM step_runs WHERE step_key = 'validate-requirements'"
        ).fetchone()[0]
    )
    assert outcome["signals"]["verdict"] == "pass" and outcome["signals"]["first_time"] is True
    assert outcome["signals"]["calls"] == 1 and outcome["signals"]["wall_s"] >= 0
    assert SLUG in result.out


# ------------------------------------------------------------------ calibrate


def scored_ledger(root: Path, scores: list[float]) -> None:
    with Ledger.open(root) as ledger:
        for i, score in enumerate(scores):
            feature = f"f{i // 13}"
            run = ledger.start_step_run(
                feature, 8, "implement", worker="llm", tier="mid", model="m",
                route={"router": "hybrid", "tier": "mid", "score": score, "reason": "x"},
            )  # fmt: skip
            ledger.finish_step_run(run, "ok")
        # rule decisions carry no score and do not count
        ledger.start_step_run("f0", 1, "research", worker="llm", route={"router": "rule"})


@pytest.mark.parametrize("share", [0.0, 0.1, 0.3, 0.5, 0.9, 1.0])
def test_calibrate_reproduces_a_target_share_within_one_decision(git_repo, share):
    from devloop.reports import calibrate

    scores = [n / 1000 for n in random.Random(7).sample(range(1000), 200)]
    scored_ledger(git_repo, scores)
    with Ledger.open(git_repo) as ledger:
        result = calibrate.calibrate(ledger, share)
    assert result.decisions == 200 and result.features == 16
    assert result.frontier == sum(1 for s in scores if s >= result.threshold)
    assert abs(result.frontier - share * 200) <= 1
    assert 0 <= result.threshold <= 1


def test_calibrate_with_ties_gets_as_close_as_the_scores_allow():
    from devloop.reports.calibrate import threshold_for

    scores = [0.1] * 6 + [0.5] * 3 + [0.9]
    assert threshold_for(scores, 0.3) == (0.3, 4)  # 3 is impossible: 1 or 4 (tie at 0.5)
    assert threshold_for(scores, 0.1) == (0.7, 1)
    assert threshold_for([1.0, 1.0], 0.0) == (1.0, 2)  # a threshold above 1 is not valid


def test_calibrate_command_prints_and_writes_only_when_asked(git_repo, devloop):
    config = git_repo / "devloop.toml"
    config.write_text('[routing]\nrouter = "hybrid"  # adaptive\nhigh_threshold = 0.7\n\n[loop]\n')
    before = config.read_text()
    scores = [n / 1000 for n in random.Random(3).sample(range(1000), 100)]
    scored_ledger(git_repo, scores)
    shown = devloop(git_repo, "routing", "calibrate", "--frontier-share", "0.3")
    assert shown.code == 0, shown
    threshold = float(shown.out.split("high_threshold = ")[1].split(":")[0])
    assert "30 of 100 scored decisions" in shown.out and "Not written" in shown.out
    assert config.read_text() == before
    wrote = devloop(git_repo, "routing", "calibrate", "--frontier-share", "0.3", "--write")
    assert wrote.code == 0, wrote
    assert config_mod.load(git_repo).routing.high_threshold == threshold
    text = config.read_text()
    assert 'router = "hybrid"  # adaptive' in text and text.count("high_threshold") == 1


def test_calibrate_writes_into_pyproject_and_needs_scores(git_repo, devloop):
    (git_repo / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.devloop.loop]\n')
    empty = devloop(git_repo, "routing", "calibrate", "--frontier-share", "0.5")
    assert empty.code == 1 and "no cost ledger" in empty.err
    with Ledger.open(git_repo) as ledger:
        ledger.ensure_feature("f")
    none = devloop(git_repo, "routing", "calibrate", "--frontier-share", "0.5")
    assert none.code == 1 and "no adaptive routing decisions" in none.err
    scored_ledger(git_repo, [0.2, 0.4, 0.6, 0.8])
    wrote = devloop(git_repo, "routing", "calibrate", "--frontier-share", "0.5", "--write")
    assert wrote.code == 0, wrote
    assert (
        "[tool.devloop.routing]\nhigh_threshold = 0.5\n"
        in (git_repo / "pyproject.toml").read_text()
    )
    assert config_mod.load(git_repo).routing.high_threshold == 0.5
    assert not (git_repo / "devloop.toml").exists()


def test_the_routing_table_says_when_a_run_adapts_it(git_repo, run_cli):
    assert "router = " not in run_cli(git_repo, "routing").output
    (git_repo / "devloop.toml").write_text('[routing]\nrouter = "hybrid"\n')
    result = run_cli(git_repo, "routing")
    assert result.exit_code == 0
    assert "[routing] router = hybrid: the table is the rule route" in result.output
    markdown = run_cli(git_repo, "routing", "--markdown").output
    assert markdown == routing.render_markdown(config_mod.load(git_repo))
