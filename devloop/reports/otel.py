"""Optional OpenTelemetry export: a span per step run and per model call, with the GenAI
semantic-convention attributes and devloop's own cost, baseline and step attributes.

Off unless both hold: the SDK and OTLP exporter are importable (`pip install
'devloop[otel]'`) and an endpoint is set by the standard variables
(OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT); the exporter reads
the other OTEL_EXPORTER_OTLP_* variables (headers, protocol, timeout) itself. Never
required: devloop runs the same without it.

Spans are built from the ledger when a run ends: step runs and calls carry their own
start times and latencies, so tracing never sits in the path of a model call, and an
export that fails is a warning, never a failed run.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from devloop.ledger import Ledger, pico_to_usd

ENDPOINT_VARS = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
PROVIDER = "anthropic"
INSTALL_HINT = "pip install 'devloop[otel]'"


def configured() -> bool:
    return any(os.environ.get(name, "").strip() for name in ENDPOINT_VARS)


def export_run(
    ledger: Ledger,
    slug: str,
    run_ids: Sequence[int],
    *,
    warn: Callable[[str], None] | None = None,
) -> int:
    """Export the spans of these step runs when tracing is configured; the span count."""
    if not run_ids or not configured():
        return 0
    try:
        provider = _otlp_provider()
    except ImportError:
        if warn:
            warn(
                "an OTLP endpoint is set but the OpenTelemetry SDK or its OTLP exporter is not "
                f"installed, so no trace was sent: {INSTALL_HINT}"
            )
        return 0
    try:
        count = emit_spans(ledger, slug, run_ids, provider.get_tracer("devloop"))
        provider.force_flush()
        return count
    except Exception as exc:  # noqa: BLE001 - tracing must never fail a run
        if warn:
            warn(f"OpenTelemetry export failed: {type(exc).__name__}: {exc}")
        return 0
    finally:
        provider.shutdown()


def _otlp_provider() -> Any:
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    attributes = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": "devloop"}
    provider = TracerProvider(resource=Resource.create(attributes))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return provider


def _ns(stamp: str | None) -> int | None:
    if not stamp:
        return None
    moment = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    return int(moment.timestamp() * 1_000_000) * 1_000


def _usd(pico: int | None) -> float | None:
    return None if pico is None else float(pico_to_usd(pico))


def _clean(attributes: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in attributes.items() if v is not None}


def emit_spans(ledger: Ledger, slug: str, run_ids: Sequence[int], tracer: Any) -> int:
    """One root span for the run, a child per step run, a grandchild per model call."""
    from opentelemetry import trace
    from opentelemetry.trace import SpanKind, Status, StatusCode

    wanted = set(run_ids)
    runs = [r for r in ledger.step_run_records(slug) if r.id in wanted]
    if not runs:
        return 0
    calls = ledger.call_spans(slug, [r.id for r in runs])
    by_run: dict[int, list[Any]] = {}
    for call in calls:
        by_run.setdefault(call.step_run_id or -1, []).append(call)
    now = _ns(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    starts = [_ns(r.started_at) or now for r in runs]
    ends = [_ns(r.ended_at) or now for r in runs]
    root = tracer.start_span(
        f"devloop.run {slug}",
        start_time=min(starts),
        attributes={"devloop.feature": slug, "devloop.step_runs": len(runs)},
    )
    count = 1
    for run, start, end in zip(runs, starts, ends, strict=True):
        route = run.route or {}
        mine = by_run.get(run.id, [])
        cost = sum(c.cost_pico or 0 for c in mine)
        baseline = sum(c.baseline_pico or 0 for c in mine if c.cost_pico is not None)
        step_span = tracer.start_span(
            f"devloop.step {run.step_key}",
            context=trace.set_span_in_context(root),
            start_time=start,
            attributes=_clean(
                {
                    "devloop.feature": slug,
                    "devloop.step": run.step_key,
                    "devloop.step_number": run.step_number,
                    "devloop.worker": run.worker,
                    "devloop.tier": route.get("tier") or run.tier,
                    "devloop.model": run.model,
                    "devloop.router": route.get("router"),
                    "devloop.route_score": route.get("score"),
                    "devloop.route_reason": route.get("reason"),
                    "devloop.status": run.status,
                    "devloop.calls": len(mine),
                    "devloop.cost_usd": _usd(cost),
                    "devloop.frontier_baseline_usd": _usd(baseline),
                }
            ),
        )
        if run.status not in ("ok", "running"):
            step_span.set_status(Status(StatusCode.ERROR, run.status))
        for call in mine:
            _call_span(tracer, trace, SpanKind, Status, StatusCode, step_span, slug, call)
            count += 1
        step_span.end(end_time=end)
        count += 1
    root.end(end_time=max(ends))
    return count


def _call_span(tracer, trace, kind, status_cls, code, parent, slug: str, call) -> None:
    end = _ns(call.created_at) or 0
    start = end - (call.latency_ms or 0) * 1_000_000
    model = call.served_model or call.requested_model
    span = tracer.start_span(
        f"chat {call.requested_model}",
        context=trace.set_span_in_context(parent),
        kind=kind.CLIENT,
        start_time=start,
        attributes=_clean(
            {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": PROVIDER,
                "gen_ai.request.model": call.requested_model,
                "gen_ai.response.model": call.served_model,
                # The convention counts every input token, cached or not.
                "gen_ai.usage.input_tokens": call.input_tokens
                + call.cache_creation_input_tokens
                + call.cache_read_input_tokens,
                "gen_ai.usage.output_tokens": call.output_tokens,
                "gen_ai.usage.cache_read.input_tokens": call.cache_read_input_tokens,
                "gen_ai.usage.cache_creation.input_tokens": call.cache_creation_input_tokens,
                "gen_ai.response.finish_reasons": [call.stop_reason] if call.stop_reason else None,
                "devloop.feature": slug,
                "devloop.step": call.step_key,
                "devloop.tier": call.tier,
                "devloop.model": model,
                "devloop.call_id": call.id,
                "devloop.outcome": call.outcome,
                "devloop.request_id": call.request_id,
                "devloop.escalated_from": call.escalated_from,
                "devloop.cost_usd": _usd(call.cost_pico),
                "devloop.frontier_baseline_usd": _usd(
                    call.baseline_pico if call.cost_pico is not None else None
                ),
            }
        ),
    )
    if call.outcome != "ok":
        span.set_attribute("error.type", call.outcome)
        span.set_status(status_cls(code.ERROR, call.outcome))
    span.end(end_time=end)
