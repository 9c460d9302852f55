"""The loop engine: one feature from spec to committed change through the 15 steps.

`start` begins a run on a new branch, `resume` continues one, `dry_run` prices one without
calling a model. The steps themselves are the table in steps.py; routing.py says which
worker runs each; this module runs them in order, with:

- one cached prefix per feature: the system text, the project map and the spec, frozen
  in 00-*.md when the run starts; each step's own instructions and inputs go in messages.
  Validations (3, 4, 10) are fresh one-message conversations holding only what they review;
- gates with revisions: a failed 3 or 4 sends the findings back to step 2, a failed 6 back
  to step 5, at most [loop] max_revisions rounds each, then exit 1 with the open findings;
- steps 3 with 4 and 9 with 10 run concurrently;
- state.json written before and after every step, so a resume never re-runs a finished
  step, and a crash loses at most the step in flight (see state.py);
- the budget enforced by the Door: a call that could cross the ceiling is never sent;
- the build agent (steps 8, 11, 13 and the docs half of 14) behind agent_api.BuildAgent.

Exits: 0 done or stopped on request (--stop-after), 1 a step or gate failed, 2 a usage
problem, 3 the budget, 4 the API, 130 interrupted. State is saved in every case.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from devloop import checks, routing, sandbox, tokens
from devloop import spec as spec_mod
from devloop import state as state_mod
from devloop.agent.contract import AgentFactory, BuildAgent, StepContext, StepOutcome
from devloop.config import Config
from devloop.errors import (
    BudgetExceeded,
    CheckFailed,
    DevloopError,
    Interrupted,
    UnknownStepError,
    UsageError,
)
from devloop.git import repository, runfiles
from devloop.ledger import Ledger, pico_to_usd
from devloop.loop import prompts as ctxmod
from devloop.loop.transcripts import Transcripts
from devloop.routing import signals as signals_mod
from devloop.schemas import (
    BUILD_PLAN,
    FINDINGS,
    SEVERITIES,
    VERDICT,
    BuildPlan,
    Finding,
    findings_of,
)
from devloop.state import DONE, FAILED, INTERRUPTED, RUNNING, SKIPPED, FeatureState, StepState
from devloop.steps import STEPS, Step, resolve_step

PHASE_ENDS = {"plan": 6, "build": 11, "verify": 15}
EXCLUDE = (state_mod.DEVLOOP_DIR,)  # never mapped, diffed or committed
# Output tokens per call (thinking included) when [loop] max_tokens does not say.
DEFAULT_MAX_TOKENS: dict[str, int] = {
    "research": 16_000,
    "plan": 24_000,
    "validate-requirements": 12_000,
    "validate-integration": 12_000,
    "build-plan": 16_000,
    "double-check": 12_000,
    "review": 16_000,
    "audit": 16_000,
    "e2e": 8_000,
}
AGENT_MAX_TOKENS = 16_000
MAX_DIFF_TOKENS = 60_000  # the diff shown to review and audit
MAX_OUTPUT_TOKENS = 8_000  # test output shown to triage and final remediation
BLOCKING = "high"  # a verdict step fails when it says so, or has a finding this severe

PREFIX_FILES = ("00-system.md", "00-project-map.md", "00-spec.md")
FIRST_COMMAND = resolve_step("preflight").number  # from here on, steps run commands


class StepFailed(CheckFailed):
    """A step or a gate failed (exit 1); the run's state is saved."""


class _Stop(Exception):
    """--stop-after was reached; `number` is the last step finished."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number


# ------------------------------------------------------------------ events


@dataclass
class Event:
    """One progress event. `kind`: start, step, note, warning, end."""

    kind: str
    slug: str
    step: int | None = None
    key: str | None = None
    status: str | None = None  # for kind "step": running, done, skipped, failed, ...
    worker: str | None = None
    model: str | None = None
    elapsed_s: float | None = None
    cost_usd: str | None = None  # this step's spend so far
    total_usd: str | None = None  # the feature's spend so far
    message: str = ""
    artifact: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


Emit = Callable[[Event], None]


@dataclass
class RunOptions:
    budget_usd: Decimal | None = None
    stop_after: int | None = None
    allow_dirty: bool = False
    from_step: int | None = None


@dataclass
class RunResult:
    slug: str
    status: str  # done | stopped | already-done
    message: str
    feature_dir: Path


def parse_stop_after(text: str) -> int:
    """`plan`/`build`/`verify` (the end of that phase), a step number or a step key."""
    name = str(text).strip().lower()
    if name in PHASE_ENDS:
        return PHASE_ENDS[name]
    try:
        return resolve_step(name).number
    except UnknownStepError as exc:
        raise UsageError(
            f"--stop-after {text}: {exc.message} Phases: {', '.join(PHASE_ENDS)}."
        ) from None


def parse_budget(text: str | None) -> Decimal | None:
    if text is None:
        return None
    from devloop.money import parse_usd

    return parse_usd(text, "--budget")


# ------------------------------------------------------------------ the agent


def load_agent_factory() -> AgentFactory:
    """The build agent (devloop.agent.builder), imported when a run first needs it."""
    from devloop.agent import builder

    return builder.create


# ------------------------------------------------------------------ a run


@dataclass
class _Produced:
    """What a step body made: the main artifact, extra files, and the state's result."""

    artifact: str | None
    content: str | None
    result: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)
    status: str = DONE


def _json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


def _usd(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.6f}"


