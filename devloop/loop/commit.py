"""Docs and commit: the build agent updates the docs, then a script makes the commit.

The message is built without a model: a Conventional Commit header from the spec, the tasks
done, and the Devloop-Feature / Devloop-Cost / Devloop-Frontier-Baseline trailers. What is
committed: tracked files the run changed and the new files that are its work, never private
files, by-products or a nested repository (git/runfiles.py); with --allow-dirty, only the
files the build steps say they touched. The user's hooks run, so they must be the user's.
"""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal

from devloop.git import repository, runfiles
from devloop.loop import inputs
from devloop.loop.events import StepFailed
from devloop.loop.feature_run import FeatureRun, Produced, to_json
from devloop.money import usd
from devloop.sandbox import IN_RUN_VARIABLE
from devloop.schemas import BuildPlan
from devloop.state import FeatureState
from devloop.steps import AGENT_KINDS, STEPS, Step

FEATURE_TRAILER = "Devloop-Feature"


def docs_commit(run: FeatureRun, step: Step, run_id: int) -> Produced:
    from devloop.loop.bodies import agent_context, outcome
    from devloop.reports import cost_report

    st = run.state.step(step.key)
    docs = st.result.get("docs")
    build = run.build_plan()
    if docs is None:  # the model half; kept in state so a failed commit does not redo it
        ctx = agent_context(run, step, run_id)
        changed = selection(run).paths
        done = run.agent().write_docs(ctx, commit_body(build, changed))
        if not done.ok:
            outcome(run, step, done)
        docs = asdict(done)
        with run.lock:
            st.result = {**st.result, "docs": docs}
            run.save()
    chosen = selection(run)
    totals = cost_report.build(run.ledger, run.slug).total
    message = commit_message(
        run.state,
        build,
        chosen.paths,
        cost=totals.cost_usd,
        baseline=totals.baseline_usd,
        header_max=run.cfg.git.header_max_length,
    )
    if chosen.left_out:
        shown = "; ".join(f"{why}: {', '.join(paths)}" for why, paths in chosen.left_out.items())
        run.note(f"not committed ({shown})", key=step.key)
    done = repository.commit(
        run.root,
        message,
        paths=chosen.paths,
        timeout_s=run.cfg.commands.timeout_s,
        hook_env={IN_RUN_VARIABLE: "1"},  # the hooks' checks of the model's code: sandboxed
    )
    name = run.artifact(step)
    data = {"message": message, "docs": docs, "output": done.output}
    data["left_out"] = chosen.left_out
    if done.nothing_to_commit:
        head = repository.head_commit(run.root)
        landed = repository.commit_message(run.root)
        if head and head != run.state.base_commit and f"{FEATURE_TRAILER}: {run.slug}" in landed:
            data.update(sha=head, recovered=True)  # committed before a crash
            return Produced(name, to_json(data), {"sha": head, "docs": docs})
        raise StepFailed("there is nothing to commit: the change left no files modified.")
    if not done.ok:
        run.write(name, to_json(data))
        raise StepFailed(
            "git refused the commit (a hook failed?). Its output:\n"
            f"{done.output}\nThe changes are staged. Fix the problem, then "
            f"`devloop resume {run.slug}`."
        )
    data["sha"] = done.sha
    return Produced(name, to_json(data), {"sha": done.sha, "docs": docs})


def selection(run: FeatureRun) -> runfiles.Selection:
    """What the commit takes (see the module's docstring)."""
    top = repository.find_repo(run.root).toplevel.resolve()
    tracked: set[str] = set()
    candidates: list[str] = []
    for name, is_tracked in repository.changes(run.root, exclude=inputs.EXCLUDE):
        try:
            rel = (top / name).relative_to(run.root.resolve()).as_posix()
        except ValueError:
            continue
        rel += "/" if name.endswith("/") else ""
        candidates.append(rel)
        if is_tracked:
            tracked.add(rel)
    if run.state.allow_dirty:
        touched = set(_run_paths(run))
        candidates = [p for p in candidates if p in touched]
    try:
        chosen = run.files.select(candidates, tracked)
    except runfiles.NestedRepository as exc:
        listed = ", ".join(exc.paths)
        raise StepFailed(
            f"the run created a git repository inside this one ({listed}). devloop never "
            "commits a nested repository or gitlink, and never runs git inside one: its "
            "configuration can run commands. Look at it, remove it (`rm -rf "
            f"{exc.paths[0]}`), then `devloop resume {run.slug}`."
        ) from None
    _refuse_changed_hooks(run, chosen.paths)
    return chosen


def _refuse_changed_hooks(run: FeatureRun, paths: list[str]) -> None:
    """The commit runs the user's hooks, so they must be the user's: when core.hooksPath
    points into the working tree, the run must not have changed anything there."""
    hooks = repository.find_repo(run.root).hooks_dir.resolve()
    try:
        where = hooks.relative_to(run.root.resolve()).as_posix()
    except ValueError:
        return  # .git/hooks or outside the repository: read-only to the sandbox
    touched = [p for p in paths if p == where or p.startswith(where.rstrip("/") + "/")]
    if touched:
        raise StepFailed(
            f"the run changed files in your hooks directory ({where}, core.hooksPath): "
            f"{', '.join(touched)}. devloop will not run hooks the model wrote. Review "
            f"them and restore or commit them yourself, then `devloop resume {run.slug}`."
        )


def _run_paths(run: FeatureRun) -> list[str]:
    """The files the build agent's steps say they touched."""
    paths: dict[str, None] = {}
    for step in STEPS.of_kind(*AGENT_KINDS):
        for path in run.read_json(step).get("files_changed", []):
            paths.setdefault(path, None)
        for path in (run.state.step(step.key).result.get("docs") or {}).get("files_changed", []):
            paths.setdefault(path, None)
    return list(paths)


def commit_body(build: BuildPlan, changed: list[str]) -> str:
    lines = ["Tasks done:"]
    lines += [f"- {t.id}: {t.title}" for t in build.tasks]
    if changed:
        lines += ["", "Files changed:"] + [f"- {p}" for p in changed]
    return "\n".join(lines)


def commit_message(
    state: FeatureState,
    build: BuildPlan,
    changed: list[str],
    *,
    cost: Decimal | None,
    baseline: Decimal | None,
    header_max: int,
) -> str:
    """A Conventional Commit built without a model: `type(scope): title`, the tasks, and
    the Devloop-Feature / Devloop-Cost / Devloop-Frontier-Baseline trailers."""
    prefix = f"{state.type}({state.scope}): " if state.scope else f"{state.type}: "
    title = state.title.rstrip(". ")
    if len(prefix) + len(title) > header_max:
        room = max(header_max - len(prefix) - 3, 10)
        title = title[:room].rsplit(" ", 1)[0].rstrip(",;:") + "..."
    body = "Tasks done:\n" + "\n".join(f"- {t.id}: {t.title}" for t in build.tasks)
    trailers = [
        f"{FEATURE_TRAILER}: {state.slug}",
        f"Devloop-Cost: {_money(cost)}",
        f"Devloop-Frontier-Baseline: {_money(baseline)}",
    ]
    return f"{prefix}{title}\n\n{body}\n\n" + "\n".join(trailers) + "\n"


def _money(value: Decimal | None) -> str:
    return "unpriced" if value is None else usd(value, 2)
