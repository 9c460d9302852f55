"""The bookkeeping of step runs: state.json and the ledger before and after every step.

A step starts (`begin`: routed, a ledger step run opened, state saved, a progress event),
runs its body, and closes (`complete` or `failed`: artifacts written, outcome signals and
status recorded, state saved, a progress event). A finished step is never run again
(`ensure`); side-by-side steps run in threads (`ensure_group`). A run that was killed left
steps marked running: `recover_killed` closes them so they run again.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import Any

from devloop import state as state_mod
from devloop.errors import BudgetExceeded, DevloopError, LedgerUnreachable
from devloop.loop.events import Event, event_usd
from devloop.loop.feature_run import FeatureRun, Produced
from devloop.money import pico_to_usd
from devloop.state import DONE, FAILED, INTERRUPTED, RUNNING, SKIPPED
from devloop.steps import AGENT_KINDS, PRE_CHECKS, STEPS, Step

Body = Callable[[FeatureRun, Step, int], Produced]


def begin(run: FeatureRun, step: Step) -> int:
    run.routes.pop(step.key, None)
    route = run.route(step)
    commands = step.number >= STEPS.first_of_kind(PRE_CHECKS).number
    run_id = run.ledger.start_step_run(
        run.slug,
        step.number,
        step.key,
        worker=step.worker,
        # A mixed step may not call a model at all; its calls carry their own tier.
        tier=route.tier if step.worker == "llm" else None,
        model=route.model if step.worker == "llm" else None,
        route=route.to_dict(),
        sandbox=run.sandbox_label if commands else None,
    )
    run.run_ids.append(run_id)
    with run.lock:
        st = run.state.step(step.key)
        st.status, st.run_id, st.runs = RUNNING, run_id, st.runs + 1
        st.route = route.to_dict()
        st.started_at, st.ended_at = state_mod.now(), None
        run.state.current_step = step.key
        run.save()
    run.started[step.key] = time.monotonic()
    _event(run, step, RUNNING)
    return run_id


def _event(run: FeatureRun, step: Step, status: str, **details: Any) -> None:
    """One progress event for a step, at its start or its end."""
    route = run.route(step)
    run.emit(
        Event(
            "step",
            run.slug,
            step=step.number,
            key=step.key,
            status=status,
            worker=route.worker,
            model=route.model or None,
            **details,
        )
    )


def close(
    run: FeatureRun, step: Step, status: str, result: dict[str, Any], artifact: str | None
) -> None:
    started = run.started.pop(step.key, None)
    wall_s = None if started is None else round(time.monotonic() - started, 2)
    with run.lock:
        st = run.state.step(step.key)
        st.status, st.ended_at = status, state_mod.now()
        st.result = result
        st.artifact = artifact
        if st.run_id is not None:
            outcome = dict(result)
            with contextlib.suppress(DevloopError):
                outcome["signals"] = _outcome_signals(run, step, status, wall_s)
            with contextlib.suppress(DevloopError):
                run.ledger.finish_step_run(
                    st.run_id, "ok" if status in (DONE, SKIPPED) else status, outcome
                )
        run.save()
    message = result.get("error", "") if status not in (DONE, SKIPPED) else ""
    _event(
        run,
        step,
        status,
        elapsed_s=wall_s,
        cost_usd=event_usd(_run_cost(run, step)),
        total_usd=event_usd(run.ledger.spent_usd(run.slug)),
        message=message or result.get("summary", ""),
        artifact=artifact,
    )


def _run_cost(run: FeatureRun, step: Step):
    """What this run of the step cost (a re-run shows its own cost, not the step's total)."""
    run_id = run.state.step(step.key).run_id
    if run_id is None:
        return run.ledger.spent_usd(run.slug, step.key)
    stats = run.ledger.run_call_stats(run_id=run_id).get(run_id)
    return pico_to_usd(stats.cost_pico if stats else 0)


def _outcome_signals(run: FeatureRun, step: Step, status: str, wall_s: float | None) -> dict:
    """The run's outcome signals (routing/outcomes.py), recorded with it in the ledger."""
    from devloop.routing import outcomes

    st = run.state.step(step.key)
    details = None
    if step.kind in AGENT_KINDS and st.artifact:
        with contextlib.suppress(OSError, ValueError):
            data = run.read_json(step)
            details = data.get("details") if isinstance(data, dict) else None
    return outcomes.collect(
        step,
        status=status,
        result=st.result,
        details=details if isinstance(details, dict) else None,
        calls=run.ledger.run_call_stats(run_id=st.run_id).get(st.run_id or -1),
        rounds=run.state.rounds,
        runs=st.runs,
        wall_s=wall_s,
    )


def complete(run: FeatureRun, step: Step, produced: Produced) -> None:
    if produced.content is not None and produced.artifact:
        run.write(produced.artifact, produced.content)
    for name, content in produced.extra.items():
        run.write(name, content)
    close(run, step, produced.status, produced.result, produced.artifact)


def failed(run: FeatureRun, step: Step, exc: BaseException) -> None:
    status = "budget" if isinstance(exc, BudgetExceeded) else FAILED
    if isinstance(exc, LedgerUnreachable):  # cut off, like a kill: it runs again on resume
        status = INTERRUPTED
    message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    result = dict(run.state.step(step.key).result)  # keep what a partial run recorded
    result["error"] = message
    close(run, step, status, result, run.state.step(step.key).artifact)


def ensure(run: FeatureRun, step: Step, body: Body) -> None:
    """Run the step unless it already finished (a finished step is never re-run)."""
    if run.state.step(step.key).finished:
        return
    run_id = begin(run, step)
    try:
        produced = body(run, step, run_id)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        failed(run, step, exc)
        raise
    complete(run, step, produced)


def ensure_group(run: FeatureRun, steps: list[Step], body: Body) -> None:
    """Run the unfinished steps of `steps` side by side, each in a daemon thread (so Ctrl-C
    is not held up by a call in flight); record each as it is, then raise the first
    failure. A step that succeeded is kept even when its sibling failed."""
    todo = [step for step in steps if not run.state.step(step.key).finished]
    if len(todo) <= 1:
        for step in todo:
            ensure(run, step, body)
        return
    run_ids = {step.key: begin(run, step) for step in todo}
    results: dict[str, tuple[Produced | None, BaseException | None]] = {}

    def work(step: Step) -> None:
        try:
            results[step.key] = (body(run, step, run_ids[step.key]), None)
        except BaseException as exc:  # reported by the main thread
            results[step.key] = (None, exc)

    threads = [
        threading.Thread(target=work, args=(s,), name=f"devloop-{s.key}", daemon=True) for s in todo
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(0.1)  # short waits: KeyboardInterrupt reaches the main thread
    errors = []
    for step in todo:
        produced, error = results[step.key]
        if error is not None:
            failed(run, step, error)
            errors.append(error)
        else:
            assert produced is not None
            complete(run, step, produced)
    if errors:
        raise min(errors, key=lambda e: 0 if isinstance(e, BudgetExceeded) else 1)


def recover_killed(run: FeatureRun) -> None:
    """Steps still marked running were cut off by a kill: close them, run them again. A
    step cut off by a shared ledger going away is marked interrupted already, but its step
    run could not be closed then: close it now, so its answers can be used again."""
    for step in STEPS:
        st = run.state.step(step.key)
        if st.status not in (RUNNING, INTERRUPTED):
            continue
        if st.run_id is not None:
            with contextlib.suppress(DevloopError):  # closed already: nothing to do
                run.ledger.finish_step_run(st.run_id, INTERRUPTED, {"error": "killed"})
        if st.status == RUNNING:
            st.status = INTERRUPTED
            run.note(f"step {step.number} ({step.key}) was cut off earlier; it runs again.")
    run.save()


def interrupt_running(run: FeatureRun) -> None:
    with run.lock:
        for step in STEPS:
            st = run.state.step(step.key)
            if st.status == RUNNING:
                st.status, st.ended_at = INTERRUPTED, state_mod.now()
                if st.run_id is not None:
                    with contextlib.suppress(DevloopError):
                        run.ledger.finish_step_run(st.run_id, INTERRUPTED)
        run.save()