class Run:
    """One execution of a feature's remaining steps (a start or a resume)."""

    def __init__(
        self,
        cfg: Config,
        state: FeatureState,
        emit: Emit,
        agent_factory: AgentFactory | None = None,
    ) -> None:
        from devloop.model import Door

        self.cfg = cfg
        self.root = cfg.root
        self.state = state
        self.slug = state.slug
        self.emit = emit
        self.dir = state_mod.feature_dir(self.root, self.slug)
        self._agent_factory = agent_factory
        self._agent: BuildAgent | None = None
        self._lock = threading.RLock()
        self._started: dict[str, float] = {}
        self._routes: dict[str, routing.Route] = {}  # the route of each step's current run
        self._run_ids: list[int] = []  # step runs opened by this execution (for tracing)
        self.stop_after: int | None = None
        self.ledger = Ledger.open(self.root)
        budget = Decimal(state.budget_usd) if state.budget_usd else None
        self.door = Door(
            cfg,
            self.ledger,
            self.slug,
            feature_budget_usd=budget,
            exchanges=Transcripts(self.dir / state_mod.TRANSCRIPTS_DIR),
            warn=self._warn,
        )
        system, project_map, spec = (self._read(name) for name in PREFIX_FILES)
        self.system = system
        self.context = [project_map, spec]
        self.files = runfiles.RunFiles(self.root, self.dir, state.private)
        self._runner: sandbox.Runner | None = None

    # ------------------------------------------------------------ driving

    def execute(self, stop_after: int | None = None) -> RunResult:
        try:
            return self._execute(stop_after)
        finally:
            from devloop.reports import otel  # a no-op unless OTEL_EXPORTER_OTLP_* is set

            otel.export_run(self.ledger, self.slug, self._run_ids, warn=self._warn)
            self.ledger.close()

    def _execute(self, stop_after: int | None) -> RunResult:
        self.stop_after = stop_after
        self._recover_killed()
        self.door.recover()  # answers an earlier run received but never booked; unsettled calls
        if needs_sandbox(_first_number(self.state), stop_after):
            self._sandbox()  # the warning when opted out, and the record, on every run
        self._set_status("running", "")
        first = self.state.first_unfinished()
        self.emit(
            Event(
                "start",
                self.slug,
                step=first.number if first else None,
                key=first.key if first else None,
                message=f"feature '{self.slug}' on branch {self.state.branch}",
                total_usd=_usd(self.ledger.spent_usd(self.slug)),
            )
        )
        try:
            with _sigterm_as_interrupt():
                self._plan_phase()
                self._build_phase()
                self._verify_phase()
        except _Stop as stop:
            step = resolve_step(stop.number)
            message = (
                f"stopped after step {step.number} ({step.key}) as asked. Artifacts are in "
                f"{self.dir}; edit them if you like, then `devloop resume {self.slug}` "
                f"(or `--from STEP` to re-run from an edited step)."
            )
            self._set_status("stopped", message)
            return self._end("stopped", message)
        except KeyboardInterrupt:
            self._interrupt_running()
            message = f"interrupted; state saved. Continue with `devloop resume {self.slug}`."
            self._set_status("interrupted", message)
            self._emit_end("interrupted", message)
            raise Interrupted(message) from None
        except BudgetExceeded as exc:
            message = (
                f"{exc.message} State saved: `devloop resume {self.slug} --budget USD` "
                "continues with a higher ceiling."
            )
            self._set_status("budget", message)
            self._emit_end("budget", message)
            raise BudgetExceeded(message) from None
        except DevloopError as exc:
            self._set_status("failed", exc.message)
            self._emit_end("failed", exc.message)
            raise
        except Exception as exc:  # a bug: still leave a state that says what happened
            self._set_status("failed", f"internal error: {type(exc).__name__}: {exc}")
            raise
        sha = self.state.step("commit").result.get("sha", "")
        message = f"done: committed {sha[:12]} on branch {self.state.branch}."
        self._set_status("done", message)
        return self._end("done", message)

    def _end(self, status: str, message: str) -> RunResult:
        self._emit_end(status, message)
        return RunResult(self.slug, status, message, self.dir)

    def _emit_end(self, status: str, message: str) -> None:
        with contextlib.suppress(DevloopError):
            total = _usd(self.ledger.spent_usd(self.slug))
            self.emit(Event("end", self.slug, status=status, message=message, total_usd=total))

    def _set_status(self, status: str, message: str) -> None:
        with self._lock:
            self.state.status = status
            self.state.message = message
            state_mod.save(self.root, self.state)
        with contextlib.suppress(DevloopError):
            self.ledger.set_feature_status(self.slug, status)

    def _sandbox(self) -> sandbox.Runner:
        """Where the run's commands run (sandbox.py): built once per run, the first time a
        step needs it. No sandbox and no opt-out: SandboxUnavailable (exit 2)."""
        if self._runner is None:
            runner = sandbox.runner(self.cfg, private=self.state.private, required=True)
            with self._lock:
                self.state.sandbox = runner.label
                if not runner.sandboxed:
                    self.state.unsandboxed_runs += 1
                state_mod.save(self.root, self.state)
            if not runner.sandboxed:
                self._warn(sandbox.unsandboxed_warning(runner))
            self._runner = runner
        return self._runner

    def _check_runner(self) -> sandbox.Runner:
        """The sandbox, for devloop's own checks: what a test run leaves is a by-product."""
        return dataclasses.replace(self._sandbox(), watch=self.files.watch)

    def _checkpoint(self, number: int) -> None:
        if self.stop_after is not None and number >= self.stop_after:
            raise _Stop(number)

    def _warn(self, message: str) -> None:
        self.emit(Event("warning", self.slug, message=message))

    def _note(self, message: str, key: str | None = None) -> None:
        self.emit(Event("note", self.slug, key=key, message=message))

    # ------------------------------------------------------------ phases

    def _plan_phase(self) -> None:
        self._ensure("research", self._research)
        self._checkpoint(1)
        while True:
            self._ensure("plan", self._plan)
            self._checkpoint(2)
            blocking = self._contract_findings()
            if not blocking:
                self._ensure_parallel(
                    {
                        "validate-requirements": self._validate_requirements,
                        "validate-integration": self._validate_integration,
                    }
                )
                blocking = self._gate_findings("validate-requirements", "validate-integration")
            if not blocking:
                break
            self._revise(
                "plan", blocking, ["plan", "validate-requirements", "validate-integration"]
            )
        self.state.revision.pop("plan", None)
        self._checkpoint(4)
        while True:
            self._ensure("build-plan", self._build_plan)
            self._checkpoint(5)
            blocking = self._build_plan_findings()
            if not blocking:
                self._ensure("double-check", self._double_check)
                blocking = self._gate_findings("double-check")
            if not blocking:
                break
            self._revise("build-plan", blocking, ["build-plan", "double-check"])
        self.state.revision.pop("build-plan", None)
        self._checkpoint(6)

    def _build_phase(self) -> None:
        self._ensure("preflight", self._preflight)
        self._checkpoint(7)
        self._ensure("implement", self._implement)
        self._checkpoint(8)
        self._ensure_parallel({"review": self._review, "audit": self._audit})
        self._checkpoint(10)
        self._ensure("remediate", self._remediate)
        self._checkpoint(11)

    def _verify_phase(self) -> None:
        self._ensure("e2e", self._e2e)
        self._checkpoint(12)
        self._ensure("final-remediate", self._final_remediate)
        self._checkpoint(13)
        self._ensure("commit", self._commit)
        self._checkpoint(14)
        self._ensure("smoke", self._smoke)

    # ------------------------------------------------------------ bookkeeping

    def _finished(self, key: str) -> bool:
        return self.state.step(key).finished

    def _route(self, key: str) -> routing.Route:
        """The one routing decision of a step run: made when the step starts (_begin pops
        the previous run's), then reused by its calls, events and agent context."""
        route = self._routes.get(key)
        if route is None:
            step = resolve_step(key)
            route = routing.decide(step, self.cfg, lambda: self._signals(step))
            self._routes[key] = route
        return route

    def _signals(self, step: Step) -> signals_mod.Signals:
        """Complexity signals for routing: from the spec and the repository at the base
        commit, plus the build plan for the steps after 5 (see signals.py)."""
        plan = None
        if signals_mod.needs_build_plan(step.number):
            plan = self._path(self._artifact("build-plan", "json"))
        spec = self.context[1]
        return signals_mod.collect(spec, self.root, self.state.base_commit, build_plan_file=plan)

    def _begin(self, key: str) -> int:
        self._routes.pop(key, None)
        step, route = resolve_step(key), self._route(key)
        run_id = self.ledger.start_step_run(
            self.slug,
            step.number,
            step.key,
            worker=step.worker,
            # A mixed step (12, 14) may not call a model at all; its calls carry their tier.
            tier=route.tier if step.worker == "llm" else None,
            model=route.model if step.worker == "llm" else None,
            route=route.to_dict(),
            sandbox=self._runner.label if self._runner and step.number >= FIRST_COMMAND else None,
        )
        self._run_ids.append(run_id)
        with self._lock:
            st = self.state.step(key)
            st.status, st.run_id, st.runs = RUNNING, run_id, st.runs + 1
            st.route = route.to_dict()
            st.started_at, st.ended_at = state_mod.now(), None
            self.state.current_step = key
            state_mod.save(self.root, self.state)
        self._started[key] = time.monotonic()
        self._step_event(key, RUNNING)
        return run_id

    def _step_event(self, key: str, status: str, **details: Any) -> None:
        """One progress event for a step, at its start or its end."""
        step, route = resolve_step(key), self._route(key)
        self.emit(
            Event(
                "step",
                self.slug,
                step=step.number,
                key=key,
                status=status,
                worker=route.worker,
                model=route.model or None,
                **details,
            )
        )

    def _close(self, key: str, status: str, result: dict[str, Any], artifact: str | None) -> None:
        started = self._started.pop(key, None)
        wall_s = None if started is None else round(time.monotonic() - started, 2)
        with self._lock:
            st = self.state.step(key)
            st.status, st.ended_at = status, state_mod.now()
            st.result = result
            st.artifact = artifact
            if st.run_id is not None:
                outcome = dict(result)
                with contextlib.suppress(DevloopError):
                    outcome["signals"] = self._outcome_signals(key, status, wall_s)
                with contextlib.suppress(DevloopError):
                    self.ledger.finish_step_run(
                        st.run_id, "ok" if status in (DONE, SKIPPED) else status, outcome
                    )
            state_mod.save(self.root, self.state)
        message = result.get("error", "") if status not in (DONE, SKIPPED) else ""
        self._step_event(
            key,
            status,
            elapsed_s=wall_s,
            cost_usd=_usd(self.ledger.spent_usd(self.slug, key)),
            total_usd=_usd(self.ledger.spent_usd(self.slug)),
            message=message or result.get("summary", ""),
            artifact=artifact,
        )

    def _outcome_signals(self, key: str, status: str, wall_s: float | None) -> dict[str, Any]:
        """The run's outcome signals (outcomes.py), recorded with it in the ledger."""
        from devloop.routing import outcomes

        st = self.state.step(key)
        details = None
        if key in outcomes.AGENT_STEPS and st.artifact:
            with contextlib.suppress(OSError, ValueError):
                data = json.loads(self._path(st.artifact).read_text(encoding="utf-8"))
                details = data.get("details") if isinstance(data, dict) else None
        return outcomes.collect(
            resolve_step(key),
            status=status,
            result=st.result,
            details=details if isinstance(details, dict) else None,
            calls=self.ledger.run_call_stats(run_id=st.run_id).get(st.run_id or -1),
            rounds=self.state.rounds,
            runs=st.runs,
            wall_s=wall_s,
        )

    def _complete(self, key: str, produced: _Produced) -> None:
        if produced.content is not None and produced.artifact:
            self._write(produced.artifact, produced.content)
        for name, content in produced.extra.items():
            self._write(name, content)
        self._close(key, produced.status, produced.result, produced.artifact)

    def _failed(self, key: str, exc: BaseException) -> None:
        status = "budget" if isinstance(exc, BudgetExceeded) else FAILED
        message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
        result = dict(self.state.step(key).result)  # keep what a partial run recorded
        result["error"] = message
        self._close(key, status, result, self.state.step(key).artifact)

    def _ensure(self, key: str, body: Callable[[int], _Produced]) -> None:
        """Run the step unless it already finished (a finished step is never re-run)."""
        if self._finished(key):
            return
        run_id = self._begin(key)
        try:
            produced = body(run_id)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            self._failed(key, exc)
            raise
        self._complete(key, produced)

    def _ensure_parallel(self, bodies: dict[str, Callable[[int], _Produced]]) -> None:
        """Run the unfinished steps of `bodies` concurrently, each in a daemon thread (so
        Ctrl-C is not held up by a call in flight); record each as it is, then raise the
        first failure. A step that succeeded is kept even when its sibling failed."""
        todo = {key: body for key, body in bodies.items() if not self._finished(key)}
        if not todo:
            return
        run_ids = {key: self._begin(key) for key in todo}
        outcomes: dict[str, tuple[_Produced | None, BaseException | None]] = {}

        def work(key: str) -> None:
            try:
                outcomes[key] = (todo[key](run_ids[key]), None)
            except BaseException as exc:  # reported by the main thread
                outcomes[key] = (None, exc)

        threads = [
            threading.Thread(target=work, args=(k,), name=f"devloop-{k}", daemon=True) for k in todo
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            while thread.is_alive():
                thread.join(0.1)  # short waits: KeyboardInterrupt reaches the main thread
        errors = []
        for key in todo:
            produced, error = outcomes[key]
            if error is not None:
                self._failed(key, error)
                errors.append(error)
            else:
                assert produced is not None
                self._complete(key, produced)
        if errors:
            raise min(errors, key=lambda e: 0 if isinstance(e, BudgetExceeded) else 1)

    def _recover_killed(self) -> None:
        """Steps still marked running were cut off by a kill: close them, run them again."""
        for step in STEPS:
            st = self.state.step(step.key)
            if st.status != RUNNING:
                continue
            if st.run_id is not None:
                with contextlib.suppress(DevloopError):
                    self.ledger.finish_step_run(st.run_id, INTERRUPTED, {"error": "killed"})
            st.status = INTERRUPTED
            self._note(f"step {step.number} ({step.key}) was cut off earlier; it runs again.")
        state_mod.save(self.root, self.state)

    def _interrupt_running(self) -> None:
        with self._lock:
            for step in STEPS:
                st = self.state.step(step.key)
                if st.status == RUNNING:
                    st.status, st.ended_at = INTERRUPTED, state_mod.now()
                    if st.run_id is not None:
                        with contextlib.suppress(DevloopError):
                            self.ledger.finish_step_run(st.run_id, INTERRUPTED)
            state_mod.save(self.root, self.state)

    # ------------------------------------------------------------ files

    def _path(self, name: str) -> Path:
        return self.dir / name

    def _read(self, name: str) -> str:
        path = self._path(name)
        try:
            return path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(
                f"{path} is missing: the run's artifacts are incomplete. Re-run the step that "
                "writes it with `devloop resume SLUG --from STEP`."
            ) from None

    def _write(self, name: str, content: str) -> None:
        state_mod.atomic_write(self._path(name), content)

    def _artifact(self, key: str, ext: str) -> str:
        return state_mod.artifact_name(resolve_step(key), ext)

    def _plan_text(self) -> str:
        return self._read(self._artifact("plan", "md"))

    def _build_plan_data(self) -> BuildPlan:
        return BuildPlan.from_dict(json.loads(self._read(self._artifact("build-plan", "json"))))

    def _verdict_data(self, key: str) -> dict[str, Any]:
        return json.loads(self._read(self._artifact(key, "json")))

    # ------------------------------------------------------------ model calls

    def _max_tokens(self, key: str) -> int:
        default = DEFAULT_MAX_TOKENS.get(key, AGENT_MAX_TOKENS)
        return self.cfg.loop.max_tokens.get(key, default)

    def _prompt(self, key: str, **values: str) -> list[dict[str, Any]]:
        text = ctxmod.render_template(self.root, key, values)
        return [{"role": "user", "content": text}]

    def _call(
        self,
        key: str,
        run_id: int,
        messages: list[dict[str, Any]],
        schema: dict[str, Any] | None = None,
    ) -> Any:
        from devloop.model import Request

        request = Request(
            messages=messages,
            system=self.system,
            context=list(self.context),
            schema=schema,
            max_tokens=self._max_tokens(key),
        )
        return self.door.call(key, self._route(key).tier, request, step_run_id=run_id)

    # ------------------------------------------------------------ steps 1-6

    def _research(self, run_id: int) -> _Produced:
        reply = self._call("research", run_id, self._prompt("research", title=self.state.title))
        return _Produced(self._artifact("research", "md"), reply.text, {"call": reply.call_id})

    def _revision_block(self, gate: str) -> str:
        revision = self.state.revision.get(gate)
        if not revision:
            return ""
        previous = (self.dir / revision["previous"]).read_text(encoding="utf-8")
        findings = [Finding.from_dict(f) for f in revision["findings"]]
        return ctxmod.render_template(
            self.root,
            "revision",
            {
                "round": str(revision["round"]),
                "previous": previous.strip(),
                "findings": "\n".join(f"- {f.line()}" for f in findings),
            },
        )

    def _plan(self, run_id: int) -> _Produced:
        messages = self._prompt(
            "plan",
            title=self.state.title,
            research=self._read(self._artifact("research", "md")).strip(),
            revision=self._revision_block("plan"),
        )
        reply = self._call("plan", run_id, messages)
        return _Produced(self._artifact("plan", "md"), reply.text, {"call": reply.call_id})

    def _verdict(self, key: str, run_id: int, **values: str) -> _Produced:
        reply = self._call(key, run_id, self._prompt(key, **values), schema=VERDICT)
        found = findings_of(reply.data, key)
        failed = reply.data["verdict"] == "fail" or any(f.at_least(BLOCKING) for f in found)
        result = {
            "verdict": "fail" if failed else "pass",
            "findings": len(found),
            "blocking": sum(1 for f in found if f.at_least(BLOCKING)),
            "call": reply.call_id,
        }
        return _Produced(self._artifact(key, "json"), _json(reply.data), result)

    def _validate_requirements(self, run_id: int) -> _Produced:
        return self._verdict("validate-requirements", run_id, plan=self._plan_text().strip())

    def _validate_integration(self, run_id: int) -> _Produced:
        return self._verdict("validate-integration", run_id, plan=self._plan_text().strip())

    def _build_plan(self, run_id: int) -> _Produced:
        messages = self._prompt(
            "build-plan",
            plan=self._plan_text().strip(),
            revision=self._revision_block("build-plan"),
        )
        reply = self._call("build-plan", run_id, messages, schema=BUILD_PLAN)
        plan = BuildPlan.from_dict(reply.data)
        return _Produced(
            self._artifact("build-plan", "json"),
            _json(reply.data),
            {"tasks": len(plan.tasks), "call": reply.call_id},
            extra={self._artifact("build-plan", "md"): plan.markdown()},
        )

    def _double_check(self, run_id: int) -> _Produced:
        return self._verdict(
            "double-check",
            run_id,
            plan=self._plan_text().strip(),
            build_plan=self._build_plan_data().markdown().strip(),
        )

    # ------------------------------------------------------------ gates

    def _gate_findings(self, *keys: str) -> list[Finding]:
        """The findings of the failing verdict steps among `keys` (none: the gate passed)."""
        out: list[Finding] = []
        for key in keys:
            if self.state.step(key).result.get("verdict") == "fail":
                out += findings_of(self._verdict_data(key), key)
        return sorted(out, key=lambda f: SEVERITIES.index(f.severity))

    def _contract_findings(self) -> list[Finding]:
        """A plan without an Integration Contract cannot be audited: revise it at once."""
        if ctxmod.section(self._plan_text(), "Integration Contract") is not None:
            return []
        return [
            Finding(
                "critical",
                "plan",
                "the plan has no 'Integration Contract' section, so step 10 cannot audit the "
                "diff against it",
                "add '## Integration Contract' with Interfaces, Files and Invariants",
                source="plan",
            )
        ]

    def _build_plan_findings(self) -> list[Finding]:
        if self._build_plan_data().tasks:
            return []
        return [
            Finding(
                "critical",
                "build plan",
                "the build plan has no tasks",
                "list the tasks that implement the plan",
                "build-plan",
            )
        ]

    def _revise(self, gate: str, findings: list[Finding], reset: list[str]) -> None:
        """Send `findings` back to the gate's first step, or stop when the rounds are used."""
        used = self.state.rounds.get(gate, 0)
        first = resolve_step(reset[0])
        if used >= self.cfg.loop.max_revisions:
            shown = "\n".join(f"  - ({f.source}) {f.line()}" for f in findings)
            raise StepFailed(
                f"the {first.key} still fails validation after {used} revision(s) "
                f"([loop] max_revisions = {self.cfg.loop.max_revisions}). Open findings:\n"
                f"{shown}\nEdit {self._path(self._artifact(first.key, 'md' if gate == 'plan' else 'json'))}"
                f" and run `devloop resume {self.slug} --from {resolve_step(reset[1]).key}`, "
                f"or raise [loop] max_revisions and `devloop resume {self.slug} --from {first.key}`."
            )
        label = f"r{used + 1}"
        with self._lock:
            previous = None
            for key in reset:
                for moved in self._archive_step(key, label):
                    if key == reset[0] and moved.suffix in (".md", ".json") and previous is None:
                        previous = moved.relative_to(self.dir).as_posix()
                old = self.state.step(key)
                self.state.steps[key] = StepState(runs=old.runs)
            if gate == "build-plan":  # the readable form is the better "previous version"
                md = self.dir / state_mod.HISTORY_DIR / f"05-build-plan.{label}.md"
                previous = md.relative_to(self.dir).as_posix() if md.exists() else previous
            self.state.rounds[gate] = used + 1
            self.state.revision[gate] = {
                "round": used + 1,
                "previous": previous,
                "findings": [f.to_dict() for f in findings],
            }
            state_mod.save(self.root, self.state)
        self._note(
            f"revision {used + 1} of {self.cfg.loop.max_revisions}: {len(findings)} finding(s) "
            f"go back to step {first.number} ({first.key}).",
            key=first.key,
        )

    def _archive_step(self, key: str, label: str) -> list[Path]:
        step = resolve_step(key)
        prefix = f"{step.number:02d}-{step.key}."
        moved = []
        for path in sorted(self.dir.glob(f"{prefix}*")):
            target = state_mod.archive(self.dir, path.name, label)
            if target is not None:
                moved.append(target)
        return moved

    # ------------------------------------------------------------ step 7

    def _preflight(self, run_id: int) -> _Produced:
        from devloop.loop import preflight

        results = preflight.run_checks(
            self.cfg,
            self.state,
            plan_text=self._plan_text(),
            build_plan_text=self._read(self._artifact("build-plan", "json")),
            spent_usd=self.ledger.committed_usd(self.slug),
            prefix_tokens=tokens.estimate(self.system)
            + sum(tokens.estimate(c) for c in self.context),
            route=lambda step: self._route(step.key),
            runner=self._sandbox,
        )
        report = [asdict(r) for r in results]
        failed = [r for r in results if not r.passed]
        name = self._artifact("preflight", "json")
        if failed:
            self._write(name, _json(report))
            self.state.step("preflight").artifact = name
            lines = []
            for r in failed:
                lines.append(f"  - {r.name}: {r.summary}")
                lines += [
                    f"      {d.file + ': ' if d.file else ''}{d.message}" for d in r.details[:10]
                ]
            raise StepFailed(
                "pre-flight failed; no build step was started:\n" + "\n".join(lines) + "\n"
                f"Fix these (the plan is {self._path(self._artifact('plan', 'md'))}, the build "
                f"plan {self._path(self._artifact('build-plan', 'json'))}), then "
                f"`devloop resume {self.slug}`."
            )
        return _Produced(name, _json(report), {"checks": len(results)})

    # ------------------------------------------------------------ build steps

    def _build_agent(self) -> BuildAgent:
        if self._agent is None:
            factory = self._agent_factory or load_agent_factory()
            self._agent = factory(self.cfg)
        return self._agent

    def _context_for(self, key: str, run_id: int) -> StepContext:
        step, route = resolve_step(key), self._route(key)
        plan = self._plan_text()
        scratch = self.dir / "work" / key
        scratch.mkdir(parents=True, exist_ok=True)
        return StepContext(
            cfg=self.cfg,
            door=self.door,
            root=self.root,
            slug=self.slug,
            step=step,
            tier=route.tier,
            model=route.model,
            system=self.system,
            context=list(self.context),
            step_run_id=run_id,
            artifacts_dir=self.dir,
            scratch=scratch,
            plan=plan,
            contract=ctxmod.section(plan, "Integration Contract") or plan,
            build_plan=self._build_plan_data(),
            max_tokens=self._max_tokens(key),
            note=lambda message: self._note(message, key=key),
            render_template=lambda name, values: ctxmod.render_template(self.root, name, values),
            runner=self._sandbox(),
            check_runner=self._check_runner(),
            files=self.files,
        )

    def _outcome(self, key: str, outcome: StepOutcome, **extra: Any) -> _Produced:
        data = {**asdict(outcome), **extra}
        name = self._artifact(key, "json")
        if not outcome.ok:
            self._write(name, _json(data))
            self.state.step(key).artifact = name
            raise StepFailed(
                f"step {resolve_step(key).number} ({key}) did not succeed: {outcome.summary}"
            )
        result = {"summary": outcome.summary, "files": len(outcome.files_changed)}
        return _Produced(name, _json(data), result)

    def _implement(self, run_id: int) -> _Produced:
        ctx = self._context_for("implement", run_id)
        outcome = self._build_agent().implement(ctx, list(ctx.build_plan.tasks))
        produced = self._outcome("implement", outcome)
        produced.extra[self._artifact("implement", "diff")] = self._diff()
        return produced

    def _diff(self) -> str:
        """What the run changed: tracked files, and new files that are the work's (no
        private files, by-products or nested repositories; runfiles.py)."""
        return repository.worktree_diff(
            self.root, self.state.base_commit, exclude=EXCLUDE, hidden=self._hidden
        )

    def _hidden(self, path: str) -> bool:
        return not self.files.shown(path, tracked=False)

    def _bounded_diff(self) -> str:
        diff = self._diff()
        if not diff.strip():
            raise StepFailed(
                "the implementation left no changes to review: the working tree matches "
                f"{self.state.base_commit[:12]}."
            )
        return _bounded(diff, MAX_DIFF_TOKENS, "diff")

    def _findings_step(self, key: str, run_id: int, **values: str) -> _Produced:
        reply = self._call(key, run_id, self._prompt(key, **values), schema=FINDINGS)
        found = findings_of(reply.data, key)
        counts = {s: sum(1 for f in found if f.severity == s) for s in SEVERITIES}
        result = {"findings": len(found), **counts, "call": reply.call_id}
        return _Produced(self._artifact(key, "json"), _json(reply.data), result)

    def _review(self, run_id: int) -> _Produced:
        tasks = self._build_plan_data().markdown().strip() + self._tampered_note()
        return self._findings_step("review", run_id, tasks=tasks, diff=self._bounded_diff())

    def _tampered_note(self) -> str:
        """Test files step 8 changed outside their task's declared files, for the review."""
        path = self._path(self._artifact("implement", "json"))
        data = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
        flags = (data.get("details") or {}).get("tampered_tests") or []
        if not flags:
            return ""
        lines = [f"- {f['path']} (task {f['task']})" for f in flags]
        return (
            "\n\nFLAGGED by devloop: these test files were changed by a task that did not "
            "declare them; check that no test was weakened to pass:\n" + "\n".join(lines)
        )

    def _audit(self, run_id: int) -> _Produced:
        plan = self._plan_text()
        contract = (ctxmod.section(plan, "Integration Contract") or plan).strip()
        return self._findings_step("audit", run_id, contract=contract, diff=self._bounded_diff())

    def _remediate(self, run_id: int) -> _Produced:
        threshold = self.cfg.loop.remediate_severity
        found = []
        for key in ("review", "audit"):
            found += findings_of(json.loads(self._read(self._artifact(key, "json"))), key)
        todo = sorted(
            (f for f in found if f.at_least(threshold)), key=lambda f: SEVERITIES.index(f.severity)
        )
        if not todo:
            summary = f"no review or audit finding at or above '{threshold}'; nothing to fix"
            return _Produced(None, None, {"summary": summary, "findings": 0}, status=SKIPPED)
        ctx = self._context_for("remediate", run_id)
        outcome = self._build_agent().remediate(ctx, todo)
        return self._outcome("remediate", outcome, findings=[f.to_dict() for f in todo])

    # ------------------------------------------------------------ steps 12-15

    def _e2e(self, run_id: int) -> _Produced:
        result = checks.run_tests(self.cfg, runner=self._check_runner())
        data: dict[str, Any] = {"check": asdict(result)}
        name = self._artifact("e2e", "json")
        if result.passed:
            summary = result.summary if not result.skipped else f"skipped: {result.summary}"
            return _Produced(name, _json(data), {"passed": True, "summary": summary})
        output = _bounded(_check_text(result), MAX_OUTPUT_TOKENS, "test output")
        reply = self._call(
            "e2e",
            run_id,
            self._prompt("e2e", command=self.cfg.commands.test, output=output),
        )
        triage = self._artifact("e2e", "md")
        data["triage"] = triage
        return _Produced(
            name,
            _json(data),
            {"passed": False, "summary": result.summary, "call": reply.call_id},
            extra={triage: reply.text},
        )

    def _final_remediate(self, run_id: int) -> _Produced:
        if self.state.step("e2e").result.get("passed", True):
            summary = "the full test suite passed in step 12; nothing to fix"
            return _Produced(None, None, {"summary": summary}, status=SKIPPED)
        e2e = json.loads(self._read(self._artifact("e2e", "json")))
        check = e2e["check"]
        failure = "\n\n".join(
            [
                f"Command: `{self.cfg.commands.test}`",
                "Output:\n" + _bounded(_check_dict_text(check), MAX_OUTPUT_TOKENS, "output"),
                "Triage:\n" + self._read(self._artifact("e2e", "md")).strip(),
            ]
        )
        ctx = self._context_for("final-remediate", run_id)
        outcome = self._build_agent().final_remediate(ctx, failure)
        again = checks.run_tests(self.cfg, runner=self._check_runner())
        produced = self._outcome("final-remediate", outcome, suite=asdict(again))
        if not again.passed:
            self._write(produced.artifact or "", produced.content or "")
            self.state.step("final-remediate").artifact = produced.artifact
            raise StepFailed(
                f"the full test suite still fails after final remediation: {again.summary}\n"
                + _check_text(again)
                + f"\nFix it by hand, then `devloop resume {self.slug} --from final-remediate`."
            )
        return produced

    def _commit(self, run_id: int) -> _Produced:
        st = self.state.step("commit")
        docs = st.result.get("docs")
        build = self._build_plan_data()
        if docs is None:  # the model half; kept in state so a failed commit does not redo it
            ctx = self._context_for("commit", run_id)
            changed = self._commit_selection().paths
            outcome = self._build_agent().write_docs(ctx, commit_body(build, changed))
            if not outcome.ok:
                self._outcome("commit", outcome)
            docs = asdict(outcome)
            with self._lock:
                st.result = {**st.result, "docs": docs}
                state_mod.save(self.root, self.state)
        from devloop.reports import cost_report

        selection = self._commit_selection()
        totals = cost_report.build(self.ledger, self.slug).total
        message = commit_message(
            self.state,
            build,
            selection.paths,
            cost=totals.cost_usd,
            baseline=totals.baseline_usd,
            header_max=self.cfg.git.header_max_length,
        )
        if selection.left_out:
            shown = "; ".join(
                f"{why}: {', '.join(paths)}" for why, paths in selection.left_out.items()
            )
            self._note(f"not committed ({shown})", key="commit")
        done = repository.commit(
            self.root, message, paths=selection.paths, timeout_s=self.cfg.commands.timeout_s
        )
        name = self._artifact("commit", "json")
        data = {"message": message, "docs": docs, "output": done.output}
        data["left_out"] = selection.left_out
        if done.nothing_to_commit:
            head = repository.head_commit(self.root)
            landed = repository.commit_message(self.root)
            if (
                head
                and head != self.state.base_commit
                and f"Devloop-Feature: {self.slug}" in landed
            ):
                data.update(sha=head, recovered=True)  # committed before a crash
                return _Produced(name, _json(data), {"sha": head, "docs": docs})
            raise StepFailed("there is nothing to commit: the change left no files modified.")
        if not done.ok:
            self._write(name, _json(data))
            raise StepFailed(
                "git refused the commit (a hook failed?). Its output:\n"
                f"{done.output}\nThe changes are staged. Fix the problem, then "
                f"`devloop resume {self.slug}`."
            )
        data["sha"] = done.sha
        return _Produced(name, _json(data), {"sha": done.sha, "docs": docs})

    def _commit_selection(self) -> runfiles.Selection:
        """What step 14 commits: tracked files the run changed and the new files that are
        its work, never private files, by-products or a nested repository (runfiles.py).
        With --allow-dirty, only the files the build steps say they touched."""
        top = repository.find_repo(self.root).toplevel.resolve()
        tracked: set[str] = set()
        candidates: list[str] = []
        for name, is_tracked in repository.changes(self.root, exclude=EXCLUDE):
            try:
                rel = (top / name).relative_to(self.root.resolve()).as_posix()
            except ValueError:
                continue
            rel += "/" if name.endswith("/") else ""
            candidates.append(rel)
            if is_tracked:
                tracked.add(rel)
        if self.state.allow_dirty:
            touched = set(self._dirty_run_paths())
            candidates = [p for p in candidates if p in touched]
        try:
            selection = self.files.select(candidates, tracked)
        except runfiles.NestedRepository as exc:
            listed = ", ".join(exc.paths)
            raise StepFailed(
                f"the run created a git repository inside this one ({listed}). devloop never "
                "commits a nested repository or gitlink, and never runs git inside one: its "
                "configuration can run commands. Look at it, remove it (`rm -rf "
                f"{exc.paths[0]}`), then `devloop resume {self.slug}`."
            ) from None
        self._refuse_changed_hooks(selection.paths)
        return selection

    def _refuse_changed_hooks(self, paths: list[str]) -> None:
        """The commit runs the user's hooks, so they must be the user's: when core.hooksPath
        points into the working tree, the run must not have changed anything there."""
        hooks = repository.find_repo(self.root).hooks_dir.resolve()
        try:
            where = hooks.relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return  # .git/hooks or outside the repository: read-only to the sandbox
        touched = [p for p in paths if p == where or p.startswith(where.rstrip("/") + "/")]
        if touched:
            raise StepFailed(
                f"the run changed files in your hooks directory ({where}, core.hooksPath): "
                f"{', '.join(touched)}. devloop will not run hooks the model wrote. Review "
                f"them and restore or commit them yourself, then `devloop resume {self.slug}`."
            )

    def _dirty_run_paths(self) -> list[str]:
        """With --allow-dirty only the files the build steps say they touched are committed."""
        paths: dict[str, None] = {}
        for key in ("implement", "remediate", "final-remediate", "commit"):
            name = self._path(self._artifact(key, "json"))
            data = json.loads(name.read_text(encoding="utf-8")) if name.is_file() else {}
            for path in data.get("files_changed", []):
                paths.setdefault(path, None)
        for path in (self.state.step("commit").result.get("docs") or {}).get("files_changed", []):
            paths.setdefault(path, None)
        return list(paths)

    def _smoke(self, run_id: int) -> _Produced:
        results = checks.run_smoke(self.cfg, runner=self._check_runner())
        name = self._artifact("smoke", "json")
        report = [asdict(r) for r in results]
        failed = [r for r in results if not r.passed]
        if failed:
            self._write(name, _json(report))
            self.state.step("smoke").artifact = name
            raise StepFailed(
                "the smoke gate failed after the commit "
                f"({self.state.step('commit').result.get('sha', '')[:12]} on "
                f"{self.state.branch}):\n" + "\n".join(_check_text(r) for r in failed)
            )
        ran = [r.name for r in results if not r.skipped]
        summary = f"passed: {', '.join(ran)}" if ran else "nothing configured to run"
        return _Produced(name, _json(report), {"summary": summary})


# ------------------------------------------------------------------ helpers


def _bounded(text: str, max_tokens: int, what: str) -> str:
    if tokens.estimate(text) <= max_tokens:
        return text
    keep = max_tokens * tokens.BYTES_PER_TOKEN
    cut = text.encode("utf-8")[:keep].decode("utf-8", "ignore")
    return cut + f"\n... [{what} cut at ~{max_tokens:,} tokens]\n"


OUTPUT_TAIL_LINES = 200


def _check_text(result: checks.CheckResult) -> str:
    return _check_dict_text(asdict(result))


def _check_dict_text(check: dict[str, Any]) -> str:
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


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a run the way Ctrl-C does: state saved, exit 130."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def commit_body(build: BuildPlan, changed: list[str]) -> str:
    lines = ["Tasks done:"]
    lines += [f"- {t.id}: {t.title}" for t in build.tasks]
    if changed:
        lines += ["", "Files changed:"] + [f"- {p}" for p in changed]
    return "\n".join(lines)


def _money(value: Decimal | None) -> str:
    return "unpriced" if value is None else f"${value:.2f}"


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
        f"Devloop-Feature: {state.slug}",
        f"Devloop-Cost: {_money(cost)}",
        f"Devloop-Frontier-Baseline: {_money(baseline)}",
    ]
    return f"{prefix}{title}\n\n{body}\n\n" + "\n".join(trailers) + "\n"


