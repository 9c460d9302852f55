"""Routing: which worker (script or model tier) runs each step, and why.

The rule router is the step table plus the config's per-step overrides. ROUTING.md is
rendered from the same routes, so the document cannot say one thing while devloop does
another (`devloop routing check` fails when it drifts).

`[routing] router` picks the router a run uses (`decide`); the adaptive ones read the
complexity score of signals.py, for model steps only:

- complexity: frontier at or above `high_threshold`, light below `low_threshold`, mid
  between, whatever the step table says;
- hybrid: the rule route, promoted to frontier at or above `high_threshold`, and a
  frontier step demoted to mid below `low_threshold`, except the steps the table marks
  not `demotable` (the validations and the audit: a fresh, strong check).

Under either, a step with a per-step config override keeps it (a person pinned it), and
a step whose signals could not be computed goes to frontier with the reason: unsure
means frontier.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from devloop.config import Config
from devloop.steps import ESCALATION_EFFORT, FRONTIER, LIGHT, MID, SCRIPT, STEPS, TIERS, Step
from devloop.tables import markdown

if TYPE_CHECKING:  # signals.py (git, regexes) loads only when an adaptive router runs
    from devloop.routing.signals import Signals

ROUTING_DOC = "ROUTING.md"
ADAPTIVE = ("complexity", "hybrid")


@dataclass(frozen=True)
class Route:
    step: Step
    tier: str  # a model tier, or "script"
    model: str  # model id, or "" for a script step
    reason: str
    router: str = "rule"
    score: float | None = None
    threshold: float | None = None  # the threshold the score was compared with
    rule_tier: str | None = None  # what the rule router said (adaptive routes only)
    thresholds: tuple[float, float] | None = None  # (low, high) in force
    signals: Signals | None = None
    effort: str | None = None  # output_config.effort its calls ask for (None: no model)

    def to_dict(self) -> dict[str, Any]:
        """The route as recorded in the ledger (step_runs.route_json) and state.json."""
        data: dict[str, Any] = {
            "worker": self.worker,
            "tier": self.tier,
            "model": self.model,
            "router": self.router,
            "reason": self.reason,
            "effort": self.effort,
            "score": self.score,
            "threshold": self.threshold,
        }
        if self.rule_tier is not None:
            data["rule_tier"] = self.rule_tier
        if self.thresholds is not None:
            data["low_threshold"], data["high_threshold"] = self.thresholds
        if self.signals is not None:
            data["stage"] = self.signals.stage
            data["signals"] = [s.to_dict() for s in self.signals.items]
            data["missing"] = list(self.signals.missing)
        return data

    @property
    def worker(self) -> str:
        """How the step is done, e.g. 'frontier', 'script', 'script + mid'."""
        if self.step.worker == "script":
            return SCRIPT
        if self.step.worker == "mixed":
            return f"script + {self.tier}"
        return self.tier


def rule_route(step: Step, cfg: Config) -> Route:
    if not step.calls_model:
        return Route(step, SCRIPT, "", step.why)
    override = cfg.tier_override(step.key)
    if override and override != step.default_tier:
        tier = override
        reason = (
            f"config override (routing.steps.{step.key} = {override}); default {step.default_tier}"
        )
    else:
        tier = step.default_tier
        reason = step.why
    return Route(step, tier, cfg.models.for_tier(tier), reason, effort=cfg.step_effort(step.key))


def decide(
    step: Step, cfg: Config, signals: Signals | Callable[[], Signals] | None = None
) -> Route:
    """The route of `step` under `[routing] router`. `signals` (or a function making
    them) is used only by the adaptive routers, and only for model steps."""
    rule = rule_route(step, cfg)
    router = cfg.routing.router
    if router not in ADAPTIVE or not step.calls_model:
        return rule
    from devloop.routing.signals import SPEC_STAGE, Signals, needs_build_plan

    thresholds = (cfg.routing.low_threshold, cfg.routing.high_threshold)
    if cfg.tier_override(step.key):
        return replace(
            rule,
            router=router,
            rule_tier=rule.tier,
            thresholds=thresholds,
            reason=f"{rule.reason}; the {router} router keeps a per-step override",
        )
    found = signals() if callable(signals) else signals
    if found is None:
        found = Signals(SPEC_STAGE, missing=("signals: none were computed for this step",))
    base = replace(rule, router=router, rule_tier=rule.tier, thresholds=thresholds, signals=found)
    if found.missing:
        why = "; ".join(found.missing)
        return _to(
            base, cfg, FRONTIER, f"{router} router: frontier because a signal is missing ({why})"
        )
    score = found.score
    base = replace(base, score=score)
    low, high = thresholds
    if router == "complexity":
        if score >= high:
            tier, threshold, why = FRONTIER, high, f"score {score:.2f} >= high threshold {high:.2f}"
        elif score < low:
            tier, threshold, why = LIGHT, low, f"score {score:.2f} < low threshold {low:.2f}"
        else:
            tier, threshold = MID, high
            why = f"score {score:.2f} between the thresholds {low:.2f} and {high:.2f}"
        reason = f"complexity router: {why}{_drivers(found)}"
    elif score >= high and rule.tier != FRONTIER:
        tier, threshold = FRONTIER, high
        reason = (
            f"hybrid router: promoted from {rule.tier}: score {score:.2f} >= high threshold "
            f"{high:.2f}{_drivers(found)}"
        )
    elif score < low and rule.tier == FRONTIER and step.demotable:
        tier, threshold = MID, low
        reason = (
            f"hybrid router: demoted from frontier: score {score:.2f} < low threshold "
            f"{low:.2f}{_drivers(found)}"
        )
    else:
        tier = rule.tier
        threshold = low if tier == FRONTIER else high
        if score < low and not step.demotable:
            kept = f"score {score:.2f} < {low:.2f}, but {_never_demoted()} are never demoted"
        else:
            kept = f"score {score:.2f} within the thresholds {low:.2f}-{high:.2f}: rule route kept"
        reason = f"{rule.reason} (hybrid router: {kept})"
    if found.stage == SPEC_STAGE and needs_build_plan(step):
        reason += "; scored from the spec: a run re-scores this step from the build plan"
    return _to(replace(base, threshold=threshold), cfg, tier, reason)


def _to(route: Route, cfg: Config, tier: str, reason: str) -> Route:
    return replace(route, tier=tier, model=cfg.models.for_tier(tier), reason=reason)


def _drivers(found: Signals, top: int = 3) -> str:
    """The signals that weigh most, e.g. " (security: permissions +0.80; files: 3 +0.06)"."""
    ranked = sorted((s for s in found.items if s.contribution > 0), key=lambda s: -s.contribution)
    if not ranked:
        return " (no signal above zero)"
    return " (" + "; ".join(f"{s.name} +{s.contribution:.2f}" for s in ranked[:top]) + ")"


def routes(cfg: Config) -> list[Route]:
    return [rule_route(step, cfg) for step in STEPS]


def render_markdown(cfg: Config) -> str:
    """ROUTING.md for this config. Deterministic: it depends on the config only."""
    lines = [
        "# Routing",
        "",
        "Which worker runs each step of devloop's loop, and why. Generated by",
        "`devloop routing --markdown` from the step table and this repository's config;",
        "`devloop routing check` fails when this file no longer matches. Do not edit by hand.",
        "",
        markdown(["Tier", "Model"], [[t, f"`{cfg.models.for_tier(t)}`"] for t in TIERS]),
    ]
    rows = []
    for route in routes(cfg):
        step = route.step
        model = f"`{route.model}`" if route.model else "-"
        worker = route.worker
        if step.script_part:
            worker += f" ({step.script_part} by script)"
        if step.fresh_context:
            worker += ", fresh context"
        if step.uses_tools:
            worker += ", tools"
        effort = route.effort or "-"
        cells = [str(step.number), f"`{step.key}`", step.phase, worker, model, effort]
        rows.append([*cells, route.reason, step.weaker_risk])
    headers = ["#", "Step", "Phase", "Worker", "Model", "Effort", "Why this worker"]
    lines.append(markdown([*headers, "If a weaker worker does it"], rows).rstrip("\n"))
    lines += [
        "",
        "Effort is the `output_config.effort` a step's calls send (`[effort]` in the config",
        "overrides it; a model that takes no such level gets its own default); the frontier",
        f"tier taking over a failed piece of work asks for `{ESCALATION_EFFORT}`.",
        "",
        "Every model call is priced and written to the ledger next to its frontier baseline:",
        "what it would have cost in one all-frontier run, through one prompt cache.",
        "`devloop cost` shows both.",
        "",
    ]
    return "\n".join(lines)


def _never_demoted() -> str:
    numbers = [str(s.number) for s in STEPS if not s.demotable]
    return (
        "steps " + ", ".join(numbers[:-1]) + " and " + numbers[-1]
        if len(numbers) > 1
        else f"step {numbers[0]}"
    )
