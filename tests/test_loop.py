"""The loop engine end to end: real git repositories, the CLI, the offline API server.

Each test starts a SimServer with a scenario (a dict: step -> replies) and counts the
requests it saw, which is how "never re-billed" is proven: a step that ran again would have
asked the server again.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import time

import pytest
from loop_harness import (  # the fixtures (repo, sim, devloop, agent) come via conftest
    CONFIG,
    FAIL,
    FAKE_KEY,
    PASS,
    PLAN,
    SLUG,
    SPEC,
    build_phase,
    build_plan,
    feature_dir,
    git,
    plan_phase,
    read_state,
    spawn,
    statuses,
    wait_for,
)

from devloop import loop
from devloop.errors import UsageError
from devloop.state import RepoLock

# ------------------------------------------------------------------ the plan phase


def test_plan_phase_stops_after_plan_with_every_artifact(repo, sim, devloop):
    s = sim(plan_phase())
    result = devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "plan")
    assert result.code == 0, result
    assert s.steps().count("research") == 1 and s.count() == 6
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == f"devloop/{SLUG}"
    directory = feature_dir(repo)
    for name in (
        "00-project-map.md",
        "01-research.md",
        "02-plan.md",
        "03-validate-requirements.json",
        "04-validate-integration.json",
        "05-build-plan.json",
        "05-build-plan.md",
        "06-double-check.json",
    ):
        assert (directory / name).is_file(), name
    state = read_state(repo)
    assert state["status"] == "stopped" and state["current_step"] == "double-check"
    assert [statuses(repo)[k] for k in ("research", "double-check", "preflight")] == [
        "done",
        "done",
        "pending",
    ]
    # Every request of the feature carries the same cached prefix (system, map, spec)...
    prefixes = {json.dumps(r.body["system"]) for r in s.server.message_requests()}
    assert len(prefixes) == 1
    system = s.server.message_requests("research")[0].body["system"]
    assert "# Project map" in system[1]["text"] and "Add a goodbye function" in system[2]["text"]
    assert system[-1]["cache_control"] == {"type": "ephemeral"}
    # ...and the validations are fresh one-message conversations holding the plan.
    for step in ("validate-requirements", "validate-integration", "double-check"):
        (body,) = s.bodies(step)
        assert len(body["messages"]) == 1 and "goodbye() -> str" in body["messages"][0]["content"]
        assert body["output_config"]["format"]["type"] == "json_schema"
    assert "Relevant code" in s.bodies("plan")[0]["messages"][0]["content"]  # plan sees research
    transcripts = sorted((directory / "transcripts").iterdir())
    assert len(transcripts) == 6
    assert all(FAKE_KEY not in p.read_text() for p in directory.rglob("*") if p.is_file())
    assert "stopped after step 6 (double-check)" in result.out
    assert "Cost of feature" in result.out  # the closing per-step cost table


def test_validation_failure_revises_the_plan_once_then_passes(repo, sim, devloop):
    s = sim(
        plan_phase(
            plan=[{"text": PLAN.replace("Add one function.", "First draft.")}, {"text": PLAN}],
            **{
                "validate-requirements": [{"json": FAIL}, {"json": PASS}],
                "validate-integration": [{"json": PASS}, {"json": PASS}],
            },
        )
    )
    result = devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "plan")
    assert result.code == 0, result
    assert (s.count("plan"), s.count("validate-requirements"), s.count("research")) == (2, 2, 1)
    revised = s.bodies("plan")[1]["messages"][0]["content"]
    assert "revision 1" in revised and "First draft." in revised
    assert "no test for the return value of goodbye" in revised
    history = feature_dir(repo) / "history"
    assert (history / "02-plan.r1.md").read_text().count("First draft.") == 1
    assert (history / "03-validate-requirements.r1.json").is_file()
    assert read_state(repo)["rounds"] == {"plan": 1}
    assert "revision 1 of 2" in result.out


def test_double_check_failure_goes_back_to_the_build_plan(repo, sim, devloop):
    s = sim(
        plan_phase(
            **{
                "build-plan": [{"json": build_plan()}, {"json": build_plan()}],
                "double-check": [{"json": FAIL}, {"json": PASS}],
            }
        )
    )
    assert devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "6").code == 0
    assert (s.count("plan"), s.count("build-plan"), s.count("double-check")) == (1, 2, 2)
    assert "revision 1" in s.bodies("build-plan")[1]["messages"][0]["content"]


def test_revision_limit_stops_with_the_open_findings(repo, sim, devloop):
    (repo / "devloop.toml").write_text(CONFIG.format(max_revisions=1))
    git(repo, "commit", "-qam", "chore: one revision")
    s = sim(
        plan_phase(
            plan=[{"text": PLAN}, {"text": PLAN}],
            **{
                "validate-requirements": [{"json": FAIL}, {"json": FAIL}],
                "validate-integration": [{"json": PASS}, {"json": PASS}],
            },
        )
    )
    result = devloop(repo, "feature", "specs/goodbye.md")
    assert result.code == 1, result
    assert "after 1 revision(s)" in result.err and "no test for the return value" in result.err
    assert "--from validate-requirements" in result.err
    assert s.count("plan") == 2 and s.count("build-plan") == 0
    assert read_state(repo)["status"] == "failed"
    before = s.count()
    again = devloop(repo, "resume", SLUG)  # nothing changed: the same stop, nothing billed
    assert again.code == 1 and "Open findings" in again.err
    assert s.count() == before


def test_a_plan_without_integration_contract_is_revised_without_validating(repo, sim, devloop):
    s = sim(plan_phase(plan=[{"text": "## Approach\nJust do it.\n"}, {"text": PLAN}]))
    assert devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "4").code == 0
    assert s.count("plan") == 2 and s.count("validate-requirements") == 1
    assert "Integration Contract" in s.bodies("plan")[1]["messages"][0]["content"]


def test_steps_3_and_4_run_concurrently(repo, sim, devloop):
    s = sim(
        plan_phase(
            **{
                "validate-requirements": [{"json": PASS, "delay": 1.0}],
                "validate-integration": [{"json": PASS, "delay": 1.0}],
            }
        )
    )
    started = time.monotonic()
    assert devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "4").code == 0
    assert time.monotonic() - started < 1.9  # one delay, not two
    assert s.count("validate-integration") == 1


def test_resume_from_a_step_after_editing_the_plan(repo, sim, devloop):
    s = sim(
        plan_phase(
            **{
                "validate-requirements": [{"json": PASS}, {"json": PASS}],
                "validate-integration": [{"json": PASS}, {"json": PASS}],
                "build-plan": [{"json": build_plan()}, {"json": build_plan()}],
                "double-check": [{"json": PASS}, {"json": PASS}],
            }
        )
    )
    assert devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "plan").code == 0
    plan = feature_dir(repo) / "02-plan.md"
    plan.write_text(plan.read_text() + "\n- EDITED BY A PERSON\n")
    result = devloop(
        repo, "resume", SLUG, "--from", "validate-requirements", "--stop-after", "plan"
    )
    assert result.code == 0, result
    assert (s.count("research"), s.count("plan"), s.count("validate-requirements")) == (1, 1, 2)
    assert "EDITED BY A PERSON" in s.bodies("validate-integration")[1]["messages"][0]["content"]
    assert (feature_dir(repo) / "history" / "03-validate-requirements.run1.json").is_file()
    finished = devloop(repo, "resume", SLUG, "--from", "review", "--stop-after", "plan")
    assert finished.code == 2 and "has not finished yet" in finished.err


# ------------------------------------------------------------------ failures and resumes


def test_529_storm_during_research_recovers(repo, sim, devloop):
    s = sim(plan_phase(research=[{"status": 529, "retry_after": 0.01, "times": 2}, {"text": "ok"}]))
    result = devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "research")
    assert result.code == 0, result
    assert s.count("research") == 3
    db = sqlite3.connect(repo / ".devloop" / "ledger.db")
    rows = db.execute("SELECT outcome, retries FROM calls WHERE step_key = 'research'").fetchall()
    assert rows == [("ok", 2)]  # one billed call, after two retried 529s


def test_empty_billed_reply_stops_loudly_then_resume_succeeds(repo, sim, devloop):
    s = sim(plan_phase(research=[{"empty": True}, {"empty": True}, {"text": "notes"}]))
    result = devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "plan")
    assert result.code == 4, result
    assert "empty answer" in result.err and "research" in result.err
    assert statuses(repo)["research"] == "failed" and read_state(repo)["status"] == "failed"
    assert s.count("research") == 2 and s.count("plan") == 0
    resumed = devloop(repo, "resume", "--stop-after", "plan")  # the one open feature
    assert resumed.code == 0, resumed
    assert s.count("research") == 3 and s.count("double-check") == 1


def test_budget_stop_then_resume_with_a_higher_budget(repo, sim, devloop):
    (repo / "devloop.toml").write_text(
        CONFIG.format(max_revisions=2) + "max_tokens = { research = 500, plan = 20000 }\n"
    )
    git(repo, "commit", "-qam", "chore: small max_tokens")
    s = sim(plan_phase())
    result = devloop(repo, "feature", "specs/goodbye.md", "--budget", "0.10")
    assert result.code == 3, result
    assert "budget" in result.err and f"devloop resume {SLUG} --budget" in result.err
    assert s.count("research") == 1 and s.count("plan") == 0  # the plan call was never sent
    state = read_state(repo)
    assert state["status"] == "budget" and statuses(repo)["plan"] == "budget"
    resumed = devloop(repo, "resume", SLUG, "--budget", "2", "--stop-after", "plan")
    assert resumed.code == 0, resumed
    assert s.count("research") == 1 and s.count("plan") == 1
    assert read_state(repo)["budget_usd"] == "2"


def test_kill_9_during_plan_then_resume_does_not_rebill_research(repo, sim, devloop):
    s = sim(plan_phase(plan=[{"text": PLAN, "delay": 5}, {"text": PLAN}]))
    proc = spawn(repo, s.env, "feature", "specs/goodbye.md", "--stop-after", "plan")
    try:
        wait_for(lambda: s.count("plan") == 1, timeout=20)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        proc.kill()
    assert statuses(repo)["research"] == "done" and statuses(repo)["plan"] == "running"
    result = devloop(repo, "resume", SLUG, "--stop-after", "plan")
    assert result.code == 0, result
    assert s.count("research") == 1  # step 1 was never sent again
    assert s.count("plan") == 2  # only the step in flight ran again
    assert "took over a stale lock" in result.out and "was cut off earlier" in result.out
    db = sqlite3.connect(repo / ".devloop" / "ledger.db")
    runs = db.execute("SELECT status FROM step_runs WHERE step_key = 'plan' ORDER BY id").fetchall()
    assert runs == [("interrupted",), ("ok",)]


def test_ctrl_c_saves_state_and_exits_130(repo, sim, devloop):
    s = sim(plan_phase(plan=[{"text": PLAN, "delay": 5}, {"text": PLAN}]))
    proc = spawn(repo, s.env, "feature", "specs/goodbye.md", "--stop-after", "plan")
    try:
        wait_for(lambda: s.count("plan") == 1, timeout=20)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "interrupted" in err and f"devloop resume {SLUG}" in err
    state = read_state(repo)
    assert state["status"] == "interrupted" and statuses(repo)["plan"] == "interrupted"
    assert devloop(repo, "resume", SLUG, "--stop-after", "plan").code == 0
    assert s.count("research") == 1


def test_a_second_process_on_the_repository_is_refused(repo, sim, devloop):
    sim(plan_phase())
    with RepoLock(repo).acquire("another run"):
        result = devloop(repo, "feature", "specs/goodbye.md")
    assert result.code == 1 and "another devloop is running in this repository" in result.err
    assert f"pid {os.getpid()}" in result.err
    assert not (feature_dir(repo) / "state.json").exists()


# ------------------------------------------------------------------ refusals


def test_dirty_tree_is_refused_with_the_files_listed(repo, sim, devloop):
    s = sim(plan_phase())
    (repo / "src" / "app.py").write_text("# edited\n")
    result = devloop(repo, "feature", "specs/goodbye.md")
    assert result.code == 1 and "uncommitted changes" in result.err and "src/app.py" in result.err
    assert git(repo, "branch", "--list", "devloop/*").strip() == ""
    assert s.count() == 0
    allowed = devloop(repo, "feature", "specs/goodbye.md", "--allow-dirty", "--stop-after", "1")
    assert allowed.code == 0, allowed


def test_existing_branch_and_existing_feature_are_refused(repo, sim, devloop):
    sim(plan_phase())
    git(repo, "branch", f"devloop/{SLUG}")
    result = devloop(repo, "feature", "specs/goodbye.md")
    assert result.code == 2 and "already exists" in result.err
    git(repo, "branch", "-D", f"devloop/{SLUG}")
    assert devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "1").code == 0
    git(repo, "checkout", "-q", "main")
    again = devloop(repo, "feature", "specs/goodbye.md")
    assert again.code == 2 and f"devloop resume {SLUG}" in again.err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file"),
        (b"", "empty"),
        (b"# Caf\xe9\n", "not valid UTF-8"),
        (b"# Title\n\x00\x00", "binary"),
        (b"# Big\n" + b"x" * 300, "larger than the 200-byte limit"),
        (b"no heading here\n", "no title"),
    ],
)
def test_bad_specs_exit_2(repo, devloop, content, message):
    (repo / "devloop.toml").write_text(CONFIG.format(max_revisions=2) + "spec_max_bytes = 200\n")
    git(repo, "commit", "-qam", "chore: small specs")
    if content is not None:
        (repo / "bad.md").write_bytes(content)
    result = devloop(repo, "feature", "bad.md")
    assert result.code == 2 and message in result.err, result


def test_not_a_git_repository_exits_2(tmp_path, devloop):
    (tmp_path / "spec.md").write_text(SPEC)
    result = devloop(tmp_path, "feature", "spec.md")
    assert result.code == 2 and "not inside a git repository" in result.err


# ------------------------------------------------------------------ pre-flight and build


def test_preflight_failure_stops_before_any_build_call(repo, sim, devloop, agent):
    s = sim({**plan_phase(**{"build-plan": [{"json": build_plan("src/missing.py")}]})})
    result = devloop(repo, "feature", "specs/goodbye.md")
    assert result.code == 1, result
    assert "pre-flight failed" in result.err and "src/missing.py" in result.err
    assert agent.calls == [] and s.count("implement") == 0
    assert statuses(repo)["preflight"] == "failed"
    report = json.loads((feature_dir(repo) / "07-preflight.json").read_text())
    assert {r["name"]: r["passed"] for r in report}["plan files"] is False


def test_preflight_catches_markers_and_paths_outside_the_repository(repo, sim, devloop, agent):
    plan = PLAN + "\nNEEDS CLARIFICATION: which greeting?\n"
    s = sim(
        plan_phase(
            plan=[{"text": plan}], **{"build-plan": [{"json": build_plan("../x.py", "create")}]}
        )
    )
    result = devloop(repo, "feature", "specs/goodbye.md")
    assert result.code == 1
    assert "NEEDS CLARIFICATION" in result.err and "../x.py" in result.err
    assert agent.calls == [] and s.count("implement") == 0


def test_full_run_commits_with_trailers_and_costs_add_up(repo, sim, devloop, agent):
    s = sim({**plan_phase(), **build_phase()})
    result = devloop(repo, "feature", "specs/goodbye.md")
    assert result.code == 0, result
    assert agent.calls == ["implement", "remediate:1", "write-docs"]  # 12 passed: no 13
    assert all(v in ("done", "skipped") for v in statuses(repo).values())
    assert statuses(repo)["final-remediate"] == "skipped"
    message = git(repo, "log", "-1", "--format=%B")
    assert message.startswith("feat(app): Add a goodbye function\n\nTasks done:\n- T1: Add goodbye")
    trailers = git(repo, "log", "-1", "--format=%(trailers:only,unfold)")
    assert f"Devloop-Feature: {SLUG}" in trailers
    assert "Devloop-Cost: $0." in trailers and "Devloop-Frontier-Baseline: $0." in trailers
    committed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(committed) == ["README.md", "src/app.py", "tests/test_app.py"]
    assert git(repo, "status", "--porcelain").strip() == ""
    # The audit saw the diff and the contract, in a fresh one-message conversation.
    (audit,) = s.bodies("audit")
    assert len(audit["messages"]) == 1 and "+def goodbye():" in audit["messages"][0]["content"]
    assert "goodbye() -> str" in audit["messages"][0]["content"]
    # Review and audit hear what the implementer said; the audit, who owns the docs.
    notes = "T1: Added goodbye(); tests/conftest.py also had to change, for the path."
    (review,) = s.bodies("review")
    assert notes in review["messages"][0]["content"] and notes in audit["messages"][0]["content"]
    assert (
        "Documentation (README.md, CHANGELOG.md) belongs to step 14"
        in (audit["messages"][0]["content"])
    )
    # `devloop cost` totals are the sum of the ledger's rows.
    cost = devloop(repo, "cost", SLUG, "--format", "json")
    total = json.loads(cost.out)["total"]
    db = sqlite3.connect(repo / ".devloop" / "ledger.db")
    pico, calls = db.execute("SELECT SUM(cost_pico), COUNT(*) FROM calls").fetchone()
    assert total["calls"] == calls == s.count() == 10
    assert total["cost_usd"] == f"{pico / 10**12:.12f}"
    status = devloop(repo, "status")
    assert SLUG in status.out and "done" in status.out and "15/15" in status.out


def test_failing_suite_is_triaged_and_fixed_by_final_remediation(repo, sim, devloop, agent):
    (repo / "devloop.toml").write_text(
        CONFIG.format(max_revisions=2).replace(
            'test = "true"', 'test = "echo 1 failed: test_goodbye; test -f fixed"'
        )
    )
    git(repo, "commit", "-qam", "chore: a suite that needs a fix")
    s = sim({**plan_phase(), **build_phase(), "e2e": [{"text": "## Failures\n- fixed missing"}]})
    result = devloop(repo, "feature", "specs/goodbye.md")
    assert result.code == 0, result
    assert agent.calls == ["implement", "remediate:1", "final-remediate", "write-docs"]
    assert "Files this change touched (against the base commit):\n- src/app.py" in agent.failure
    assert s.count("e2e") == 1
    triage_prompt = s.bodies("e2e")[0]["messages"][0]["content"]
    assert "test -f fixed" in triage_prompt
    assert "1 failed: test_goodbye" in triage_prompt  # the suite's own output, not a summary
    assert "<diff>\ndiff --git a/src/app.py b/src/app.py" in triage_prompt  # what changed
    assert "+def goodbye():" in triage_prompt
    e2e = json.loads((feature_dir(repo) / "12-e2e.json").read_text())
    assert "1 failed: test_goodbye" in e2e["check"]["output"]
    assert (feature_dir(repo) / "12-e2e.md").read_text().startswith("## Failures")


def test_a_failing_hook_stops_the_commit_and_resume_does_not_redo_the_docs(
    repo, sim, devloop, agent
):
    hook = repo / ".git" / "hooks" / "pre-commit"
    hook.write_text("#!/bin/sh\necho 'hook says no: lint failed'\nexit 1\n")
    hook.chmod(0o755)
    s = sim({**plan_phase(), **build_phase()})
    result = devloop(repo, "feature", "specs/goodbye.md")
    assert result.code == 1, result
    assert "hook says no: lint failed" in result.err
    assert statuses(repo)["commit"] == "failed" and statuses(repo)["smoke"] == "pending"
    hook.unlink()
    resumed = devloop(repo, "resume", SLUG)
    assert resumed.code == 0, resumed
    assert agent.calls.count("write-docs") == 1 and s.count("commit") == 1
    assert f"Devloop-Feature: {SLUG}" in git(repo, "log", "-1", "--format=%B")


def test_smoke_failure_is_a_binary_gate(repo, sim, devloop, agent):
    (repo / "devloop.toml").write_text(
        CONFIG.format(max_revisions=2).replace(
            'smoke = "true"', 'smoke = "echo smoke broke with $ANTHROPIC_API_KEY; false"'
        )
    )
    git(repo, "commit", "-qam", "chore: broken smoke")
    sim({**plan_phase(), **build_phase()})
    result = devloop(repo, "feature", "specs/goodbye.md")
    assert result.code == 1 and "smoke gate failed" in result.err
    assert statuses(repo)["commit"] == "done" and statuses(repo)["smoke"] == "failed"
    (smoke, _quick) = json.loads((feature_dir(repo) / "15-smoke.json").read_text())
    # the command's output is in the artifact; the key never reached the command
    assert smoke["output"].strip() == "smoke broke with"


# ------------------------------------------------------------------ dry run, output modes


def test_dry_run_prices_every_step_without_a_model(repo, devloop):
    result = devloop(repo, "feature", "specs/goodbye.md", "--dry-run")
    # No key in this test: the static check says so, and the exit code with it.
    assert result.code == 1 and "would stop at (api)" in result.err, result
    assert "no model was called" in result.out and "total" in result.out
    for key in ("research", "preflight", "implement", "smoke"):
        assert key in result.out
    assert "FAIL  api" in result.out
    prompts = repo / ".devloop" / "dry-run" / SLUG
    assert (prompts / "01-research.md").is_file() and (prompts / "00-prefix.md").is_file()
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == "main"  # no branch
    data = json.loads(devloop(repo, "feature", "specs/goodbye.md", "--dry-run", "--json").out)
    steps = {s["key"]: s for s in data["steps"]}
    assert steps["preflight"]["cost_usd"] == "0" and float(steps["research"]["cost_usd"]) > 0
    assert float(data["baseline_usd"]) > float(data["total_usd"])  # routing saves money
    assert steps["plan"]["assumed_inputs"] == ["research"]


def test_dry_run_counts_tokens_with_the_api_when_a_key_is_set(repo, sim, devloop):
    server = sim({"review": ["unused"]})  # research, plan, ... unscripted: a model call is a 400
    data = json.loads(devloop(repo, "feature", "specs/goodbye.md", "--dry-run", "--json").out)
    assert data["token_source"] == "count_tokens API" and data["notes"] == []
    counted = [r for r in server.server.requests if r.path == "/v1/messages/count_tokens"]
    models = {r.body["model"] for r in counted}
    assert models == {"claude-opus-5-5", "claude-sonnet-5-5"}
    # two probes per model for the cached prefix, then one count per model step
    model_steps = [s for s in data["steps"] if s["model"]]
    assert len(counted) == 2 * len(models) + len(model_steps)
    assert server.count() == 0  # count_tokens only; no model was called
    assert data["prefix_tokens"] > 0 and float(data["total_usd"]) > 0


def test_dry_run_falls_back_to_local_estimates_when_counting_fails(repo, monkeypatch, devloop):
    monkeypatch.setenv("ANTHROPIC_API_KEY", FAKE_KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # nothing listens there
    with (repo / "devloop.toml").open("a") as config:
        config.write("\n[api]\nmax_retries = 0\n")  # fail fast: no backoff in a test
    result = devloop(repo, "feature", "specs/goodbye.md", "--dry-run")
    assert result.code == 0, result
    assert "count_tokens failed" in result.err and "local estimate" in result.out


def test_json_progress_is_one_object_per_line_and_a_summary(repo, sim, devloop):
    sim(plan_phase())
    result = devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "2", "--json")
    assert result.code == 0, result
    events = [json.loads(line) for line in result.out.splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[-2:] == ["end", "summary"] and "start" in kinds
    done = [e for e in events if e["event"] == "step" and e.get("status") == "done"]
    assert [e["key"] for e in done] == ["research", "plan"]
    summary = events[-1]
    assert summary["status"] == "stopped" and summary["cost"]["total"]["calls"] == 2


def test_status_lists_features(repo, sim, devloop):
    sim(plan_phase())
    assert "No features yet" in devloop(repo, "status").out
    devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "1")
    listing = devloop(repo, "status")
    assert SLUG in listing.out and "stopped" in listing.out and "2 plan" in listing.out
    detail = devloop(repo, "status", SLUG)
    assert "01-research.md" in detail.out and "pending" in detail.out
    data = json.loads(devloop(repo, "status", "--json").out)
    assert data[0]["slug"] == SLUG and data[0]["next_step"] == "plan"
    assert devloop(repo, "status", "nope").code == 2


# ------------------------------------------------------------------ units


def test_stop_after_accepts_phases_numbers_and_keys():
    from devloop.cli.options import parse_stop_after

    assert [parse_stop_after(x) for x in ("plan", "build", "verify", "3", "audit")] == [
        6,
        11,
        15,
        3,
        10,
    ]
    with pytest.raises(UsageError):
        parse_stop_after("deploy")


def test_commit_message_is_a_valid_conventional_commit():
    from decimal import Decimal

    from devloop.checks import commitmsg
    from devloop.schemas import BuildPlan
    from devloop.state import FeatureState

    state = FeatureState(SLUG, "A very long title " * 10, "s.md", "x", "fix", None, "b", "c")
    message = loop.commit_message(
        state,
        BuildPlan.from_dict(build_plan()),
        [],
        cost=Decimal("0.123"),
        baseline=Decimal("0.5"),
        header_max=72,
    )
    assert commitmsg.validate(message, max_header_length=72) == []
    assert message.splitlines()[0].startswith("fix: A very long title")
    assert message.rstrip().splitlines()[-2:] == [
        "Devloop-Cost: $0.12",
        "Devloop-Frontier-Baseline: $0.50",
    ]


def test_live_table_renders_the_steps_as_events_arrive(repo):
    from io import StringIO

    from rich.console import Console

    from devloop import config as config_mod
    from devloop.cli.progress import LiveProgress

    live = LiveProgress(config_mod.load(repo))
    live.console = Console(file=StringIO(), width=160)  # notes go here, not to the test
    try:
        live(loop.Event("start", SLUG, message=f"feature '{SLUG}'"))
        live(loop.Event("step", SLUG, step=1, key="research", status="running", worker="frontier"))
        live(loop.Event("step", SLUG, step=1, key="research", status="done", elapsed_s=1.5,
                        cost_usd="0.012", total_usd="0.012"))  # fmt: skip
        live(loop.Event("note", SLUG, message="a note"))
    finally:
        live.close()
    out = Console(file=StringIO(), width=160, record=True)
    out.print(live)
    text = out.export_text()
    assert "research" in text and "done" in text and "$0.0120" in text and "smoke" in text
