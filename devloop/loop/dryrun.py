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
from devloop.loop import load_spec, projection, repo_head
from devloop.loop import prompts as ctxmod
from devloop.routing import signals as signals_mod
from devloop.schemas import BUILD_PLAN, FINDINGS, VERDICT
from devloop.steps import STEPS


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
    system = ctxmod.system_text(root)
    context = [
        ctxmod.project_map(root, cfg.loop.project_map_tokens, hints=spec.text),
        ctxmod.spec_block(spec.title, spec.text, spec.slug),
    ]
    prompts_dir = root / state_mod.DEVLOOP_DIR / "dry-run" / spec.slug
    guessed: dict[str, tuple[str, ...]] = {}

    def stand_in(name: str, what: str) -> str:
        size = projection.UNKNOWN_INPUT_TOKENS[name]
        return f"[{what}: not produced yet; ~{size:,} tokens assumed]"

    values = {
        "title": spec.title,
        "research": stand_in("research", "research notes from step 1"),
        "plan": stand_in("plan", "the plan from step 2"),
        "revision": "",
        "build_plan": stand_in("build-plan", "the build plan from step 5"),
        "tasks": stand_in("build-plan", "the build plan's tasks"),
        "diff": stand_in("diff", "the diff of steps 8-11"),
        "contract": stand_in("plan", "the plan's Integration Contract"),
        "command": cfg.commands.test or "(no test command)",
        "output": stand_in("test-output", "the failing test output"),
        "findings": stand_in("diff", "the review and audit findings"),
        "failure": stand_in("test-output", "the failing output and its triage"),
        "summary": stand_in("build-plan", "the tasks done and files changed"),
        "task_id": "T1",
        "task_title": stand_in("build-plan", "a task's title"),
        "task_description": "",
        "files": "",
        "acceptance": "",
        "tests": "",
    }
    unknown_for = {
        "plan": ("research",),
        "validate-requirements": ("plan",),
        "validate-integration": ("plan",),
        "build-plan": ("plan",),
        "double-check": ("plan", "build-plan"),
        "review": ("build-plan", "diff"),
        "audit": ("plan", "diff"),
        "e2e": ("test-output",),
        "remediate": ("diff",),
        "final-remediate": ("test-output",),
        "commit": ("build-plan",),
    }
    schemas = {"validate-requirements": VERDICT, "validate-integration": VERDICT}
    schemas.update({"double-check": VERDICT, "build-plan": BUILD_PLAN})
    schemas.update({"review": FINDINGS, "audit": FINDINGS})
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
        text = ctxmod.render_template(root, step.key, values)
        state_mod.atomic_write(
            prompts_dir / f"{step.number:02d}-{step.key}.md",
            f"<!-- system and context: see 00-prefix.md -->\n{text}",
        )
        params = build_params(
            Request(
                [{"role": "user", "content": text}], system, context, schema=schemas.get(step.key)
            ),
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
        unknown = unknown_for.get(step.key, ())
        item.prefix_tokens = prefix_tokens
        item.input_tokens = fresh_tokens + sum(projection.UNKNOWN_INPUT_TOKENS[u] for u in unknown)
        item.estimated_inputs = unknown
        guessed[step.key] = unknown
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
