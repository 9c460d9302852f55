"""Outcome signals of one step run: how it went, recorded when it closes.

They land in the ledger with the step run (step_runs.outcome_json, under "signals") so
`devloop suggest`, `devloop ab` and `devloop routing explain` can judge a route by what
it produced, not by intuition. Every run records:

- status, wall time (seconds), model calls, escalations (calls made as an escalation to the
  frontier tier), empty and truncated replies, failed calls (any outcome other than ok);

and, by step:

- verdict steps 3, 4, 6: the verdict, the revision round it judged (0: the first version)
  and whether it passed first time (a pass in round 0);
- plan (2) and build plan (5): the revision round this version answers (0: the first);
- review (9) and audit (10): findings by severity;
- build steps 8, 11, 13 (the build agent's details): pieces of work, how many passed on
  their first attempt, whether any escalated; implement's pieces are the tasks, so
  "task tests passing on the first attempt" is tasks_first_attempt == tasks;
- remediation (11, 13): the remediation round (1 for the step's first run).
"""

from __future__ import annotations

from typing import Any

from devloop.ledger import RunCallStats
from devloop.schemas import SEVERITIES
from devloop.steps import Step

GATES = {
    "validate-requirements": "plan",
    "validate-integration": "plan",
    "double-check": "build-plan",
}
PRODUCERS = ("plan", "build-plan")  # their gate has the same name as the step
FINDING_STEPS = ("review", "audit")
AGENT_STEPS = ("implement", "remediate", "final-remediate")
REMEDIATION_STEPS = ("remediate", "final-remediate")


def collect(
    step: Step,
    *,
    status: str,
    result: dict[str, Any],
    details: dict[str, Any] | None,
    calls: RunCallStats | None,
    rounds: dict[str, int],
    runs: int,
    wall_s: float | None,
) -> dict[str, Any]:
    """The outcome signals of one step run. `details` is the build agent's StepOutcome
    details (steps 8, 11, 13), `rounds` the feature's revision rounds, `runs` how many
    times this step has started."""
    out: dict[str, Any] = {
        "status": status,
        "wall_s": wall_s,
        "calls": calls.calls if calls else 0,
        "escalations": calls.escalated if calls else 0,
        "empty_replies": calls.empty if calls else 0,
        "truncated_replies": calls.truncated if calls else 0,
        "failed_calls": calls.failed if calls else 0,
    }
    key = step.key
    if key in GATES:
        round_ = rounds.get(GATES[key], 0)
        verdict = result.get("verdict")
        out.update(verdict=verdict, round=round_, first_time=verdict == "pass" and round_ == 0)
    if key in PRODUCERS:
        out["round"] = rounds.get(key, 0)
    if key in FINDING_STEPS:
        out["findings"] = {s: int(result.get(s, 0) or 0) for s in SEVERITIES}
    if key in AGENT_STEPS and details:
        pieces = details.get("tasks") if key == "implement" else [details]
        pieces = [p for p in pieces or [] if isinstance(p, dict)]
        out["tasks" if key == "implement" else "pieces"] = len(pieces)
        first = sum(1 for p in pieces if p.get("first_attempt_pass"))
        out["tasks_first_attempt" if key == "implement" else "first_attempt"] = first
        out["escalated"] = any(p.get("escalated") for p in pieces)
    if key in REMEDIATION_STEPS:
        out["remediation_round"] = runs
    return out


def first_time(step_key: str, signals: dict[str, Any]) -> bool | None:
    """Did this run get it right the first time? None when the step has no such notion
    (or the run recorded nothing to tell)."""
    if signals.get("status") not in ("ok", "done", "skipped"):
        return False
    if step_key in GATES:
        return bool(signals.get("first_time"))
    if step_key == "implement" and "tasks" in signals:
        return signals["tasks_first_attempt"] == signals["tasks"] and not signals["escalations"]
    if step_key in REMEDIATION_STEPS and "pieces" in signals:
        return signals["first_attempt"] == signals["pieces"] and not signals["escalations"]
    return None
