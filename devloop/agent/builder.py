"""The build agent: steps 8 (implement), 11 (remediate), 13 (final-remediate) and the docs
half of 14, behind agent_api.BuildAgent. The engine finds it through `create(cfg)`.

Each piece of work is a tool-using conversation run by agent_run.run_work (attempts,
limits, escalation to the frontier tier); devloop, not the model, decides when it is done
by running the checks in agent_work:

- step 8: one fresh conversation per task, in order: the task, the content of the files it
  names, the checks. Checks: the test command narrowed to the task's test files (the whole
  command when it lists none), then lint on the files the task changed. A test file the
  task changed without declaring it in `files` is flagged (details["tampered_tests"]) and
  shown to the review step. Finished tasks are checkpointed: a re-run after a kill or a
  failure skips them; a run after the step finished starts over.
- step 11: one conversation for all the findings, most severe first; checks: the test
  command and lint.
- step 13: one conversation with the failing output; check: the test command.
- step 14: one conversation with the editor only, allowed to edit the existing
  [agent] docs_files; no checks; skipped without a model call when none exists.

Every StepOutcome lists the files the step changed (by content, from git) and, per piece
of work, attempts, turns, tool calls, the tier that passed, whether it escalated, whether
the first attempt passed, and the ledger call ids.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from devloop.agent.contract import BuildAgent, StepContext, StepOutcome
from devloop.agent.conversation import (
    Blocks,
    RunTool,
    Work,
    WorkResult,
    cached_block,
    run_work,
    text_block,
)
from devloop.agent.tools.workspace import EDITOR, ToolResult, Workspace, clip, tool_definitions
from devloop.agent.worktree import (
    EXCLUDE,
    Checkpoint,
    Checks,
    Snapshot,
    changed_between,
    narrowed,
    snapshot,
    tampered,
    task_commands,
    task_key,
    task_targets,
    tests_in,
)
from devloop.codemap import related_map
from devloop.config import Config
from devloop.git import repository
from devloop.redaction import redact
from devloop.sandbox import Runner
from devloop.schemas import SEVERITIES, Finding, Task

SUMMARY_FAILURE_CHARS = 4_000  # of the last failure, in a failed step's summary


def create(cfg: Config) -> BuildAgent:
    return Agent(cfg)


class Agent:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg

    # ------------------------------------------------------------ step 8

    def implement(self, ctx: StepContext, tasks: list[Task]) -> StepOutcome:
        ws = ctx.workspace()
        book = Checkpoint(ctx.scratch, ctx.root, ctx.hidden)
        records: list[dict[str, Any]] = []
        flags: list[dict[str, str]] = []
        for task in tasks:
            key = task_key(task)
            earlier = book.done(key)
            if earlier is not None:  # finished by a run that was cut off later
                ctx.note(f"{task.id}: finished in an earlier run; skipped")
                records.append({**earlier, "resumed": True})
                flags += [{"task": task.id, "path": p} for p in earlier["tampered_tests"]]
                continue
            before = book.start(key)
            work = _task_work(ctx, ws, task, before, records)
            result = run_work(ctx, work, ctx.cfg.agent)
            changed = changed_between(before, snapshot(ctx.root, ctx.hidden))
            touched = tampered(task, changed)
            if touched:
                ctx.note(f"{task.id}: changed test files it did not declare: {', '.join(touched)}")
            flags += [{"task": task.id, "path": p} for p in touched]
            record = {
                "id": task.id,
                **result.record(),
                "files_changed": changed,
                "tampered_tests": touched,
            }
            records.append(record)
            if not result.ok:
                details = {"tasks": records, "tampered_tests": flags}
                summary = (
                    f"task {task.id} ({task.title}) did not pass its checks after "
                    f"{_tries(result)}. The working tree is left as the attempts left it. "
                    f"Last failure:\n{clip(result.failure, SUMMARY_FAILURE_CHARS)}\nFix it, "
                    f"then `devloop resume {ctx.slug}`: finished tasks are not redone."
                )
                return StepOutcome(False, summary, book.changed(), details)
            book.finish_task(key, record)
            ctx.note(f"{task.id}: passed on the {result.tier} tier")
        files = book.changed()
        book.finish()
        summary = _tasks_summary(records, flags)
        return StepOutcome(True, summary, files, {"tasks": records, "tampered_tests": flags})

    # ------------------------------------------------------------ steps 11, 13

    def remediate(self, ctx: StepContext, findings: list[Finding]) -> StepOutcome:
        ordered = sorted(findings, key=lambda f: SEVERITIES.index(f.severity))
        listed = "\n".join(
            f"{i}. ({f.source or 'finding'}) {f.line()}" for i, f in enumerate(ordered, 1)
        )
        prompt = ctx.render(ctx.step.template, findings=listed, contract=ctx.contract.strip())
        checks = Checks(ctx.cfg.commands.test, lint=True)
        related = _related_code(ctx, _finding_files(ctx, ordered), listed)
        return self._single(
            ctx, "remediation", prompt, checks, f"{len(ordered)} finding(s)", related
        )

    def final_remediate(self, ctx: StepContext, failure: str) -> StepOutcome:
        prompt = ctx.render(ctx.step.template, failure=failure)
        # The suite may fail because a test is wrong: this step may say so and change it.
        checks = Checks(ctx.cfg.commands.test, lint=False, editable_tests=("*",))
        touched = [p for p in snapshot(ctx.root, ctx.hidden) if (ctx.root / p).is_file()]
        related = _related_code(ctx, sorted(touched), failure)
        return self._single(ctx, "final remediation", prompt, checks, "the failing suite", related)

    def _single(
        self,
        ctx: StepContext,
        label: str,
        prompt: str,
        checks: Checks,
        what: str,
        related: str = "",
    ) -> StepOutcome:
        """One conversation for the whole step, checked against `checks` (`related`: the
        code related to the files it is about, shown after the prompt)."""
        ws = ctx.workspace()
        book = Checkpoint(ctx.scratch, ctx.root, ctx.hidden)
        start = book.before
        context = [text_block(related)] if related else []
        work = _work(
            ctx,
            ws,
            label,
            lambda: [text_block(prompt), *context, text_block(_rules(ctx, ws, checks))],
            lambda: checks.run(ctx.cfg, _changed_since(ctx, start), _check_runner(ctx, ws)),
            checks,
            lambda: _changed_since(ctx, start),
        )
        result = run_work(ctx, work, ctx.cfg.agent)
        files = book.changed()
        details = {**result.record(), "tests_changed": tests_in(files)}
        if not result.ok:
            summary = (
                f"{label} of {what} did not pass its checks after {_tries(result)}. The working "
                f"tree is left as the attempts left it. Last failure:\n"
                f"{clip(result.failure, SUMMARY_FAILURE_CHARS)}\nFix it, then "
                f"`devloop resume {ctx.slug}` (the step runs again on the tree as it is)."
            )
            return StepOutcome(False, summary, files, details)
        book.finish()
        summary = f"{label} of {what} passed on {_passed(result)}. {result.summary}".strip()
        return StepOutcome(True, summary, files, details)

    # ------------------------------------------------------------ step 14

    def write_docs(self, ctx: StepContext, summary: str) -> StepOutcome:
        docs = [p for p in ctx.cfg.agent.docs_files if (ctx.root / p).is_file()]
        if not docs:
            names = ", ".join(ctx.cfg.agent.docs_files) or "none configured"
            return StepOutcome(
                True,
                f"no documentation to update: none of the [agent] docs_files exists ({names}); "
                "the model was not called",
                [],
                {"skipped": True},
            )
        ws = ctx.workspace()
        book = Checkpoint(ctx.scratch, ctx.root, ctx.hidden)
        prompt = ctx.render(ctx.step.template, summary=summary)

        def opening() -> Blocks:
            return [
                text_block(prompt),
                *_file_blocks(ws, docs, "The documentation files as they are now:"),
                text_block(_diff_block(ctx)),
                text_block(_docs_rules(docs)),
            ]

        work = Work(
            label="docs",
            opening=opening,
            escalation=lambda failures: opening(),  # not used: docs do not escalate
            check=lambda: None,
            # The same tool list as the other agent steps, so this step reads their prompt
            # cache instead of writing its own; _docs_only refuses bash itself.
            tools=tool_definitions(ctx.cfg),
            run_tool=_docs_only(ws, docs),
        )
        limits = dataclasses.replace(ctx.cfg.agent, attempts=1, escalate=False)
        result = run_work(ctx, work, limits)
        files = book.changed()
        book.finish()
        details = {**result.record(), "docs_files": docs}
        if not result.ok:  # a limit was hit: the commit goes ahead with what was written
            ctx.note(f"the docs step stopped before finishing: {result.failure.splitlines()[0]}")
            text = f"documentation not finished ({result.failure.splitlines()[0]})"
            return StepOutcome(True, text, files, details)
        return StepOutcome(True, result.summary or "documentation updated", files, details)


# ------------------------------------------------------------ building work


def _work(
    ctx: StepContext,
    ws: Workspace,
    label: str,
    opening: Callable[[], Blocks],
    check: Callable[[], str | None],
    checks: Checks,
    changed: Callable[[], list[str]],
) -> Work:
    """A tool-using piece of work: the escalation opening is the opening (with current
    files) plus the hand-over: the diff of this piece of work only (`changed`: the files it
    changed) and what failed. After a failure the model is told what to do about it by the
    checks that failed (Checks.advice)."""

    def escalation(failures: list[str]) -> Blocks:
        return [*opening(), text_block(_handover(ctx, failures, changed()))]

    tools = tool_definitions(ctx.cfg)
    return Work(label, opening, escalation, check, tools, ws.run_tool, checks.advice)


def _task_work(
    ctx: StepContext, ws: Workspace, task: Task, before: Snapshot, done: list[dict[str, Any]]
) -> Work:
    """Step 8's work for one task (`done`: the records of the tasks before it). Its checks:
    one of its declared files changed, the test command narrowed to the task's test files,
    then lint on the files the task changed."""
    targets = task_targets(task)
    declared = tuple(f.path for f in task.files)
    checks = Checks(
        narrowed(ctx.cfg.commands.test, targets),
        lint=True,
        required=tuple(targets),
        editable_tests=tuple(tests_in(list(declared))),
        declared=declared,
        commands=tuple(task_commands(task)),
    )

    def opening() -> Blocks:
        return _task_opening(ctx, ws, task, checks, done)

    def check() -> str | None:
        return checks.run(ctx.cfg, _changed_since(ctx, before), _check_runner(ctx, ws))

    return _work(ctx, ws, task.id, opening, check, checks, lambda: _changed_since(ctx, before))


def _task_opening(
    ctx: StepContext, ws: Workspace, task: Task, checks: Checks, done: list[dict[str, Any]]
) -> Blocks:
    """The shared part first (the contract and how to work, byte-identical for every task,
    with a cache breakpoint after it, so task 2 onwards reads it from the cache), then this
    task: what to do, what earlier tasks built, the files it names, the code related to
    them (the project map ranked for this task) and its checks."""
    shared = ctx.render(ctx.step.shared_template, contract=ctx.contract.strip())
    prompt = ctx.render(
        ctx.step.template,
        task_id=task.id,
        task_title=task.title,
        task_description=task.description.strip(),
        files=_bullets(f"{f.path} ({f.action})" for f in task.files),
        acceptance=_bullets(task.acceptance),
        tests=_bullets(task.tests),
    )
    paths = [f.path for f in task.files]  # those that exist: a re-run may find new ones
    shown = _file_blocks(ws, paths, "The files this task names, as they are now:")
    earlier = [text_block(_earlier_tasks(done))] if done else []
    hints = "\n".join([task.title, task.description, *task.acceptance])
    related = _related_code(ctx, paths, hints)
    return [
        cached_block(shared + "\n" + _rules(ctx, ws)),
        text_block(prompt),
        *earlier,
        *shown,
        *([text_block(related)] if related else []),
        text_block(checks.describe(ctx.cfg)),
    ]


def _related_code(ctx: StepContext, paths: list[str], hints: str) -> str:
    """The definitions in other files that `paths` use or that use them, within [loop]
    task_map_tokens (0: none): the project map personalised to this piece of work (`hints`:
    its text), over the repository as the run has changed it. The frozen map in the prefix
    was ranked for the spec; this one follows the build plan's task or the findings."""
    budget = ctx.cfg.loop.task_map_tokens
    if budget <= 0 or not paths:
        return ""
    created = snapshot(ctx.root, ctx.hidden)
    return related_map(ctx.root, budget, paths, hints, also=created)


