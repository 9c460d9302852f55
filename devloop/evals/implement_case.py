"""An implement canary: a small repository, one task, and tests the agent never sees.

The case's files become a fresh git repository under .devloop/evals/work/; the build agent
does the task there on the tier under test (no escalation: the tier is what is measured),
in the sandbox, with the checks of a real run (the task's own tests). Then the hidden tests
are written in and run in the same sandbox. The case passes only when they pass: work that
satisfies just the tests it was shown, or that stops short, fails. A passing case's
repository is removed; a failing one is kept for the person to read.
"""

from __future__ import annotations

import dataclasses
import shlex
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

from devloop import sandbox
from devloop.agent import builder
from devloop.agent.contract import StepContext
from devloop.config import CommandsConfig, Config
from devloop.evals.cases import Case
from devloop.evals.judge import Judgement
from devloop.git import repository
from devloop.ledger import Ledger, RunCallStats
from devloop.loop import prompts
from devloop.model import Door
from devloop.schemas import BuildPlan, Task
from devloop.state import evals_dir

COMMITTER = ("-c", "user.name=devloop eval", "-c", "user.email=eval@devloop.invalid")


@dataclasses.dataclass(frozen=True)
class ImplementResult:
    judgement: Judgement
    stats: RunCallStats | None  # the calls the agent made, aggregated
    last_call: int | None


def python_command(text: str) -> str:
    """A case's command with `{python}` as the interpreter running devloop."""
    return text.replace("{python}", shlex.quote(sys.executable))


def run_implement(
    cfg: Config,
    case: Case,
    tier: str,
    door: Door,
    ledger: Ledger,
    slug: str,
    context: tuple[str, list[str]],
    attempt: int,
    note: Callable[[str], None],
) -> ImplementResult:
    """The case's task on `tier`, then its hidden tests. `context`: system text and the
    cached context (map, spec) the agent's calls carry."""
    work = evals_dir(cfg.root) / "work" / slug / f"{case.id}-{tier}-{attempt}"
    repo = work / "repo"
    _make_repository(repo, case.files)
    test = python_command(case.judge["command"])
    case_cfg = dataclasses.replace(
        cfg,
        root=repo,
        source=None,
        commands=CommandsConfig(test=python_command(case.test_command), timeout_s=120.0),
        agent=dataclasses.replace(cfg.agent, escalate=False, docs_files=[]),
    )
    runner = sandbox.runner(case_cfg, required=True)
    task = Task.from_dict(case.task)
    system, cached = context
    run_id = ledger.start_step_run(
        slug, case.step.number, case.step.key, worker=case.step.worker, tier=tier,
        model=cfg.models.for_tier(tier), sandbox=runner.label,
    )  # fmt: skip
    ctx = StepContext(
        cfg=case_cfg,
        door=door,
        root=repo,
        slug=slug,
        step=case.step,
        tier=tier,
        model=cfg.models.for_tier(tier),
        system=system,
        context=list(cached),
        step_run_id=run_id,
        artifacts_dir=work,
        scratch=work / "scratch",
        plan="",
        contract=case.inputs.get("contract", ""),
        build_plan=BuildPlan(task.title, (task,)),
        max_tokens=cfg.loop.max_tokens.get(case.step.key, case.step.max_tokens),
        note=note,
        render_template=lambda name, values: prompts.render_template(cfg.root, name, values),
        runner=runner,
        check_runner=runner,
    )
    done = builder.create(case_cfg).implement(ctx, [task])
    for path, text in case.judge["hidden_tests"].items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    hidden = runner.run(test, repo, case_cfg.commands.timeout_s)
    passed = hidden.returncode == 0 and not hidden.timed_out
    ledger.finish_step_run(run_id, "ok" if passed else "failed", {"summary": done.summary})
    if passed:
        shutil.rmtree(work, ignore_errors=True)
        judgement = Judgement(True)
    elif not done.ok:
        judgement = Judgement(
            False, f"the task did not pass its own checks ({_first(done.summary)})"
        )
    else:
        last = [line for line in hidden.output.splitlines() if line.strip()][-1:] or ["no output"]
        judgement = Judgement(False, f"the hidden tests failed ({last[0].strip()})")
    if not passed:
        note(f"eval case {case.id} on {tier}: the repository is kept in {work}")
    calls = done.details.get("tasks", [{}])[0].get("calls") or []
    stats = ledger.run_call_stats(run_id=run_id).get(run_id)
    return ImplementResult(judgement, stats, calls[-1] if calls else None)


def _make_repository(repo: Path, files: dict[str, str]) -> None:
    if repo.exists():
        shutil.rmtree(repo)
    repo.mkdir(parents=True)
    for path, text in files.items():
        target = repo / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    repository.git(["init", "-q"], repo)
    repository.git(["add", "-A"], repo)
    repository.git([*COMMITTER, "commit", "-q", "-m", "eval case"], repo)  # not a step: git commit


def _first(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "no summary"
