"""Step 7, pre-flight: everything that must hold before the first implementation token.

The generic checks (git, tools resolvable, API key or base URL, plan files exist, clean
tree, budget) are checks.preflight's; this module adds what only a feature run knows: the
feature branch, where new files go, open markers left in the plans, and the expected cost
of the steps still to run. Every check returns a checks.CheckResult; nothing prints.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from devloop import checks, routing, sandbox, tokens
from devloop.checks.results import MAX_DETAILS
from devloop.config import Config
from devloop.git import repository
from devloop.loop import projection
from devloop.loop.prompts import CONTRACT_HEADING, section
from devloop.schemas import BuildPlan
from devloop.state import FeatureState
from devloop.steps import CONTRACT, STEPS, TASK, TASK_LIST, TASKS, Step

RouteFn = Callable[[Step], routing.Route]

MARKERS = re.compile(r"\bTODO\b|NEEDS CLARIFICATION")


def run_checks(
    cfg: Config,
    state: FeatureState,
    *,
    plan_text: str,
    build_plan_text: str,
    spent_usd: Decimal,  # what counts against the ceiling so far (ledger.committed_usd)
    prefix_tokens: int,
    route: RouteFn | None = None,
    runner: Callable[[], sandbox.Runner] | None = None,
) -> list[checks.CheckResult]:
    """Every pre-flight check for the run in `state`; the step fails if any fails.
    `route` is the run's routing decision per step (default: the rule router); `runner`
    gives the run's sandbox (default: the one `cfg` makes)."""
    build = BuildPlan.from_dict(json.loads(build_plan_text))
    budget = Decimal(state.budget_usd) if state.budget_usd else cfg.budget.feature_usd
    left = estimate = None
    if budget is not None:
        left = budget - spent_usd
        estimate = remaining_estimate(cfg, state, build, plan_text, prefix_tokens, route=route)
    results = [branch_check(cfg.root, state.branch)]
    results += checks.preflight(
        cfg,
        plan_files=build.files("modify", "delete"),
        require_clean=not state.allow_dirty,
        budget_left_usd=left,
        estimated_usd=estimate,
    )
    results.append(creates_check(cfg.root, build.files("create")))
    results.append(checks.file_coverage(cfg, build.files("create", "modify")))
    results.append(markers_check({"02-plan.md": plan_text, "05-build-plan.json": build_plan_text}))
    results.append(sandbox_check(cfg, runner))
    results.append(private_check(state.private))
    return results


def sandbox_check(
    cfg: Config, runner: Callable[[], sandbox.Runner] | None = None
) -> checks.CheckResult:
    """Which sandbox the build steps' commands will run in; failed when there is none and
    the user has not opted out (the build steps refuse to start)."""
    try:
        made = runner() if runner is not None else sandbox.runner(cfg, required=True)
    except sandbox.SandboxUnavailable as exc:
        return checks.CheckResult(
            "sandbox", False, exc.message, fix="install bubblewrap, or pass --unsandboxed"
        )
    if not made.sandboxed:
        return checks.CheckResult("sandbox", True, f"OFF: {made.describe()}")
    return checks.CheckResult("sandbox", True, made.describe())


def private_check(private: list[str]) -> checks.CheckResult:
    """The untracked files present when the run started: listed, never seen or committed."""
    if not private:
        return checks.CheckResult("private files", True, "no untracked files to keep private")
    shown = ", ".join(private[:20]) + (
        f" and {len(private) - 20} more" if len(private) > 20 else ""
    )
    return checks.CheckResult(
        "private files",
        True,
        f"not seen and not committed: {shown}",
        [
            checks.Detail("untracked before the run: never sent to a model, never staged", p)
            for p in private[:MAX_DETAILS]
        ],
    )


def branch_check(root: Path, branch: str) -> checks.CheckResult:
    current = repository.current_branch(root)
    if current == branch:
        return checks.CheckResult("branch", True, f"on {branch}")
    return checks.CheckResult(
        "branch",
        False,
        f"on {current or 'a detached HEAD'}, not the feature branch {branch}",
        fix=f"git checkout {branch}",
    )


def creates_check(root: Path, created: list[str]) -> checks.CheckResult:
    """Files the build plan creates must land inside the repository, not in .git/.devloop."""
    top = root.resolve()
    outside = []
    for rel in created:
        target = (top / rel).resolve()
        inside = target == top or top in target.parents
        parts = Path(rel).parts
        if Path(rel).is_absolute() or not inside or ".git" in parts or ".devloop" in parts:
            outside.append(rel)
    if outside:
        return checks.CheckResult(
            "new files",
            False,
            f"{len(outside)} file(s) to create are outside the repository or in .git/.devloop",
            [checks.Detail("outside the repository", f) for f in outside],
        )
    return checks.CheckResult("new files", True, f"{len(created)} to create, all inside")


def markers_check(texts: dict[str, str]) -> checks.CheckResult:
    """No TODO or NEEDS CLARIFICATION left: open questions are decided before the build."""
    details = []
    for name, text in texts.items():
        for number, line in enumerate(text.splitlines(), 1):
            if MARKERS.search(line):
                details.append(checks.Detail(line.strip()[:160], name, number))
    if details:
        return checks.CheckResult(
            "open markers",
            False,
            f"{len(details)} TODO / NEEDS CLARIFICATION marker(s) left in the plans",
            details,
            fix="decide each one in the plan, then resume",
        )
    return checks.CheckResult("open markers", True, "no TODO or NEEDS CLARIFICATION left")


def remaining_estimate(
    cfg: Config,
    state: FeatureState,
    build: BuildPlan,
    plan_text: str,
    prefix_tokens: int,
    *,
    route: RouteFn | None = None,
) -> Decimal:
    """The expected cost of the model steps from the build on that have not finished,
    leaving out the steps that run only when needed (remediation, triage); projection.py."""
    cache, base_cache = projection.CacheModel(), projection.CacheModel()
    tasks_text = tokens.estimate(build.markdown())
    known = {
        TASKS: tasks_text,
        TASK: tasks_text // max(len(build.tasks), 1),
        STEPS.first_of_kind(TASK_LIST).key: tasks_text,
        CONTRACT: tokens.estimate(section(plan_text, CONTRACT_HEADING) or ""),
    }
    first_build = STEPS.phase_end(STEPS[0].phase).number
    out = Decimal(0)
    for step in STEPS:
        if step.number <= first_build or not step.calls_model:
            continue
        if state.step(step.key).finished or step.projection.conditional:
            continue
        chosen = route(step) if route is not None else routing.rule_route(step, cfg)
        item = projection.StepProjection(
            step.key, step.number, chosen.worker, chosen.tier, chosen.model,
            input_tokens=projection.input_tokens(step, known), prefix_tokens=prefix_tokens,
        )  # fmt: skip
        projection.project(
            item,
            frontier_model=cfg.models.frontier,
            cache=cache,
            baseline_cache=base_cache,
            tasks=len(build.tasks),
        )
        out += item.cost_usd or Decimal(0)
    return out
