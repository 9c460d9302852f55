"""Running eval cases: each through the real Door on each tier, judged, kept, compared.

Every call is priced into the ledger like a feature's, under a feature of its own
(`eval-<time>`, tagged "eval"): `devloop cost` shows what an eval cost, and no feature's
totals include it. The results are kept in .devloop/evals/<that slug>.json; the next run
compares itself with the last one, step by step and tier by tier (drift).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from devloop import state as state_mod
from devloop.config import Config
from devloop.evals.cases import Case
from devloop.evals.judge import judge
from devloop.ledger import Ledger
from devloop.loop import bodies, prompts
from devloop.money import exact_text

SCHEMA = "devloop.eval/1"


@dataclass
class Outcome:
    """One case, on one tier, once."""

    case: str
    step: str
    tier: str
    model: str
    passed: bool
    missed: str
    cost_usd: Decimal | None
    input_tokens: int
    output_tokens: int
    call_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "cost_usd": exact_text(self.cost_usd)}


@dataclass
class EvalRun:
    slug: str  # the ledger feature holding its calls
    outcomes: list[Outcome] = field(default_factory=list)
    previous: dict[str, Any] | None = None  # the last run's summary, for drift

    def summary(self) -> dict[str, dict[str, Any]]:
        """Per "step/tier": passed, runs, cost and tokens, and the cases missed."""
        out: dict[str, dict[str, Any]] = {}
        for o in self.outcomes:
            row = out.setdefault(
                f"{o.step}/{o.tier}",
                {"step": o.step, "tier": o.tier, "passed": 0, "runs": 0, "cost_usd": Decimal(0),
                 "input_tokens": 0, "output_tokens": 0, "missed": []},
            )  # fmt: skip
            row["runs"] += 1
            row["passed"] += o.passed
            row["cost_usd"] += o.cost_usd or Decimal(0)
            row["input_tokens"] += o.input_tokens
            row["output_tokens"] += o.output_tokens
            if not o.passed:
                row["missed"].append(f"{o.case}: {o.missed}")
        return out

    def drift(self) -> list[str]:
        """Where this run's pass rate differs from the last run's, step by step and tier."""
        if not self.previous:
            return []
        before = self.previous.get("summary", {})
        lines = []
        for key, row in self.summary().items():
            old = before.get(key)
            if old and old["passed"] * row["runs"] != row["passed"] * old["runs"]:
                lines.append(
                    f"{row['step']} on {row['tier']}: {old['passed']}/{old['runs']} in "
                    f"{self.previous['slug']}, {row['passed']}/{row['runs']} now"
                )
        return lines

    def to_json(self) -> dict[str, Any]:
        summary = {
            key: {**row, "cost_usd": exact_text(row["cost_usd"])}
            for key, row in self.summary().items()
        }
        return {
            "schema": SCHEMA,
            "slug": self.slug,
            "summary": summary,
            "cases": [o.to_dict() for o in self.outcomes],
            "drift": self.drift(),
        }


def run_eval(
    cfg: Config,
    cases: list[Case],
    tiers: list[str],
    repeat: int = 1,
    warn: Callable[[str], None] | None = None,
) -> EvalRun:
    """Every case on every tier, `repeat` times; kept under .devloop/evals/."""
    from devloop.model import Door, Request

    root = cfg.root
    slug = "eval-" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    run = EvalRun(slug, previous=state_mod.latest_eval(root))
    system = prompts.system_text(root)
    with Ledger.open(root) as ledger:
        title = f"devloop eval: {len(cases)} case(s) on {', '.join(tiers)}"
        ledger.ensure_feature(slug, title=title, status="done", tag="eval")
        door = Door(cfg, ledger, slug, **({"warn": warn} if warn else {}))
        for case in cases:
            context = [case.map or "(no project map for this case)", _spec(case)]
            if case.builds:
                for tier in tiers:
                    for attempt in range(1, repeat + 1):
                        run.outcomes.append(
                            _implement(cfg, case, tier, door, ledger, slug, (system, context),
                                       attempt, warn)
                        )  # fmt: skip
                continue
            text = prompts.render_template(root, case.step.template, case.inputs)
            schema = bodies.schema_of(case.step)
            for tier in tiers:
                for _ in range(repeat):
                    request = Request(
                        messages=[{"role": "user", "content": text}],
                        system=system,
                        context=context,
                        schema=schema,
                        max_tokens=cfg.loop.max_tokens.get(case.step.key, case.step.max_tokens),
                    )
                    reply = door.call(case.step.key, tier, request)
                    verdict = judge(case, reply.text, reply.data)
                    usage = reply.usage or {}
                    prompt_tokens = sum(
                        int(usage.get(k) or 0)
                        for k in ("input_tokens", "cache_creation_input_tokens",
                                  "cache_read_input_tokens")
                    )  # fmt: skip
                    run.outcomes.append(
                        Outcome(
                            case=case.id,
                            step=case.step.key,
                            tier=tier,
                            model=reply.model,
                            passed=verdict.passed,
                            missed=verdict.missed,
                            cost_usd=reply.cost_usd,
                            input_tokens=prompt_tokens,
                            output_tokens=int(usage.get("output_tokens") or 0),
                            call_id=reply.call_id,
                        )
                    )
    state_mod.atomic_write(
        state_mod.evals_dir(root) / f"{slug}.json", json.dumps(run.to_json(), indent=2)
    )
    return run


def _implement(
    cfg: Config,
    case: Case,
    tier: str,
    door: Any,
    ledger: Ledger,
    slug: str,
    context: tuple[str, list[str]],
    attempt: int,
    warn: Callable[[str], None] | None,
) -> Outcome:
    """An implement case: the agent's work in a throwaway repository, judged by hidden tests."""
    from devloop.evals.implement_case import run_implement
    from devloop.money import pico_to_usd

    note = warn or door.warn  # the Door's warnings go to stderr unless told otherwise
    done = run_implement(cfg, case, tier, door, ledger, slug, context, attempt, note)
    stats = done.stats
    prompt_tokens = (
        stats.input_tokens + stats.cache_write_tokens + stats.cache_read_tokens if stats else 0
    )
    return Outcome(
        case=case.id,
        step=case.step.key,
        tier=tier,
        model=cfg.models.for_tier(tier),
        passed=done.judgement.passed,
        missed=done.judgement.missed,
        cost_usd=pico_to_usd(stats.cost_pico) if stats and stats.priced_calls else None,
        input_tokens=prompt_tokens,
        output_tokens=stats.output_tokens if stats else 0,
        call_id=done.last_call,
    )


def _spec(case: Case) -> str:
    return prompts.spec_block(case.title, case.spec, f"eval-{case.id}")
