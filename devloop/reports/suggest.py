"""`devloop suggest`: route from data, not intuition.

From the ledger's step runs (their recorded route and outcome signals, outcomes.py) and
calls, per model step and tier over the features seen: how often a run failed, escalated,
or did not get it right the first time, the high/critical findings review and audit raised
on the implementation, empty and truncated replies, wall time, and the cost per run and
per feature next to the frontier baseline. Then, per step, at most one recommendation:

- promote a step routed to mid (or light) whose runs there went badly in at least
  PROMOTE_AT of the runs. A run went badly when it failed, escalated, needed a second
  attempt (build-agent work), was a plan or build plan its validation sent back, or was an
  implementation review or audit found high/critical problems in. (A verdict step's own
  pass rate is shown but is not held against it: rejecting a plan is its job.) The cost is
  what the same tokens cost at frontier rates (the ledger's baseline);
- demote a frontier step when the mid tier's runs of the same step elsewhere (other
  features: a hybrid demotion, an override, a `devloop ab` arm) went well as often, within
  MATCH_WITHIN; the saving is the frontier runs' tokens repriced at mid rates. Steps 3, 4,
  6 and 10 are never proposed for demotion: a validation that misses a problem looks like
  one that passes, so outcome rates cannot clear them.

A group needs MIN_RUNS runs over MIN_FEATURES features to count as evidence; below that
the step is listed as "not enough data" with what is missing, never guessed. With
`--human-rate USD/h`, every failed run (the loop stops and a person takes over) costs
`human_minutes` of that person's time (default 30, the seeds' figure), so the comparison
is of total cost. Nothing is changed: the proposed config is printed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from devloop import routing
from devloop.config import Config
from devloop.ledger import Ledger, RunCallStats, pico_to_usd
from devloop.routing import outcomes
from devloop.state import latest_eval
from devloop.steps import AGENT_TASKS, FINDINGS, STEPS, TIERS, Step, resolve_step

MIN_RUNS = 5
MIN_FEATURES = 3
PROMOTE_AT = 0.25  # share of runs that went badly
MATCH_WITHIN = 0.05  # how much worse than frontier the mid tier may do and still match
HUMAN_MINUTES = 30.0
SCHEMA = "devloop.suggest/1"


@dataclass
class Group:
    """The runs of one model step on one tier."""

    step: Step
    tier: str
    runs: int = 0
    features: set[str] = field(default_factory=set)
    failed: int = 0
    escalated: int = 0
    first_time_known: int = 0
    first_time: int = 0
    bad: int = 0  # failed, escalated, not right first time, or high findings after it
    high_findings: int = 0  # high/critical review and audit findings on its diff (step 8)
    empty: int = 0
    truncated: int = 0
    wall_s: float = 0.0
    cost_pico: int = 0
    baseline_pico: int = 0
    tokens: dict[str, int] = field(
        default_factory=lambda: {"input": 0, "write_5m": 0, "read": 0, "output": 0}
    )

    @property
    def evidence(self) -> bool:
        return self.runs >= MIN_RUNS and len(self.features) >= MIN_FEATURES

    def rate(self, count: int) -> float:
        return count / self.runs if self.runs else 0.0

    @property
    def bad_rate(self) -> float:
        return self.rate(self.bad)

    @property
    def cost_per_feature(self) -> Decimal:
        return pico_to_usd(self.cost_pico) / max(len(self.features), 1)

    @property
    def baseline_per_feature(self) -> Decimal:
        return pico_to_usd(self.baseline_pico) / max(len(self.features), 1)

    @property
    def runs_per_feature(self) -> float:
        return self.runs / max(len(self.features), 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step.number,
            "key": self.step.key,
            "tier": self.tier,
            "runs": self.runs,
            "features": len(self.features),
            "failed_rate": round(self.rate(self.failed), 4),
            "escalated_rate": round(self.rate(self.escalated), 4),
            "first_time_rate": (
                round(self.first_time / self.first_time_known, 4) if self.first_time_known else None
            ),
            "bad_rate": round(self.bad_rate, 4),
            "high_findings_per_run": round(self.rate(self.high_findings), 4),
            "empty_replies": self.empty,
            "truncated_replies": self.truncated,
            "wall_s_per_run": round(self.wall_s / self.runs, 2) if self.runs else None,
            "cost_usd_per_run": _usd(pico_to_usd(self.cost_pico) / max(self.runs, 1)),
            "cost_usd_per_feature": _usd(self.cost_per_feature),
            "baseline_usd_per_feature": _usd(self.baseline_per_feature),
            "evidence": self.evidence,
        }


@dataclass
class Recommendation:
    step: Step
    action: str  # "promote" | "demote"
    from_tier: str
    to_tier: str
    why: str
    saving_per_feature: Decimal | None  # negative: it costs more
    evidence: str

    def config(self) -> str:
        return f'{self.step.key} = "{self.to_tier}"'

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step.number,
            "key": self.step.key,
            "action": self.action,
            "from_tier": self.from_tier,
            "to_tier": self.to_tier,
            "why": self.why,
            "saving_usd_per_feature": _usd(self.saving_per_feature),
            "evidence": self.evidence,
            "config": f"[routing.steps] {self.config()}",
        }


@dataclass
class Suggestions:
    features: int
    groups: list[Group]
    recommendations: list[Recommendation]
    not_enough: list[str]  # per step: what evidence is missing
    notes: list[str]

    def config_snippet(self) -> str:
        if not self.recommendations:
            return ""
        lines = ["[routing.steps]"] + [r.config() for r in self.recommendations]
        return "\n".join(lines) + "\n"

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "features": self.features,
            "groups": [g.to_dict() for g in self.groups],
            "recommendations": [r.to_dict() for r in self.recommendations],
            "not_enough_data": self.not_enough,
            "config": self.config_snippet() or None,
            "notes": self.notes,
        }


def _usd(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.6f}"


# ------------------------------------------------------------------ gathering


def gather(ledger: Ledger) -> tuple[dict[tuple[str, str], Group], int]:
    """Group every model step run by (step, tier); the number of features seen."""
    runs = ledger.step_run_records()
    stats = ledger.run_call_stats()
    groups: dict[tuple[str, str], Group] = {}
    features = {run.feature for run in runs}
    # feature -> [the group of its latest implement run, whether that run counts as bad];
    # (feature, gate, round) -> the same for the plan or build plan that round judged.
    last_implement: dict[str, list[Any]] = {}
    producers: dict[tuple[str, str, int], list[Any]] = {}
    for run in runs:
        step = resolve_step(run.step_key)
        route = run.route or {}
        tier = route.get("tier") or run.tier
        calls = stats.get(run.id)
        if not step.calls_model or tier in (None, "script") or run.status == "running":
            continue
        if calls is None:  # no model call (skipped, the script part only): no tier outcome
            continue
        signals = (run.outcome or {}).get("signals") or {}
        group = groups.setdefault((step.key, tier), Group(step, tier))
        bad = _add(group, run.feature, run.status, signals, calls)
        if STEPS.gate_verdicts(step.key):
            producers[(run.feature, step.key, int(signals.get("round", 0)))] = [group, bad]
        elif step.gate and signals.get("verdict") == "fail":
            gate = (run.feature, step.gate, int(signals.get("round", 0)))
            _mark_bad(producers.get(gate))  # the version it judged did not pass
        if step.kind == AGENT_TASKS:
            last_implement[run.feature] = [group, bad]
        elif step.kind == FINDINGS and run.feature in last_implement:
            found = signals.get("findings") or {}
            high = int(found.get("critical", 0)) + int(found.get("high", 0))
            target = last_implement[run.feature]
            target[0].high_findings += high
            if high:  # the implementation needed fixing at high severity
                _mark_bad(target)
    return groups, len(features)


def _mark_bad(target: list[Any] | None) -> None:
    """Count a run as bad for what a later step found, once."""
    if target is not None and not target[1]:
        target[0].bad += 1
        target[1] = True


def _add(
    group: Group, feature: str, status: str, signals: dict[str, Any], calls: RunCallStats | None
) -> bool:
    """Count one run into its group; whether it went badly."""
    group.runs += 1
    group.features.add(feature)
    failed = status not in ("ok", "skipped")
    escalated = bool(calls and calls.escalated) or bool(signals.get("escalations"))
    right = outcomes.first_time(group.step, {**signals, "status": signals.get("status", status)})
    group.failed += failed
    group.escalated += escalated
    if right is not None:
        group.first_time_known += 1
        group.first_time += right
    # A verdict's first-time pass says how good the plan was, not the verdict: see gather.
    bad = failed or escalated or (right is False and not group.step.gate)
    group.bad += bad
    group.empty += int(signals.get("empty_replies", 0) or 0)
    group.truncated += int(signals.get("truncated_replies", 0) or 0)
    group.wall_s += float(signals.get("wall_s") or 0.0)
    if calls is not None:
        group.cost_pico += calls.cost_pico
        group.baseline_pico += calls.baseline_pico
        group.tokens["input"] += calls.input_tokens
        group.tokens["write_5m"] += calls.cache_write_tokens
        group.tokens["read"] += calls.cache_read_tokens
        group.tokens["output"] += calls.output_tokens
    return bad


# ------------------------------------------------------------------ recommending


def suggest(
    ledger: Ledger,
    cfg: Config,
    *,
    human_rate: Decimal | None = None,
    human_minutes: float = HUMAN_MINUTES,
) -> Suggestions:
    groups, features = gather(ledger)
    recs: list[Recommendation] = []
    not_enough: list[str] = []
    notes = [
        f"evidence = at least {MIN_RUNS} runs over {MIN_FEATURES} features per step and tier",
        "bad = failed, escalated, not right first time, or (implement) high/critical findings",
    ]
    if human_rate is not None:
        notes.append(
            f"total cost counts {human_minutes:g} min of a person's time at ${human_rate}/h "
            "per failed run"
        )
    person = (human_rate or Decimal(0)) * Decimal(str(human_minutes)) / 60
    for step in STEPS:
        if not step.calls_model:
            continue
        current = routing.rule_route(step, cfg).tier
        here = groups.get((step.key, current))
        frontier = groups.get((step.key, routing.FRONTIER))
        if current != routing.FRONTIER:
            rec = _promote(step, current, here, frontier, person, not_enough)
        elif not step.demotable:
            continue
        else:
            mid = groups.get((step.key, routing.MID))
            rec = _demote(step, cfg, frontier, mid, person, not_enough)
        if rec is not None:
            recs.append(rec)
    order = {(s.key, t): i for i, (s, t) in enumerate((s, t) for s in STEPS for t in TIERS)}
    ordered = sorted(groups.values(), key=lambda g: order.get((g.step.key, g.tier), 999))
    if not groups:
        notes.insert(0, "no model step runs in the ledger yet: run some features first")
    notes += eval_notes(cfg.root)
    return Suggestions(features, ordered, recs, not_enough, notes)


def eval_notes(root: Path) -> list[str]:
    """What the latest `devloop eval` says each step misses on each tier."""
    last = latest_eval(root)
    if not last:
        return []
    lines = []
    for row in last.get("summary", {}).values():
        runs, passed = int(row.get("runs", 0)), int(row.get("passed", 0))
        if passed < runs:
            missed = "; ".join(row.get("missed", [])[:3])
            lines.append(
                f"eval {last.get('slug')}: {row['step']} on {row['tier']} missed "
                f"{runs - passed} of {runs} canaries ({missed})"
            )
    return lines or [f"eval {last.get('slug')}: every canary answered right"]


def _lacking(group: Group | None, step: Step, tier: str) -> str:
    runs = group.runs if group else 0
    feats = len(group.features) if group else 0
    return (
        f"{step.number} {step.key} on {tier}: {runs} run(s) over {feats} feature(s); "
        f"need {MIN_RUNS} over {MIN_FEATURES}"
    )


def _promote(
    step: Step,
    tier: str,
    here: Group | None,
    frontier: Group | None,
    person: Decimal,
    not_enough: list[str],
) -> Recommendation | None:
    if here is None or not here.evidence:
        not_enough.append(_lacking(here, step, tier))
        return None
    if here.bad_rate < PROMOTE_AT:
        return None
    extra = here.baseline_per_feature - here.cost_per_feature  # same tokens at frontier rates
    saving = -extra
    fails_there = frontier.rate(frontier.failed) if frontier and frontier.evidence else 0.0
    fewer = max(here.rate(here.failed) - fails_there, 0.0)
    saving += person * Decimal(str(round(fewer * here.runs_per_feature, 6)))
    why = (
        f"on {tier}, {here.bad_rate:.0%} of runs went badly (failed {here.rate(here.failed):.0%},"
        f" escalated {here.rate(here.escalated):.0%})"
    )
    evidence = f"{here.runs} runs over {len(here.features)} features on {tier}"
    return Recommendation(step, "promote", tier, routing.FRONTIER, why, saving, evidence)


def _demote(
    step: Step,
    cfg: Config,
    frontier: Group | None,
    mid: Group | None,
    person: Decimal,
    not_enough: list[str],
) -> Recommendation | None:
    lacking = [
        _lacking(g, step, t)
        for g, t in ((frontier, routing.FRONTIER), (mid, routing.MID))
        if g is None or not g.evidence
    ]
    if lacking:
        if mid is None or not mid.evidence:
            lacking[-1] += ' (profile it: `devloop ab SPEC`, or router = "hybrid")'
        not_enough.extend(lacking)
        return None
    assert frontier is not None and mid is not None
    good_f, good_m = 1 - frontier.bad_rate, 1 - mid.bad_rate
    if good_m < good_f - MATCH_WITHIN:
        return None
    ratio = _mid_ratio(cfg, frontier)
    if ratio is None:
        not_enough.append(f"{step.number} {step.key}: cannot price its tokens on the mid model")
        return None
    saving = frontier.cost_per_feature * (1 - ratio)
    more = max(mid.rate(mid.failed) - frontier.rate(frontier.failed), 0.0)
    saving -= person * Decimal(str(round(more * frontier.runs_per_feature, 6)))
    if saving <= 0:
        return None
    why = (
        f"mid went well in {good_m:.0%} of its runs of this step elsewhere, frontier in "
        f"{good_f:.0%}"
    )
    evidence = (
        f"{frontier.runs} frontier runs over {len(frontier.features)} features, "
        f"{mid.runs} mid runs over {len(mid.features)} features"
    )
    return Recommendation(step, "demote", routing.FRONTIER, routing.MID, why, saving, evidence)


def _mid_ratio(cfg: Config, group: Group) -> Decimal | None:
    """What the group's tokens cost at mid rates, as a fraction of frontier rates."""
    from devloop.errors import DevloopError
    from devloop.model import pricing

    try:
        mid = pricing.rates(cfg.models.mid)
        top = pricing.rates(cfg.models.frontier)
    except DevloopError:
        return None

    def price(r: Any) -> Decimal | None:
        total = Decimal(0)
        for name, count in group.tokens.items():
            rate = getattr(r, name)
            if count and rate is None:
                return None
            total += count * (rate or 0)
        return total

    low, high = price(mid), price(top)
    if low is None or not high:
        return None
    return low / high
