"""The one door to the model provider: every model call devloop makes goes through `Door.call`.

Request building (cached prefix, effort, structured output), budget reservations,
streaming, retries, the ledger write and response validation live here, and nothing else in
devloop knows the SDK's types; client.py is the one module that imports `anthropic`.

Order of events for one call, and why:
1. reuse: an answer recorded for exactly this request by a step run that was cut off is
   used instead of being bought again;
2. reservation: the call's worst case (worstcase.py) is held in the ledger against the
   ceilings, in one transaction that sees every other call in flight; a call that does not
   fit is never sent (exit 3);
3. the request streams (the SDK refuses large non-streaming `max_tokens`); a call whose
   prompt prefix another call is writing waits until that call's response has begun;
4. the response goes to the transcript, then its ledger row settles the reservation: priced
   at the model that served it, with the counterfactual frontier baseline (baseline.py).
   Both happen before any validation that could fail: a billed answer is never lost;
5. validation: a paused turn is continued; empty, truncated, refused, off-schema answers
   and unknown stop reasons are loud, typed errors; so is a served model other than the one
   asked for, when [api] on_model_mismatch says so.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from devloop.config import Config
from devloop.errors import BudgetExceeded, UnpricedModelError
from devloop.ledger import (
    CallRecord,
    CallShape,
    Ledger,
    OpenReservation,
    Refusal,
    baseline,
    pico_to_usd,
    stamp,
)
from devloop.model import pricing, recovery, worstcase
from devloop.model.client import (
    StreamFailed,
    attempt_log,
    client_for,
    error_message,
    error_type,
    stream_error,
    stream_message,
)
from devloop.model.prefixgate import PrefixGate
from devloop.model.replies import (
    EmptyReplyError,
    InvalidOutputError,
    ModelMismatchError,
    PausedReplyError,
    Verdict,
    classify,
)
from devloop.model.request import (
    Reply,
    Request,
    build_params,
    effort_for,
    min_cache_tokens,
    request_sha256,
)
from devloop.money import usd
from devloop.redaction import redact

Warn = Callable[[str], None]


class ExchangeLog(Protocol):
    """Where the Door keeps every request and response (loop.Transcripts): written before
    the call's ledger row, so a crash in between loses no billed answer."""

    def write(
        self, step: str, params: dict[str, Any], reply: dict[str, Any], meta: dict[str, Any]
    ) -> str | None: ...

    def read(self, name: str) -> dict[str, Any] | None: ...

    def find(self, reservation_id: int) -> str | None: ...


def _stderr_warning(message: str) -> None:
    print(f"devloop: warning: {message}", file=sys.stderr)


@dataclass
class _Sent:
    """One answered request: its response and what the ledger recorded."""

    reply: dict[str, Any]
    record: CallRecord
    call_id: int
    verdict: Verdict


