"""The build agent against the offline API server: real tool calls, real git, real checks.

Each test builds a StepContext the way the engine does (a Door on a real ledger) in a tiny
Python project whose checks are pytest and ruff, scripts the model's replies in a SimServer
scenario, and looks at what the agent did: the files, the outcome, the requests the model
received and the ledger's rows. Full `devloop feature` runs are in test_agent_e2e.py.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from pathlib import Path

import pytest
from calc_project import ADD_MUL, CALC, MUL_TEST, RUFF, TEST, TESTS, WRONG_MUL, edit, write_calc
from conftest import git

from devloop import config, tokens
from devloop.agent import builder
from devloop.agent.contract import StepContext
from devloop.agent.tools.workspace import tool_definitions
from devloop.agent.worktree import changed_between, narrowed, tampered, task_targets
from devloop.ledger import Ledger
from devloop.loop import prompts as ctxmod
from devloop.model import Door
from devloop.schemas import BuildPlan, FileChange, Finding, Task
from devloop.sim import SimServer
from devloop.steps import resolve_step

SLUG = "calc"
CONFIG = f"""[commands]
test = "{TEST}"
lint = "{RUFF} check ."

[agent]
attempts = 2
"""


def bash(command: str) -> dict:
    return {"name": "bash", "input": {"command": command}}


FIX_MUL = edit(
    "str_replace",
    "src/calc.py",
    old_str="def mul(a, b):\n    return a + b",
    new_str="def mul(a, b):\n    return a * b",
)


def mul_task(files=(("src/calc.py", "modify"),), tests=("tests/test_calc.py",)) -> Task:
    return Task(
        id="T1",
        title="Add mul",
        description="Add mul(a, b) to src/calc.py.",
        files=tuple(FileChange(p, a) for p, a in files),
        acceptance=("mul(2, 3) == 6",),
        tests=tests,
    )


# Files around src/calc.py: a caller of add(), a module nothing relates, and more callers.
REPORT = (
    "from src.calc import add\n\n\ndef total(items):\n    return sum(add(i, 0) for i in items)\n"
)
UNRELATED = "def shout(word):\n    return word.upper()\n"
PRIVATE = "from src.calc import add\n\n\ndef private_helper():\n    return add(1, 2)\n"
TWICE = "from src.calc import add\n\n\ndef twice(a):\n    return add(a, a)\n"


@pytest.fixture
def project(git_repo: Path) -> Path:
    write_calc(git_repo, "devloop.toml", CONFIG, ".devloop/\n__pycache__/\n")
    git(git_repo, "add", "-A")
    git(git_repo, "commit", "-qm", "chore: calc")
    return git_repo


class Harness:
    """A SimServer with the scenario, and StepContexts built as the engine builds them."""

    def __init__(self, root: Path, steps: dict, monkeypatch) -> None:
        self.root = root
        self.server = SimServer({"steps": steps}).start()
        monkeypatch.setenv("ANTHROPIC_BASE_URL", self.server.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-agent-0123456789")
        self.ledger = Ledger.open(root)
        self.ledger.ensure_feature(SLUG, title="Calc")
        self.notes: list[str] = []

    def ctx(self, key: str, tasks: tuple[Task, ...] = ()) -> StepContext:
        cfg = config.load(self.root)
        step = resolve_step(key)
        run_id = self.ledger.start_step_run(SLUG, step.number, key, worker=step.worker)
        return StepContext(
            cfg=cfg,
            door=Door(cfg, self.ledger, SLUG, warn=self.notes.append),
            root=self.root,
            slug=SLUG,
            step=step,
            tier="mid",
            model=cfg.models.mid,
            system="You are a step of devloop.",
            context=["# Project map", "# Feature spec: calc"],
            step_run_id=run_id,
            artifacts_dir=self.root / ".devloop" / "features" / SLUG,
            scratch=self.root / ".devloop" / "features" / SLUG / "work" / key,
            plan="plan",
            contract="## Integration Contract\n- `mul(a, b)` in src/calc.py",
            build_plan=BuildPlan("calc", tasks),
            note=self.notes.append,
            render_template=lambda name, values: ctxmod.render_template(self.root, name, values),
        )

    def bodies(self, step: str | None = None) -> list[dict]:
        return [r.body for r in self.server.message_requests(step)]

    def calls(self) -> list[tuple]:
        db = sqlite3.connect(self.root / ".devloop" / "ledger.db")
        query = "SELECT id, tier, requested_model, escalated_from FROM calls ORDER BY id"
        return db.execute(query).fetchall()

    def close(self) -> None:
        self.server.close()
        self.ledger.close()


@pytest.fixture
def harness(project, monkeypatch):
    made: list[Harness] = []

    def start(steps: dict) -> Harness:
        made.append(Harness(project, steps, monkeypatch))
        return made[-1]

    yield start
    for h in made:
        h.close()


def texts(message: dict) -> str:
    content = message["content"]
    if isinstance(content, str):
        return content
    return "\n".join(b.get("text") or str(b.get("content", "")) for b in content)


# ------------------------------------------------------------------ step 8


def test_a_task_passes_on_the_first_attempt(harness, project):
    task = mul_task(files=(("src/calc.py", "modify"), ("tests/test_calc.py", "modify")))
    add_test = edit("insert", "tests/test_calc.py", insert_line=8, insert_text=MUL_TEST)
    h = harness(
        {
            "implement": [
                {"text": "Adding mul and its test.", "tool_use": [ADD_MUL, add_test]},
                {"tool_use": bash(f"{TEST} tests/test_calc.py")},
                {"text": "src/calc.py: added mul()\ntests/test_calc.py: tested it"},
            ]
        }
    )
    outcome = builder.create(config.load(project)).implement(h.ctx("implement", (task,)), [task])
    assert outcome.ok, outcome.summary
    assert outcome.files_changed == ["src/calc.py", "tests/test_calc.py"]
    assert "def mul(a, b):\n    return a * b" in (project / "src" / "calc.py").read_text()
    (record,) = outcome.details["tasks"]
    assert record["attempts"] == 1 and record["turns"] == 3 and record["tool_calls"] == 3
    assert record["tier"] == "mid" and record["first_attempt_pass"] and not record["escalated"]
    assert len(record["calls"]) == 3 and record["summary"].startswith("src/calc.py: added mul")
    assert outcome.details["tampered_tests"] == []  # the test file was declared
    first, second, third = h.bodies("implement")
    assert first["tools"] == tool_definitions(config.load(project))
    (opening,) = first["messages"]
    shown = texts(opening)
    assert "Task T1: Add mul" in shown and "- src/calc.py (modify)" in shown
    assert '<file path="src/calc.py">' in shown and "1: def add(a, b):" in shown
    assert f"- tests: `{TEST} tests/test_calc.py`" in shown  # narrowed to the task's tests
    assert "mul(a, b)` in src/calc.py" in shown  # the contract
    # The assistant turn goes back unchanged; both results come back in one message, first.
    assistant, results = second["messages"][1:]
    assert [b["type"] for b in assistant["content"]] == ["text", "tool_use", "tool_use"]
    assert [b["type"] for b in results["content"]] == ["tool_result", "tool_result"]
    ids = [b["id"] for b in assistant["content"] if b["type"] == "tool_use"]
    assert [b["tool_use_id"] for b in results["content"]] == ids
    assert "Ran 2 tests" in third["messages"][-1]["content"][0]["content"]
    assert all(row[1] == "mid" and row[3] is None for row in h.calls())
    checkpoint = json.loads(
        (project / ".devloop/features/calc/work/implement/checkpoint.json").read_text()
    )
    assert checkpoint["finished"] is True


def test_failing_twice_on_mid_escalates_to_a_fresh_frontier_conversation(harness, project):
    (project / "tests" / "test_calc.py").write_text(TESTS + MUL_TEST)
    git(project, "commit", "-qam", "test: mul")
    task = mul_task()
    h = harness(
        {
            "implement": [
                {"tool_use": WRONG_MUL},
                {"text": "src/calc.py: added mul()"},  # checks fail: attempt 1 ends
                {"text": "It looks right to me."},  # attempt 2 changes nothing: fails again
                {"text": "The mid tier added mul wrongly.", "tool_use": FIX_MUL},  # frontier
                {"text": "src/calc.py: mul multiplies"},
            ]
        }
    )
    cfg = config.load(project)
    outcome = builder.create(cfg).implement(h.ctx("implement", (task,)), [task])
    assert outcome.ok, outcome.summary
    (record,) = outcome.details["tasks"]
    assert record["tier"] == "frontier" and record["escalated"] and record["attempts"] == 3
    assert not record["first_attempt_pass"] and record["turns"] == 5
    rows = h.calls()
    assert [r[1] for r in rows] == ["mid", "mid", "mid", "frontier", "frontier"]
    last_mid = rows[2][0]
    assert [r[3] for r in rows] == [None, None, None, last_mid, last_mid]
    assert rows[3][2] == cfg.models.frontier and rows[0][2] == cfg.models.mid
    bodies = h.bodies("implement")
    # Attempt 2 continues the same conversation with the failure: command, exit code, output.
    retry = bodies[2]["messages"]
    assert len(retry) == 5 and retry[:2] == bodies[1]["messages"][:2]
    failure = texts(retry[-1])
    assert f"$ {TEST} tests/test_calc.py" in failure and "[exit code 1]" in failure
    assert "AssertionError: 5 != 6" in failure and "Do not edit, skip or weaken a test" in failure
    # The frontier starts fresh: the task, the diff and the failure log, on its own model.
    escalated = bodies[3]
    assert escalated["model"] == cfg.models.frontier and len(escalated["messages"]) == 1
    handover = texts(escalated["messages"][0])
    assert "Task T1: " in handover and "Another model worked on this first" in handover
    assert "+def mul(a, b):" in handover and '<failure attempt="2">' in handover
    assert "The same failure as the attempt before." in handover
    assert escalated["system"] == bodies[0]["system"]  # the same cached prefix
    assert "T1: escalating to the frontier tier, in a fresh conversation" in h.notes
    # The mid tier works at the step's effort; the frontier tier taking over, at high.
    efforts = [b.get("output_config", {}).get("effort") for b in bodies]
    assert efforts == ["medium", "medium", "medium", "high", "high"]


def test_failing_on_both_tiers_returns_not_ok_and_leaves_the_tree(harness, project):
    (project / "tests" / "test_calc.py").write_text(TESTS + MUL_TEST)
    git(project, "commit", "-qam", "test: mul")
    task = mul_task()
    h = harness({"implement": [{"tool_use": WRONG_MUL}, {"text": "done", "times": 4}]})
    ctx = h.ctx("implement", (task,))
    outcome = builder.create(ctx.cfg).implement(ctx, [task])
    assert not outcome.ok
    assert (
        "task T1 (Add mul) did not pass" in outcome.summary
        and "AssertionError: 5 != 6" in outcome.summary
    )
    assert "escalated to the frontier tier" in outcome.summary
    assert outcome.files_changed == ["src/calc.py"]
    assert "return a + b\n\n\ndef mul" in (project / "src" / "calc.py").read_text()  # left as is
    (record,) = outcome.details["tasks"]
    assert record["attempts"] == 4 and not record["ok"] and record["tier"] is None
    assert len(h.bodies("implement")) == 5


def test_a_repeated_failing_tool_call_ends_the_attempt(harness, project):
    task = mul_task(tests=())
    bad = edit("str_replace", "src/calc.py", old_str="return a - b", new_str="x")
    h = harness(
        {
            "implement": [
                {"tool_use": bad},
                {"tool_use": bad},  # the same failing call again: the attempt ends
                {"tool_use": ADD_MUL},
                {"text": "src/calc.py: added mul()"},
            ]
        }
    )
    ctx = h.ctx("implement", (task,))
    outcome = builder.create(ctx.cfg).implement(ctx, [task])
    assert outcome.ok, outcome.summary
    (record,) = outcome.details["tasks"]
    assert record["attempts"] == 2 and record["turns"] == 4 and record["tool_calls"] == 3
    third = h.bodies("implement")[2]["messages"]
    owed, note = third[-1]["content"]  # the owed result first, then why the attempt ended
    assert owed["type"] == "tool_result" and owed["is_error"] is True
    assert "failed twice in a row" in note["text"]
    assert f"- tests: `{TEST}`" in texts(third[0])  # no test files listed: the whole suite


def test_limits_come_from_config(harness, project):
    (project / "devloop.toml").write_text(
        CONFIG.replace("attempts = 2", "attempts = 1\nescalate = false\nmax_turns = 2\n")
        + "max_tool_calls = 2\n"
    )
    view = edit("view", "src/calc.py")
    h = harness(
        {
            "implement": [
                {"tool_use": [view, bash("ls"), edit("view", "tests")]},  # 3 calls: 1 too many
                {"tool_use": view},
                {"tool_use": bash("ls")},  # turn 2: the turn limit
            ]
        }
    )
    task = mul_task(tests=())
    ctx = h.ctx("implement", (task,))
    assert ctx.cfg.agent.max_tool_calls == 2 and ctx.cfg.agent.max_turns == 2
    by_calls = builder.create(ctx.cfg).implement(ctx, [task])
    assert not by_calls.ok and "2 tool calls ([agent] max_tool_calls)" in by_calls.summary
    assert by_calls.details["tasks"][0]["tool_calls"] == 2 and len(h.bodies()) == 1
    by_turns = builder.create(ctx.cfg).implement(h.ctx("implement", (task,)), [task])
    assert not by_turns.ok and "2 model turns ([agent] max_turns)" in by_turns.summary
    assert len(h.bodies()) == 3 and all(b["model"] == ctx.cfg.models.mid for b in h.bodies())


def test_a_rerun_skips_the_tasks_a_cut_off_run_finished(harness, project):
    t1 = mul_task(tests=())
    t2 = Task(
        "T2",
        "Add sub",
        "Add sub(a, b) and its test.",
        (FileChange("src/calc.py", "modify"), FileChange("tests/test_sub.py", "create")),
        tests=("tests/test_sub.py",),
    )
    sub = "def sub(a, b):\n    return a - b\n\n\n"
    sub_test = TESTS.replace("add", "sub").replace("(2, 3), 5", "(3, 2), 1")
    h = harness(
        {
            "implement": [
                {"tool_use": ADD_MUL},
                {"text": "mul added"},
                {"text": "stuck", "times": 4},  # T2's test file never appears: both tiers fail
                {
                    "tool_use": [
                        edit("insert", "src/calc.py", insert_line=0, insert_text=sub),
                        edit("create", "tests/test_sub.py", file_text=sub_test),
                    ]
                },
                {"text": "sub added"},
            ]
        }
    )
    first = builder.create(config.load(project)).implement(h.ctx("implement", (t1, t2)), [t1, t2])
    assert not first.ok and "test files do not exist yet: tests/test_sub.py" in first.summary
    again = builder.create(config.load(project)).implement(h.ctx("implement", (t1, t2)), [t1, t2])
    assert again.ok, again.summary
    assert len(h.bodies()) == 8  # T1 was not sent again
    records = again.details["tasks"]
    assert records[0]["resumed"] is True and records[1]["first_attempt_pass"] is True
    assert again.files_changed == ["src/calc.py", "tests/test_sub.py"]
    assert "T1 done in an earlier run" in again.summary


def test_every_task_opens_with_the_same_cached_part_and_the_next_task_reads_it(harness, project):
    t1 = mul_task()
    t2 = Task(
        "T2",
        "Add sub",
        "Add sub(a, b).",
        (FileChange("src/calc.py", "modify"),),
        tests=("tests/test_calc.py",),
    )
    sub = "def sub(a, b):\n    return a - b\n\n\n"
    h = harness(
        {
            "implement": [
                {"tool_use": ADD_MUL},
                {"text": "mul added"},
                {"tool_use": edit("insert", "src/calc.py", insert_line=0, insert_text=sub)},
                {"text": "sub added"},
            ]
        }
    )
    ctx = h.ctx("implement", (t1, t2))
    # A contract past the model's minimum cacheable length (1,024 tokens on the mid tier).
    invariants = "".join(f"\n- invariant {n}: calc functions stay pure" for n in range(150))
    ctx = dataclasses.replace(ctx, contract=ctx.contract + invariants)
    outcome = builder.create(config.load(project)).implement(ctx, [t1, t2])
    assert outcome.ok, outcome.summary
    openings = [
        b["messages"][0]["content"] for b in h.bodies("implement") if len(b["messages"]) == 1
    ]
    assert len(openings) == 2
    shared = openings[0][0]
    # The contract and how to work come first, byte-identical, ending at a breakpoint; the
    # task itself (and its checks, which differ per task) only after it.
    assert openings[1][0] == shared and shared["cache_control"] == {"type": "ephemeral"}
    assert "`mul(a, b)` in src/calc.py" in shared["text"] and "How to work:" in shared["text"]
    assert "Task T1" not in shared["text"] and "- tests:" not in shared["text"]
    assert texts({"content": openings[1][1:]}).startswith("Task T2: Add sub")
    assert all("cache_control" not in block for block in openings[1][1:])
    db = sqlite3.connect(project / ".devloop" / "ledger.db")
    first_calls = db.execute(
        "SELECT cache_creation_input_tokens, cache_read_input_tokens FROM calls "
        "WHERE step_key = 'implement' ORDER BY id"
    ).fetchall()
    (_, t1_read), (_, t2_read) = first_calls[0], first_calls[2]
    assert t2_read > t1_read  # T2 read what T1's opening wrote: the shared part
    assert t2_read >= tokens.estimate(shared["text"]) // 2


# ------------------------------------------------------------------ steps 11, 13, 14


def test_remediation_is_one_conversation_most_severe_first(harness, project):
    findings = [
        Finding("low", "src/calc.py:1", "no docstring", "add one", "review"),
        Finding("high", "src/calc.py:2", "no mul", "add mul", "audit"),
    ]
    h = harness({"remediate": [{"tool_use": ADD_MUL}, {"text": "1. fixed (src/calc.py)"}]})
    ctx = h.ctx("remediate")
    outcome = builder.create(ctx.cfg).remediate(ctx, findings)
    assert outcome.ok and outcome.files_changed == ["src/calc.py"]
    assert outcome.details["first_attempt_pass"] and outcome.details["tests_changed"] == []
    shown = texts(h.bodies("remediate")[0]["messages"][0])
    assert shown.index("[high]") < shown.index("[low]") and "1. (audit) [high]" in shown
    assert f"- tests: `{TEST}`" in shown and "- lint:" in shown
    # A finding about a contract item is judged against the contract, which comes with it.
    assert "<contract>\n## Integration Contract\n- `mul(a, b)` in src/calc.py\n</contract>" in shown


def test_remediation_sees_the_code_related_to_the_files_its_findings_name(harness, project):
    (project / "src" / "report.py").write_text(REPORT)  # calls add() from src/calc.py
    (project / "src" / "unrelated.py").write_text(UNRELATED)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "feat: report")
    findings = [
        Finding("high", "src/calc.py:2", "add() has no docstring", "add one", "review"),
        Finding("low", "../outside.py:1", "not in this repository", "ignore it", "audit"),
    ]
    (project.parent / "outside.py").write_text("def outside_helper():\n    return 1\n")
    h = harness({"remediate": [{"text": "Nothing to change."}]})
    ctx = h.ctx("remediate")
    assert builder._finding_files(ctx, findings) == ["src/calc.py"]  # not ../outside.py
    builder.create(ctx.cfg).remediate(ctx, findings)
    shown = texts(h.bodies("remediate")[0]["messages"][0])
    related = shown.split("Related code:", 1)[1]
    assert "src/report.py\n4: def total(items):" in related
    assert "shout" not in shown and "outside_helper" not in shown
    assert "src/calc.py\n1:" not in related


def test_final_remediation_checks_the_full_suite(harness, project):
    (project / "tests" / "test_calc.py").write_text(TESTS + MUL_TEST)
    h = harness(
        {
            "final-remediate": [
                {"text": "done"},  # the suite still fails
                {"tool_use": ADD_MUL},
                {"text": "src/calc.py: added mul()"},
            ]
        }
    )
    ctx = h.ctx("final-remediate")
    outcome = builder.create(ctx.cfg).final_remediate(ctx, "Command: `pytest`\nOutput: no mul")
    assert outcome.ok and outcome.details["attempts"] == 2
    assert "final remediation of the failing suite passed on mid (attempt 2)" in outcome.summary
    opening = texts(h.bodies()[0]["messages"][0])
    assert "Output: no mul" in opening
    assert f"$ {TEST}\n[exit code" in texts(h.bodies()[1]["messages"][-1])
    # The code related to what the change touched (the test file): the module it tests.
    assert "src/calc.py\n1: def add(a, b):" in opening.split("Related code:", 1)[1]


def test_docs_are_skipped_without_a_model_call_when_no_docs_file_exists(harness, project):
    (project / "README.md").unlink()
    h = harness({"commit": [{"text": "never sent"}]})
    ctx = h.ctx("commit")
    outcome = builder.create(ctx.cfg).write_docs(ctx, "Tasks done:\n- T1: Add mul")
    assert outcome.ok and outcome.files_changed == [] and outcome.details == {"skipped": True}
    assert "none of the [agent] docs_files exists (README.md, CHANGELOG.md)" in outcome.summary
    assert h.server.message_requests() == []


def test_docs_edit_only_the_docs_files_with_the_editor(harness, project):
    (project / "src" / "calc.py").write_text(CALC + "\n\ndef mul(a, b):\n    return a * b\n")
    h = harness(
        {
            "commit": [
                {
                    "tool_use": [
                        edit("create", "src/calc.py", file_text="oops"),
                        bash("ls"),
                        edit(
                            "insert",
                            "README.md",
                            insert_line=1,
                            insert_text="\n`mul(a, b)` multiplies.\n",
                        ),
                    ]
                },
                {"text": "README.md: documented mul()"},
            ]
        }
    )
    ctx = h.ctx("commit")
    outcome = builder.create(ctx.cfg).write_docs(ctx, "Tasks done:\n- T1: Add mul")
    assert outcome.ok and outcome.summary == "README.md: documented mul()"
    assert "mul(a, b)` multiplies" in (project / "README.md").read_text()
    assert "return a * b" in (project / "src" / "calc.py").read_text()  # refused
    first, second = h.bodies("commit")
    # The other agent steps' tool list, so the docs step shares their prompt cache; bash
    # is refused when called, not left out of the list.
    assert (
        first["tools"]
        == tool_definitions(ctx.cfg)
        == h.ctx("implement").workspace().tool_definitions()
    )
    opening = texts(first["messages"][0])
    assert '<file path="README.md">' in opening and "+def mul(a, b):" in opening
    refused, no_bash, done = second["messages"][-1]["content"]
    assert refused["is_error"] and "may edit only README.md" in refused["content"]
    assert no_bash["is_error"] and "only str_replace_based_edit_tool" in no_bash["content"]
    assert not done["is_error"]
    assert outcome.details["docs_files"] == ["README.md"]


# ------------------------------------------------------------------ units


def test_failures_differing_only_in_timings_are_the_same():
    first = "FAILED (failures=1)\nRan 2 tests in 0.001s"
    assert builder._same_failure(first, "FAILED (failures=1)\nRan 2 tests in 0.000s")
    assert builder._same_failure("1 failed in 0.52 seconds", "1 failed in 1.3 seconds")
    assert not builder._same_failure(first, "FAILED (failures=2)\nRan 2 tests in 0.001s")


def test_test_targets_and_narrowing():
    task = mul_task(
        tests=("tests/test_calc.py", "pytest -k mul", "tests/test_x.py::test_y", "mul works")
    )
    assert task_targets(task) == ["tests/test_calc.py", "tests/test_x.py::test_y"]
    assert narrowed("pytest -q", ["a.py"]) == "pytest -q a.py"
    assert narrowed("ruff check .", ["a.py"]) == "ruff check a.py"
    assert narrowed("python -m unittest", ["t.py"]) == "python -m unittest t.py"
    # discover takes one pattern: one test file under its start directory, by name.
    discover = "python -m unittest discover -s tests -q"
    assert narrowed(discover, ["tests/test_counter.py"]) == f"{discover} -p test_counter.py"
    assert narrowed("python -m unittest discover", ["t/test_a.py"]) == (
        "python -m unittest discover -p test_a.py"
    )
    for whole in (
        (discover, ["tests/test_a.py", "tests/test_b.py"]),  # two files: one pattern won't do
        (discover, ["other/test_a.py"]),  # outside the start directory
        (f"{discover} -p 'check_*.py'", ["tests/check_a.py"]),  # its own pattern
        ("python -m unittest discover tests", ["tests/test_a.py"]),  # positional arguments
    ):
        assert narrowed(*whole) == whole[0]
    # go test: the targets' packages instead of every package.
    go = "go test ./..."
    assert narrowed(go, ["calc/calc_test.go", "calc/more_test.go", "x_test.go"]) == (
        "go test . ./calc"
    )
    assert narrowed(f"{go} -race", ["a/b/c_test.go"]) == "go test ./a/b -race"
    assert narrowed(go, ["calc/calc.go"]) == go  # not a test file
    assert narrowed("go vet ./...", ["a/b_test.go"]) == "go vet ./..."
    assert narrowed("make test", ["t.py"]) == "make test" and narrowed("pytest", []) == "pytest"


def test_tampering_is_undeclared_test_files_only():
    task = mul_task(
        files=(("src/calc.py", "modify"), ("tests/test_new.py", "create")),
        tests=("tests/test_new.py", "spec/checks.rb"),
    )
    changed = [
        "src/calc.py",
        "tests/test_new.py",
        "tests/test_calc.py",
        "tests/conftest.py",
        "src/foo_test.py",
        "spec/checks.rb",
        "tests/__pycache__/test_calc.cpython-311.pyc",
        "docs/testing.md",
    ]
    assert tampered(task, changed) == [
        "tests/test_calc.py",
        "tests/conftest.py",
        "src/foo_test.py",
        "spec/checks.rb",
    ]


def test_changed_between_sees_edits_back_and_forth():
    before = {"a.py": "1", "b.py": "2"}
    after = {"a.py": "1", "b.py": "3", "c.py": "4"}
    assert changed_between(before, after) == ["b.py", "c.py"]
    assert changed_between(after, {}) == ["a.py", "b.py", "c.py"]  # all put back as in HEAD


@pytest.mark.parametrize(
    ("agent_table", "message"),
    [
        ({"attempts": 0}, "[agent] attempts = 0: must be at least 1"),
        ({"max_tool_calls": 0}, "[agent] max_tool_calls = 0: must be at least 1"),
        ({"docs_files": ["../NOTES.md"]}, '[agent] docs_files[0] = "../NOTES.md": must be a path'),
        ({"escalate": "yes"}, '[agent] escalate = "yes": must be true or false'),
    ],
)
def test_agent_config_errors_name_the_key(agent_table, message):
    with pytest.raises(config.ConfigError) as caught:
        config.parse({"agent": agent_table})
    assert message in caught.value.message


def test_a_task_whose_declared_files_are_unchanged_fails_its_check(harness, project):
    """The suite passes on untouched code: that proves nothing, so the task is told to make
    its change, and it fails when it never does."""
    task = mul_task(tests=())
    h = harness({"implement": [{"text": "Nothing to do.", "times": 4}]})
    ctx = h.ctx("implement", (task,))
    outcome = builder.create(ctx.cfg).implement(ctx, [task])
    assert not outcome.ok
    assert "None of the files this task declares changed: src/calc.py" in outcome.summary
    retry = texts(h.bodies("implement")[1]["messages"][-1])
    assert "Edit the files the task declares." in retry
    assert "Do not edit, skip or weaken" not in retry


def test_the_reminder_fits_what_failed_and_what_the_work_may_change():
    from devloop.agent.worktree import Checks

    fixed = Checks("pytest -q", lint=True)
    own = Checks("pytest -q", lint=True, editable_tests=("tests/test_calc.py",))
    any_test = Checks("pytest -q", lint=False, editable_tests=("*",))
    failed = "$ pytest -q\n[exit code 1]\nAssertionError"
    assert "Do not edit, skip or weaken a test" in fixed.advice(failed)
    assert "this task's own tests (tests/test_calc.py)" in own.advice(failed)
    assert "Do not edit" not in own.advice(failed)
    assert "Change a test only when the test itself is wrong" in any_test.advice(failed)
    missing = "The task's test files do not exist yet: tests/test_new.py. Write them."
    assert fixed.advice(missing).startswith("Write the task's test files first")
    lint = "$ ruff check src/calc.py\n[1 problem]\nsrc/calc.py:1: F401"
    assert fixed.advice(lint).startswith("Fix what lint reports")
    assert "weaken" not in fixed.advice(lint)


def _extra_task() -> Task:
    return Task(
        id="T2",
        title="Add an extra module",
        description="Create src/extra.py with EXTRA = 1.",
        files=(FileChange("src/extra.py", "create"),),
        acceptance=("EXTRA == 1",),
        tests=(),
    )


def test_escalation_sees_only_this_tasks_work_and_the_opening_what_came_before(harness, project):
    (project / "tests" / "test_calc.py").write_text(TESTS + MUL_TEST)
    git(project, "commit", "-qam", "test: mul")
    make_extra = edit("create", "src/extra.py", file_text="EXTRA = 1\n")
    h = harness(
        {
            "implement": [
                {"tool_use": ADD_MUL},
                {"text": "src/calc.py: added mul(); I assumed ints only."},  # T1 passes
                {"text": "Nothing needed."},  # T2 on mid, twice: declared file unchanged
                {"text": "Still nothing."},
                {"tool_use": make_extra},  # the frontier takes over
                {"text": "src/extra.py: created"},
            ]
        }
    )
    first, second = mul_task(), _extra_task()
    ctx = h.ctx("implement", (first, second))
    outcome = builder.create(ctx.cfg).implement(ctx, [first, second])
    assert outcome.ok, outcome.summary
    bodies = h.bodies("implement")
    opening_t2 = texts(bodies[2]["messages"][0])
    assert "Earlier tasks of this build plan, done and checked:" in opening_t2
    assert "- T1 (src/calc.py): src/calc.py: added mul(); I assumed ints only." in opening_t2
    assert "Nobody will answer a question" in opening_t2
    handover = texts(bodies[4]["messages"][0])
    assert "The earlier attempts changed no file." in handover
    assert "def mul" not in handover.split("Another model")[1]  # T1's work is not shown
    assert bodies[4]["output_config"]["effort"] == "high"


def test_a_task_sees_the_code_related_to_its_files_as_the_run_left_it(harness, project):
    from devloop.git.runfiles import RunFiles

    (project / "src" / "report.py").write_text(REPORT)  # calls add() from src/calc.py
    (project / "src" / "unrelated.py").write_text(UNRELATED)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "feat: report")
    (project / "src" / "notes_private.py").write_text(PRIVATE)  # untracked at the start
    h = harness(
        {
            "implement": [
                {"tool_use": edit("create", "src/twice.py", file_text=TWICE)},
                {"text": "src/twice.py: created"},  # T1
                {"tool_use": ADD_MUL},
                {"text": "src/calc.py: added mul()"},  # T2
            ]
        }
    )
    first = Task(
        id="T1",
        title="Add twice",
        description="Create src/twice.py with twice(a), using add().",
        files=(FileChange("src/twice.py", "create"),),
        acceptance=("twice(2) == 4",),
        tests=(),
    )
    second = mul_task()
    feature_dir = project / ".devloop" / "features" / SLUG
    ctx = h.ctx("implement", (first, second))
    ctx = dataclasses.replace(ctx, files=RunFiles(project, feature_dir, ["src/notes_private.py"]))
    outcome = builder.create(ctx.cfg).implement(ctx, [first, second])
    assert outcome.ok, outcome.summary
    opening = texts(h.bodies("implement")[2]["messages"][0])  # T2's, on src/calc.py
    related = opening.split("Related code:", 1)[1]
    assert "src/report.py\n4: def total(items):" in related  # a caller, tracked
    assert "src/twice.py\n4: def twice(a):" in related  # a caller T1 created
    assert "src/calc.py\n" not in related  # the task's own file is shown whole instead
    assert "shout" not in opening  # nothing relates it to this task
    assert "private_helper" not in opening and "notes_private" not in opening

    # [loop] task_map_tokens bounds it; 0 leaves it out.
    def related_within(budget: int) -> str:
        loop = dataclasses.replace(ctx.cfg.loop, task_map_tokens=budget)
        bounded = dataclasses.replace(ctx, cfg=dataclasses.replace(ctx.cfg, loop=loop))
        return builder._related_code(bounded, ["src/calc.py"], "Add mul")

    whole = related_within(1_000)
    small = tokens.estimate(whole) - 5
    assert 0 < tokens.estimate(related_within(small)) <= small < tokens.estimate(whole)
    assert related_within(0) == ""


def test_an_agent_turn_cut_off_at_max_tokens_is_sent_again_once_with_more_room(harness, project):
    (project / "tests" / "test_calc.py").write_text(TESTS + MUL_TEST)
    git(project, "commit", "-qam", "test: mul")
    h = harness(
        {
            "implement": [
                {"text": "Let me think about mul at length...", "stop_reason": "max_tokens"},
                {"tool_use": ADD_MUL},
                {"text": "src/calc.py: added mul()"},
            ]
        }
    )
    task = mul_task()
    ctx = h.ctx("implement", (task,))
    outcome = builder.create(ctx.cfg).implement(ctx, [task])
    assert outcome.ok, outcome.summary
    first, again, _ = h.bodies("implement")
    assert again["max_tokens"] == 2 * first["max_tokens"]
    assert again["messages"] == first["messages"]  # the same turn, not a new one
    assert "a turn was cut off at max_tokens" in " ".join(h.notes)
    assert len(h.calls()) == 3  # the cut-off turn was billed and is in the ledger


def test_a_tasks_test_commands_are_run_and_prose_is_not(project):
    from devloop.agent.worktree import Checks, task_commands
    from devloop.sandbox import default_runner

    task = mul_task(
        tests=(
            "tests/test_calc.py",
            "python3 -c 'import sys; sys.exit(3)'",
            "the existing tests pass unchanged",
        )
    )
    assert task_commands(task) == ["python3 -c 'import sys; sys.exit(3)'"]
    cfg = config.load(project)
    checks = Checks("", lint=False, commands=tuple(task_commands(task)))
    failure = checks.run(cfg, ["src/calc.py"], default_runner(cfg))
    assert failure is not None and "[exit code 3]" in failure
    assert "the task's own check: `python3 -c" in checks.describe(cfg)
