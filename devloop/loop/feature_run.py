"""One run's context: what the engine, the step bodies and the gates share.

A FeatureRun holds the configuration, the feature's state, the ledger and the Door, the
run's files (private files, by-products), the sandbox its commands run in, and the frozen
prefix; it reads and writes the feature's artifacts and makes the model calls of the steps
that are not the build agent's. It holds no step logic: that is bodies.py and gates.py.
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from devloop import routing, sandbox
from devloop import state as state_mod
from devloop.agent.contract import AgentFactory, BuildAgent
from devloop.config import Config
from devloop.errors import UsageError
from devloop.git import runfiles
from devloop.ledger import Ledger
from devloop.loop import prompts
from devloop.loop.events import Emit, Event
from devloop.loop.transcripts import Transcripts
from devloop.schemas import BuildPlan
from devloop.state import DONE, FeatureState
from devloop.steps import HAS_CONTRACT, STEPS, TASK_LIST, Step


@dataclass
class Produced:
    """What a step body made: the main artifact, extra files, and the state's result."""

    artifact: str | None
    content: str | None
    result: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    status: str = DONE


def to_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


class FeatureRun:
    """The shared context of one execution of a feature's remaining steps."""

    def __init__(
        self,
        cfg: Config,
        state: FeatureState,
        emit: Emit,
        agent_factory: Callable[[], AgentFactory],
    ) -> None:
        from devloop.model import Door

        self.cfg = cfg
        self.root = cfg.root
        self.state = state
        self.slug = state.slug
        self.emit = emit
        self.dir = state_mod.feature_dir(self.root, self.slug)
        self.lock = threading.RLock()
        self.routes: dict[str, routing.Route] = {}  # the route of each step's current run
        self.started: dict[str, float] = {}  # monotonic start of each running step
        self.run_ids: list[int] = []  # step runs opened by this execution (for tracing)
        self.ledger = Ledger.open(self.root, branch=state.branch)
        budget = Decimal(state.budget_usd) if state.budget_usd else None
        self.door = Door(
            cfg,
            self.ledger,
            self.slug,
            feature_budget_usd=budget,
            exchanges=Transcripts(self.dir / state_mod.TRANSCRIPTS_DIR),
            warn=self.warn,
        )
        self.system, *context = (self.read(name) for name in prompts.PREFIX_FILES)
        self.context: list[str] = context
        self.files = runfiles.RunFiles(self.root, self.dir, state.private)
        self._agent_factory = agent_factory
        self._agent: BuildAgent | None = None
        self._runner: sandbox.Runner | None = None

    # ------------------------------------------------------------ what the person sees

    def warn(self, message: str) -> None:
        self.emit(Event("warning", self.slug, message=message))

    def note(self, message: str, key: str | None = None) -> None:
        self.emit(Event("note", self.slug, key=key, message=message))

    def save(self) -> None:
        with self.lock:
            state_mod.save(self.root, self.state)

    # ------------------------------------------------------------ artifacts

    def path(self, name: str) -> Path:
        return self.dir / name

    def read(self, name: str) -> str:
        path = self.path(name)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(
                f"{path} is missing: the run's artifacts are incomplete. Re-run the step that "
                "writes it with `devloop resume SLUG --from STEP`."
            ) from None

    def read_json(self, step: Step) -> dict[str, Any]:
        """A step's JSON artifact; {} when the step has not written one."""
        path = self.path(self.artifact(step, "json"))
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def write(self, name: str, content: str) -> None:
        state_mod.atomic_write(self.path(name), content)

    def artifact(self, step: Step, ext: str | None = None) -> str:
        return state_mod.artifact_name(step, ext or step.artifact)

    def plan_text(self) -> str:
        return self.read(self.artifact(STEPS.with_precheck(HAS_CONTRACT), "md"))

    def contract(self) -> str:
        """The plan's Integration Contract (the whole plan when it has none)."""
        plan = self.plan_text()
        return prompts.section(plan, prompts.CONTRACT_HEADING) or plan

    def build_plan(self) -> BuildPlan:
        step = STEPS.first_of_kind(TASK_LIST)
        return BuildPlan.from_dict(json.loads(self.read(self.artifact(step, "json"))))

    # ------------------------------------------------------------ where commands run

    def sandbox(self) -> sandbox.Runner:
        """Where the run's commands run (devloop/sandbox): built once per run, the first time a
        step needs it. No sandbox and no opt-out: SandboxUnavailable (exit 2)."""
        if self._runner is None:
            runner = sandbox.runner(self.cfg, private=self.state.private, required=True)
            with self.lock:
                self.state.sandbox = runner.label
                if not runner.sandboxed:
                    self.state.unsandboxed_runs += 1
                self.save()
            if not runner.sandboxed:
                self.warn(sandbox.unsandboxed_warning(runner))
            self._runner = runner
        return self._runner

    @property
    def sandbox_label(self) -> str | None:
        return self._runner.label if self._runner else None

    def check_runner(self) -> sandbox.Runner:
        """The sandbox, for devloop's own checks: what a test run leaves is a by-product."""
        return dataclasses.replace(self.sandbox(), watch=self.files.watch)

    def agent(self) -> BuildAgent:
        if self._agent is None:
            self._agent = self._agent_factory()(self.cfg)
        return self._agent

    # ------------------------------------------------------------ model calls

    def route(self, step: Step) -> routing.Route:
        """The one routing decision of a step run: made when the step starts (steprun.begin
        drops the previous run's), then reused by its calls, events and agent context."""
        route = self.routes.get(step.key)
        if route is None:
            route = routing.decide(step, self.cfg, lambda: self._signals(step))
            self.routes[step.key] = route
        return route

    def _signals(self, step: Step) -> Any:
        """Complexity signals for routing: from the spec and the repository at the base
        commit, plus the build plan for the steps after it (routing/signals.py)."""
        from devloop.routing import signals

        plan = None
        if signals.needs_build_plan(step):
            plan = self.path(self.artifact(STEPS.first_of_kind(TASK_LIST), "json"))
        spec = self.context[1]
        return signals.collect(spec, self.root, self.state.base_commit, build_plan_file=plan)

    def max_tokens(self, step: Step) -> int:
        return self.cfg.loop.max_tokens.get(step.key, step.max_tokens)

    def render(self, name: str, values: dict[str, str]) -> str:
        return prompts.render_template(self.root, name, values)

    def call(
        self,
        step: Step,
        run_id: int,
        values: dict[str, str],
        schema: dict[str, Any] | None = None,
    ) -> Any:
        """One model call of `step`: its template filled with `values`, after the frozen
        prefix, on the step's route, through the Door."""
        from devloop.model import Request

        request = Request(
            messages=[{"role": "user", "content": self.render(step.template, values)}],
            system=self.system,
            context=list(self.context),
            schema=schema,
            max_tokens=self.max_tokens(step),
        )
        return self.door.call(step.key, self.route(step).tier, request, step_run_id=run_id)