# ------------------------------------------------------------------ starting


def needs_sandbox(first: int | None, stop_after: int | None) -> bool:
    """Whether a run from step `first` (None: nothing left) reaches a step that runs
    commands (pre-flight on) before stopping after `stop_after`."""
    if first is None:
        return False
    last = stop_after if stop_after is not None else STEPS[-1].number
    return max(first, FIRST_COMMAND) <= last


def _first_number(state: FeatureState) -> int | None:
    first = state.first_unfinished()
    return first.number if first is not None else None


def repo_head(root: Path) -> str:
    repository.find_repo(root)  # a UsageError naming the problem when it is not a repository
    head = repository.head_commit(root)
    if head is None:
        raise UsageError(
            f"{root}: the repository has no commits yet; devloop branches from HEAD. "
            "Make a first commit."
        )
    return head


def load_spec(cfg: Config, spec_path: Path) -> spec_mod.Spec:
    return spec_mod.load(
        spec_path, max_bytes=cfg.loop.spec_max_bytes, commit_types=cfg.git.commit_types
    )


def freeze_prefix(cfg: Config, spec: spec_mod.Spec, directory: Path) -> None:
    """Render the feature's cached prefix once and keep it: 00-system.md, 00-project-map.md
    and 00-spec.md are what every model step of this feature sees, byte for byte."""
    parts = (
        ctxmod.system_text(cfg.root),
        ctxmod.project_map(cfg.root, cfg.loop.project_map_tokens, hints=spec.text),
        ctxmod.spec_block(spec.title, spec.text, spec.slug),
    )
    for name, text in zip(PREFIX_FILES, parts, strict=True):
        state_mod.atomic_write(directory / name, text)


