"""Gates that look before they judge, and converge: what the validators are sent."""

from __future__ import annotations

from loop_harness import FAIL, FINDING, PASS, PLAN, plan_phase, read_state

DECLINED = "\n## Declined findings\n- no test for the return value: tests/test_app.py has one.\n"


def _text(body: dict) -> str:
    content = body["messages"][0]["content"]
    return content if isinstance(content, str) else "".join(b["text"] for b in content)


def test_the_verdict_schema_walks_coverage_then_findings_then_the_verdict(repo, sim, devloop):
    server = sim(plan_phase())
    assert devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "plan").code == 0
    for step in ("validate-requirements", "validate-integration", "double-check"):
        (body,) = server.bodies(step)
        schema = body["output_config"]["format"]["schema"]
        assert list(schema["properties"]) == ["coverage", "findings", "verdict"], step
        assert "First `coverage`" in _text(body)


def test_a_revision_round_shows_the_validators_the_earlier_findings_and_the_declines(
    repo, sim, devloop
):
    server = sim(
        plan_phase(
            plan=[{"text": PLAN}, {"text": PLAN + DECLINED}],
            **{"validate-requirements": [{"json": FAIL}, {"json": PASS}]},
            **{"validate-integration": [{"json": PASS}, {"json": PASS}]},
        )
    )
    result = devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "plan")
    assert result.code == 0, result
    first, second = (_text(b) for b in server.bodies("validate-requirements"))
    assert "revision round" not in first
    assert "This is revision round 1 of the plan" in second
    assert FINDING["problem"] in second  # the finding the gate raised before
    assert "tests/test_app.py has one." in second  # the author's decline, with its reason
    assert "Report a new finding only at critical or high severity." in second
    _, integration = (_text(b) for b in server.bodies("validate-integration"))
    assert FINDING["problem"] in integration  # every validator of the gate sees them


def test_a_requirement_marked_missing_fails_the_gate_whatever_the_verdict_says(repo, sim, devloop):
    missing = {
        "coverage": [{"item": "goodbye() returns 'bye'", "where": "-", "status": "missing"}],
        "findings": [],
        "verdict": "pass",
    }
    server = sim(plan_phase(**{"validate-requirements": [{"json": missing}, {"json": PASS}]},
                   plan=[{"text": PLAN}, {"text": PLAN}],
                   **{"validate-integration": [{"json": PASS}, {"json": PASS}]}))  # fmt: skip
    result = devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "plan")
    assert result.code == 0, result
    state = read_state(repo)
    assert state["steps"]["validate-requirements"]["result"]["coverage"]["missing"] == 0
    assert server.count("plan") == 2  # the plan went back once, with the missing item
    assert "not covered: goodbye() returns 'bye'" in _text(server.bodies("plan")[1])
