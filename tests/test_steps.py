"""The step table is the one place a step lives.

Step numbers and keys appear as literals nowhere in devloop but steps.py (a `# not a step`
comment marks a string that only looks like one: a [commands] key, a git subcommand), and a
row added to a copy of the table shows up in ROUTING.md, the dry run, the progress view,
the run itself and the reports without touching any other module.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from loop_harness import SLUG, build_phase, plan_phase  # fixtures come via conftest

from devloop.loop import prompts
from devloop.steps import (
    NOTES,
    PHASES,
    STEPS,
    TITLE,
    Projection,
    Step,
    stop_point,
)

PACKAGE = Path(__file__).resolve().parent.parent / "devloop"
EXEMPT = {PACKAGE / "steps.py"}
MARK = "# not a step"


def _literals(path: Path) -> list[str]:
    """Step keys as string constants, and step numbers compared with `.number`."""
    keys = {s.key for s in STEPS}
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        where = f"{path.relative_to(PACKAGE.parent)}:{getattr(node, 'lineno', 0)}"
        marked = hasattr(node, "lineno") and MARK in lines[node.lineno - 1]
        if isinstance(node, ast.Constant) and node.value in keys and not marked:
            found.append(f"{where}: {node.value!r}")
        if isinstance(node, ast.Compare) and not marked:
            sides = [node.left, *node.comparators]
            numbered = any(isinstance(s, ast.Attribute) and s.attr == "number" for s in sides)
            ints = [s for s in sides if isinstance(s, ast.Constant) and type(s.value) is int]
            if numbered and ints:
                found.append(f"{where}: {ast.unparse(node)}")
    return found


def test_no_step_number_or_key_literal_outside_the_table():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path not in EXEMPT:
            found += _literals(path)
    assert found == [], "step literals outside steps.py:\n" + "\n".join(found)


def test_the_literal_check_catches_both_kinds(tmp_path):
    bad = PACKAGE / "_probe_literals.py"
    bad.write_text(
        'KEY = "audit"\nOK = "audit"  # not a step: a name\n'
        "def f(step):\n    return step.number <= 6\n"
    )
    try:
        found = _literals(bad)
    finally:
        bad.unlink()
    assert [f.split(": ", 1)[1] for f in found] == ["'audit'", "step.number <= 6"]


def test_every_row_is_consistent_with_its_template_and_neighbours():
    keys = [s.key for s in STEPS]
    assert [s.number for s in STEPS] == list(range(1, len(STEPS) + 1))
    assert len(set(keys)) == len(keys)
    for step in STEPS:
        if step.template:
            names = [step.template, step.shared_template]
            texts = [prompts.load_template(PACKAGE.parent, n) for n in names if n]
            used = {name for text in texts for name in prompts.placeholders(text)}
            assert used == {n for n, _ in step.inputs}, step.key
        for source in step.sources:
            producer = STEPS.get(source)
            assert producer is None or producer.number < step.number, (step.key, source)
        if step.gate:
            assert STEPS.get(step.gate).number < step.number
        if step.parallel_with:
            assert STEPS.get(step.parallel_with).parallel_with == step.key
    assert [stop_point(p).phase for p in PHASES] == list(PHASES)


# ------------------------------------------------------------------ a 16th step


RELEASE_NOTES = Step(
    len(STEPS) + 1,
    "release-notes",
    "Release notes",
    "verify",
    "llm",
    "mid",
    False,
    False,
    "Short user-facing notes from the plan: routine writing.",
    "Notes that miss a change; a person reads them before a release.",
    kind=NOTES,
    template="release-notes",
    inputs=(("title", TITLE), ("plan", "plan")),
    max_tokens=2_000,
    projection=Projection(output=400),
)


@pytest.fixture
def sixteen(repo):
    """The table with one more row, and the row's template as a repository override."""
    override = repo / prompts.OVERRIDE_DIR / "release-notes.md"
    override.parent.mkdir(parents=True, exist_ok=True)
    override.write_text("Release notes for {title}, from this plan:\n\n{plan}\n")
    with STEPS.replaced([*STEPS, RELEASE_NOTES]):
        yield repo


def test_a_16th_step_shows_in_routing_and_the_dry_run(sixteen, devloop):
    routing_md = devloop(sixteen, "routing", "--markdown")
    assert routing_md.code == 0, routing_md
    assert "| 16 | `release-notes` | verify | mid |" in routing_md.out

    dry = devloop(sixteen, "feature", "specs/goodbye.md", "--dry-run", "--json")
    assert dry.code == 1 and "would stop at (api)" in dry.err, dry  # only: no key here
    data = json.loads(dry.out)
    steps = {s["key"]: s for s in data["steps"]}
    assert steps["release-notes"]["step"] == 16
    assert steps["release-notes"]["assumed_inputs"] == ["plan"]
    assert steps["release-notes"]["output_tokens"] == 400
    prompt = sixteen / ".devloop" / "dry-run" / SLUG / "16-release-notes.md"
    assert "Release notes for Add a goodbye function" in prompt.read_text()


def test_a_16th_step_runs_after_the_others_and_is_reported(sixteen, sim, devloop, agent):
    server = sim({**plan_phase(), **build_phase(), "release-notes": [{"text": "- bye()"}] * 2})
    result = devloop(sixteen, "feature", "specs/goodbye.md")
    assert result.code == 0, result
    assert "[16/16] release-notes" in result.out  # the progress view
    assert server.steps()[-1] == "release-notes"  # after the commit and the smoke gate
    (body,) = server.bodies("release-notes")
    assert "## Integration Contract" in json.dumps(body)  # its input: the plan
    notes = sixteen / ".devloop" / "features" / SLUG / "16-release-notes.md"
    assert notes.read_text().strip() == "- bye()"

    cost = devloop(sixteen, "cost", SLUG, "--format", "json")
    assert cost.code == 0, cost
    rows = {r["key"]: r for r in json.loads(cost.out)["rows"]}
    assert rows["release-notes"]["calls"] == 1 and rows["release-notes"]["step_number"] == 16

    status = devloop(sixteen, "status")
    assert "16/16" in status.out

    stop = devloop(sixteen, "resume", SLUG, "--from", "release-notes", "--stop-after", "verify")
    assert stop.code == 0, stop
    assert server.count("release-notes") == 2