def _finding_files(ctx: StepContext, findings: list[Finding]) -> list[str]:
    """The repository files the findings' locations name (`path:line`, `path`); a location
    outside the repository (absolute, `..`) names none."""
    named = (f.location.split(":", 1)[0].strip() for f in findings)
    inside = (p for p in named if p and not p.startswith("/") and ".." not in p.split("/"))
    return sorted({p for p in inside if (ctx.root / p).is_file()})


def _earlier_tasks(done: list[dict[str, Any]]) -> str:
    """What the tasks before this one built, in the words of the model that built them."""
    lines = []
    for record in done:
        said = str(record.get("summary") or "").strip() or "(no summary)"
        files = ", ".join(record.get("files_changed") or []) or "no files"
        lines.append(f"- {record.get('id', '?')} ({files}): {clip(said, 600)}")
    return "Earlier tasks of this build plan, done and checked:\n" + "\n".join(lines)


def _changed_since(ctx: StepContext, before: Snapshot) -> list[str]:
    return changed_between(before, snapshot(ctx.root, ctx.hidden))


def _check_runner(ctx: StepContext, ws: Workspace) -> Runner:
    """devloop's checks run in the same sandbox as the agent's shell."""
    return ctx.check_runner or ws.runner


def _bullets(items) -> str:
    lines = [f"- {item}" for item in items]
    return "\n".join(lines) if lines else "- (none listed)"


