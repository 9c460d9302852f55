"""What an earlier run left behind: answers received but never booked, calls in flight.

`recover` runs when a run starts: a reservation whose answer reached the transcripts is
recorded from it, exactly; one whose answer never arrived stays unsettled (counted at its
worst case) until a person settles it. `reuse` hands a step run that was cut off the answer
it already bought for exactly the same request, instead of buying it again.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from devloop.ledger import CallRecord, OpenReservation, baseline, pico_to_usd
from devloop.model.replies import classify
from devloop.model.request import Reply, request_sha256
from devloop.money import usd
from devloop.proc import pid_alive

if TYPE_CHECKING:
    from devloop.model.door import Door


def recover(door: Door) -> list[OpenReservation]:
    """Settle what an earlier run left in flight: a reservation whose answer reached the
    transcripts is recorded from it, exactly; one whose answer never arrived stays
    unsettled (counted at its worst case) until a person settles it. Returns those."""
    import socket

    left = []
    for held in door.ledger.open_reservations(door.feature):
        if held.host == socket.gethostname() and held.pid and pid_alive(held.pid):
            if held.pid != os.getpid():
                continue  # another live process's call in flight
        name = door.exchanges.find(held.id) if door.exchanges is not None else None
        data = door.exchanges.read(name) if (door.exchanges and name) else None
        if data and isinstance(data.get("response"), dict) and "usage" in data["response"]:
            _record_recovered(door, held, name or "", data)
        else:
            left.append(held)
    if left:
        worst = sum((h.worst_pico or 0) for h in left)
        door.warn(
            f"{len(left)} call(s) of an earlier run were in flight when it stopped, and "
            "their answers never arrived: they may have been billed. Each counts at its "
            f"worst case ({usd(pico_to_usd(worst))} in all) against the budget until you "
            "settle it: `devloop cost --unsettled` lists them, `devloop cost --settle ID "
            "--usd AMOUNT` settles one (the amount your console shows; 0 if none)."
        )
    return left


def reuse(
    door: Door, step: str, params: dict[str, Any], schema: dict[str, Any] | None, run_id: int | None
) -> Reply | None:
    """The answer a cut-off step run already bought for exactly this request, once."""
    if door.exchanges is None:
        return None
    found = door.ledger.reusable_call(door.feature, step, request_sha256(params))
    if found is None or found.id in door.reused_ids:
        return None
    data = door.exchanges.read(found.transcript)
    reply = data.get("response") if data else None
    if not isinstance(reply, dict) or not isinstance(reply.get("content"), list):
        return None
    verdict = classify(reply, schema)
    if verdict.error is not None:
        return None
    door.reused_ids.add(found.id)
    door.ledger.mark_reused(found.id, run_id)
    door.warn(
        f"step '{step}': used the answer recorded before the earlier run was cut off "
        f"(call {found.id}, {found.transcript}); it is not bought again."
    )
    served = reply.get("model") or params["model"]
    return Reply(
        text=verdict.text,
        data=verdict.data,
        content=reply["content"],
        stop_reason=reply.get("stop_reason") or "",
        model=served,
        requested_model=params["model"],
        request_id=str(reply.get("id") or ""),
        usage=reply.get("usage") or {},
        call_id=found.id,
        cost_usd=Decimal(0),
        baseline_usd=Decimal(0),
        retries=0,
    )


def _record_recovered(door: Door, held: OpenReservation, name: str, data: dict[str, Any]) -> None:
    """An answer that reached the transcripts before its ledger row: record it now."""
    reply = data["response"]
    meta = data.get("meta") or {}
    params = data.get("request") or {}
    sent_at = meta.get("sent_at")
    record = CallRecord(
        feature=door.feature,
        step_key=held.step_key,
        step_run_id=meta.get("step_run_id", held.step_run_id),
        attempt=int(meta.get("attempt") or 1),
        tier=str(meta.get("tier") or ""),
        requested_model=held.model,
        served_model=held.model,
        escalated_from=meta.get("escalated_from"),
        cache_shape=baseline.request_shape(params) if params.get("messages") else None,
        request_sha256=meta.get("request_sha256"),
        reservation_id=held.id,
        transcript=name,
    )
    moment = datetime.fromisoformat(sent_at) if sent_at else datetime.now(UTC)
    record = door.priced(
        record,
        reply,
        classify(reply, None),
        sent_at=moment,
        latency_ms=None,
        request_id=str(reply.get("id") or ""),
        retries=0,
    )
    door.ledger.record_call(record)
    door.warn(
        f"step '{held.step_key}': recorded the answer an earlier run received but had not "
        f"booked when it stopped ({name})."
    )
