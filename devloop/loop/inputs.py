"""The values a step's template is filled with, from the sources its table row names.

A source is an earlier step's key (its artifact: Markdown as written, a build plan as its
readable task list) or one of the sources in steps.py (the title, a gate's revision, the
Integration Contract, the diff, the tasks, the test command). Diffs and test output are cut
to a token bound, so one large change cannot blow up a prompt.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from devloop import checks, tokens
from devloop import state as state_mod
from devloop.config import Config
from devloop.git import repository
from devloop.loop import code_view, gates
from devloop.loop.events import StepFailed
from devloop.loop.feature_run import FeatureRun
from devloop.steps import (
    AGENT_TASKS,
    CODE,
    COMMAND,
    CONTRACT,
    DIFF,
    DOCS,
    EARLIER,
    FINDINGS,
    NOTES_OF,
    REVISION,
    STEPS,
    TASK_LIST,
    TASKS,
    TITLE,
    Step,
)

MAX_DIFF_TOKENS = 60_000  # the diff shown to review and audit
MAX_OUTPUT_TOKENS = 8_000  # test output shown to triage and final remediation
MAX_NOTES_TOKENS = 2_000  # the implementer's notes shown to review and audit
OUTPUT_TAIL_LINES = 200
EXCLUDE = (state_mod.DEVLOOP_DIR,)  # never mapped, diffed or committed


def values(run: FeatureRun, step: Step, given: dict[str, str] | None = None) -> dict[str, str]:
    """The template values of `step`: each placeholder filled from its source; `given`
    supplies sources only the step body knows (the test output it just produced)."""
    given = given or {}
    return {
        name: given[source] if source in given else source_text(run, step, source)
        for name, source in step.inputs
    }


def source_text(run: FeatureRun, step: Step, source: str) -> str:
    if source == TITLE:
        return run.state.title
    if source == REVISION:
        return gates.revision_block(run, step)
    if source == CONTRACT:
        return run.contract().strip()
    if source == DIFF:
        text = diff_text(run) if step.kind == FINDINGS else (diff(run) or "(no changes)\n")
        return bounded(text, MAX_DIFF_TOKENS, "diff")
    if source == NOTES_OF:
        return implementer_notes(run)
    if source == DOCS:
        return docs_owner(run.cfg)
    if source == CODE:
        return contract_code(
            run, with_changed=step.number > STEPS.first_of_kind(AGENT_TASKS).number
        )
    if source == EARLIER:
        return gates.earlier_findings(run, step)
    if source == TASKS:
        return run.build_plan().markdown().strip() + tampered_note(run)
    if source == COMMAND:
        return run.cfg.commands.test
    producer = STEPS.get(source)
    if producer is None:
        raise ValueError(f"step {step.key}: no value for source '{source}'")
    if producer.kind == TASK_LIST:
        return run.build_plan().markdown().strip()
    return run.read(run.artifact(producer, "md")).strip()


def diff(run: FeatureRun) -> str:
    """What the run changed: tracked files, and new files that are the work's (no private
    files, by-products or nested repositories; git/runfiles.py)."""
    return repository.worktree_diff(
        run.root,
        run.state.base_commit,
        exclude=EXCLUDE,
        hidden=lambda path: not run.files.shown(path, tracked=False),
    )


def changed_files(diff_text: str) -> list[str]:
    """The paths a unified diff touches, in order."""
    paths = []
    for line in diff_text.splitlines():
        if line.startswith("diff --git a/"):
            path = line.split(" b/", 1)[-1]
            if path not in paths:
                paths.append(path)
    return paths


def diff_text(run: FeatureRun) -> str:
    text = diff(run)
    if not text.strip():
        raise StepFailed(
            "the implementation left no changes to review: the working tree matches "
            f"{run.state.base_commit[:12]}."
        )
    return text


def implementer_notes(run: FeatureRun) -> str:
    """The build agent's final reply on each task: what it did, and any file it had to
    change beyond its task, and why (the implement template asks it to say so)."""
    data = run.read_json(STEPS.first_of_kind(AGENT_TASKS))
    tasks = [t for t in (data.get("details") or {}).get("tasks") or [] if isinstance(t, dict)]
    lines = [f"- {t.get('id', '?')}: {str(t.get('summary') or '').strip()}" for t in tasks]
    text = "\n".join(line for line in lines if not line.endswith(": "))
    return bounded(text or "(none recorded)", MAX_NOTES_TOKENS, "notes")


def docs_owner(cfg: Config) -> str:
    """Who writes the documentation files: one owner, so no other step plans, audits or
    edits them."""
    owner = next((s for s in STEPS if s.owns_docs), None)
    files = ", ".join(cfg.agent.docs_files)
    if owner is None or not files:
        return "No step writes documentation files in this run."
    return (
        f"Documentation ({files}) belongs to step {owner.number} ({owner.title.lower()}), "
        "which updates it after the code is reviewed. Leave those files out of the Integration "
        "Contract's Files, the tasks and the findings: them being unchanged here is expected."
    )


def contract_code(run: FeatureRun, *, with_changed: bool = False) -> str:
    """The files the Integration Contract names, as they are now (code_view.py); after the
    build (`with_changed`), also every other file it changed, so review and audit read each
    hunk in its whole file and can judge it against the code around it."""
    tracked = set(repository.tracked_files(run.root, exclude=EXCLUDE))

    def shown(rel: str) -> bool:
        return run.files.shown(rel, tracked=rel in tracked)

    paths = code_view.contract_paths(run.contract())
    if with_changed:
        paths += [p for p in changed_files(diff(run)) if p not in paths]
    return code_view.files_view(run.root, paths, run.cfg.loop.code_tokens, shown)


def tampered_note(run: FeatureRun) -> str:
    """Test files the implementation changed outside their task's declared files."""
    data = run.read_json(STEPS.first_of_kind(AGENT_TASKS))
    flags = (data.get("details") or {}).get("tampered_tests") or []
    if not flags:
        return ""
    lines = [f"- {f['path']} (task {f['task']})" for f in flags]
    return (
        "\n\nFLAGGED by devloop: these test files were changed by a task that did not "
        "declare them; check that no test was weakened to pass:\n" + "\n".join(lines)
    )


def bounded(text: str, max_tokens: int, what: str) -> str:
    if tokens.estimate(text) <= max_tokens:
        return text
    keep = max_tokens * tokens.BYTES_PER_TOKEN
    cut = text.encode("utf-8")[:keep].decode("utf-8", "ignore")
    return cut + f"\n... [{what} cut at ~{max_tokens:,} tokens]\n"


def check_text(result: checks.CheckResult | dict[str, Any]) -> str:
    """A check's result as a reader needs it: summary, details, the end of its output."""
    check = asdict(result) if isinstance(result, checks.CheckResult) else result
    lines = [f"{check['name']}: {check['summary']}"]
    for detail in check.get("details", []):
        where = ":".join(str(p) for p in (detail.get("file"), detail.get("line")) if p)
        lines.append(f"  {where + ': ' if where else ''}{detail['message']}")
    output = check.get("output", "").rstrip()
    if output:
        # The end of a test run's output (failures, summary) is what a reader needs.
        tail = output.splitlines()[-OUTPUT_TAIL_LINES:]
        lines += ["", f"Output (last {len(tail)} lines):", *tail]
    return "\n".join(lines)