def start(
    cfg: Config,
    spec_path: Path,
    options: RunOptions,
    emit: Emit,
    *,
    agent_factory: AgentFactory | None = None,
) -> RunResult:
    """Begin a feature: check the spec and the repository, branch, and run the steps."""
    spec = load_spec(cfg, spec_path)
    root = cfg.root
    head = repo_head(root)
    state_mod.require_ledger(root)
    lock = state_mod.RepoLock(root).acquire(f"devloop feature {spec.slug}")
    try:
        if lock.note:
            emit(Event("note", spec.slug, message=lock.note))
        if state_mod.state_path(root, spec.slug).exists():
            raise UsageError(
                f"feature '{spec.slug}' already exists ({state_mod.feature_dir(root, spec.slug)})."
                f" Continue it with `devloop resume {spec.slug}`, or give the spec another "
                'slug in its front matter (slug = "...").'
            )
        branch = cfg.git.branch_prefix + spec.slug
        if not repository.valid_branch_name(root, branch):
            raise UsageError(
                f"'{branch}' is not a valid branch name; fix [git] branch_prefix or the slug."
            )
        if repository.branch_exists(root, branch):
            raise UsageError(
                f"branch {branch} already exists, but no devloop run owns it here. Delete it "
                f"(`git branch -D {branch}`) or give the spec another slug in its front matter."
            )
        dirty = repository.dirty_paths(root)
        if dirty and not options.allow_dirty:
            shown = "\n".join(f"  {p}" for p in dirty[:50])
            more = f"\n  ... and {len(dirty) - 50} more" if len(dirty) > 50 else ""
            raise StepFailed(
                f"the working tree has uncommitted changes:\n{shown}{more}\n"
                "Commit or stash them first, or pass --allow-dirty to build on top of them."
            )
        if needs_sandbox(STEPS[0].number, options.stop_after):
            sandbox.runner(cfg, required=True)  # no sandbox: refuse before anything is made
        private = runfiles.private_at_start(root, exclude=EXCLUDE)
        directory = state_mod.feature_dir(root, spec.slug)
        freeze_prefix(cfg, spec, directory)  # before branching: a failure leaves no branch
        repository.create_branch(root, branch)
        state = FeatureState(
            slug=spec.slug,
            title=spec.title,
            spec_path=str(spec_path),
            spec_sha256=spec.sha256,
            type=spec.type,
            scope=spec.scope,
            branch=branch,
            base_commit=head,
            budget_usd=None if options.budget_usd is None else str(options.budget_usd),
            allow_dirty=options.allow_dirty,
            private=private,
        )
        state_mod.save(root, state)
        with Ledger.open(root) as ledger:
            ledger.ensure_feature(
                spec.slug,
                title=spec.title,
                spec_path=str(spec_path),
                branch=branch,
                status="running",
                budget_usd=options.budget_usd,
            )
        emit(Event("note", spec.slug, message=f"created branch {branch} from {head[:12]}"))
        run = Run(cfg, state, emit, agent_factory)
        return run.execute(options.stop_after)
    finally:
        lock.release()


