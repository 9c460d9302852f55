"""`devloop feature --dry-run`: price a run without calling a model.

Every model step's prompt is rendered from the spec and the repository as they are now, with
the cached prefix (system, project map, spec) exactly as a real run would send it; inputs
that do not exist before the run (research notes, the plan, the diff) are stand-ins of an
assumed size. Tokens are estimated locally and priced by projection.py on the routed model
and on the frontier model; with a key set, the API's free count_tokens endpoint counts the
rendered prompts instead. Pre-flight's static checks run too. Nothing is written except
the rendered prompts, under .devloop/dry-run/<slug>/, for a person to read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from devloop import checks, routing, tokens
from devloop import spec as spec_mod
from devloop import state as state_mod
from devloop.config import Config
from devloop.errors import ApiError
from devloop.loop import projection, prompts
from devloop.loop.bodies import schema_of
from devloop.loop.inputs import docs_owner
from devloop.loop.start import load_spec, repo_head
from devloop.routing import signals as signals_mod
from devloop.steps import COMMAND, DOCS, EARLIER, REVISION, SOURCES, STEPS, TITLE


@dataclass
class DryRun:
    spec: spec_mod.Spec
    steps: list[Any]  # projection.StepProjection, in step order
    cost_usd: Decimal | None
    baseline_usd: Decimal | None
    checks: list[checks.CheckResult]
    prompts_dir: Path
    prefix_tokens: int
    token_source: str = "local estimate"  # or "count_tokens API"
    notes: list[str] = field(default_factory=list)
    routes: dict[str, routing.Route] = field(default_factory=dict)  # step key -> route

    def to_json(self) -> dict[str, Any]:
        """`devloop feature --dry-run --json`: every amount exact, as text."""
        return {
            "slug": self.spec.slug,
            "title": self.spec.title,
            "prompts": str(self.prompts_dir),
            "prefix_tokens": self.prefix_tokens,
            "token_source": self.token_source,
            "notes": self.notes,
            "steps": [
                {
                    "step": p.number,
                    "key": p.key,
                    "worker": p.worker,
                    "model": p.model or None,
                    "calls": p.calls,
                    "input_tokens_per_call": p.input_tokens,
                    "output_tokens": p.output_tokens,
                    "cost_usd": _text(p.cost_usd),
                    "baseline_usd": _text(p.baseline_usd),
                    "conditional": p.conditional,
                    "assumed_inputs": list(p.estimated_inputs),
                    "route": self.routes[p.key].to_dict() if p.key in self.routes else None,
                }
                for p in self.steps
            ],
            "total_usd": _text(self.cost_usd),
            "baseline_usd": _text(self.baseline_usd),
            "checks": [
                {"name": r.name, "passed": r.passed, "summary": r.summary} for r in self.checks
            ],
        }


class ApiTokenCounter:
    """Input tokens as the API counts them, split into the cached prefix and the rest.

    The prefix is counted once per model as the difference between a one-character
    request with and without the system blocks; count_tokens itself is free."""

    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self._prefix: dict[str, int] = {}

    def count(self, tier: str, params: dict[str, Any]) -> tuple[int, int]:
        from devloop.model.client import count_tokens

        model = params["model"]
        if model not in self._prefix:
            probe = {"model": model, "messages": [{"role": "user", "content": "."}]}
            bare = count_tokens(self.cfg, tier, probe)
            with_system = {**probe, "system": params.get("system", [])}
            self._prefix[model] = count_tokens(self.cfg, tier, with_system) - bare
        total = count_tokens(self.cfg, tier, params)
        return self._prefix[model], total - self._prefix[model]


def dry_run(cfg: Config, spec_path: Path, budget_usd: Decimal | None = None) -> DryRun:
    """The projection of every step, the static pre-flight checks, the prompts' folder."""
    from devloop.model import Request, build_params, key_configured

    spec = load_spec(cfg, spec_path)
    repo_head(cfg.root)
    root = cfg.root
    system, *context = prompts.prefix_texts(cfg, spec)
    prompts_dir = root / state_mod.DEVLOOP_DIR / "dry-run" / spec.slug
    known = {TITLE: spec.title, REVISION: "", COMMAND: cfg.commands.test or "(no test command)"}
    known[DOCS] = docs_owner(cfg)
    known[EARLIER] = ""  # a first round
    cache, base_cache = projection.CacheModel(), projection.CacheModel()
    items = []
    prefix_tokens = 0
    notes: list[str] = []
    counter = ApiTokenCounter(cfg) if key_configured() else None
    # No build plan exists yet: every step is scored from the spec and the repository at
    # HEAD (signals.py), computed once and only when the router is an adaptive one.
    scored: list[signals_mod.Signals] = []

    def spec_signals() -> signals_mod.Signals:
        if not scored:
            scored.append(signals_mod.collect(context[1], root, "HEAD"))
        return scored[0]

    routes: dict[str, routing.Route] = {}
    for step in STEPS:
        route = routes[step.key] = routing.decide(step, cfg, spec_signals)
        item = projection.StepProjection(
            step.key, step.number, route.worker, route.tier, route.model
        )
        if not step.calls_model:
            items.append(item)
            continue
        values = {name: known[s] if s in known else _stand_in(s) for name, s in step.inputs}
        text = prompts.render_step_text(root, step, values)
        state_mod.atomic_write(
            prompts_dir / state_mod.artifact_name(step, "md"),
            f"<!-- system and context: see 00-prefix.md -->\n{text}",
        )
        params = build_params(
            Request([{"role": "user", "content": text}], system, context, schema=schema_of(step)),
            route.model,
            None,
        )
        prefix_tokens = tokens.estimate_json(params["system"])
        fresh_tokens = tokens.estimate_json(params["messages"])
        if counter is not None:
            try:
                prefix_tokens, fresh_tokens = counter.count(route.tier, params)
            except ApiError as exc:
                counter = None
                notes.append(f"count_tokens failed ({exc.message}); using local estimates.")
        item.prefix_tokens = prefix_tokens
        item.input_tokens = fresh_tokens + projection.input_tokens(step)
        item.estimated_inputs = projection.unknown_sources(step)
        projection.project(
            item, frontier_model=cfg.models.frontier, cache=cache, baseline_cache=base_cache
        )
        items.append(item)
    state_mod.atomic_write(prompts_dir / "00-prefix.md", "\n\n".join([system, *context]))
    cost = projection.total(items, "cost_usd")
    baseline = projection.total(items, "baseline_usd")
    results = checks.preflight(cfg)
    ceiling = budget_usd if budget_usd is not None else cfg.budget.feature_usd
    if ceiling is not None and cost is not None:
        priced = checks.preflight(cfg, budget_left_usd=ceiling, estimated_usd=cost)
        results += [r for r in priced if r.name == "budget"]
    from devloop.git import runfiles
    from devloop.loop import preflight
    from devloop.state import DEVLOOP_DIR

    results.append(preflight.sandbox_check(cfg))
    results.append(preflight.private_check(runfiles.private_at_start(cfg.root, (DEVLOOP_DIR,))))
    source = "count_tokens API" if counter is not None else "local estimate"
    return DryRun(
        spec, items, cost, baseline, results, prompts_dir, prefix_tokens, source, notes, routes
    )


def _stand_in(source: str) -> str:
    """What a prompt shows for an input that does not exist before the run."""
    producer = STEPS.get(source)
    what = (
        f"the {producer.title.lower()} of step {producer.number}" if producer else SOURCES[source]
    )
    return f"[{what}: not produced yet; ~{projection.assumed_tokens(source):,} tokens assumed]"


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