def _file_blocks(ws: Workspace, paths: list[str], heading: str) -> Blocks:
    """The files' current content, as the editor's view shows it (its path rules and limits)."""
    parts = []
    for path in dict.fromkeys(paths):
        if not (ws.root / path).is_file():
            continue
        view = ws.run_tool(EDITOR, {"command": "view", "path": path})
        if not view.is_error:
            parts.append(f'<file path="{path}">\n{view.content}\n</file>')
    return [text_block(heading + "\n\n" + "\n\n".join(parts))] if parts else []


def _rules(ctx: StepContext, ws: Workspace, checks: Checks | None = None) -> str:
    """How to work: the tools, the sandbox and (given `checks`) what devloop checks."""
    lines = [
        "How to work:",
        f"- {EDITOR} views and edits files (paths relative to the repository root); bash "
        "runs commands.",
        "- Never commit, stash, reset or switch branches: devloop owns the git history.",
        "- Nobody will answer a question: decide, and say what you assumed in your final reply.",
    ]
    if ctx.cfg.commands.format_fix:
        lines.append(f"- Format the files you change with `{ctx.cfg.commands.format_fix}`.")
    lines += ["", "The bash tool:", ws.describe()]
    if checks is not None:
        lines += ["", checks.describe(ctx.cfg)]
    return "\n".join(lines)


