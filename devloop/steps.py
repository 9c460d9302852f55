"""The 15 steps of the loop, as data.

Adding a step or changing a default tier is one row here; ROUTING.md, the router, the
loop and the reports all read this table.
"""

from __future__ import annotations

from dataclasses import dataclass

from devloop.errors import UnknownStepError

# Model tiers, cheapest last. "script" is not a model tier: a plain program does the step.
TIERS: tuple[str, ...] = ("frontier", "mid", "light")
SCRIPT = "script"

PHASES: tuple[str, ...] = ("plan", "build", "verify")


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
    script_part: str = ""  # for mixed steps: what the script does

    @property
    def calls_model(self) -> bool:
        return self.worker in ("llm", "mixed")

    @property
    def label(self) -> str:
        return f"{self.number:02d}-{self.key}"


STEPS: tuple[Step, ...] = (
    Step(
        1,
        "research",
        "Research",
        "plan",
        "llm",
        "frontier",
        False,
        False,
        "Reads an unfamiliar codebase against the spec; everything later builds on what it finds.",
        "Missed constraints and wrong assumptions about the code propagate into every later step.",
    ),
    Step(
        2,
        "plan",
        "Plan",
        "plan",
        "llm",
        "frontier",
        False,
        False,
        "Architecture and the Integration Contract: the decisions that are costly to undo.",
        "A plausible plan with a broken interface or missed invariant; the build then implements it faithfully.",
    ),
    Step(
        3,
        "validate-requirements",
        "Validate requirements",
        "plan",
        "llm",
        "frontier",
        True,
        False,
        "An independent check of spec against plan needs the strongest reasoning and a fresh view.",
        "Rubber-stamps a plan that skips a requirement; the gap surfaces only after the build.",
    ),
    Step(
        4,
        "validate-integration",
        "Validate integration",
        "plan",
        "llm",
        "frontier",
        True,
        False,
        "Checks the plan against the real codebase: interfaces, callers, invariants.",
        "Misses an incompatible interface change that breaks callers at integration time.",
    ),
    Step(
        5,
        "build-plan",
        "Build plan",
        "plan",
        "llm",
        "mid",
        False,
        False,
        "Turning an approved plan into ordered tasks is structured work the mid tier does well.",
        "Tasks with missing files or tests; caught by the double-check in step 6.",
    ),
    Step(
        6,
        "double-check",
        "Double-check",
        "plan",
        "llm",
        "frontier",
        False,
        False,
        "Last gate before tokens are spent on code: the build plan must cover the plan.",
        "A build plan that drops part of the plan goes to implementation unchallenged.",
    ),
    Step(
        7,
        "preflight",
        "Pre-flight",
        "build",
        "script",
        "script",
        False,
        False,
        "Deterministic checks: files exist, tools resolve, tree clean, budget left. No judgement needed.",
        "Nothing: a script is exact here, and a model would only add cost and doubt.",
    ),
    Step(
        8,
        "implement",
        "Implement",
        "build",
        "llm",
        "mid",
        False,
        True,
        "Well-specified tasks with tests as the judge; escalates to the frontier tier when stuck.",
        "Code that does not pass the task's tests; caught by the tests and escalated.",
    ),
    Step(
        9,
        "review",
        "Review",
        "build",
        "llm",
        "mid",
        False,
        False,
        "Reads the diff for bugs, style and test gaps: a broad, pattern-heavy pass.",
        "Shallow findings; the frontier audit in step 10 covers the deep problems.",
    ),
    Step(
        10,
        "audit",
        "Audit",
        "build",
        "llm",
        "frontier",
        True,
        False,
        "Audits the diff against the Integration Contract with a fresh context.",
        "Contract violations and subtle security or permission errors reach the commit.",
    ),
    Step(
        11,
        "remediate",
        "Remediate",
        "build",
        "llm",
        "mid",
        False,
        True,
        "Fixes concrete findings with locations and suggestions: well-scoped edits.",
        "Findings left unfixed; the full suite in step 12 and the gates after it catch regressions.",
    ),
    Step(
        12,
        "e2e",
        "End-to-end tests",
        "verify",
        "mixed",
        "mid",
        False,
        False,
        "The suite is a script; only a failing run needs a model to triage the output.",
        "Misread failure output sends remediation the wrong way; the suite re-runs after each fix.",
        script_part="runs the full test suite",
    ),
    Step(
        13,
        "final-remediate",
        "Final remediation",
        "verify",
        "llm",
        "mid",
        False,
        True,
        "Fixes suite failures with the failing output as the judge; escalates when stuck.",
        "Failures that resist the mid tier; escalation to the frontier tier handles them.",
    ),
    Step(
        14,
        "commit",
        "Docs and commit",
        "verify",
        "mixed",
        "mid",
        False,
        True,
        "Docs are routine writing; the commit itself is made by a script, never a model.",
        "Thin or inaccurate docs; the commit message is built without a model either way.",
        script_part="makes the commit",
    ),
    Step(
        15,
        "smoke",
        "Smoke test",
        "verify",
        "script",
        "script",
        False,
        False,
        "The smoke command and quick tests are a binary gate a script runs exactly.",
        "Nothing: a pass/fail gate needs no judgement.",
    ),
)

_BY_KEY = {step.key: step for step in STEPS}
_BY_NUMBER = {step.number: step for step in STEPS}


def step_names() -> list[str]:
    return [step.key for step in STEPS]


def resolve_step(name: str | int) -> Step:
    """A step by number ("2", 2, "02") or key ("plan"); UnknownStepError otherwise."""
    text = str(name).strip().lower()
    if text.isdigit() and int(text) in _BY_NUMBER:
        return _BY_NUMBER[int(text)]
    if text in _BY_KEY:
        return _BY_KEY[text]
    import difflib

    close = difflib.get_close_matches(text, list(_BY_KEY), n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    raise UnknownStepError(
        f"unknown step '{name}'.{hint} Steps are 1-15 or one of: {', '.join(_BY_KEY)}."
    )
