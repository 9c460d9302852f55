"""`devloop metrics`: the ledger as Prometheus counters, broken down by model and step.

The seeds' "break cost down by model and task type": the step is devloop's task type.
Counters are totals since the ledger began, read from the running totals a trigger keeps
in the same transaction as each call row (Ledger.outcome_groups: a few rows, however many
calls), so they equal `devloop cost --all` exactly (up to the float a Prometheus sample is). Every series carries the labels model, tier, step, repository and
team ("" where a row recorded none), so one scrape of a shared ledger covers a whole team:

    devloop_llm_requests_total{...}                        every recorded call
    devloop_llm_tokens_total{..., type}                    input | cache_write | cache_read | output
    devloop_llm_cost_usd_total{...}                        calls with a verified price
    devloop_llm_frontier_baseline_usd_total{...}           the calls in one all-frontier run
    devloop_llm_failures_total{..., kind}                  outcome other than ok, e.g. empty,
                                                           truncated, refusal, invalid_output,
                                                           api_error:overloaded_error
    devloop_escalations_total{...}                         calls made as an escalation
    devloop_ledger_up                                      1 when the ledger could be read

prometheus-client is an optional extra (`pip install 'devloop[metrics]'`), imported only
here. `--textfile PATH` writes the exposition atomically (a temp file renamed over PATH)
for node_exporter's textfile collector; `--serve HOST:PORT` answers scrapes over HTTP
(prometheus-client's server), reading the ledger afresh at each one.
"""

from __future__ import annotations

import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from devloop.errors import DevloopError, UsageError
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


LABELS = ["model", "tier", "step", "repository", "team"]


class LedgerCollector:
    """A prometheus_client collector over the ledger's call groups: `read` is called at
    each collection (a scrape, or once for the text file)."""

    def __init__(self, read: Callable[[], list[OutcomeGroup]]) -> None:
        self.read = read

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        up = GaugeMetricFamily("devloop_ledger_up", "1 when devloop could read the ledger.")
        try:
            groups = self.read()
        except DevloopError as exc:  # a scrape reports it and the server goes on
            print(f"devloop: warning: {exc.message}", file=sys.stderr, flush=True)
            up.add_metric([], 0.0)
            yield up
            return
        up.add_metric([], 1.0)
        yield up

        requests: dict[tuple[str, ...], float] = defaultdict(float)
        tokens: dict[tuple[str, ...], float] = defaultdict(float)
        cost: dict[tuple[str, ...], int] = defaultdict(int)
        baseline: dict[tuple[str, ...], int] = defaultdict(int)
        failures: dict[tuple[str, ...], float] = defaultdict(float)
        escalations: dict[tuple[str, ...], float] = defaultdict(float)
        for g in groups:
            key = (g.model, g.tier, g.step_key, g.repository, g.team)
            requests[key] += g.calls
            counts = (g.input_tokens, g.cache_write_tokens, g.cache_read_tokens, g.output_tokens)
            for kind, count in zip(TOKEN_TYPES, counts, strict=True):
                tokens[(*key, kind)] += count
            cost[key] += g.cost_pico
            baseline[key] += g.baseline_pico
            if g.outcome != "ok":
                failures[(*key, g.outcome)] += g.calls
            escalations[key] += g.escalated

        def family(name: str, doc: str, labels: list[str], values: dict, money: bool = False):
            metric = CounterMetricFamily(name, doc, labels=labels)
            for key in sorted(values):
                value = values[key]
                metric.add_metric(list(key), _usd(value) if money else float(value))
            return metric

        yield family(
            "devloop_llm_requests", "Model calls recorded in the ledger.", LABELS, requests
        )
        yield family(
            "devloop_llm_tokens",
            "Tokens by type: input (uncached), cache_write, cache_read, output.",
            [*LABELS, "type"],
            tokens,
        )
        yield family(
            "devloop_llm_cost_usd",
            "USD spent on calls with a verified price.",
            LABELS,
            cost,
            money=True,
        )
        yield family(
            "devloop_llm_frontier_baseline_usd",
            "USD the calls would have cost in one all-frontier run (one prompt cache).",
            LABELS,
            baseline,
            money=True,
        )
        yield family(
            "devloop_llm_failures",
            "Calls whose outcome was not ok, by kind (the ledger's outcome).",
            [*LABELS, "kind"],
            failures,
        )
        yield family(
            "devloop_escalations",
            "Calls made as an escalation to a stronger tier.",
            LABELS,
            escalations,
        )


def registry(ledger: Ledger) -> Any:
    client = require_client()
    reg = client.CollectorRegistry(auto_describe=False)
    groups = ledger.outcome_groups()  # read now: a file gets one consistent reading
    reg.register(LedgerCollector(lambda: groups))
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


def parse_address(text: str) -> tuple[str, int]:
    """HOST:PORT (an IPv6 host in brackets, [::1]:9464) for --serve."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise UsageError(
            f"--serve {text}: give HOST:PORT, e.g. --serve 127.0.0.1:9464 (or 0.0.0.0:9464 "
            "for a Prometheus on another machine)."
        )
    return host, int(port)


def serve(ledger: Ledger, host: str, port: int) -> Any:
    """Answer scrapes at http://HOST:PORT/metrics in the background, each reading the
    ledger afresh; returns the server (prometheus-client's), to shut down."""
    client = require_client()
    reg = client.CollectorRegistry(auto_describe=False)
    reg.register(LedgerCollector(ledger.outcome_groups))
    try:
        server, _thread = client.start_http_server(port, addr=host, registry=reg)
    except OSError as exc:
        raise UsageError(
            f"--serve {host}:{port}: cannot listen there ({exc.strerror}). Pick a free port, "
            "or stop what listens on it."
        ) from None
    return server
