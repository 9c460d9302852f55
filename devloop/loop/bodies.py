"""The step bodies: one function per `kind` in the step table, over a run's context.

A body gets the run, its step row and the ledger's step run id, and returns what it made
(feature_run.Produced); it raises StepFailed when the step did not succeed. Template values
come from the row's inputs (inputs.py), the answer's structure from its schema, the model
from its route. The docs-and-commit body is commit.py's.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from devloop import checks, schemas, tokens
from devloop.agent.contract import StepContext, StepOutcome
from devloop.loop import commit, gates, inputs, preflight
from devloop.loop.events import StepFailed
from devloop.loop.feature_run import FeatureRun, Produced, to_json
from devloop.schemas import COVERAGE_STATUSES, SEVERITIES, BuildPlan, findings_of
from devloop.state import SKIPPED
from devloop.steps import (
    AGENT_FINDINGS,
    AGENT_SUITE,
    AGENT_TASKS,
    DOCS_COMMIT,
    EXPLORE,
    FINDINGS,
    HAS_CONTRACT,
    NOTES,
    PRE_CHECKS,
    SMOKE_GATE,
    STEPS,
    SUITE,
    TASK_LIST,
    TEST_OUTPUT,
    VERDICT,
    Step,
)


def schema_of(step: Step) -> dict[str, Any] | None:
    """The JSON schema a step's answer must follow (schemas.py), named in its row."""
    return schemas.BY_NAME[step.schema] if step.schema else None


# ------------------------------------------------------------ model steps


def notes(run: FeatureRun, step: Step, run_id: int) -> Produced:
    reply = run.call(step, run_id, inputs.values(run, step))
    return Produced(run.artifact(step), reply.text, {"call": reply.call_id})


def verdict(run: FeatureRun, step: Step, run_id: int) -> Produced:
    reply = run.call(step, run_id, inputs.values(run, step), schema=schema_of(step))
    found = findings_of(reply.data, step.key)
    rows = reply.data.get("coverage") or []
    result = {
        "verdict": "fail" if gates.verdict_failed(reply.data, found) else "pass",
        "coverage": {s: sum(1 for r in rows if r.get("status") == s) for s in COVERAGE_STATUSES},
        "findings": len(found),
        "blocking": sum(1 for f in found if f.at_least(gates.BLOCKING)),
        "call": reply.call_id,
    }
    return Produced(run.artifact(step), to_json(reply.data), result)


def task_list(run: FeatureRun, step: Step, run_id: int) -> Produced:
    reply = run.call(step, run_id, inputs.values(run, step), schema=schema_of(step))
    plan = BuildPlan.from_dict(reply.data)
    return Produced(
        run.artifact(step),
        to_json(reply.data),
        {"tasks": len(plan.tasks), "call": reply.call_id},
        extra={run.artifact(step, "md"): plan.markdown()},
    )


def findings(run: FeatureRun, step: Step, run_id: int) -> Produced:
    reply = run.call(step, run_id, inputs.values(run, step), schema=schema_of(step))
    found = findings_of(reply.data, step.key)
    counts = {s: sum(1 for f in found if f.severity == s) for s in SEVERITIES}
    result = {"findings": len(found), **counts, "call": reply.call_id}
    return Produced(run.artifact(step), to_json(reply.data), result)


def explore(run: FeatureRun, step: Step, run_id: int) -> Produced:
    """Notes written after looking at the code: read-only `view` and `search`, at most
    [loop] research_turns model turns, no command run."""
    import dataclasses

    from devloop.agent.conversation import Work, run_work, text_block
    from devloop.agent.tools import inspect

    turns = run.cfg.loop.research_turns
    ctx = agent_context(run, step, run_id, planned=False)
    tools = inspect.Inspector(run.root, run.cfg, sorted(run.files.private))
    rules = (
        f"How to work: view files with {inspect.EDITOR} (the view command only: nothing can be "
        f"changed in this step) and find code with `{inspect.SEARCH}` (a regular expression "
        f"over the tracked files). You have at most {turns} model turns: look up what the "
        "notes need, then reply with the notes, without a tool call. Nobody will answer a "
        "question: decide, and say what you assumed."
    )
    prompt = run.render(step.template, inputs.values(run, step))

    def opening() -> list[dict[str, Any]]:
        return [text_block(prompt), text_block(rules)]

    work = Work(
        label=step.key,
        opening=opening,
        escalation=lambda failures: opening(),  # not used: no escalation here
        check=lambda: None,
        tools=inspect.definitions(run.cfg),
        run_tool=tools.run,
        last_turn=(
            f"This is the last of your {turns} turns ([loop] research_turns): write the "
            "research notes now, from what you have seen, in the sections asked for. State "
            "what you could not check as an assumption."
        ),
    )
    limits = dataclasses.replace(
        run.cfg.agent, attempts=1, escalate=False, max_turns=turns, max_tool_calls=turns * 4
    )
    result = run_work(ctx, work, limits)
    if not result.ok:
        raise StepFailed(
            f"{step.title.lower()} did not finish its notes within [loop] research_turns = "
            f"{turns}: {result.failure.splitlines()[0]} Raise it and `devloop resume {run.slug}`."
        )
    return Produced(run.artifact(step), result.summary + "\n", {"calls": result.calls})


