"""Scenario files and dicts: the documented format, its shorthands, and loud errors."""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path

import pytest

from devloop.errors import EXIT_USAGE
from devloop.sim import ScenarioError, bundled_scenarios, load_scenario, parse_scenario
from devloop.sim.scenario import ReplyQueue, ScenarioGap

TOML = """
name = "demo"

[[steps.plan]]
text = "The plan."

[[steps.implement]]
thinking = "first look"
text = "Looking."
tool_use = { name = "bash", input = { command = "ls" } }

[[steps.implement]]
status = 529
retry_after = 0.5
times = 2

[[steps.verdict]]
json = { verdict = "pass", issues = [] }
"""


def test_toml_file(tmp_path):
    path = tmp_path / "s.toml"
    path.write_text(TOML)
    scenario = load_scenario(path)
    assert scenario.name == "demo" and scenario.source == str(path)
    implement = scenario.steps["implement"]
    assert len(implement) == 3  # times = 2 expands
    assert [b.type for b in implement[0].blocks] == ["thinking", "text", "tool_use"]
    assert implement[0].blocks[2].input == {"command": "ls"}
    assert implement[1].error.status == 529 and implement[1].error.error_type == "overloaded_error"
    assert implement[1].error.retry_after == 0.5
    assert json.loads(scenario.steps["verdict"][0].blocks[0].text) == {
        "verdict": "pass",
        "issues": [],
    }


def test_json_file_and_string_shorthand(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"steps": {"default": ["hello", {"empty": True}]}}))
    scenario = load_scenario(path)
    assert scenario.steps["default"][0].blocks[0].text == "hello"
    assert scenario.steps["default"][1].blocks == ()


def test_explicit_blocks_keep_their_order():
    scenario = parse_scenario(
        {
            "steps": {
                "x": [
                    {
                        "blocks": [
                            {"type": "text", "text": "a"},
                            {"type": "tool_use", "name": "bash", "input": {}, "id": "toolu_1"},
                            {"type": "redacted_thinking", "data": "opaque"},
                        ]
                    }
                ]
            }
        }
    )
    blocks = scenario.steps["x"][0].blocks
    assert [b.type for b in blocks] == ["text", "tool_use", "redacted_thinking"]
    assert blocks[1].id == "toolu_1" and blocks[2].text == "opaque"


def test_the_shipped_example_scenario_loads():
    example = resources.files("devloop.sim") / "scenarios" / "example.toml"
    scenario = load_scenario(str(example))
    assert {"default", "research", "plan", "implement", "review"} <= set(scenario.steps)
    assert bundled_scenarios()["example"] == Path(str(example))
    notes = scenario.steps["research"][-1]  # research ends with its notes, no tool call
    assert [b.type for b in notes.blocks] == ["text"] and "## Relevant code" in notes.blocks[0].text


def schema_problems(scenario) -> list[str]:
    """Where a scenario's replies would not pass devloop: steps it does not have, answers
    to a structured step that miss the step's schema, tools no step offers."""
    from devloop import jsonshape, schemas
    from devloop.agent.tools.inspect import SEARCH
    from devloop.agent.tools.workspace import BASH, EDITOR
    from devloop.steps import STEPS

    found = []
    for key, replies in scenario.steps.items():
        step = STEPS.get(key)
        if step is None and key not in ("default", "*"):
            found.append(f"{key}: not a step")
            continue
        for i, reply in enumerate(replies):
            tools = [b.name for b in reply.blocks if b.type == "tool_use"]
            found += [
                f"{key}[{i}]: no tool {t!r}" for t in tools if t not in (EDITOR, BASH, SEARCH)
            ]
            answer = not (tools or reply.error or reply.refusal or reply.stream_error)
            if step is None or step.schema is None or not answer or reply.truncate:
                continue
            text = "".join(b.text for b in reply.blocks if b.type == "text")
            try:
                value = json.loads(text)
            except ValueError:
                found.append(f"{key}[{i}]: not JSON")
                continue
            schema = schemas.BY_NAME[step.schema]
            found += [f"{key}[{i}]: {p}" for p in jsonshape.problems(value, schema)]
    return found


SHIPPED = {name: path for name, path in bundled_scenarios().items()}
SHIPPED["demo"] = Path(str(resources.files("devloop.demo") / "scenario.toml"))


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_every_shipped_scenario_matches_the_schemas(name):
    assert schema_problems(load_scenario(SHIPPED[name])) == []


def test_the_schema_check_catches_a_verdict_off_its_schema():
    old_example = parse_scenario(
        {"steps": {"validate-requirements": [{"json": {"verdict": "pass", "issues": []}}]}}
    )
    assert schema_problems(old_example) == [
        "validate-requirements[0]: $: missing required property 'coverage'",
        "validate-requirements[0]: $: missing required property 'findings'",
        "validate-requirements[0]: $: unexpected property 'issues'",
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "top level"),
        ({"stepz": {}}, "unknown top-level"),
        ({"steps": {}}, "needs a `steps` table"),
        ({"steps": {"a": "text"}}, "must be a list"),
        ({"steps": {"a": [{"txt": "typo"}]}}, "unknown key(s) ['txt']"),
        ({"steps": {"a": [{}]}}, "a reply needs content"),
        ({"steps": {"a": [{"status": 529, "text": "x"}]}}, "cannot also have"),
        ({"steps": {"a": [{"status": 200}]}}, "HTTP error status"),
        ({"steps": {"a": [{"text": "x", "json": {}}]}}, "not both"),
        (
            {"steps": {"a": [{"text": "x", "stop_reason": "end_trun"}]}},
            "stop_reason must be one of",
        ),
        ({"steps": {"a": [{"tool_use": {"input": {}}}]}}, "needs a `name`"),
        ({"steps": {"a": [{"text": "x", "times": 0}]}}, "`times`"),
        ({"steps": {"a": [{"text": "x", "delay": -1}]}}, "`delay`"),
        ({"steps": {"a": [{"refusal": "nasty"}]}}, "refusal category"),
        ({"steps": {"a": [{"empty": True, "text": "x"}]}}, "`empty = true` cannot"),
    ],
)
def test_malformed_scenarios_are_usage_errors(data, message):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(data, source="t.toml")
    assert message in caught.value.message
    assert caught.value.exit_code == EXIT_USAGE


def test_unreadable_and_invalid_files(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("steps = [")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(bad)


def test_reply_queue_order_gaps_and_unused():
    queue = ReplyQueue(parse_scenario({"steps": {"a": ["1", "2"], "default": ["d"]}}))
    assert queue.next("a").blocks[0].text == "1"
    assert queue.unused() == {"a": 1, "default": 1}
    assert queue.next(None).blocks[0].text == "d"
    assert queue.next("a").blocks[0].text == "2"
    with pytest.raises(ScenarioGap, match="'a' is used up"):
        queue.next("a")
    with pytest.raises(ScenarioGap, match="no replies for step 'b'"):
        queue.next("b")
    assert queue.unused() == {}
