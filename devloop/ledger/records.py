"""What the ledger stores and returns, as plain dataclasses, and a call's row by column.

Money is integer pico-USD in the database (devloop.money); a None cost means "unpriced"
and is counted, never summed as $0."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from devloop.errors import LedgerError
from devloop.money import usd_to_pico
from devloop.usage import UsageProblem
from devloop.usage import parse as parse_usage

# What happened to one model call: the conventional values. The ledger stores whatever
# non-empty outcome it is given (a "kind:detail" form such as "api_error:overloaded" is
# fine): refusing an unexpected word would lose the record of a billed call.
CALL_OUTCOMES: tuple[str, ...] = (
    "ok",
    "empty",  # billed, but no usable content
    "truncated",  # stopped at max_tokens
    "refusal",
    "invalid_output",  # did not match the requested structure
    "model_mismatch",  # served model differs from the one asked for
    "error",  # failed after the request was sent
    "api_error",  # the provider answered with an error (usually "api_error:<type>")
    "cancelled",
)


STEP_RUN_RUNNING = "running"


class LedgerMissing(LedgerError):
    """There is no ledger (or nothing in it) yet: nothing to report."""


@dataclass(frozen=True)
class Feature:
    slug: str
    title: str
    spec_path: str
    branch: str
    status: str
    budget_usd: Decimal | None
    tag: str | None
    created_at: str
    updated_at: str
    repository: str | None = None  # the repository that started it (shared ledgers)


USER_ENV = "DEVLOOP_USER"  # who to record, when the login name is not it (a CI runner)


@dataclass(frozen=True)
class Origin:
    """Who and where the rows of one open ledger are written: recorded on every call,
    step run and reservation (`ORIGIN_FIELDS`). Empty means unknown (stored as NULL)."""

    user_name: str = ""
    host: str = ""
    repository: str = ""
    branch: str = ""
    team: str = ""  # [budget] team: whose shared daily/monthly ceilings the calls count to

    @classmethod
    def here(cls, repository: str = "", branch: str = "", team: str = "") -> Origin:
        """This process's user ($DEVLOOP_USER, else the login name) and host."""
        import os
        import socket

        user = os.environ.get(USER_ENV, "").strip()
        if not user:
            import getpass

            try:
                user = getpass.getuser()
            except (KeyError, OSError):  # a uid with no passwd entry (some containers)
                user = f"uid {os.getuid()}"
        return cls(user, socket.gethostname(), repository, branch, team)

    def values(self) -> tuple[str | None, ...]:
        """In the order of ORIGIN_FIELDS, "" as None."""
        return tuple(
            value or None
            for value in (self.user_name, self.host, self.repository, self.branch, self.team)
        )


@dataclass(frozen=True)
class CallRecord:
    """One model response, as the model-access layer saw it.

    `usage` is the API's usage object as a dict (`response.usage.model_dump()`); the raw
    fields are copied out of it into columns and the whole dict is kept as JSON.
    `cost_usd` / `baseline_usd` of None mean "unpriced" (model without a verified price).
    """

    feature: str  # slug
    step_key: str
    tier: str
    requested_model: str
    outcome: str = ""  # required by record_call; a default so a template can be filled later
    served_model: str | None = None
    step_run_id: int | None = None
    attempt: int = 1
    usage: Mapping[str, Any] = field(default_factory=dict)
    cost_usd: Decimal | None = None
    baseline_usd: Decimal | None = None  # in one all-frontier run (baseline.py)
    baseline_model: str | None = None
    price_version: str | None = None
    latency_ms: int | None = None
    stop_reason: str | None = None
    request_id: str | None = None
    retries: int = 0
    escalated_from: int | None = None  # id of the call this one escalates from
    created_at: datetime | None = None  # default: now (UTC)
    same_usage_baseline_usd: Decimal | None = None  # this usage at frontier rates
    cache_shape: Mapping[str, Any] | None = None  # what the prompt cache saw (baseline.py)
    request_sha256: str | None = None
    transcript: str | None = None  # file name in the feature's transcripts/
    reservation_id: int | None = None
    started_at: datetime | None = None  # when the request was sent


@dataclass(frozen=True)
class UsageColumns:
    """The raw usage fields stored as columns (None: the API did not report it)."""

    input_tokens: int
    cache_write_5m_tokens: int | None
    cache_write_1h_tokens: int | None
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    output_tokens: int
    thinking_tokens: int | None
    web_search_requests: int
    web_fetch_requests: int
    service_tier: str | None
    inference_geo: str | None
    speed: str | None