def resume(
    cfg: Config,
    slug: str,
    options: RunOptions,
    emit: Emit,
    *,
    agent_factory: AgentFactory | None = None,
) -> RunResult:
    """Continue a feature from its first unfinished step (or re-run from --from)."""
    root = cfg.root
    repo_head(root)
    state_mod.require_ledger(root)
    lock = state_mod.RepoLock(root).acquire(f"devloop resume {slug}")
    try:
        if lock.note:
            emit(Event("note", slug, message=lock.note))
        state = state_mod.load(root, slug)
        directory = state_mod.feature_dir(root, slug)
        if state.status == "done" and options.from_step is None:
            message = f"feature '{slug}' is already done ({state.message})"
            return RunResult(slug, "already-done", message, directory)
        first = options.from_step if options.from_step is not None else _first_number(state)
        if needs_sandbox(first, options.stop_after):
            sandbox.runner(cfg, required=True)  # no sandbox: refuse before anything changes
        _warn_spec_changed(state, emit)
        current = repository.current_branch(root)
        if current != state.branch:
            if repository.dirty_paths(root):
                raise StepFailed(
                    f"you are on {current or 'a detached HEAD'} with uncommitted changes; the "
                    f"feature lives on {state.branch}. Commit or stash, then resume."
                )
            repository.switch_branch(root, state.branch)
            emit(Event("note", slug, message=f"switched to branch {state.branch}"))
        if options.allow_dirty:
            state.allow_dirty = True
        if options.budget_usd is not None:
            state.budget_usd = str(options.budget_usd)
            with Ledger.open(root) as ledger:
                ledger.ensure_feature(slug, budget_usd=options.budget_usd)
        if options.from_step is not None:
            reset_from(state, directory, options.from_step)
        state_mod.save(root, state)
        run = Run(cfg, state, emit, agent_factory)
        return run.execute(options.stop_after)
    finally:
        lock.release()


