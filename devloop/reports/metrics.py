"""`devloop metrics`: the ledger as Prometheus counters, broken down by model and step.

The seeds' "break cost down by model and task type": the step is devloop's task type.
Counters are totals since the ledger began, computed by one aggregate query per call
(Ledger.outcome_groups), so they equal `devloop cost --all` exactly (up to the float a
Prometheus sample is):

    devloop_llm_requests_total{model,step,tier}            every recorded call
    devloop_llm_tokens_total{model,step,type}              input | cache_write | cache_read | output
    devloop_llm_cost_usd_total{model,step}                 calls with a verified price
    devloop_llm_frontier_baseline_usd_total{step}          the calls in one all-frontier run
    devloop_llm_failures_total{model,step,kind}            outcome other than ok, e.g. empty,
                                                           truncated, refusal, invalid_output,
                                                           api_error:overloaded_error
    devloop_escalations_total{step}                        calls made as an escalation

prometheus-client is an optional extra (`pip install 'devloop[metrics]'`), imported only
here. `--textfile PATH` writes the exposition atomically (a temp file renamed over PATH)
for node_exporter's textfile collector.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from devloop.errors import UsageError
from devloop.ledger import Ledger, OutcomeGroup, pico_to_usd

INSTALL_HINT = "pip install 'devloop[metrics]'"
TOKEN_TYPES = ("input", "cache_write", "cache_read", "output")


def require_client() -> Any:
    try:
        import prometheus_client
    except ImportError:
        raise UsageError(
            "devloop metrics needs prometheus-client, an optional extra: "
            f"{INSTALL_HINT} (or pip install prometheus-client)."
        ) from None
    return prometheus_client


def _usd(pico: int) -> float:
    return float(pico_to_usd(pico))


class LedgerCollector:
    """A prometheus_client collector over the ledger's call groups (read once)."""

    def __init__(self, groups: list[OutcomeGroup]) -> None:
        self.groups = groups

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily

        requests: dict[tuple[str, ...], float] = defaultdict(float)
        tokens: dict[tuple[str, ...], float] = defaultdict(float)
        cost: dict[tuple[str, ...], int] = defaultdict(int)
        baseline: dict[tuple[str, ...], int] = defaultdict(int)
        failures: dict[tuple[str, ...], float] = defaultdict(float)
        escalations: dict[tuple[str, ...], float] = defaultdict(float)
        for g in self.groups:
            requests[(g.model, g.step_key, g.tier)] += g.calls
            counts = (g.input_tokens, g.cache_write_tokens, g.cache_read_tokens, g.output_tokens)
            for kind, count in zip(TOKEN_TYPES, counts, strict=True):
                tokens[(g.model, g.step_key, kind)] += count
            cost[(g.model, g.step_key)] += g.cost_pico
            baseline[(g.step_key,)] += g.baseline_pico
            if g.outcome != "ok":
                failures[(g.model, g.step_key, g.outcome)] += g.calls
            escalations[(g.step_key,)] += g.escalated

        def family(name: str, doc: str, labels: list[str], values: dict, money: bool = False):
            metric = CounterMetricFamily(name, doc, labels=labels)
            for key in sorted(values):
                value = values[key]
                metric.add_metric(list(key), _usd(value) if money else float(value))
            return metric

        yield family(
            "devloop_llm_requests",
            "Model calls recorded in the ledger.",
            ["model", "step", "tier"],
            requests,
        )
        yield family(
            "devloop_llm_tokens",
            "Tokens by type: input (uncached), cache_write, cache_read, output.",
            ["model", "step", "type"],
            tokens,
        )
        yield family(
            "devloop_llm_cost_usd",
            "USD spent on calls with a verified price.",
            ["model", "step"],
            cost,
            money=True,
        )
        yield family(
            "devloop_llm_frontier_baseline_usd",
            "USD the calls would have cost in one all-frontier run (one prompt cache).",
            ["step"],
            baseline,
            money=True,
        )
        yield family(
            "devloop_llm_failures",
            "Calls whose outcome was not ok, by kind (the ledger's outcome).",
            ["model", "step", "kind"],
            failures,
        )
        yield family(
            "devloop_escalations",
            "Calls made as an escalation to a stronger tier.",
            ["step"],
            escalations,
        )


def registry(ledger: Ledger) -> Any:
    client = require_client()
    reg = client.CollectorRegistry(auto_describe=False)
    reg.register(LedgerCollector(ledger.outcome_groups()))
    return reg


def exposition(ledger: Ledger) -> str:
    """The Prometheus text exposition of the ledger's counters."""
    client = require_client()
    return client.generate_latest(registry(ledger)).decode("utf-8")


def write_textfile(ledger: Ledger, path: Path) -> None:
    """Write the exposition to `path` atomically (node_exporter's textfile collector)."""
    client = require_client()
    if not path.parent.is_dir():
        raise UsageError(f"--textfile {path}: the directory {path.parent} does not exist.")
    try:
        client.write_to_textfile(str(path), registry(ledger))
    except OSError as exc:
        raise UsageError(f"--textfile {path}: cannot write it ({exc.strerror}).") from None