class Door:
    """Model access for one feature: budget, ledger and transcripts are per feature."""

    def __init__(
        self,
        cfg: Config,
        ledger: Ledger,
        feature: str,
        *,
        feature_budget_usd: Decimal | None = None,
        exchanges: ExchangeLog | None = None,
        warn: Warn = _stderr_warning,
    ) -> None:
        self.cfg = cfg
        self.ledger = ledger
        self.feature = feature
        if feature_budget_usd is None:
            feature_budget_usd = cfg.budget.feature_usd
        self.feature_budget_usd = feature_budget_usd
        self.exchanges = exchanges
        self.warn = warn
        self._gate = PrefixGate()
        self.reused_ids: set[int] = set()

    # ------------------------------------------------------------ public

    def call(
        self,
        step: str,
        tier: str,
        request: Request,
        *,
        step_run_id: int | None = None,
        escalated_from: int | None = None,
        effort: str | None = None,
    ) -> Reply:
        """Send one request for `step` on `tier` (at `effort`, default the step's: see
        `effort_for`); retried once in a fresh request when the
        answer comes back empty or unparsable, continued when it pauses. An answer recorded
        for exactly this request by a step run that was cut off is used instead of being
        bought again. Raises a ModelReplyError subclass, ApiError, BudgetExceeded or
        UsageError."""
        model = self.cfg.models.for_tier(tier)
        params = build_params(request, model, effort_for(self.cfg, step, model, effort))
        reused = recovery.reuse(self, step, params, request.schema, step_run_id)
        if reused is not None:
            return reused
        for attempt in (1, 2):
            try:
                return self._answer(
                    step, tier, params, request.schema, attempt, step_run_id, escalated_from
                )
            except (EmptyReplyError, InvalidOutputError) as exc:
                if attempt == 2:
                    raise
                self.warn(f"{exc.message}; retrying once in a fresh request.")
        raise AssertionError("unreachable")

    def ceilings(self, step: str) -> dict[str, Decimal | None]:
        """The ceilings a call of `step` must fit: the feature's, the step's, and the
        team's per UTC day and month ([budget] team, shared by everyone on the ledger)."""
        budget = self.cfg.budget
        step_usd = budget.steps.get(step, budget.step_usd)
        ceilings = {"feature": self.feature_budget_usd, "step": step_usd}
        if budget.team:
            ceilings.update(team_day=budget.daily_usd, team_month=budget.monthly_usd)
        return ceilings

    def recover(self) -> list[OpenReservation]:
        """Settle what an earlier run left in flight (recovery.py); the calls still open."""
        return recovery.recover(self)

    # ----------------------------------------------------------- private

    def _base_url(self, tier: str) -> str:
        return getattr(self.cfg.endpoints, tier, "") or ""

    def _answer(
        self,
        step: str,
        tier: str,
        params: dict[str, Any],
        schema: dict[str, Any] | None,
        attempt: int,
        step_run_id: int | None,
        escalated_from: int | None,
    ) -> Reply:
        """One answer: a request, and its continuations while the turn pauses."""
        content: list[dict[str, Any]] = []
        current = params
        limit = self.cfg.api.max_continuations
        for continuation in range(limit + 1):
            sent = self._send(
                step, tier, current, schema, attempt, step_run_id, escalated_from, content
            )
            content = content + list(sent.reply.get("content") or [])
            if sent.verdict.outcome != "paused":
                break
            if continuation == limit:
                raise PausedReplyError(
                    f"the turn was still paused (stop_reason pause_turn) after {limit} "
                    "continuation(s) ([api] max_continuations)",
                    step=step,
                    model=sent.record.served_model or params["model"],
                    request_id=sent.record.request_id or "",
                )
            self.warn(
                f"step '{step}': the answer paused (pause_turn); continuing the turn "
                f"({continuation + 1} of at most {limit})."
            )
            # The documented way: the paused assistant content goes back unchanged.
            current = {
                **params,
                "messages": [*params["messages"], {"role": "assistant", "content": content}],
            }
        verdict = sent.verdict
        record = sent.record
        if verdict.error is not None:
            raise verdict.error(
                verdict.message,
                step=step,
                model=record.served_model or params["model"],
                request_id=record.request_id or "",
            )
        return Reply(
            text=verdict.text,
            data=verdict.data,
            content=content,
            stop_reason=record.stop_reason or "",
            model=record.served_model or params["model"],
            requested_model=params["model"],
            request_id=record.request_id or "",
            usage=dict(record.usage),
            call_id=sent.call_id,
            cost_usd=record.cost_usd,
            baseline_usd=record.baseline_usd,
            retries=record.retries,
        )

    def _reserve(
        self, step: str, model: str, params: dict[str, Any], step_run_id: int | None
    ) -> int | None:
        """Hold the call's worst case against the ceilings; BudgetExceeded (exit 3) when it
        does not fit. Nothing is sent until this returns."""
        ceilings = self.ceilings(step)
        bounded = any(v is not None for v in ceilings.values())
        try:
            worst: Decimal | None = worstcase.worst_case_usd(model, params)
        except UnpricedModelError as exc:
            if bounded:
                raise UnpricedModelError(
                    f"{exc.message} A budget is set, so devloop will not send a call it "
                    "cannot price."
                ) from None
            worst = None
        held = self.ledger.reserve(
            self.feature, step, model, worst, step_run_id=step_run_id, ceilings=ceilings
        )
        if held.refused is not None:
            raise BudgetExceeded(self._refusal(step, model, params, worst, held.refused))
        return held.id

    def _refusal(
        self, step: str, model: str, params: dict[str, Any], worst: Decimal | None, why: Refusal
    ) -> str:
        where = {
            "feature": f"feature '{self.feature}'",
            "step": f"step '{step}'",
            "team_day": f"team '{self.cfg.budget.team}' today (UTC, every feature on the ledger)",
            "team_month": f"team '{self.cfg.budget.team}' this month (UTC, every feature on "
            "the ledger)",
        }[why.scope]
        ceiling = pico_to_usd(why.ceiling_pico)
        if why.unpriced:
            return (
                f"budget: {why.held.unpriced} earlier call(s) of {where} could not be priced, "
                f"so its {usd(ceiling, 2)} ceiling can no longer be kept; devloop stops before "
                "the next call. Settle each by hand with the amount your console shows "
                "(`devloop cost --unsettled` lists them; `devloop cost --settle-call ID --usd "
                "AMOUNT`), then resume."
            )
        held = why.held
        left = pico_to_usd(why.ceiling_pico - held.pico)
        parts = f"spent {usd(pico_to_usd(held.calls_pico))}"
        if held.open_count:
            parts += f", {usd(pico_to_usd(held.open_pico))} held by {held.open_count} call(s) in flight or unsettled"
        if held.by_hand_pico:
            parts += f", {usd(pico_to_usd(held.by_hand_pico))} settled by hand"
        return (
            f"budget: the next call of step '{step}' to {model} could cost up to "
            f"{usd(worst)} (its worst case: every prompt token it could be billed for at the "
            f"cache-write rate, and {params['max_tokens']:,} output tokens), but {where} has "
            f"{usd(left)} left of {usd(ceiling, 2)} ({parts}). The call was not sent. "
            + (
                "The team's ceiling is [budget] daily_usd / monthly_usd in devloop.toml: raise "
                "it, or wait for the next day or month, and resume."
                if why.scope in ("team_day", "team_month")
                else "Raise the ceiling (--budget, or [budget] in devloop.toml) and resume."
            )
        )

    def _send(
        self,
        step: str,
        tier: str,
        params: dict[str, Any],
        schema: dict[str, Any] | None,
        attempt: int,
        step_run_id: int | None,
        escalated_from: int | None,
        prior_content: list[dict[str, Any]],
    ) -> _Sent:
        model = params["model"]
        shape = baseline.request_shape(params)
        client = client_for(self._base_url(tier), self.cfg)  # refused: nothing reserved
        reservation = self._reserve(step, model, params, step_run_id)
        headers = {}
        if self.cfg.api.attribution_headers:
            headers = {"X-Devloop-Feature": self.feature, "X-Devloop-Step": step}
        record = CallRecord(
            feature=self.feature,
            step_key=step,
            step_run_id=step_run_id,
            attempt=attempt,
            tier=tier,
            requested_model=model,
            served_model=model,
            escalated_from=escalated_from,
            cache_shape=shape,
            request_sha256=request_sha256(params),
            reservation_id=reservation,
        )
        release = self._gate.enter((model, baseline.prefix_key(shape)))
        attempt_log.statuses = []
        attempt_log.on_response = release
        sent_at = datetime.now(UTC)
        if reservation is not None:
            self.ledger.mark_sent(reservation, sent_at, shape)
        started = time.monotonic()
        try:
            streamed = stream_message(client, params, headers, self.cfg.api.max_retries)
        except StreamFailed as failed:
            self._record_failure(record, params, started, failed.error, failed.stream_retries)
            raise stream_error(
                step, model, str(client.base_url), failed, self._attempts(failed.stream_retries)
            ) from None
        finally:
            release()
            attempt_log.on_response = None
        stream_retries = streamed.stream_retries

        reply_dict, request_id = streamed.message, streamed.request_id
        latency_ms = int((time.monotonic() - started) * 1000)
        # The billed answer goes to the transcript first: pricing reads the ledger (the
        # baseline replays the feature's calls), and a shared ledger can go away in between;
        # the next run books the answer from here (recovery.py).
        transcript = None
        if self.exchanges is not None:
            meta = {
                "reservation": reservation,
                "request_sha256": record.request_sha256,
                "sent_at": sent_at.isoformat(),
                "tier": tier,
                "attempt": attempt,
                "step_run_id": step_run_id,
                "escalated_from": escalated_from,
            }
            transcript = self.exchanges.write(step, params, reply_dict, meta)
        combined = {**reply_dict, "content": [*prior_content, *(reply_dict.get("content") or [])]}
        verdict = classify(combined, schema)
        record = self.priced(
            record,
            reply_dict,
            verdict,
            sent_at=sent_at,
            latency_ms=latency_ms,
            request_id=request_id,
            retries=self._attempts(stream_retries) - 1,
        )
        record = replace(record, transcript=transcript)
        call_id = self.ledger.record_call(record)  # before anything else can fail
        self._after(step, record)
        return _Sent(reply_dict, record, call_id, verdict)

    def priced(
        self,
        record: CallRecord,
        reply: dict[str, Any],
        verdict: Verdict,
        **fields: Any,
    ) -> CallRecord:
        """The call's record: priced at the model that served it, with both baselines."""
        usage = reply.get("usage") or {}
        served = reply.get("model") or record.requested_model
        outcome = verdict.outcome
        if served != record.requested_model and outcome in ("ok", "paused"):
            outcome = "model_mismatch"
        try:
            cost: Decimal | None = pricing.cost_usd(served, usage)
        except UnpricedModelError:
            cost = None
        frontier = self.cfg.models.frontier
        try:
            same_usage: Decimal | None = pricing.cost_usd(frontier, usage)
        except UnpricedModelError:
            same_usage = None
        sent_at = fields["sent_at"]
        current = CallShape(
            0, stamp(sent_at), dict(record.cache_shape or {}), baseline.prompt_tokens(usage)
        )
        others = [
            c
            for c in self.ledger.call_shapes(self.feature)
            if c.reservation_id is None or c.reservation_id != record.reservation_id
        ]
        try:
            counterfactual = baseline.counterfactual_usage(
                others,
                current,
                usage,
                frontier=frontier,
                min_tokens=min_cache_tokens(frontier),
            )
            base: Decimal | None = pricing.cost_usd(frontier, counterfactual)
        except UnpricedModelError:
            base = None
        return replace(
            record,
            served_model=served,
            usage=usage,
            cost_usd=cost,
            baseline_usd=base,
            same_usage_baseline_usd=same_usage,
            baseline_model=frontier,
            price_version=pricing.table_version(),
            stop_reason=reply.get("stop_reason") or "",
            outcome=outcome,
            started_at=sent_at,
            **{k: v for k, v in fields.items() if k != "sent_at"},
        )

    def _after(self, step: str, record: CallRecord) -> None:
        """Say what the ledger row means when it is not an ordinary answer."""
        served, model = record.served_model or record.requested_model, record.requested_model
        if record.cost_usd is None:
            self.warn(
                f"step '{step}': {served} has no verified price (devloop/prices.toml); the "
                "call is recorded as unpriced, never as $0."
            )
        if served == model:
            return
        policy = self.cfg.api.on_model_mismatch
        fail = policy == "fail" or (policy == "auto" and record.cost_usd is None)
        price = (
            "no price" if record.cost_usd is None else f"{usd(record.cost_usd, 6)}, at its rates"
        )
        message = (
            f"step '{step}': asked for {model} but {served} answered (request "
            f"{record.request_id or '-'}); recorded as model_mismatch ({price}). A gateway or "
            "[endpoints] setting may be rerouting requests; check [models]."
        )
        if fail:
            raise ModelMismatchError(
                f"{message} [api] on_model_mismatch = '{policy}' stops the run here.",
                step=step,
                model=served,
                request_id=record.request_id or "",
            )
        self.warn(message)

    def _attempts(self, stream_retries: int) -> int:
        statuses = getattr(attempt_log, "statuses", None) or []
        return max(len(statuses), stream_retries + 1)

    def _record_failure(
        self,
        record: CallRecord,
        params: dict[str, Any],
        started: float,
        exc: Exception,
        stream_retries: int,
    ) -> None:
        """A request that got no usable response: a $0 ledger row (its reservation
        released: nothing was billed) and a transcript entry."""
        status = getattr(getattr(exc, "response", None), "status_code", None)
        request_id = getattr(exc, "request_id", None) or ""
        kind = error_type(exc)
        transcript = None
        if self.exchanges is not None:
            error = {"status": status, "type": kind or type(exc).__name__}
            error["message"] = redact(error_message(exc))
            transcript = self.exchanges.write(
                record.step_key,
                params,
                {"error": error, "request_id": request_id},
                {"reservation": record.reservation_id},
            )
        self.ledger.record_call(
            replace(
                record,
                usage={},
                cost_usd=Decimal(0),  # a failed request is not billed
                baseline_usd=Decimal(0),
                same_usage_baseline_usd=Decimal(0),
                cache_shape=None,  # it wrote nothing to the cache
                baseline_model=self.cfg.models.frontier,
                price_version=pricing.table_version(),
                latency_ms=int((time.monotonic() - started) * 1000),
                stop_reason="",
                request_id=request_id,
                outcome=f"api_error:{kind or status or type(exc).__name__}",
                retries=self._attempts(stream_retries) - 1,
                transcript=transcript,
            ),
            release=True,
        )
