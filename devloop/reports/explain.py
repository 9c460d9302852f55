"""`devloop routing explain SLUG`: why each step of a feature went where it went.

Read from the ledger only: every step run's recorded route (router, tier, model, score,
threshold, signals with their contributions, reason) and the feature's escalated calls.
A step that ran more than once (a revision, a resume) shows each run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devloop.errors import UsageError
from devloop.ledger import Escalation, Ledger, StepRunRecord

SCHEMA = "devloop.explain/1"


@dataclass
class RunExplanation:
    run: StepRunRecord
    attempt: int  # 1 for the step's first run in this feature, 2 for the next, ...
    escalations: list[Escalation] = field(default_factory=list)

    @property
    def route(self) -> dict[str, Any]:
        return self.run.route or {}

    def to_dict(self) -> dict[str, Any]:
        route = self.route
        return {
            "step": self.run.step_number,
            "key": self.run.step_key,
            "run_id": self.run.id,
            "attempt": self.attempt,
            "status": self.run.status,
            "worker": route.get("worker", self.run.worker),
            "tier": route.get("tier", self.run.tier),
            "model": route.get("model", self.run.model),
            "effort": route.get("effort"),
            "router": route.get("router", "rule"),
            "rule_tier": route.get("rule_tier"),
            "score": route.get("score"),
            "threshold": route.get("threshold"),
            "stage": route.get("stage"),
            "signals": route.get("signals", []),
            "missing": route.get("missing", []),
            "reason": route.get("reason", ""),
            "escalations": [
                {
                    "call_id": e.call_id,
                    "tier": e.tier,
                    "model": e.model,
                    "outcome": e.outcome,
                    "from_call": e.from_call,
                    "from_tier": e.from_tier,
                    "from_model": e.from_model,
                    "from_outcome": e.from_outcome,
                }
                for e in self.escalations
            ],
        }


def explain(ledger: Ledger, slug: str) -> list[RunExplanation]:
    """Every step run of feature `slug`, in order, with its route and escalations."""
    if ledger.feature(slug) is None:
        known = [f.slug for f in ledger.features()]
        listed = ", ".join(known[-20:]) if known else "none yet"
        raise UsageError(f"no feature '{slug}' in the ledger (known: {listed}).")
    escalated: dict[int | None, list[Escalation]] = {}
    for item in ledger.escalations(slug):
        escalated.setdefault(item.step_run_id, []).append(item)
    seen: dict[str, int] = {}
    out = []
    for run in ledger.step_run_records(slug):
        seen[run.step_key] = seen.get(run.step_key, 0) + 1
        out.append(RunExplanation(run, seen[run.step_key], escalated.get(run.id, [])))
    return out


def to_json(slug: str, runs: list[RunExplanation]) -> dict[str, Any]:
    return {"schema": SCHEMA, "feature": slug, "runs": [r.to_dict() for r in runs]}


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}"


def table_rows(runs: list[RunExplanation]) -> list[list[str]]:
    rows = []
    for item in runs:
        d = item.to_dict()
        tier = d["worker"]
        if d["rule_tier"] and d["rule_tier"] != d["tier"]:
            tier += f" (rule: {d['rule_tier']})"
        if d["escalations"]:
            tier += " +escalated"
        rows.append(
            [
                str(d["step"]),
                d["key"] + (f" #{d['attempt']}" if d["attempt"] > 1 else ""),
                d["status"],
                tier,
                d["model"] or "-",
                d["effort"] or "-",
                d["router"],
                _num(d["score"]),
                _num(d["threshold"]),
                d["reason"],
            ]
        )
    return rows


HEADERS = [
    "#", "step", "status", "tier", "model", "effort", "router", "score", "threshold", "reason",
]  # fmt: skip


def detail_lines(runs: list[RunExplanation]) -> list[str]:
    """The signals behind the scores (once per distinct set) and the escalations."""
    lines: list[str] = []
    groups: dict[str, tuple[dict[str, Any], list[str]]] = {}
    for item in runs:
        d = item.to_dict()
        if not d["signals"] and not d["missing"]:
            continue
        key = repr((d["stage"], d["signals"], d["missing"]))
        groups.setdefault(key, (d, []))[1].append(str(d["step"]))
    for d, steps in groups.values():
        numbers = ", ".join(dict.fromkeys(steps))
        lines.append("")
        lines.append(
            f"Signals of steps {numbers} (from the {d['stage']}): score {_num(d['score'])}"
        )
        for m in d["missing"]:
            lines.append(f"  missing: {m}")
        for s in d["signals"]:
            lines.append(
                f"  {s['name']:<13}{s['value']:>6g}  +{s['contribution']:.3f}  {s['detail']}"
            )
    escalations = [(item, e) for item in runs for e in item.escalations]
    if escalations:
        lines += ["", "Escalations:"]
        for item, e in escalations:
            lines.append(
                f"  step {item.run.step_number} ({item.run.step_key}): call {e.from_call} "
                f"({e.from_tier}, {e.from_model}, {e.from_outcome}) -> call {e.call_id} "
                f"({e.tier}, {e.model}, {e.outcome})"
            )
    return lines
