"""`devloop metrics` (Prometheus) and the optional OpenTelemetry export, after real runs."""

from __future__ import annotations

import json
import sys
from decimal import Decimal

import pytest
from loop_harness import SLUG, build_phase, plan_phase
from prometheus_client.parser import text_string_to_metric_families

from devloop.ledger import Ledger


def samples(text: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, []).append(sample)
    return out


def total(found: dict[str, list], name: str, **labels) -> float:
    return sum(
        s.value for s in found.get(name, []) if all(s.labels.get(k) == v for k, v in labels.items())
    )


@pytest.fixture
def ran(repo, sim, devloop, escalating_agent):
    """A full feature (with an escalation) and a second run whose research answered empty
    once: failures, escalations and several steps and models in one ledger."""
    scenario = {
        **plan_phase(research=[{"text": "notes"}, {"empty": True}, {"text": "notes"}]),
        **build_phase(),
        "implement": [{"text": "mid try"}, {"text": "frontier fix"}],
    }
    sim(scenario)
    assert devloop(repo, "feature", "specs/goodbye.md").code == 0
    (repo / "specs" / "again.md").write_text("# Say hello twice\n\nEdit src/app.py.\n")
    assert (
        devloop(repo, "feature", "specs/again.md", "--allow-dirty", "--stop-after", "1").code == 0
    )
    return repo


def test_metrics_parse_and_equal_the_cost_report(ran, devloop):
    result = devloop(ran, "metrics")
    assert result.code == 0, result
    found = samples(result.out)
    cost = json.loads(devloop(ran, "cost", "--all", "--format", "json").out)["total"]
    assert total(found, "devloop_llm_requests_total") == cost["calls"] == 13
    assert total(found, "devloop_llm_cost_usd_total") == pytest.approx(float(cost["cost_usd"]))
    assert total(found, "devloop_llm_frontier_baseline_usd_total") == pytest.approx(
        float(cost["baseline_usd"])
    )
    for kind in ("input", "cache_write", "cache_read", "output"):
        assert total(found, "devloop_llm_tokens_total", type=kind) == cost["tokens"][kind], kind
    assert total(found, "devloop_llm_failures_total") == 1
    (empty,) = found["devloop_llm_failures_total"]
    assert empty.labels == {
        "model": "claude-opus-5-5",
        "tier": "frontier",
        "step": "research",
        "repository": ran.name,  # the repository's directory: no [ledger] repository set
        "team": "",
        "kind": "empty",
    }
    assert total(found, "devloop_ledger_up") == 1
    assert total(found, "devloop_escalations_total", step="implement") == 1
    assert total(found, "devloop_escalations_total") == 1
    assert total(found, "devloop_llm_requests_total", step="implement", tier="frontier") == 1
    assert total(found, "devloop_llm_requests_total", step="implement", tier="mid") == 1
    # per model, the cost adds up to what the ledger holds for that model
    with Ledger.open(ran) as ledger:
        opus = sum(g.cost_pico for g in ledger.call_groups() if g.model == "claude-opus-5-5")
    assert total(found, "devloop_llm_cost_usd_total", model="claude-opus-5-5") == pytest.approx(
        float(Decimal(opus) / 10**12)
    )


def test_textfile_is_written_atomically(ran, devloop, tmp_path):
    target = tmp_path / "collector" / "devloop.prom"
    missing = devloop(ran, "metrics", "--textfile", str(target))
    assert missing.code == 2 and "does not exist" in missing.err
    target.parent.mkdir()
    target.write_text("old content\n")
    result = devloop(ran, "metrics", "--textfile", str(target))
    assert result.code == 0, result
    assert target.read_text() == devloop(ran, "metrics").out
    assert [p.name for p in target.parent.iterdir()] == ["devloop.prom"]  # no temp file left


def test_metrics_without_the_extra_or_a_ledger(git_repo, devloop, monkeypatch):
    assert devloop(git_repo, "metrics").code == 1  # nothing recorded yet
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    result = devloop(git_repo, "metrics")
    assert result.code == 2 and "pip install 'devloop[metrics]'" in result.err


# ------------------------------------------------------------------ OpenTelemetry


def test_otel_spans_carry_the_genai_and_devloop_attributes(ran):
    pytest.importorskip("opentelemetry.sdk")
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from devloop.reports import otel

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with Ledger.open(ran) as ledger:
        runs = [r.id for r in ledger.step_run_records(SLUG)]
        count = otel.emit_spans(ledger, SLUG, runs, provider.get_tracer("test"))
    spans = exporter.get_finished_spans()
    assert count == len(spans) == 1 + 15 + 11  # the run, its steps, its model calls
    (root,) = [s for s in spans if s.parent is None]
    steps = {s.attributes["devloop.step"]: s for s in spans if s.name.startswith("devloop.step")}
    assert all(s.parent.span_id == root.context.span_id for s in steps.values())
    calls = [s for s in spans if s.name.startswith("chat ")]
    research = next(s for s in calls if s.attributes["devloop.step"] == "research")
    attrs = research.attributes
    assert attrs["gen_ai.operation.name"] == "chat" and attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.request.model"] == attrs["gen_ai.response.model"] == "claude-opus-5-5"
    assert attrs["gen_ai.usage.input_tokens"] > 0 and attrs["gen_ai.usage.output_tokens"] > 0
    assert "gen_ai.usage.cache_read.input_tokens" in attrs
    assert "gen_ai.usage.cache_creation.input_tokens" in attrs
    assert attrs["devloop.cost_usd"] > 0 and attrs["devloop.frontier_baseline_usd"] > 0
    assert research.parent.span_id == steps["research"].context.span_id
    assert steps["research"].attributes["devloop.cost_usd"] == pytest.approx(
        attrs["devloop.cost_usd"]
    )
    escalated = [s for s in calls if "devloop.escalated_from" in s.attributes]
    assert len(escalated) == 1 and escalated[0].attributes["devloop.tier"] == "frontier"


def test_otel_is_off_unless_configured(ran, monkeypatch):
    from devloop.reports import otel

    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    with Ledger.open(ran) as ledger:
        assert otel.export_run(ledger, SLUG, [1, 2]) == 0
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
        monkeypatch.setitem(sys.modules, "opentelemetry.sdk", None)  # not installed
        warned: list[str] = []
        assert otel.export_run(ledger, SLUG, [1, 2], warn=warned.append) == 0
    assert "pip install 'devloop[otel]'" in warned[0]
