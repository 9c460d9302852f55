"""The loop engine: one feature from spec to committed change, walking the step table.

The steps are rows in steps.py; the engine runs them in table order and knows no step by
name. A row's `kind` picks its body (bodies.py), `parallel_with` runs two steps side by side,
and a row whose `gate` names an earlier step makes a gate (gates.py): the target and every
step up to its last verdict step repeat, with the findings, until the verdicts pass or the
revision rounds run out. state.json is written before and after every step (steprun.py),
so a resume never re-runs a finished step and a crash loses at most the step in flight.
The budget is the Door's: a call that could cross the ceiling is never sent.

Exits: 0 done or stopped on request (--stop-after), 1 a step or gate failed, 2 a usage
problem, 3 the budget, 4 the API, 130 interrupted. State is saved in every case.
"""

from __future__ import annotations

import contextlib

from devloop import interrupts
from devloop.agent.contract import AgentFactory
from devloop.config import Config
from devloop.errors import BudgetExceeded, DevloopError, Interrupted
from devloop.loop import gates, steprun
from devloop.loop.bodies import run_step
from devloop.loop.events import Emit, Event, RunResult, Stop, event_usd
from devloop.loop.feature_run import FeatureRun
from devloop.state import FeatureState
from devloop.steps import DOCS_COMMIT, PRE_CHECKS, STEPS, Step


def load_agent_factory() -> AgentFactory:
    """The build agent (devloop.agent.builder), imported when a run first needs it."""
    from devloop.agent import builder

    return builder.create


def needs_sandbox(first: int | None, stop_after: int | None) -> bool:
    """Whether a run from step `first` (None: nothing left) reaches a step that runs
    commands (pre-flight on) before stopping after `stop_after`."""
    if first is None:
        return False
    last = stop_after if stop_after is not None else STEPS[-1].number
    return max(first, STEPS.first_of_kind(PRE_CHECKS).number) <= last


def needs_model(first: int | None, stop_after: int | None) -> bool:
    """Whether a run from step `first` (None: nothing left) reaches a step that calls a
    model before stopping after `stop_after`."""
    if first is None:
        return False
    last = stop_after if stop_after is not None else STEPS[-1].number
    return any(step.calls_model for step in STEPS if first <= step.number <= last)


class Run:
    """One execution of a feature's remaining steps (a start or a resume)."""

    def __init__(
        self,
        cfg: Config,
        state: FeatureState,
        emit: Emit,
        agent_factory: AgentFactory | None = None,
    ) -> None:
        # The factory is looked up when the agent is first needed (tests replace it).
        factory = (lambda: agent_factory) if agent_factory else (lambda: load_agent_factory())
        self.run = FeatureRun(cfg, state, emit, factory)
        self.stop_after: int | None = None

    def execute(self, stop_after: int | None = None) -> RunResult:
        try:
            return self._execute(stop_after)
        finally:
            from devloop.reports import otel  # a no-op unless OTEL_EXPORTER_OTLP_* is set

            run = self.run
            otel.export_run(run.ledger, run.slug, run.run_ids, warn=run.warn)
            run.ledger.close()

    def _execute(self, stop_after: int | None) -> RunResult:
        run = self.run
        self.stop_after = stop_after
        steprun.recover_killed(run)
        run.door.recover()  # answers an earlier run received but never booked; unsettled calls
        first = run.state.first_unfinished()
        if needs_sandbox(first.number if first else None, stop_after):
            run.sandbox()  # the warning when opted out, and the record, on every run
        self._set_status("running", "")
        run.emit(
            Event(
                "start",
                run.slug,
                step=first.number if first else None,
                key=first.key if first else None,
                message=f"feature '{run.slug}' on branch {run.state.branch}",
                total_usd=event_usd(run.ledger.spent_usd(run.slug)),
            )
        )
        try:
            with interrupts.raising(lambda _signum: KeyboardInterrupt()):
                self._walk()
        except Stop as stop:
            step = STEPS.number(stop.number)
            message = (
                f"stopped after step {stop.number} ({step.key if step else '?'}) as asked. "
                f"Artifacts are in {run.dir}; edit them if you like, then `devloop resume "
                f"{run.slug}` (or `--from STEP` to re-run from an edited step)."
            )
            self._set_status("stopped", message)
            return self._end("stopped", message)
        except KeyboardInterrupt:
            steprun.interrupt_running(run)
            message = f"interrupted; state saved. Continue with `devloop resume {run.slug}`."
            self._set_status("interrupted", message)
            self._emit_end("interrupted", message)
            raise Interrupted(message) from None
        except BudgetExceeded as exc:
            message = (
                f"{exc.message} State saved: `devloop resume {run.slug} --budget USD` "
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
        commit = STEPS.first_of_kind(DOCS_COMMIT)
        sha = run.state.step(commit.key).result.get("sha", "")
        message = f"done: committed {sha[:12]} on branch {run.state.branch}."
        self._set_status("done", message)
        return self._end("done", message)

    # ------------------------------------------------------------ the walk

    def _walk(self) -> None:
        """Every row in table order: a gate target with its verdict steps as one revision
        loop, side-by-side steps together, each group followed by the --stop-after check."""
        walked: set[str] = set()
        for step in STEPS:
            if step.key in walked:
                continue
            if STEPS.gate_verdicts(step.key):
                members = STEPS.revision_group(step.key)
                self._gated(step, members)
            else:
                members = STEPS.group(step)
                steprun.ensure_group(self.run, members, run_step)
                self._checkpoint(members[-1])
            walked.update(s.key for s in members)

    def _gated(self, target: Step, members: list[Step]) -> None:
        """Run `members` (the target first) until the target's verdict steps pass; the
        target's precheck runs before them, and its findings count as theirs."""
        run = self.run
        verdicts = STEPS.gate_verdicts(target.key)
        while True:
            blocking = []
            checked = False
            for group in STEPS.groups(members):
                judging = any(s.gate == target.key for s in group)
                if judging and not checked:
                    checked = True
                    blocking = gates.precheck(run, target)
                    if blocking:
                        break
                steprun.ensure_group(run, group, run_step)
                if not judging:
                    self._checkpoint(group[-1])
            blocking = blocking or gates.gate_findings(run, verdicts)
            if not blocking:
                break
            gates.revise(run, target, blocking)
        run.state.revision.pop(target.key, None)
        self._checkpoint(members[-1])

    def _checkpoint(self, step: Step) -> None:
        if self.stop_after is not None and step.number >= self.stop_after:
            raise Stop(step.number)

    # ------------------------------------------------------------ ending

    def _end(self, status: str, message: str) -> RunResult:
        self._emit_end(status, message)
        return RunResult(self.run.slug, status, message, self.run.dir)

    def _emit_end(self, status: str, message: str) -> None:
        run = self.run
        with contextlib.suppress(DevloopError):
            total = event_usd(run.ledger.spent_usd(run.slug))
            run.emit(Event("end", run.slug, status=status, message=message, total_usd=total))

    def _set_status(self, status: str, message: str) -> None:
        run = self.run
        with run.lock:
            run.state.status = status
            run.state.message = message
            run.save()
        with contextlib.suppress(DevloopError):
            run.ledger.set_feature_status(run.slug, status)
