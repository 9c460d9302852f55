"""`devloop feature` with the real build agent, end to end against the offline API server.

A tiny Python project (unittest tests, ruff lint) in a real git repository; the sim plays
every model step from a scenario, the agent's steps with real tool calls that edit files.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from calc_project import (
    ADD_MUL,
    MUL_TEST,
    PY,
    RUFF,
    TEST,
    TESTS,
    WRONG_MUL,
    edit,
    plan_phase,
    write_calc,
)
from conftest import git

from devloop.sim import SimServer

SLUG = "add-mul"
CONFIG = f"""[commands]
test = "{TEST}"
lint = "{RUFF} check ."
smoke = "{PY} -c 'import src.calc'"
"""
SPEC = """+++
scope = "calc"
+++
# Add mul

Add `mul(a, b)` to src/calc.py, next to `add()`, returning the product.
"""
BOTH = [
    {"path": "src/calc.py", "action": "modify"},
    {"path": "tests/test_calc.py", "action": "modify"},
]
CODE_ONLY = BOTH[:1]


NO_FINDINGS = {
    "review": [{"json": {"findings": []}}],
    "audit": [{"json": {"findings": []}}],
}
DOCS = {
    "commit": [
        {"tool_use": edit("insert", "README.md", insert_line=1, insert_text="\n`mul(a, b)`.\n")},
        {"text": "README.md: documented mul()"},
    ]
}


@pytest.fixture
def repo(git_repo: Path) -> Path:
    write_calc(git_repo, "devloop.toml", CONFIG, ".devloop/\n__pycache__/\n")
    (git_repo / "specs").mkdir()
    (git_repo / "specs" / "mul.md").write_text(SPEC)
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-qm", "chore: calc")
    return git_repo


@pytest.fixture
def sim(monkeypatch):
    made: list[SimServer] = []

    def start(steps: dict) -> SimServer:
        made.append(SimServer({"steps": steps}).start())
        monkeypatch.setenv("ANTHROPIC_BASE_URL", made[-1].base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-agent-e2e-0123456789")
        return made[-1]

    yield start
    for server in made:
        server.close()


def artifact(repo: Path, name: str) -> dict:
    return json.loads((repo / ".devloop" / "features" / SLUG / name).read_text())


def statuses(repo: Path) -> dict[str, str]:
    state = artifact(repo, "state.json")
    return {k: v["status"] for k, v in state["steps"].items()}


def bodies(server: SimServer, step: str) -> list[dict]:
    return [r.body for r in server.message_requests(step)]


def test_full_feature_run_with_the_real_agent_commits_with_trailers(repo, sim, devloop):
    finding = {
        "severity": "high",
        "location": "src/calc.py:5",
        "problem": "mul has no docstring",
        "suggestion": "add one",
    }
    docstring = edit(
        "str_replace",
        "src/calc.py",
        old_str="def mul(a, b):\n",
        new_str='def mul(a, b):\n    """The product of a and b."""\n',
    )
    add_test = edit("insert", "tests/test_calc.py", insert_line=8, insert_text=MUL_TEST)
    server = sim(
        {
            **plan_phase(BOTH),
            "implement": [
                {"text": "Adding mul and its test.", "tool_use": [ADD_MUL, add_test]},
                {"text": "src/calc.py: added mul()\ntests/test_calc.py: tested it"},
            ],
            "review": [{"json": {"findings": [finding]}}],
            "audit": [{"json": {"findings": []}}],
            "remediate": [{"tool_use": docstring}, {"text": "1. fixed (src/calc.py)"}],
            **DOCS,
        }
    )
    code, out, err = devloop(repo, "feature", "specs/mul.md")
    assert code == 0, (out, err)
    assert all(v in ("done", "skipped") for v in statuses(repo).values())
    assert statuses(repo)["final-remediate"] == "skipped"  # the suite passed in step 12
    implement = artifact(repo, "08-implement.json")
    assert implement["ok"] and implement["files_changed"] == ["src/calc.py", "tests/test_calc.py"]
    (task,) = implement["details"]["tasks"]
    assert task["first_attempt_pass"] and task["tier"] == "mid" and len(task["calls"]) == 2
    remediate = artifact(repo, "11-remediate.json")
    assert remediate["ok"] and remediate["files_changed"] == ["src/calc.py"]
    assert (
        "mul has no docstring"
        in bodies(server, "remediate")[0]["messages"][0]["content"][0]["text"]
    )
    # The commit holds the change, the docs and the three trailers.
    message = git(repo, "log", "-1", "--format=%B")
    assert message.startswith("feat(calc): Add mul\n\nTasks done:\n- T1: Add mul")
    trailers = git(repo, "log", "-1", "--format=%(trailers:only,unfold)")
    assert f"Devloop-Feature: {SLUG}" in trailers
    assert "Devloop-Cost: $" in trailers and "Devloop-Frontier-Baseline: $" in trailers
    committed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(committed) == ["README.md", "src/calc.py", "tests/test_calc.py"]
    assert '"""The product of a and b."""' in git(repo, "show", "HEAD:src/calc.py")
    assert git(repo, "status", "--porcelain").strip() == ""
    # `devloop cost` totals are the ledger's sums.
    code, out, _ = devloop(repo, "cost", SLUG, "--format", "json")
    total = json.loads(out)["total"]
    db = sqlite3.connect(repo / ".devloop" / "ledger.db")
    pico, calls = db.execute("SELECT SUM(cost_pico), COUNT(*) FROM calls").fetchone()
    assert total["calls"] == calls == len(server.message_requests()) == 14
    assert total["cost_usd"] == f"{pico / 10**12:.12f}"


def test_an_undeclared_test_edit_is_flagged_to_the_review(repo, sim, devloop):
    weaken = edit("create", "tests/test_calc.py", file_text=TESTS.replace("5)", "5)  # ok"))
    server = sim(
        {
            **plan_phase(CODE_ONLY),
            "implement": [{"tool_use": [ADD_MUL, weaken]}, {"text": "done"}],
            **NO_FINDINGS,
        }
    )
    code, out, err = devloop(repo, "feature", "specs/mul.md", "--stop-after", "10")
    assert code == 0, (out, err)
    flags = artifact(repo, "08-implement.json")["details"]["tampered_tests"]
    assert flags == [{"task": "T1", "path": "tests/test_calc.py"}]
    (review,) = bodies(server, "review")
    prompt = review["messages"][0]["content"]
    assert "FLAGGED by devloop" in prompt and "- tests/test_calc.py (task T1)" in prompt
    (audit,) = bodies(server, "audit")
    assert "FLAGGED" not in audit["messages"][0]["content"]


def test_a_task_failing_on_both_tiers_stops_the_run_and_leaves_the_branch(repo, sim, devloop):
    (repo / "tests" / "test_calc.py").write_text(TESTS + MUL_TEST)
    git(repo, "commit", "-qam", "test: mul")
    base = git(repo, "rev-parse", "HEAD").strip()
    server = sim(
        {
            **plan_phase(CODE_ONLY),
            "implement": [{"tool_use": WRONG_MUL}, {"text": "done", "times": 4}],
        }
    )
    code, out, err = devloop(repo, "feature", "specs/mul.md")
    assert code == 1, (out, err)
    assert "step 8 (implement) did not succeed: task T1 (Add mul) did not pass" in err
    assert "AssertionError: 5 != 6" in err and f"devloop resume {SLUG}" in err
    assert statuses(repo)["implement"] == "failed" and statuses(repo)["review"] == "pending"
    assert git(repo, "rev-parse", "--abbrev-ref", "HEAD").strip() == f"devloop/{SLUG}"
    assert git(repo, "rev-parse", "HEAD").strip() == base
    assert git(repo, "status", "--porcelain").split() == ["M", "src/calc.py"]
    assert "def mul(a, b):\n    return a + b" in (repo / "src" / "calc.py").read_text()
    outcome = artifact(repo, "08-implement.json")
    assert outcome["ok"] is False and outcome["details"]["tasks"][0]["escalated"] is True
    tiers = [b["model"] for b in bodies(server, "implement")]
    assert tiers == ["claude-sonnet-5-5"] * 3 + ["claude-opus-5-5"] * 2


def test_final_remediation_fails_then_a_resume_runs_it_again(repo, sim, devloop):
    (repo / "devloop.toml").write_text(CONFIG + "\n[agent]\nattempts = 1\nescalate = false\n")
    version_test = TESTS.replace("add", "VERSION").replace("VERSION(2, 3), 5", "VERSION, 2")
    (repo / "tests" / "test_version.py").write_text(version_test)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "test: a version the change must add")
    add_version = edit("insert", "src/calc.py", insert_line=0, insert_text="VERSION = 2\n\n\n")
    server = sim(
        {
            **plan_phase(CODE_ONLY),
            "implement": [{"tool_use": ADD_MUL}, {"text": "src/calc.py: added mul()"}],
            **NO_FINDINGS,
            "e2e": [{"text": "## Failures\n- tests/test_version.py: VERSION is missing"}],
            "final-remediate": [
                {"text": "It passes for me."},  # the suite still fails: the step fails
                {"tool_use": add_version},  # the resume: a fresh conversation
                {"text": "src/calc.py: added VERSION"},
            ],
            **DOCS,
        }
    )
    code, out, err = devloop(repo, "feature", "specs/mul.md")
    assert code == 1, (out, err)
    assert "step 13 (final-remediate) did not succeed" in err and "VERSION" in err
    assert statuses(repo)["final-remediate"] == "failed"
    code, out, err = devloop(repo, "resume", SLUG)
    assert code == 0, (out, err)
    first, again, _ = bodies(server, "final-remediate")
    assert len(again["messages"]) == 1  # a fresh conversation, not the failed one continued
    assert "VERSION is missing" in again["messages"][0]["content"][0]["text"]
    outcome = artifact(repo, "13-final-remediate.json")
    assert outcome["ok"] and outcome["files_changed"] == ["src/calc.py"]
    assert outcome["suite"]["passed"] is True  # the engine's own re-run of the suite
    assert "VERSION = 2" in git(repo, "show", "HEAD:src/calc.py")
