"""Outcome signals of one step run: how it went, recorded when it closes.

They land in the ledger with the step run (step_runs.outcome_json, under "signals") so
`devloop suggest`, `devloop ab` and `devloop routing explain` can judge a route by what
it produced, not by intuition. Every run records:

- status, wall time (seconds), model calls, escalations (calls made as an escalation to the
  frontier tier), empty and truncated replies, failed calls (any outcome other than ok);

and, by step:

- verdict steps (a `gate` in the table): the verdict, the revision round it judged (0: the first version)
  and whether it passed first time (a pass in round 0);
- gate targets (plan, build plan): the revision round this version answers (0: the first);
- findings steps (review, audit): findings by severity;
- the build agent's implement and fix steps (its details): pieces of work, how many passed on
  their first attempt, whether any escalated; implement's pieces are the tasks, so
  "task tests passing on the first attempt" is tasks_first_attempt == tasks;
- the fix steps (remediate, final-remediate): the remediation round (1 for the step's first run).
"""

from __future__ import annotations

from typing import Any

from devloop.ledger import RunCallStats
from devloop.schemas import SEVERITIES
from devloop.steps import AGENT_FINDINGS, AGENT_SUITE, AGENT_TASKS, FINDINGS, STEPS, Step

REMEDIATION_KINDS = (AGENT_FINDINGS, AGENT_SUITE)


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
    if step.gate:
        round_ = rounds.get(step.gate, 0)
        verdict = result.get("verdict")
        out.update(verdict=verdict, round=round_, first_time=verdict == "pass" and round_ == 0)
    if STEPS.gate_verdicts(step.key):
        out["round"] = rounds.get(step.key, 0)
    if step.kind == FINDINGS:
        out["findings"] = {s: int(result.get(s, 0) or 0) for s in SEVERITIES}
    per_task = step.kind == AGENT_TASKS
    if (per_task or step.kind in REMEDIATION_KINDS) and details:
        pieces = details.get("tasks") if per_task else [details]
        pieces = [p for p in pieces or [] if isinstance(p, dict)]
        out["tasks" if per_task else "pieces"] = len(pieces)
        first = sum(1 for p in pieces if p.get("first_attempt_pass"))
        out["tasks_first_attempt" if per_task else "first_attempt"] = first
        out["escalated"] = any(p.get("escalated") for p in pieces)
    if step.kind in REMEDIATION_KINDS:
        out["remediation_round"] = runs
    return out


def first_time(step: Step, signals: dict[str, Any]) -> bool | None:
    """Did this run get it right the first time? None when the step has no such notion
    (or the run recorded nothing to tell)."""
    if signals.get("status") not in ("ok", "done", "skipped"):
        return False
    if step.gate:
        return bool(signals.get("first_time"))
    if step.kind == AGENT_TASKS and "tasks" in signals:
        return signals["tasks_first_attempt"] == signals["tasks"] and not signals["escalations"]
    if step.kind in REMEDIATION_KINDS and "pieces" in signals:
        return signals["first_attempt"] == signals["pieces"] and not signals["escalations"]
    return None