def _docs_rules(docs: list[str]) -> str:
    return (
        f"How to work: use {EDITOR} only (bash is refused in this step). View any file you "
        f"need; edit only {', '.join(docs)}. No commands run in this step."
    )


def _docs_only(ws: Workspace, docs: list[str]) -> RunTool:
    """The editor, writing only to the documentation files."""
    allowed = set(docs)

    def run(name: str, tool_input: Any) -> ToolResult:
        if name != EDITOR:
            return ToolResult(f"Error: only {EDITOR} is available in this step.", is_error=True)
        if isinstance(tool_input, dict) and tool_input.get("command") != "view":
            if _relative(ws.root, tool_input.get("path")) not in allowed:
                return ToolResult(
                    f"Error: this step may edit only {', '.join(docs)}.", is_error=True
                )
        return ws.run_tool(name, tool_input)

    return run


def _relative(root: Path, path: Any) -> str | None:
    if not isinstance(path, str) or not path.strip():
        return None
    try:
        return (root / path).resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return None


def _diff(ctx: StepContext, only: list[str] | None = None) -> str:
    # Nothing is committed during the build, so HEAD is where the branch started.
    text = repository.worktree_diff(ctx.root, "HEAD", exclude=EXCLUDE, hidden=ctx.hidden, only=only)
    return clip(redact(text), ctx.cfg.agent.diff_max_chars) if text.strip() else ""