def usage_columns(usage: Mapping[str, Any]) -> UsageColumns:
    """The raw fields of an API usage dict (usage.py); the 5m/1h split is None when the
    API did not report it ("unknown" differs from "none")."""
    try:
        read = parse_usage(usage)
    except UsageProblem as exc:
        raise LedgerError(str(exc)) from None
    split = read.split_reported
    return UsageColumns(
        input_tokens=read.input,
        cache_write_5m_tokens=read.write_5m if split else None,
        cache_write_1h_tokens=read.write_1h if split else None,
        cache_creation_input_tokens=read.cache_write,
        cache_read_input_tokens=read.read,
        output_tokens=read.output,
        thinking_tokens=read.thinking,
        web_search_requests=read.web_search,
        web_fetch_requests=read.web_fetch,
        service_tier=read.service_tier,
        inference_geo=read.inference_geo,
        speed=read.speed,
    )


@dataclass(frozen=True)
class Spend:
    """Money spent so far (priced calls only) and how many calls could not be priced."""

    cost_usd: Decimal
    calls: int
    unpriced_calls: int


@dataclass(frozen=True)
class Committed:
    """What counts against a ceiling (pico-USD), and whether an unpriced call that no
    person settled makes the ceiling impossible to keep."""

    pico: int
    calls_pico: int
    open_pico: int  # open reservations at their worst case
    open_count: int
    by_hand_pico: int
    unpriced: int  # unpriced calls not settled by hand


@dataclass(frozen=True)
class Refusal:
    scope: str  # "feature" or "step"
    ceiling_pico: int
    held: Committed
    unpriced: bool  # refused because an unpriced call makes the ceiling unknowable


@dataclass(frozen=True)
class Reservation:
    id: int | None
    worst_pico: int | None
    refused: Refusal | None = None


@dataclass(frozen=True)
class OpenReservation:
    id: int
    feature: str
    step_key: str
    step_run_id: int | None
    model: str
    worst_pico: int | None
    pid: int | None
    host: str | None
    created_at: str


@dataclass(frozen=True)
class CallShape:
    """A recorded call as the counterfactual baseline replays it."""

    id: int  # the call's id; minus the reservation's for a call still in flight
    started_at: str
    shape: dict[str, Any]
    prompt_tokens: int  # input + cache writes + cache reads, as billed (in flight: estimated)
    reservation_id: int | None = None  # set for a call still in flight


@dataclass(frozen=True)
class CacheUse:
    """One answered call as the prompt cache saw it, for the cache groups of a report."""

    step_key: str
    model: str  # the model that served it: the cache is per model
    shape: dict[str, Any]  # its cache_json (baseline.request_shape); {} when not recorded
    input_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int


@dataclass(frozen=True)
class ReusableCall:
    id: int
    transcript: str
    step_run_id: int


@dataclass(frozen=True)
class CallGroup:
    """Calls aggregated by (feature, step, tier, served model, baseline model)."""

    feature: str
    step_key: str
    tier: str
    model: str  # served model, or the requested one when the response named none
    baseline_model: str | None
    calls: int
    unpriced_calls: int  # cost is NULL
    baseline_unpriced_calls: int  # cost known, baseline NULL
    input_tokens: int
    cache_write_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    cache_read_tokens: int
    output_tokens: int
    cost_pico: int  # over calls with a known cost
    baseline_pico: int  # over calls with a known cost and a known baseline
    same_usage_baseline_pico: int = 0  # the same, for the same-usage baseline
    same_usage_unpriced_calls: int = 0  # cost known, same-usage baseline NULL
    dimension: str = ""  # the user, repo, host or day grouped by (queries.DIMENSIONS)


@dataclass(frozen=True)
class RunGroup:
    """Step runs aggregated by (feature, step, tier, model); tier is "script" for scripts."""

    feature: str
    step_key: str
    step_number: int
    worker: str
    tier: str
    model: str | None
    runs: int
    dimension: str = ""  # the user, repo, host or day grouped by (queries.DIMENSIONS)


