"""Gates that look before they judge, and converge: what the validators are sent."""

from __future__ import annotations

from loop_harness import FAIL, FINDING, PASS, PLAN, git, plan_phase, read_state

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


def test_a_build_plan_revision_may_decline_a_finding_and_the_double_check_sees_why(
    repo, sim, devloop
):
    from loop_harness import build_plan

    declined = {
        **build_plan(),
        "declined": [{"finding": FINDING["problem"], "reason": "T1's test command covers it."}],
    }
    server = sim(
        plan_phase(
            **{"build-plan": [{"json": build_plan()}, {"json": declined}]},
            **{"double-check": [{"json": FAIL}, {"json": PASS}]},
        )
    )
    result = devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "double-check")
    assert result.code == 0, result
    schema = server.bodies("build-plan")[0]["output_config"]["format"]["schema"]
    assert "declined" in schema["properties"] and "declined" not in schema["required"]
    first, second = (_text(b) for b in server.bodies("double-check"))
    assert "revision round" not in first
    assert "This is revision round 1 of the build plan" in second
    assert f"- {FINDING['problem']}: T1's test command covers it." in second
    assert "list it under `declined`" in _text(server.bodies("build-plan")[1])


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


def test_validate_integration_sees_the_contracts_files_before_and_review_and_audit_after(
    repo, sim, devloop, agent
):
    from loop_harness import build_phase

    built = agent.implement

    def implement_and_a_helper(ctx, tasks):  # a file the contract does not name
        (ctx.root / "src" / "helpers.py").write_text("def shout(s):\n    return s.upper()\n")
        return built(ctx, tasks)

    agent.implement = implement_and_a_helper
    server = sim({**plan_phase(), **build_phase()})
    assert devloop(repo, "feature", "specs/goodbye.md").code == 0
    (integration,) = (_text(b) for b in server.bodies("validate-integration"))
    code = integration.split("<code>", 1)[1].split("</code>", 1)[0]
    assert "### src/app.py" in code and "def hello():\n    return 'hi'" in code
    assert "goodbye" not in code  # before the build
    for step in ("review", "audit"):
        (prompt,) = (_text(b) for b in server.bodies(step))
        after = prompt.split("<code>", 1)[1].split("</code>", 1)[0]
        assert "def goodbye():\n    return 'bye'" in after, step
        # A changed file outside the contract is there whole too, after the contract's.
        assert after.index("### src/app.py") < after.index("### src/helpers.py"), step
        assert "return s.upper()" in after, step


def test_a_file_too_large_for_its_share_is_shown_by_its_definitions(tmp_path):
    from devloop.loop.code_view import contract_paths, files_view

    big = "\n".join(f"def f{i}(a, b):\n    return a + b + {i}\n" for i in range(400))
    (tmp_path / "big.py").write_text(big)
    (tmp_path / "small.py").write_text("X = 1\n")
    contract = (
        "## Integration Contract\n### Files\n- `small.py`\n- big.py\n- new.py\n### Invariants\n"
    )
    paths = contract_paths(contract)
    assert paths == ["small.py", "big.py", "new.py"]
    text = files_view(tmp_path, paths, 2_000, lambda rel: True)
    assert "### small.py\n```\nX = 1\n```" in text
    assert "### big.py (1200 lines; definitions only, bodies left out)" in text
    assert "    1: def f0(a, b):" in text and "return a + b" not in text
    assert "### new.py\n(does not exist yet)" in text
    assert text.index("small.py") < text.index("big.py") < text.index("new.py")


def test_the_project_map_leaves_out_the_spec_it_is_sent_with(repo, sim, devloop):
    sim(plan_phase())
    assert devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "1").code == 0
    prefix = repo / ".devloop" / "features" / "add-a-goodbye-function" / "00-project-map.md"
    text = prefix.read_text()
    assert "src/app.py" in text and "goodbye.md" not in text


def test_research_looks_at_the_code_with_read_only_tools_and_never_sees_private_files(
    repo, sim, devloop
):
    from loop_harness import SLUG

    (repo / "secrets.txt").write_text("def hello(): the password is hunter2\n")  # untracked
    search = {"name": "search", "input": {"pattern": r"def \w+\("}}
    view = {
        "name": "str_replace_based_edit_tool",
        "input": {"command": "view", "path": "src/app.py"},
    }
    write = {
        "name": "str_replace_based_edit_tool",
        "input": {"command": "create", "path": "src/app.py", "file_text": "gone"},
    }
    peek = {
        "name": "str_replace_based_edit_tool",
        "input": {"command": "view", "path": "secrets.txt"},
    }
    server = sim(
        plan_phase(
            research=[
                {"tool_use": [search, view]},
                {"tool_use": [write, peek]},
                {"text": "## Relevant code\n- src/app.py: `hello() -> str`"},
            ]
        )
    )
    result = devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "1")
    assert result.code == 0, result
    first, second, third = server.bodies("research")
    assert [t["name"] for t in first["tools"]] == ["str_replace_based_edit_tool", "search"]
    found, shown = second["messages"][-1]["content"]
    assert "src/app.py:1: def hello():" in found["content"] and "secrets" not in found["content"]
    assert "return 'hi'" in shown["content"]
    refused, private = third["messages"][-1]["content"]
    assert refused["is_error"] and "only reads" in refused["content"]
    assert private["is_error"] and "hunter2" not in private["content"]
    assert (repo / "src" / "app.py").read_text() == "def hello():\n    return 'hi'\n"
    notes = repo / ".devloop" / "features" / SLUG / "01-research.md"
    assert notes.read_text() == "## Relevant code\n- src/app.py: `hello() -> str`\n"


def test_research_answers_on_its_last_turn_instead_of_failing_at_the_limit(repo, sim, devloop):
    from loop_harness import SLUG

    config = repo / "devloop.toml"
    config.write_text(config.read_text().replace("[loop]\n", "[loop]\nresearch_turns = 2\n"))
    git(repo, "commit", "-qam", "chore: two research turns")
    search = {"name": "search", "input": {"pattern": r"def \w+\("}}
    server = sim(
        plan_phase(
            research=[{"tool_use": [search]}, {"text": "## Relevant code\n- src/app.py: hello"}]
        )
    )
    result = devloop(repo, "feature", "specs/goodbye.md", "--stop-after", "1")
    assert result.code == 0, result
    first, last = server.bodies("research")
    assert "tool_choice" not in first  # the model may look while it has turns left
    assert last["tool_choice"] == {"type": "none"} and last["tools"] == first["tools"]
    nudge = last["messages"][-1]["content"][-1]["text"]
    assert nudge.startswith("This is the last of your 2 turns ([loop] research_turns)")
    notes = repo / ".devloop" / "features" / SLUG / "01-research.md"
    assert notes.read_text() == "## Relevant code\n- src/app.py: hello\n"