def _diff_block(ctx: StepContext, only: list[str] | None = None) -> str:
    if only is not None and not only:
        return "The earlier attempts changed no file."
    diff = _diff(ctx, only)
    return f"The change (git diff):\n<diff>\n{diff}</diff>" if diff else "The diff is empty."


_DURATION = re.compile(r"\b\d+(?:\.\d+)?\s*(?:ms|s|sec|seconds)\b")


def _same_failure(a: str, b: str) -> bool:
    """Equal but for timings ("Ran 2 tests in 0.001s"), which differ from run to run."""
    return _DURATION.sub("<t>", a) == _DURATION.sub("<t>", b)


def _handover(ctx: StepContext, failures: list[str], changed: list[str]) -> str:
    entries = []
    for i, text in enumerate(failures, 1):
        if i > 1 and _same_failure(text, failures[i - 2]):
            text = "The same failure as the attempt before."
        entries.append(f'<failure attempt="{i}">\n{text}\n</failure>')
    return (
        f"Another model worked on this first and did not pass devloop's checks in "
        f"{len(failures)} attempt(s). Its edits to the files below are still in the working "
        "tree: keep what is right and finish this piece of work. Other changes on the branch "
        "are earlier work that passed its checks: leave them as they are.\n\n"
        f"{_diff_block(ctx, changed)}\n\nWhat failed, oldest first:\n" + "\n\n".join(entries)
    )


# ------------------------------------------------------------ summaries


def _tries(result: WorkResult) -> str:
    where = " (escalated to the frontier tier)" if result.escalated else ""
    return f"{result.attempts} attempt(s){where}"


def _passed(result: WorkResult) -> str:
    how = "the first attempt" if result.first_attempt_pass else f"attempt {result.attempts}"
    return f"{result.tier} ({how}{', after escalation' if result.escalated else ''})"


def _tasks_summary(records: list[dict[str, Any]], flags: list[dict[str, str]]) -> str:
    if not records:
        return "the build plan has no tasks; nothing to implement"
    parts = []
    for r in records:
        if r.get("resumed"):
            parts.append(f"{r['id']} done in an earlier run")
        else:
            how = "first attempt" if r["first_attempt_pass"] else f"{r['attempts']} attempts"
            parts.append(f"{r['id']} passed on {r['tier']} ({how})")
    text = f"implemented {len(records)} task(s): " + "; ".join(parts) + "."
    if flags:
        shown = ", ".join(f"{f['path']} ({f['task']})" for f in flags)
        text += f" Test files changed without being declared: {shown}."
    return text
