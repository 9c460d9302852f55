"""Projected cost of model steps before they run: `--dry-run` and pre-flight's budget check.

A projection prices token counts with the real price table (pricing.cost_usd), on the
routed model and on the frontier model (the baseline), so it uses exactly the rates the
ledger will. Input sizes come from prompts rendered locally (tokens.estimate, which errs
slightly high); what is not known before a step runs (how long its answer is, how many turns
the build agent takes, how large the inputs it reads will be) comes from each step's
`projection` in the step table, rough by nature and labelled as such wherever it is shown.

Caching is modelled the way the Door sends requests: the system text and context form one
prefix, written to the cache (5-minute rate) by the first call on a model and read by the
calls after it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from devloop.errors import UnpricedModelError
from devloop.model import pricing
from devloop.steps import (
    CODE,
    COMMAND,
    CONTRACT,
    DIFF,
    DOCS,
    EARLIER,
    FINDINGS,
    FOUND,
    HAS_CONTRACT,
    NOTES_OF,
    REVISION,
    STEPS,
    TASK,
    TASK_LIST,
    TASKS,
    TEST_OUTPUT,
    TITLE,
    Step,
    resolve_step,
)

# Sizes (tokens) of inputs nothing in the table sizes; the rest derive from the table.
ASSUMED_DIFF_TOKENS = 6_000
ASSUMED_TEST_OUTPUT_TOKENS = 2_000
ASSUMED_TASKS = 4  # tasks in a build plan that does not exist yet
ASSUMED_NOTES_TOKENS = 300  # the implementer's notes on its tasks
ASSUMED_CODE_TOKENS = 6_000  # the contract's files (at most [loop] code_tokens)
KNOWN_SOURCES = (TITLE, REVISION, COMMAND, DOCS, EARLIER)  # text the run has from the start


def assumed_tokens(source: str) -> int:
    """The assumed size of an input that does not exist before the run reaches it: an
    earlier step's artifact is as long as that step's projected answer."""
    build_plan = STEPS.first_of_kind(TASK_LIST).projection.output
    producer = STEPS.get(source)
    if producer is not None:
        return producer.projection.output
    sizes = {
        CONTRACT: STEPS.with_precheck(HAS_CONTRACT).projection.output,
        TASKS: build_plan,
        TASK: build_plan // ASSUMED_TASKS,
        FOUND: sum(s.projection.output for s in STEPS.of_kind(FINDINGS)),
        DIFF: ASSUMED_DIFF_TOKENS,
        TEST_OUTPUT: ASSUMED_TEST_OUTPUT_TOKENS,
        NOTES_OF: ASSUMED_NOTES_TOKENS,
        CODE: ASSUMED_CODE_TOKENS,
    }
    return sizes.get(source, 0)


def unknown_sources(step: Step) -> tuple[str, ...]:
    """The inputs of `step` a dry run can only assume, each once, in table order."""
    return tuple(dict.fromkeys(s for s in step.sources if s not in KNOWN_SOURCES))


def input_tokens(step: Step, known: dict[str, int] | None = None) -> int:
    """Tokens of the inputs of `step`: `known` sizes where given, assumed sizes otherwise."""
    known = known or {}
    return sum(known.get(s, assumed_tokens(s)) for s in unknown_sources(step))


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
    assumption = resolve_step(projection.key).projection
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
