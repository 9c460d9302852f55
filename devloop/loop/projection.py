"""Projected cost of model steps before they run: `--dry-run` and pre-flight's budget check.

A projection prices token counts with the real price table (pricing.cost_usd), on the
routed model and on the frontier model (the baseline), so it uses exactly the rates the
ledger will. Input sizes come from prompts rendered locally (tokens.estimate, which errs
slightly high); what is not known before a step runs (how long its answer is, how many turns
the build agent takes) comes from the ASSUMPTIONS table below, rough by nature and labelled
as such wherever it is shown.

Caching is modelled the way the Door sends requests: the system text and context form one
prefix, written to the cache (5-minute rate) by the first call on a model and read by the
calls after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from devloop.errors import UnpricedModelError
from devloop.model import pricing


@dataclass(frozen=True)
class Assumption:
    calls: int  # model calls the step makes (per task when per_task)
    output: int  # output tokens per call, thinking included
    extra_input: int = 0  # input per call beyond the rendered prompt: conversation, tool output
    per_task: bool = False
    conditional: bool = False  # runs only when an earlier step asks for it


ASSUMPTIONS: dict[str, Assumption] = {
    "research": Assumption(1, 3_000),
    "plan": Assumption(1, 5_000),
    "validate-requirements": Assumption(1, 1_500),
    "validate-integration": Assumption(1, 1_500),
    "build-plan": Assumption(1, 3_000),
    "double-check": Assumption(1, 1_500),
    "implement": Assumption(8, 1_500, extra_input=8_000, per_task=True),
    "review": Assumption(1, 2_500),
    "audit": Assumption(1, 2_500),
    "remediate": Assumption(6, 1_200, extra_input=6_000, conditional=True),
    "e2e": Assumption(1, 1_500, conditional=True),
    "final-remediate": Assumption(6, 1_200, extra_input=6_000, conditional=True),
    "commit": Assumption(3, 800, extra_input=4_000),
}
# Sizes (tokens) of inputs that do not exist before the run reaches them.
UNKNOWN_INPUT_TOKENS = {
    "research": 3_000,
    "plan": 5_000,
    "build-plan": 3_000,
    "diff": 6_000,
    "test-output": 2_000,
}
ASSUMED_TASKS = 4  # tasks in a build plan that does not exist yet


@dataclass
class StepProjection:
    key: str
    number: int
    worker: str
    tier: str
    model: str
    calls: int = 0
    input_tokens: int = 0  # per call: rendered prompt (+ extra), without the prefix
    prefix_tokens: int = 0
    output_tokens: int = 0  # over all calls
    cost_usd: Decimal | None = Decimal(0)  # None: the model has no price
    baseline_usd: Decimal | None = Decimal(0)
    conditional: bool = False
    estimated_inputs: tuple[str, ...] = ()  # inputs that are guesses, not rendered text


class CacheModel:
    """Which models already hold the feature's prefix in cache."""

    def __init__(self) -> None:
        self.warm: set[str] = set()

    def usage(self, model: str, prefix: int, fresh: int, output: int) -> dict:
        first = model not in self.warm
        self.warm.add(model)
        written = prefix if first else 0
        return {
            "input_tokens": fresh,
            "cache_creation_input_tokens": written,
            "cache_creation": {
                "ephemeral_5m_input_tokens": written,
                "ephemeral_1h_input_tokens": 0,
            },
            "cache_read_input_tokens": 0 if first else prefix,
            "output_tokens": output,
        }


def _price(model: str, usage: dict) -> Decimal | None:
    try:
        return pricing.cost_usd(model, usage)
    except UnpricedModelError:
        return None


def project(
    projection: StepProjection,
    *,
    frontier_model: str,
    cache: CacheModel,
    baseline_cache: CacheModel,
    tasks: int = ASSUMED_TASKS,
) -> StepProjection:
    """Fill calls, tokens and cost of `projection` (its prompt sizes already set)."""
    assumption = ASSUMPTIONS[projection.key]
    calls = assumption.calls * (max(tasks, 1) if assumption.per_task else 1)
    fresh = projection.input_tokens + assumption.extra_input
    cost: Decimal | None = Decimal(0)
    baseline: Decimal | None = Decimal(0)
    for _ in range(calls):
        usage = cache.usage(projection.model, projection.prefix_tokens, fresh, assumption.output)
        price = _price(projection.model, usage)
        cost = None if cost is None or price is None else cost + price
        base_usage = baseline_cache.usage(
            frontier_model, projection.prefix_tokens, fresh, assumption.output
        )
        base_price = _price(frontier_model, base_usage)
        baseline = None if baseline is None or base_price is None else baseline + base_price
    projection.calls = calls
    projection.input_tokens = fresh
    projection.output_tokens = assumption.output * calls
    projection.cost_usd = cost
    projection.baseline_usd = baseline
    projection.conditional = assumption.conditional
    return projection


def total(projections: list[StepProjection], field: str) -> Decimal | None:
    values = [getattr(p, field) for p in projections]
    if any(v is None for v in values):
        return None
    return sum(values, Decimal(0))