@dataclass(frozen=True)
class StepRunRecord:
    """One step run with the route it took and the outcome it recorded (JSON, parsed)."""

    id: int
    feature: str
    step_number: int
    step_key: str
    worker: str
    tier: str | None
    model: str | None
    status: str
    started_at: str
    ended_at: str | None
    route: dict[str, Any] | None
    outcome: dict[str, Any] | None


@dataclass(frozen=True)
class RunCallStats:
    """The calls of one step run, aggregated."""

    calls: int
    priced_calls: int
    cost_pico: int
    baseline_pico: int
    escalated: int  # calls made as an escalation (escalated_from set)
    empty: int
    truncated: int
    failed: int  # outcome other than "ok"
    input_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class OutcomeGroup:
    """Calls aggregated by (step, tier, model, outcome, repository, team)."""

    step_key: str
    tier: str
    model: str
    outcome: str
    calls: int
    input_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    output_tokens: int
    cost_pico: int  # over calls with a known cost
    baseline_pico: int  # over calls with a known cost
    escalated: int
    repository: str = ""  # "" when not recorded
    team: str = ""


@dataclass(frozen=True)
class Escalation:
    """An escalated call and the call it escalated from."""

    call_id: int
    step_run_id: int | None
    step_key: str
    tier: str
    model: str
    outcome: str
    from_call: int
    from_tier: str | None
    from_model: str | None
    from_outcome: str | None


@dataclass(frozen=True)
class CallSpan:
    """What a trace span of one call needs."""

    id: int
    step_run_id: int | None
    step_key: str
    tier: str
    requested_model: str
    served_model: str | None
    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    output_tokens: int
    cost_pico: int | None
    baseline_pico: int | None
    latency_ms: int | None
    created_at: str
    outcome: str
    stop_reason: str | None
    request_id: str | None
    escalated_from: int | None


def _now() -> str:
    return stamp(datetime.now(UTC))


def stamp(moment: datetime) -> str:
    # Fixed-width UTC text so timestamps sort as strings.
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _optional_pico(usd: Decimal | None, what: str) -> int | None:
    if usd is None:
        return None
    pico = usd_to_pico(usd)
    if pico < 0:
        raise ValueError(f"{what} must not be negative, got {usd}")
    return pico


def _call_row(call: CallRecord) -> dict[str, Any]:
    """A CallRecord as the calls table's columns, checked."""
    if not isinstance(call.outcome, str) or not call.outcome.strip():
        raise ValueError(f"a call needs an outcome, e.g. one of {', '.join(CALL_OUTCOMES)}")
    if call.attempt < 1 or call.retries < 0:
        raise ValueError("attempt starts at 1 and retries cannot be negative")
    usage = usage_columns(call.usage)
    return {
        "feature": call.feature,
        "step_key": call.step_key,
        "step_run_id": call.step_run_id,
        "attempt": call.attempt,
        "tier": call.tier,
        "requested_model": call.requested_model,
        "served_model": call.served_model,
        "input_tokens": usage.input_tokens,
        "cache_write_5m_tokens": usage.cache_write_5m_tokens,
        "cache_write_1h_tokens": usage.cache_write_1h_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "output_tokens": usage.output_tokens,
        "thinking_tokens": usage.thinking_tokens,
        "service_tier": usage.service_tier,
        "inference_geo": usage.inference_geo,
        "speed": usage.speed,
        "web_search_requests": usage.web_search_requests,
        "web_fetch_requests": usage.web_fetch_requests,
        "usage_json": json.dumps(dict(call.usage), sort_keys=True, default=str),
        "cost_pico": _optional_pico(call.cost_usd, "cost_usd"),
        "baseline_pico": _optional_pico(call.baseline_usd, "baseline_usd"),
        "baseline_model": call.baseline_model,
        "price_version": call.price_version,
        "latency_ms": call.latency_ms,
        "stop_reason": call.stop_reason,
        "request_id": call.request_id,
        "outcome": call.outcome,
        "retries": call.retries,
        "escalated_from": call.escalated_from,
        "created_at": stamp(call.created_at) if call.created_at else _now(),
        "same_usage_baseline_pico": _optional_pico(
            call.same_usage_baseline_usd, "same_usage_baseline_usd"
        ),
        "cache_json": _json(call.cache_shape),
        "request_sha256": call.request_sha256,
        "transcript": call.transcript,
        "reservation_id": call.reservation_id,
        "started_at": stamp(call.started_at) if call.started_at else None,
    }


def _loads(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
