"""The steps of the loop, as data: the one place a step lives.

Each row says everything the rest of devloop needs to run, route, price and report the
step: its phase, who does it, how the engine runs it (`kind`, a body in loop/bodies.py),
its prompt template and the artifacts it reads, its output schema, the gate a failed verdict
sends the run back to, the step it runs side by side with, whether an adaptive router may
demote it, its default max_tokens, and what the dry run assumes about it. ROUTING.md, the
router, the engine, the dry run, the progress view and the reports read this table; step
numbers and keys appear as literals nowhere else (tests/test_steps.py checks).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from devloop.errors import UnknownStepError, did_you_mean
from devloop.tiers import FRONTIER, LIGHT, MID, SCRIPT, TIERS  # noqa: F401 (re-exported)

PHASES: tuple[str, ...] = ("plan", "build", "verify")

# How the engine runs a step (loop/bodies.py has one body per kind):
NOTES = "notes"  # a model writes Markdown from a template
EXPLORE = "explore"  # a model looks at the code with read-only tools, then writes Markdown
VERDICT = "verdict"  # a model judges an artifact: pass or fail with findings (a gate)
TASK_LIST = "task-list"  # a model turns the plan into ordered tasks (JSON)
PRE_CHECKS = "pre-checks"  # deterministic checks before the build
AGENT_TASKS = "agent-tasks"  # the build agent, one conversation per task
FINDINGS = "findings"  # a model reads the diff and lists findings
AGENT_FINDINGS = "agent-findings"  # the build agent fixes findings
SUITE = "suite"  # the full test suite; a model triages a failure
AGENT_SUITE = "agent-suite"  # the build agent fixes a failing suite
DOCS_COMMIT = "docs-commit"  # the build agent updates the docs; a script commits
SMOKE_GATE = "smoke-gate"  # the smoke command and quick tests, pass or fail
AGENT_KINDS = (AGENT_TASKS, AGENT_FINDINGS, AGENT_SUITE, DOCS_COMMIT)

# Where a step's template values come from (loop/bodies.py), besides the artifacts of
# earlier steps, named by their key.
# Sources the engine fills; TASK is filled by the build agent, once per task.
TITLE = "title"  # the spec's title
REVISION = "revision"  # the findings a failed gate sent back ("" in the first round)
CONTRACT = "contract"  # the plan's Integration Contract section
DIFF = "diff"  # the run's diff against the base commit, bounded
TASKS = "tasks"  # the build plan's tasks, with devloop's flags on the implementation
TASK = "task"  # one task of the build plan
FOUND = "found"  # the review and audit findings to fix
NOTES_OF = "implementer-notes"  # the build agent's final word on each task
DOCS = "docs"  # the documentation files, and the step that owns them
CODE = "code"  # the files the Integration Contract names, as they are now, bounded
EARLIER = "earlier"  # in a revision round: the findings the gate raised before, and declines
COMMAND = "command"  # the test command
TEST_OUTPUT = "test-output"  # the failing test output (and its triage, once there is one)

SOURCES = {
    TITLE: "the spec's title",
    REVISION: "the findings of a failed gate",
    CONTRACT: "the plan's Integration Contract",
    DIFF: "the diff of the build",
    TASKS: "the build plan's tasks",
    TASK: "one task of the build plan",
    FOUND: "the review and audit findings",
    NOTES_OF: "the implementer's notes on each task",
    DOCS: "who writes the documentation files",
    EARLIER: "the earlier findings of a revision round",
    CODE: "the contract's files as they are",
    COMMAND: "the test command",
    TEST_OUTPUT: "the failing test output",
}

# Checks on a step's output before its gate's verdict steps run (loop/gates.py).
HAS_CONTRACT = "contract"  # the plan has an Integration Contract section
HAS_TASKS = "tasks"  # the build plan has tasks


@dataclass(frozen=True)
class Projection:
    """What the dry run assumes about a model step before it runs (loop/projection.py)."""

    calls: int = 1  # model calls (per task when per_task)
    output: int = 0  # output tokens per call, thinking included; also the artifact's size
    extra_input: int = 0  # input per call beyond the rendered prompt: conversation, tools
    per_task: bool = False
    conditional: bool = False  # runs only when an earlier step asks for it


@dataclass(frozen=True)
class Step:
    number: int
    key: str
    title: str
    phase: str
    worker: str  # "llm", "script" or "mixed" (a script part and a model part)
    default_tier: str  # tier of the model part; SCRIPT when no model is involved
    fresh_context: bool  # a new conversation holding only the artifacts under review
    uses_tools: bool  # edits the repository through the build agent's tools
    why: str  # why this tier
    weaker_risk: str  # what goes wrong when a weaker worker does it
    kind: str
    script_part: str = ""  # for mixed steps: what the script does
    template: str = ""  # templates/<template>.md ("" for none)
    # For a step of one conversation per task: the opening's part every task shares (the
    # contract, how to work), sent first and cached once, so each later task reads it.
    shared_template: str = ""
    inputs: tuple[tuple[str, str], ...] = ()  # (template placeholder, source)
    schema: str | None = None  # the answer's structure: "verdict", "build_plan", "findings"
    artifact: str = "md"  # the main artifact's extension: "md", "json", "" (none)
    gate: str | None = None  # a verdict step: the step a failure sends the run back to
    precheck: str | None = None  # checked on its output before its gate: HAS_CONTRACT, HAS_TASKS
    parallel_with: str | None = None  # runs side by side with this step
    demotable: bool = True  # an adaptive router may send it to a cheaper tier
    max_tokens: int = 16_000  # output tokens per call unless [loop] max_tokens says
    # How hard the model works (output_config.effort) unless [effort] says: judgement on
    # the frontier tier high, execution on the mid tier medium, triage and docs low. None:
    # no model. Thinking counts against max_tokens, so max_tokens rises with effort.
    effort: str | None = None
    owns_docs: bool = False  # writes the [agent] docs_files; no other step touches them
    projection: Projection = field(default_factory=Projection)

    @property
    def calls_model(self) -> bool:
        return self.worker in ("llm", "mixed")

    @property
    def label(self) -> str:
        return f"{self.number:02d}-{self.key}"

    @property
    def sources(self) -> tuple[str, ...]:
        return tuple(source for _, source in self.inputs)


class StepTable(Sequence[Step]):
    """The rows in order, with the lookups the rest of devloop needs. One shared object:
    `replaced()` swaps its rows (a test adding a step sees every reader follow)."""

    def __init__(self, rows: Sequence[Step]) -> None:
        self._set(rows)

    def _set(self, rows: Sequence[Step]) -> None:
        self._rows = tuple(rows)
        self._by_key = {s.key: s for s in self._rows}
        self._by_number = {s.number: s for s in self._rows}

    def __getitem__(self, index):  # type: ignore[override]
        return self._rows[index]

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self) -> Iterator[Step]:
        return iter(self._rows)

    @contextlib.contextmanager
    def replaced(self, rows: Sequence[Step]) -> Iterator[StepTable]:
        previous = self._rows
        self._set(rows)
        try:
            yield self
        finally:
            self._set(previous)

    def get(self, key: str) -> Step | None:
        return self._by_key.get(key)

    def number(self, number: int) -> Step | None:
        return self._by_number.get(number)

    def of_kind(self, *kinds: str) -> list[Step]:
        return [s for s in self._rows if s.kind in kinds]

    def first_of_kind(self, kind: str) -> Step:
        return self.of_kind(kind)[0]

    def phase_end(self, phase: str) -> Step:
        return [s for s in self._rows if s.phase == phase][-1]

    def gate_verdicts(self, target: str) -> list[Step]:
        """The verdict steps whose failure sends the run back to step `target`."""
        return [s for s in self._rows if s.gate == target]

    def revision_group(self, target: str) -> list[Step]:
        """What a revision of `target` runs again: it and every step up to its last verdict."""
        last = max(s.number for s in self.gate_verdicts(target))
        first = self._by_key[target].number
        return [s for s in self._rows if first <= s.number <= last]

    def gate_targets(self) -> list[Step]:
        return [s for s in self._rows if self.gate_verdicts(s.key)]

    def with_precheck(self, precheck: str) -> Step:
        return next(s for s in self._rows if s.precheck == precheck)

    def group(self, step: Step) -> list[Step]:
        """`step` and the steps that run side by side with it, in table order."""
        partners = {step.key, step.parallel_with}
        partners |= {s.key for s in self._rows if s.parallel_with == step.key}
        return [s for s in self._rows if s.key in partners]

    def groups(self, steps: Sequence[Step]) -> list[list[Step]]:
        """`steps` cut into the groups that run together, in order."""
        out: list[list[Step]] = []
        seen: set[str] = set()
        for step in steps:
            if step.key not in seen:
                out.append([s for s in self.group(step) if s in steps])
                seen.update(s.key for s in out[-1])
        return out


STEPS = StepTable(
    [
        Step(
            1, "research", "Research", "plan", "llm", "frontier", False, False,
            "Reads an unfamiliar codebase against the spec; everything later builds on what it finds.",
            "Missed constraints and wrong assumptions about the code propagate into every later step.",
            kind=EXPLORE, template="research", inputs=(("title", TITLE),),
            max_tokens=24_000, projection=Projection(calls=3, output=3_000, extra_input=4_000),
            effort="high",
        ),
        Step(
            2, "plan", "Plan", "plan", "llm", "frontier", False, False,
            "Architecture and the Integration Contract: the decisions that are costly to undo.",
            "A plausible plan with a broken interface or missed invariant; the build then implements it faithfully.",
            kind=NOTES, template="plan",
            inputs=(
                ("title", TITLE), ("research", "research"), ("docs", DOCS), ("revision", REVISION),
            ),
            precheck=HAS_CONTRACT, max_tokens=32_000, projection=Projection(output=5_000),
            effort="high",
        ),
        Step(
            3, "validate-requirements", "Validate requirements", "plan", "llm", "frontier", True, False,
            "An independent check of spec against plan needs the strongest reasoning and a fresh view.",
            "Rubber-stamps a plan that skips a requirement; the gap surfaces only after the build.",
            kind=VERDICT, template="validate-requirements",
            inputs=(("plan", "plan"), ("earlier", EARLIER)),
            schema="verdict", artifact="json", gate="plan", parallel_with="validate-integration",
            demotable=False, max_tokens=16_000, projection=Projection(output=1_500),
            effort="high",
        ),
        Step(
            4, "validate-integration", "Validate integration", "plan", "llm", "frontier", True, False,
            "Checks the plan against the real codebase: interfaces, callers, invariants.",
            "Misses an incompatible interface change that breaks callers at integration time.",
            kind=VERDICT, template="validate-integration",
            inputs=(("plan", "plan"), ("code", CODE), ("earlier", EARLIER)),
            schema="verdict", artifact="json", gate="plan", parallel_with="validate-requirements",
            demotable=False, max_tokens=16_000, projection=Projection(output=1_500),
            effort="high",
        ),
        Step(
            5, "build-plan", "Build plan", "plan", "llm", "mid", False, False,
            "Turning an approved plan into ordered tasks is structured work the mid tier does well.",
            "Tasks with missing files or tests; caught by the double-check in step 6.",
            kind=TASK_LIST, template="build-plan",
            inputs=(("plan", "plan"), ("docs", DOCS), ("revision", REVISION)),
            schema="build_plan", artifact="json", precheck=HAS_TASKS,
            projection=Projection(output=3_000),
            effort="medium",
        ),
        Step(
            6, "double-check", "Double-check", "plan", "llm", "frontier", False, False,
            "Last gate before tokens are spent on code: the build plan must cover the plan.",
            "A build plan that drops part of the plan goes to implementation unchallenged.",
            kind=VERDICT, template="double-check",
            inputs=(
                ("plan", "plan"), ("build_plan", "build-plan"), ("docs", DOCS), ("earlier", EARLIER),
            ),
            schema="verdict", artifact="json", gate="build-plan", demotable=False,
            max_tokens=16_000, projection=Projection(output=1_500),
            effort="high",
        ),
        Step(
            7, "preflight", "Pre-flight", "build", "script", "script", False, False,
            "Deterministic checks: files exist, tools resolve, tree clean, budget left. No judgement needed.",
            "Nothing: a script is exact here, and a model would only add cost and doubt.",
            kind=PRE_CHECKS, artifact="json",
        ),
        Step(
            8, "implement", "Implement", "build", "llm", "mid", False, True,
            "Well-specified tasks with tests as the judge; escalates to the frontier tier when stuck.",
            "Code that does not pass the task's tests; caught by the tests and escalated.",
            kind=AGENT_TASKS, template="implement", shared_template="implement-shared",
            inputs=(
                *((name, TASK) for name in ("task_id", "task_title", "task_description")),
                *((name, TASK) for name in ("files", "acceptance", "tests")),
                ("contract", CONTRACT),
            ),
            artifact="json",
            projection=Projection(calls=8, output=1_500, extra_input=8_000, per_task=True),
            effort="medium",
        ),
        Step(
            9, "review", "Review", "build", "llm", "mid", False, False,
            "Reads the diff for bugs, style and test gaps: a broad, pattern-heavy pass.",
            "Shallow findings; the frontier audit in step 10 covers the deep problems.",
            kind=FINDINGS, template="review", inputs=(("tasks", TASKS), ("notes", NOTES_OF), ("code", CODE), ("diff", DIFF)),
            schema="findings", artifact="json", parallel_with="audit",
            projection=Projection(output=2_500),
            effort="medium",
        ),
        Step(
            10, "audit", "Audit", "build", "llm", "frontier", True, False,
            "Audits the diff against the Integration Contract with a fresh context.",
            "Contract violations and subtle security or permission errors reach the commit.",
            kind=FINDINGS, template="audit", inputs=(
                ("contract", CONTRACT), ("docs", DOCS), ("notes", NOTES_OF), ("code", CODE),
                ("diff", DIFF),
            ),
            schema="findings", artifact="json", parallel_with="review", demotable=False,
            max_tokens=24_000, projection=Projection(output=2_500),
            effort="high",
        ),
        Step(
            11, "remediate", "Remediate", "build", "llm", "mid", False, True,
            "Fixes concrete findings with locations and suggestions: well-scoped edits.",
            "Findings left unfixed; the full suite in step 12 and the gates after it catch regressions.",
            kind=AGENT_FINDINGS, template="remediate", inputs=(("findings", FOUND), ("contract", CONTRACT)),
            artifact="json",
            projection=Projection(calls=6, output=1_200, extra_input=6_000, conditional=True),
            effort="medium",
        ),
        Step(
            12, "e2e", "End-to-end tests", "verify", "mixed", "mid", False, False,
            "The suite is a script; only a failing run needs a model to triage the output.",
            "Misread failure output sends remediation the wrong way; the suite re-runs after each fix.",
            kind=SUITE, script_part="runs the full test suite", template="e2e",
            inputs=(("command", COMMAND), ("output", TEST_OUTPUT), ("diff", DIFF)),
            artifact="json",
            max_tokens=8_000, projection=Projection(output=1_500, conditional=True),
            effort="low",
        ),
        Step(
            13, "final-remediate", "Final remediation", "verify", "llm", "mid", False, True,
            "Fixes suite failures with the failing output as the judge; escalates when stuck.",
            "Failures that resist the mid tier; escalation to the frontier tier handles them.",
            kind=AGENT_SUITE, template="final-remediate", inputs=(("failure", TEST_OUTPUT),),
            artifact="json",
            projection=Projection(calls=6, output=1_200, extra_input=6_000, conditional=True),
            effort="medium",
        ),
        Step(
            14, "commit", "Docs and commit", "verify", "mixed", "mid", False, True,
            "Docs are routine writing; the commit itself is made by a script, never a model.",
            "Thin or inaccurate docs; the commit message is built without a model either way.",
            kind=DOCS_COMMIT, script_part="makes the commit", template="commit",
            inputs=(("summary", "build-plan"),), artifact="json", owns_docs=True,
            projection=Projection(calls=3, output=800, extra_input=4_000),
            effort="low",
        ),
        Step(
            15, "smoke", "Smoke test", "verify", "script", "script", False, False,
            "The smoke command and quick tests are a binary gate a script runs exactly.",
            "Nothing: a pass/fail gate needs no judgement.",
            kind=SMOKE_GATE, artifact="json",
        ),
    ]
)  # fmt: skip


ESCALATION_EFFORT = "high"  # the frontier tier taking over a piece of work that failed


def step_names() -> list[str]:
    return [step.key for step in STEPS]


def resolve_step(name: str | int) -> Step:
    """A step by number ("2", 2, "02") or key ("plan"); UnknownStepError otherwise."""
    text = str(name).strip().lower()
    found = STEPS.number(int(text)) if text.isdigit() else STEPS.get(text)
    if found is not None:
        return found
    keys = step_names()
    raise UnknownStepError(
        f"unknown step '{name}'.{did_you_mean(text, keys)} Steps are 1-{len(STEPS)} or one "
        f"of: {', '.join(keys)}."
    )


def stop_point(name: str) -> Step:
    """What --stop-after names: a phase (its last step), a step number or a key."""
    text = str(name).strip().lower()
    if text in PHASES:
        return STEPS.phase_end(text)
    return resolve_step(text)
