"""The one interface between the loop engine and the build agent (agent/builder.py).

The engine (loop/) walks the step table; the rows whose kind is one of steps.AGENT_KINDS
are the agent's (loop/bodies.py and loop/commit.py call it):

    agent-tasks      implement        BuildAgent.implement(ctx, tasks)
    agent-findings   remediate        BuildAgent.remediate(ctx, findings)
    agent-suite      final-remediate  BuildAgent.final_remediate(ctx, failure)
    docs-commit      docs half        BuildAgent.write_docs(ctx, summary)  (then a script commits)

How the engine finds the agent: loop.engine.load_agent_factory imports agent.builder and
calls its `create(cfg: Config) -> BuildAgent`, once per run, when a run first reaches one
of these steps.

What the engine does around each call, so the agent does not have to:
- opens the step run in the ledger (ctx.step_run_id) and closes it with the outcome;
- marks the step running/done in state.json and writes `NN-<key>.json` from the outcome;
- turns BudgetExceeded (exit 3), ApiError and the Door's reply errors (exit 4) and
  KeyboardInterrupt (exit 130) into a saved, resumable stop: let them propagate;
- after final_remediate, re-runs the full test suite itself and stops if it still fails;
- after write_docs, commits the run's work (loop/commit.py: never private files or
  by-products; the user's hooks run); with --allow-dirty only the `files_changed` of the
  build steps' outcomes, so report every file you touch.

Commands: every command the agent runs (its bash tool) and every check it runs goes through
`ctx.runner` / `ctx.check_runner` (devloop/sandbox: the OS sandbox); `ctx.workspace()` gives the
tools wired to them. Files in `ctx.files` that are private are never shown to the model.

What the agent must do:
- make every model call through `ctx.call(ctx.request(...))` (or ctx.door.call with
  ctx.system / ctx.context): the Door prices it, enforces the budget, writes the ledger row
  and the transcript. Keep ctx.system and ctx.context unchanged, as the cached prefix;
  put instructions, tool results and the conversation in `messages`.
- escalate when stuck by calling with `tier="frontier"` and `escalated_from=<call id of
  the failed attempt>` (Reply.call_id); the ledger records the link.
- return a StepOutcome. ok=False stops the run with exit 1 and `summary` as the reason.
  Raise nothing for a step that simply did not succeed.
- be safe to re-run: a step killed halfway is run again on the working tree as the
  killed run left it (its partial edits included). `ctx.scratch` is a directory kept
  across re-runs for per-task checkpoints, e.g. to skip tasks already finished.
- never commit, stash, reset or switch branches: the engine owns git history.

Prompts: `ctx.render(ctx.step.template, task_id=..., ...)` fills templates/<name>.md (or
the repository's .devloop/templates/<name>.md override) with the placeholders the step's
row lists as its inputs (templates/README.md too). The agent may use them or its own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from devloop.agent.tools.workspace import Workspace
from devloop.config import Config
from devloop.git.runfiles import RunFiles
from devloop.model import DEFAULT_MAX_TOKENS, Door, Reply, Request
from devloop.sandbox import Runner
from devloop.schemas import BuildPlan, Finding, Task
from devloop.steps import Step


@dataclass
class StepOutcome:
    """What a build step did. `details` must be JSON-serialisable; it lands in the
    step's artifact (NN-<key>.json) next to the other fields."""

    ok: bool
    summary: str  # one paragraph: what was done, or why it could not be
    files_changed: list[str] = field(default_factory=list)  # relative to ctx.root
    details: dict[str, Any] = field(default_factory=dict)  # per task / per finding results


