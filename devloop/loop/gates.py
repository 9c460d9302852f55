"""Gates and revisions: where a failed verdict sends the run, and how far back.

A gate is the set of verdict steps whose row names a `gate` target (steps.py). Before they
run, the target's output is checked by its `precheck` (a plan without an Integration
Contract, a build plan without tasks: nothing to validate). Their findings, or the
precheck's, go back to the target as a revision: the target and everything up to the last
verdict step are archived under history/ and run again, at most [loop] max_revisions
rounds, then the run stops with exit 1 and the open findings.
"""

from __future__ import annotations

from pathlib import Path

from devloop import state as state_mod
from devloop.errors import UsageError
from devloop.loop import prompts
from devloop.loop.events import StepFailed
from devloop.loop.feature_run import FeatureRun
from devloop.loop.prompts import CONTRACT_HEADING
from devloop.schemas import SEVERITIES, Finding, findings_of
from devloop.state import FeatureState, StepState
from devloop.steps import HAS_CONTRACT, HAS_TASKS, STEPS, Step

BLOCKING = "high"  # a verdict step fails when it says so, or has a finding this severe
DECLINED_HEADING = "Declined findings"  # where a revised plan says which findings it rejects


def precheck(run: FeatureRun, target: Step) -> list[Finding]:
    """Findings on the target's output that make validating it pointless."""
    if target.precheck == HAS_CONTRACT:
        if prompts.section(run.plan_text(), CONTRACT_HEADING) is not None:
            return []
        problem = (
            f"the plan has no '{CONTRACT_HEADING}' section, so the audit cannot check the "
            "diff against it"
        )
        fix = f"add '## {CONTRACT_HEADING}' with Interfaces, Files and Invariants"
        return [Finding("critical", target.title.lower(), problem, fix, source=target.key)]
    if target.precheck == HAS_TASKS:
        if run.build_plan().tasks:
            return []
        problem, fix = "the build plan has no tasks", "list the tasks that implement the plan"
        return [Finding("critical", target.title.lower(), problem, fix, source=target.key)]
    return []


def verdict_failed(data: dict, found: list[Finding]) -> bool:
    """A verdict fails when it says so, has a blocking finding, or marks an item missing:
    the model cannot pass what its own coverage table says is not there."""
    missing = any(row.get("status") == "missing" for row in data.get("coverage") or [])
    return data["verdict"] == "fail" or missing or any(f.at_least(BLOCKING) for f in found)


def gate_findings(run: FeatureRun, verdicts: list[Step]) -> list[Finding]:
    """The findings of the failing verdict steps among `verdicts` (none: the gate passed)."""
    out: list[Finding] = []
    for step in verdicts:
        if run.state.step(step.key).result.get("verdict") == "fail":
            out += failed_verdict_findings(run.read_json(step), step)
    return sorted(out, key=lambda f: SEVERITIES.index(f.severity))


def failed_verdict_findings(data: dict, step: Step) -> list[Finding]:
    """What a failed verdict sends back: its findings, an item its coverage marks missing
    (critical), and when it names nothing, that it failed without saying why."""
    found = findings_of(data, step.key)
    for row in data.get("coverage") or []:
        if row.get("status") == "missing":
            problem = f"not covered: {row.get('item', '?')}"
            fix = "cover it, or decline this finding with the reason"
            found.append(Finding("critical", str(row.get("where") or "-"), problem, fix, step.key))
    if not found:
        problem = "the verdict is fail but names no finding"
        found.append(Finding("high", step.title.lower(), problem, "-", source=step.key))
    return found


def revision_block(run: FeatureRun, step: Step) -> str:
    """What a revised step sees of its previous version and the findings against it."""
    revision = run.state.revision.get(step.key)
    if not revision:
        return ""
    previous = run.path(revision["previous"]).read_text(encoding="utf-8")
    findings = [Finding.from_dict(f) for f in revision["findings"]]
    return run.render(
        prompts.REVISION_TEMPLATE,
        {
            "round": str(revision["round"]),
            "previous": previous.strip(),
            "findings": "\n".join(f"- {f.line()}" for f in findings),
        },
    )


