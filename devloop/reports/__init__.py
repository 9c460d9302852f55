"""reports: what the ledger says, for people and for tools.

- cost_report.py (+ cost_formats.py, cache_groups.py): `devloop cost`, with the counterfactual baseline and a feature's prompt-cache groups;
- explain.py: why each step of a run went where it did;
- suggest.py: routing changes proposed from outcomes and costs;
- calibrate.py: the adaptive router's threshold from past features;
- metrics.py: Prometheus exposition; otel.py: OpenTelemetry traces of a run.

May import: ledger, model (prices), routing and the leaf modules. Never loop, agent or cli.
"""