@dataclass
class StepContext:
    """Everything one build step needs. Built fresh by the engine for each call."""

    cfg: Config
    door: Door
    root: Path  # the repository root (config root); run tools and edits here
    slug: str  # the feature
    step: Step  # the step being run (its key is the ledger's step key)
    tier: str  # the routed tier for this step ("mid" by default)
    model: str  # the routed model id
    system: str  # the feature's system text: the start of the cached prefix
    context: list[str]  # [project map, spec]: the rest of the cached prefix
    step_run_id: int  # the ledger's step run; pass it to every call
    artifacts_dir: Path  # .devloop/features/<slug>/: the run's artifacts
    scratch: Path  # artifacts_dir/work/<step-key>/: the agent's own files, kept on re-runs
    plan: str  # the approved plan (Markdown), Integration Contract included
    contract: str  # just the plan's Integration Contract section
    build_plan: BuildPlan  # the approved build plan (step 5)
    max_tokens: int = DEFAULT_MAX_TOKENS  # per call ([loop] max_tokens, or the default)
    note: Callable[[str], None] = print  # a progress line for the person watching
    render_template: Callable[..., str] | None = None  # set by the engine
    runner: Runner | None = None  # the agent's shell: the sandbox (None: required default)
    check_runner: Runner | None = None  # devloop's checks: the same, recording by-products
    files: RunFiles | None = None  # private files and by-products (runfiles.py)

    def workspace(self) -> Workspace:
        """The editor and shell for this step, in the run's sandbox."""
        private = sorted(self.files.private) if self.files else ()
        return Workspace(self.root, self.cfg, runner=self.runner, private=private)

    def hidden(self, path: str) -> bool:
        """A new untracked path no model sees and no commit takes (private, by-product)."""
        return self.files is not None and not self.files.shown(path, tracked=False)

    def request(
        self,
        messages: list[dict[str, Any]],
        *,
        tools: list[dict[str, Any]] | None = None,
        schema: dict[str, Any] | None = None,
        max_tokens: int | None = None,
        tool_choice: dict[str, Any] | None = None,
    ) -> Request:
        """A Request carrying the feature's cached prefix."""
        return Request(
            messages=messages,
            system=self.system,
            context=list(self.context),
            tools=tools,
            schema=schema,
            max_tokens=max_tokens or self.max_tokens,
            tool_choice=tool_choice,
        )

    def call(
        self,
        request: Request,
        *,
        tier: str | None = None,
        escalated_from: int | None = None,
        effort: str | None = None,
    ) -> Reply:
        """One model call for this step (default: the routed tier and the step's effort),
        through the Door."""
        return self.door.call(
            self.step.key,
            tier or self.tier,
            request,
            step_run_id=self.step_run_id,
            escalated_from=escalated_from,
            effort=effort,
        )

    def render(self, template: str, **values: str) -> str:
        """templates/<template>.md with its placeholders filled."""
        assert self.render_template is not None
        return self.render_template(template, values)


class BuildAgent(Protocol):
    """Implemented by devloop/agent.py; see the module docstring for the contract."""

    def implement(self, ctx: StepContext, tasks: list[Task]) -> StepOutcome:
        """Step 8: implement the build plan's tasks in order, running each task's tests.
        `tasks` is ctx.build_plan.tasks as a list."""
        ...

    def remediate(self, ctx: StepContext, findings: list[Finding]) -> StepOutcome:
        """Step 11: fix the review (9) and audit (10) findings at or above
        [loop] remediate_severity, most severe first. Each Finding has severity, location,
        problem, suggestion and source ("review" or "audit"). Only called with at least one."""
        ...

    def final_remediate(self, ctx: StepContext, failure: str) -> StepOutcome:
        """Step 13: make the failing full test suite pass. `failure` holds the test
        command, its failing output and step 12's triage (Markdown). The engine re-runs the
        suite afterwards."""
        ...

    def write_docs(self, ctx: StepContext, summary: str) -> StepOutcome:
        """Step 14, model half: update the repository's documentation for the change.
        `summary` is the commit message body: the tasks done and the files changed. The
        engine makes the commit afterwards."""
        ...


AgentFactory = Callable[[Config], BuildAgent]