# ------------------------------------------------------------ scripts


def pre_checks(run: FeatureRun, step: Step, run_id: int) -> Produced:
    plan_step = STEPS.first_of_kind(TASK_LIST)
    results = preflight.run_checks(
        run.cfg,
        run.state,
        plan_text=run.plan_text(),
        build_plan_text=run.read(run.artifact(plan_step, "json")),
        spent_usd=run.ledger.committed_usd(run.slug),
        prefix_tokens=tokens.estimate(run.system) + sum(tokens.estimate(c) for c in run.context),
        route=run.route,
        runner=run.sandbox,
    )
    report = to_json([asdict(r) for r in results])
    failed = [r for r in results if not r.passed]
    if failed:
        _keep(run, step, run.artifact(step), report)
        lines = []
        for r in failed:
            lines.append(f"  - {r.name}: {r.summary}")
            lines += [f"      {d.file + ': ' if d.file else ''}{d.message}" for d in r.details[:10]]
        plan = run.path(run.artifact(STEPS.with_precheck(HAS_CONTRACT), "md"))
        build = run.path(run.artifact(plan_step, "json"))
        raise StepFailed(
            "pre-flight failed; no build step was started:\n" + "\n".join(lines) + "\n"
            f"Fix these (the plan is {plan}, the build plan {build}), then "
            f"`devloop resume {run.slug}`."
        )
    return Produced(run.artifact(step), report, {"checks": len(results)})


def suite(run: FeatureRun, step: Step, run_id: int) -> Produced:
    """The full test suite; a model triages a failure for the fix that follows."""
    result = checks.run_tests(run.cfg, runner=run.check_runner())
    data: dict[str, Any] = {"check": asdict(result)}
    if result.passed:
        summary = result.summary if not result.skipped else f"skipped: {result.summary}"
        return Produced(run.artifact(step), to_json(data), {"passed": True, "summary": summary})
    output = inputs.bounded(inputs.check_text(result), inputs.MAX_OUTPUT_TOKENS, "test output")
    reply = run.call(step, run_id, inputs.values(run, step, {TEST_OUTPUT: output}))
    triage = run.artifact(step, "md")
    data["triage"] = triage
    return Produced(
        run.artifact(step),
        to_json(data),
        {"passed": False, "summary": result.summary, "call": reply.call_id},
        extra={triage: reply.text},
    )


def smoke_gate(run: FeatureRun, step: Step, run_id: int) -> Produced:
    results = checks.run_smoke(run.cfg, runner=run.check_runner())
    report = to_json([asdict(r) for r in results])
    failed = [r for r in results if not r.passed]
    if failed:
        _keep(run, step, run.artifact(step), report)
        sha = run.state.step(STEPS.first_of_kind(DOCS_COMMIT).key).result.get("sha", "")
        raise StepFailed(
            f"the smoke gate failed after the commit ({sha[:12]} on {run.state.branch}):\n"
            + "\n".join(inputs.check_text(r) for r in failed)
        )
    ran = [r.name for r in results if not r.skipped]
    summary = f"passed: {', '.join(ran)}" if ran else "nothing configured to run"
    return Produced(run.artifact(step), report, {"summary": summary})


# ------------------------------------------------------------ the build agent's steps


def agent_context(run: FeatureRun, step: Step, run_id: int, *, planned: bool = True) -> StepContext:
    """The agent's context for `step`; `planned`: the plans exist and commands run (the
    build), else neither (research looks before anything is planned, and runs nothing)."""
    route = run.route(step)
    scratch = run.dir / "work" / step.key
    scratch.mkdir(parents=True, exist_ok=True)
    return StepContext(
        cfg=run.cfg,
        door=run.door,
        root=run.root,
        slug=run.slug,
        step=step,
        tier=route.tier,
        model=route.model,
        system=run.system,
        context=list(run.context),
        step_run_id=run_id,
        artifacts_dir=run.dir,
        scratch=scratch,
        plan=run.plan_text() if planned else "",
        contract=run.contract() if planned else "",
        build_plan=run.build_plan() if planned else BuildPlan("", ()),
        max_tokens=run.max_tokens(step),
        note=lambda message: run.note(message, key=step.key),
        render_template=run.render,
        runner=run.sandbox() if planned else None,
        check_runner=run.check_runner() if planned else None,
        files=run.files,
    )