def _warn_spec_changed(state: FeatureState, emit: Emit) -> None:
    import hashlib

    path = Path(state.spec_path)
    try:
        current = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return
    if current != state.spec_sha256:
        emit(
            Event(
                "warning",
                state.slug,
                message=f"{path} changed since this feature started; the run keeps using the "
                "spec as it was (00-spec.md). Start a new feature to build the new spec.",
            )
        )


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
        prefix = f"{step.number:02d}-{step.key}."
        for path in sorted(directory.glob(f"{prefix}*")):
            state_mod.archive(directory, path.name, f"run{old.runs}")
        state.steps[step.key] = StepState(runs=old.runs)
    if number <= 4:
        state.rounds.pop("plan", None)
        state.revision.pop("plan", None)
    if number <= 6:
        state.rounds.pop("build-plan", None)
        state.revision.pop("build-plan", None)
    state.status = "running"


# ------------------------------------------------------------------ status


@dataclass
class FeatureStatus:
    state: FeatureState
    cost_usd: Decimal | None
    next_step: Step | None
    unsettled: int = 0  # calls in flight when a run stopped (ledger reservations)
    unsettled_worst_usd: Decimal = Decimal(0)


def statuses(root: Path) -> list[FeatureStatus]:
    """Every feature with a state.json in this repository, most recently updated first."""
    state_mod.require_ledger(root)
    out = []
    ledger = None
    with contextlib.suppress(DevloopError):
        ledger = Ledger.open(root, create=False)
    try:
        for slug in state_mod.list_slugs(root):
            st = state_mod.load(root, slug)
            cost = ledger.spent_usd(slug) if ledger else None
            held = ledger.open_reservations(slug) if ledger else []
            worst = pico_to_usd(sum(h.worst_pico or 0 for h in held))
            out.append(FeatureStatus(st, cost, st.first_unfinished(), len(held), worst))
    finally:
        if ledger is not None:
            ledger.close()
    return sorted(out, key=lambda f: f.state.updated_at, reverse=True)