def earlier_findings(run: FeatureRun, step: Step) -> str:
    """For a verdict step in a revision round: what the gate found before, and what the
    reviser declined and why, so the validator confirms those instead of starting over."""
    target = STEPS.get(step.gate or "")
    revision = run.state.revision.get(target.key) if target else None
    if not revision:
        return ""
    earlier = [Finding.from_dict(f) for f in revision["findings"]]
    lines = "\n".join(f"- ({f.source}) {f.line()}" for f in earlier)
    section = _declines(run, target)
    declined = f"\n\nThe author declined some of them, with reasons:\n{section}" if section else ""
    return (
        f"This is revision round {revision['round']} of the {target.title.lower()}. The previous "
        f"version drew these findings:\n{lines}{declined}\n\nFor each, confirm it is resolved "
        "or report it again (a decline you accept is resolved). Report a new finding only at "
        "critical or high severity."
    )


def _declines(run: FeatureRun, target: Step) -> str:
    """What the revised artifact declines, one line each: a plan's `## Declined findings`
    section, a build plan's `declined` list."""
    if target.artifact == "md":
        return prompts.section(run.read(run.artifact(target)), DECLINED_HEADING)
    return "\n".join(f"- {d.finding}: {d.reason}" for d in run.build_plan().declined)


def revise(run: FeatureRun, target: Step, findings: list[Finding]) -> None:
    """Send `findings` back to `target`, or stop when its rounds are used up."""
    group = STEPS.revision_group(target.key)
    used = run.state.rounds.get(target.key, 0)
    limit = run.cfg.loop.max_revisions
    if used >= limit:
        shown = "\n".join(f"  - ({f.source}) {f.line()}" for f in findings)
        raise StepFailed(
            f"the {target.key} still fails validation after {used} revision(s) "
            f"([loop] max_revisions = {limit}). Open findings:\n{shown}\n"
            f"Edit {run.path(run.artifact(target))} and run "
            f"`devloop resume {run.slug} --from {group[1].key}`, or raise [loop] "
            f"max_revisions and `devloop resume {run.slug} --from {target.key}`."
        )
    label = f"r{used + 1}"
    with run.lock:
        moved: list[Path] = []
        for step in group:
            archived = archive_step(run.dir, step, label)
            if step == target:
                moved = archived
            old = run.state.step(step.key)
            run.state.steps[step.key] = StepState(runs=old.runs)
        # The readable form (Markdown) is the better "previous version" to show.
        moved.sort(key=lambda path: (path.suffix != ".md", path.suffix != ".json"))
        previous = moved[0].relative_to(run.dir).as_posix() if moved else None
        run.state.rounds[target.key] = used + 1
        run.state.revision[target.key] = {
            "round": used + 1,
            "previous": previous,
            "findings": [f.to_dict() for f in findings],
        }
        run.save()
    run.note(
        f"revision {used + 1} of {limit}: {len(findings)} finding(s) go back to step "
        f"{target.number} ({target.key}).",
        key=target.key,
    )


def archive_step(directory: Path, step: Step, label: str) -> list[Path]:
    """Move a step's artifacts to history/, labelled; the paths they moved to."""
    moved = []
    for path in sorted(directory.glob(f"{step.number:02d}-{step.key}.*")):
        target = state_mod.archive(directory, path.name, label)
        if target is not None:
            moved.append(target)
    return moved


def reset_from(state: FeatureState, directory: Path, number: int) -> None:
    """Mark step `number` and every later step unfinished (their artifacts go to history/),
    so they run again; the revision rounds of the gates being re-run start over."""
    first = state.first_unfinished()
    if first is not None and number > first.number:
        raise UsageError(
            f"--from {number}: step {first.number} ({first.key}) has not finished yet, so "
            f"there is nothing to re-run after it. Resume without --from to continue."
        )
    for step in STEPS:
        if step.number < number:
            continue
        old = state.step(step.key)
        archive_step(directory, step, f"run{old.runs}")
        state.steps[step.key] = StepState(runs=old.runs)
    for target in STEPS.gate_targets():
        if number <= STEPS.revision_group(target.key)[-1].number:
            state.rounds.pop(target.key, None)
            state.revision.pop(target.key, None)
    state.status = "running"