def outcome(run: FeatureRun, step: Step, done: StepOutcome, **extra: Any) -> Produced:
    """The agent's outcome as the step's artifact; StepFailed when it did not succeed."""
    name = run.artifact(step)
    content = to_json({**asdict(done), **extra})
    if not done.ok:
        _keep(run, step, name, content)
        raise StepFailed(f"step {step.number} ({step.key}) did not succeed: {done.summary}")
    result = {"summary": done.summary, "files": len(done.files_changed)}
    return Produced(name, content, result)


def agent_tasks(run: FeatureRun, step: Step, run_id: int) -> Produced:
    ctx = agent_context(run, step, run_id)
    produced = outcome(run, step, run.agent().implement(ctx, list(ctx.build_plan.tasks)))
    produced.extra[run.artifact(step, "diff")] = inputs.diff(run)
    return produced


def agent_findings(run: FeatureRun, step: Step, run_id: int) -> Produced:
    threshold = run.cfg.loop.remediate_severity
    found = []
    for source in STEPS.of_kind(FINDINGS):
        found += findings_of(run.read_json(source), source.key)
    todo = sorted(
        (f for f in found if f.at_least(threshold)), key=lambda f: SEVERITIES.index(f.severity)
    )
    if not todo:
        summary = f"no review or audit finding at or above '{threshold}'; nothing to fix"
        return Produced(None, None, {"summary": summary, "findings": 0}, status=SKIPPED)
    ctx = agent_context(run, step, run_id)
    done = run.agent().remediate(ctx, todo)
    return outcome(run, step, done, findings=[f.to_dict() for f in todo])


def agent_suite(run: FeatureRun, step: Step, run_id: int) -> Produced:
    """Fix a failing suite (the suite step's output and triage), then run it again."""
    suite_step = STEPS.first_of_kind(SUITE)
    if run.state.step(suite_step.key).result.get("passed", True):
        summary = f"the full test suite passed in step {suite_step.number}; nothing to fix"
        return Produced(None, None, {"summary": summary}, status=SKIPPED)
    check = run.read_json(suite_step)["check"]
    output = inputs.bounded(inputs.check_text(check), inputs.MAX_OUTPUT_TOKENS, "output")
    touched = inputs.changed_files(inputs.diff(run))
    failure = "\n\n".join(
        [
            f"Command: `{run.cfg.commands.test}`",
            "Output:\n" + output,
            "Triage:\n" + run.read(run.artifact(suite_step, "md")).strip(),
            "Files this change touched (against the base commit):\n"
            + ("\n".join(f"- {p}" for p in touched) or "- (none)"),
        ]
    )
    ctx = agent_context(run, step, run_id)
    done = run.agent().final_remediate(ctx, failure)
    again = checks.run_tests(run.cfg, runner=run.check_runner())
    produced = outcome(run, step, done, suite=asdict(again))
    if not again.passed:
        _keep(run, step, produced.artifact or "", produced.content or "")
        raise StepFailed(
            f"the full test suite still fails after {step.title.lower()}: {again.summary}\n"
            + inputs.check_text(again)
            + f"\nFix it by hand, then `devloop resume {run.slug} --from {step.key}`."
        )
    return produced


def _keep(run: FeatureRun, step: Step, name: str, content: str) -> None:
    """Write a failed step's artifact, for the person fixing it."""
    run.write(name, content)
    run.state.step(step.key).artifact = name


BODIES = {
    NOTES: notes,
    EXPLORE: explore,
    VERDICT: verdict,
    TASK_LIST: task_list,
    PRE_CHECKS: pre_checks,
    AGENT_TASKS: agent_tasks,
    FINDINGS: findings,
    AGENT_FINDINGS: agent_findings,
    SUITE: suite,
    AGENT_SUITE: agent_suite,
    DOCS_COMMIT: commit.docs_commit,
    SMOKE_GATE: smoke_gate,
}


def run_step(run: FeatureRun, step: Step, run_id: int) -> Produced:
    """The body of `step`, by its kind."""
    return BODIES[step.kind](run, step, run_id)
