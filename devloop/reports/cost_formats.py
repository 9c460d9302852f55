"""A cost report in each of its forms: the notes under it, the documented JSON (schema
devloop.cost/1), CSV rows, and the rows and cells of the terminal table (cli/render.py
prints them)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from devloop.ledger import (
    Feature,
    pico_to_usd,
)
from devloop.money import exact_text, usd
from devloop.reports.cost_report import (
    BASELINE_NOTES,
    JSON_SCHEMA,
    CostReport,
    CostRow,
    _tiers,
)
from devloop.steps import SCRIPT

# ------------------------------------------------------------------ notes


def notes(report: CostReport) -> list[str]:
    """The lines printed under the table (and the `notes` of the JSON)."""
    out = [
        BASELINE_NOTES[report.baseline]
        + (f" ({', '.join(report.baseline_models)})" if report.baseline_models else "")
        + "; saved = baseline - cost."
    ]
    total = report.total
    if report.unsettled:
        worst = pico_to_usd(sum(r.worst_pico or 0 for r in report.unsettled))
        out.append(
            f"{_calls(len(report.unsettled))} unsettled: in flight when a run stopped, maybe "
            f"billed, not in these totals; the budget counts them at their worst case "
            f"({usd(worst)}). `devloop cost --unsettled` lists them; `devloop cost --settle ID "
            "--usd AMOUNT` settles one."
        )
    if total.unpriced_calls:
        models = ", ".join(sorted(total.unpriced_models))
        out.append(
            f"Totals exclude {_calls(total.unpriced_calls)} that could not be priced "
            f"(no verified price for {models}); they are not counted as $0."
        )
    if total.baseline_unpriced_calls:
        out.append(
            f"{_calls(total.baseline_unpriced_calls)} had no frontier-baseline price: "
            "baseline and saved are left out where they occur."
        )
    if report.group_by == "step" and any(SCRIPT in r.tiers for r in report.rows):
        out.append("Script steps run without a model and cost $0.")
    return out


def _calls(n: int) -> str:
    return f"{n} call" if n == 1 else f"{n} calls"


# ------------------------------------------------------------------- JSON


def _money(value: Decimal | None) -> str | None:
    return exact_text(value)


def _feature_json(feature: Feature | None) -> dict[str, Any] | None:
    if feature is None:
        return None
    return {
        "slug": feature.slug,
        "title": feature.title,
        "status": feature.status,
        "branch": feature.branch,
        "spec_path": feature.spec_path,
        "tag": feature.tag,
        "budget_usd": _money(feature.budget_usd),
        "created_at": feature.created_at,
        "updated_at": feature.updated_at,
    }


def _row_json(row: CostRow) -> dict[str, Any]:
    pct = row.saved_pct
    return {
        "key": row.key,
        "step_number": row.step_number,
        "feature": _feature_json(row.feature),
        "tiers": _tiers(row.tiers),
        "models": sorted(row.models),
        "runs": row.runs,
        "calls": row.calls,
        "priced_calls": row.priced_calls,
        "unpriced_calls": row.unpriced_calls,
        "unpriced_models": sorted(row.unpriced_models),
        "baseline_unpriced_calls": row.baseline_unpriced_calls,
        "tokens": {
            "input": row.tokens.input,
            "cache_write": row.tokens.cache_write,
            "cache_write_5m": row.tokens.cache_write_5m,
            "cache_write_1h": row.tokens.cache_write_1h,
            "cache_read": row.tokens.cache_read,
            "output": row.tokens.output,
        },
        "cache_read_share": row.tokens.read_share,
        "cost_usd": _money(row.cost_usd),
        "baseline_usd": _money(row.baseline_usd),
        "same_usage_baseline_usd": _money(row.same_usage_baseline_usd),
        "saved_usd": _money(row.saved_usd),
        "saved_pct": None if pct is None else float(pct),
    }


def to_json(report: CostReport) -> dict[str, Any]:
    """The documented, stable JSON document (schema "devloop.cost/1")."""
    return {
        "schema": JSON_SCHEMA,
        "scope": report.scope,
        "group_by": report.group_by,
        "since": report.since,
        "until": report.until,
        "ledger": str(report.ledger_path),
        "feature": _feature_json(report.feature),
        "currency": "USD",
        "baseline": {
            "kind": report.baseline,
            "definition": BASELINE_NOTES[report.baseline],
            "models": report.baseline_models,
        },
        "rows": [_row_json(row) for row in report.rows],
        "total": _row_json(report.total),
        "unsettled_calls": len(report.unsettled),
        "unsettled_worst_usd": _money(
            pico_to_usd(sum(r.worst_pico or 0 for r in report.unsettled))
        ),
        "cache_groups": [group.to_json() for group in report.cache_groups],
        "notes": notes(report),
    }


# -------------------------------------------------------------------- CSV


def csv_rows(report: CostReport) -> tuple[list[str], list[list[str]]]:
    """Headers and data rows (no total row: a CSV is data; sum the columns)."""
    headers = [report.group_by]
    if report.group_by == "step":
        headers.append("step_number")
    headers += [
        "tiers", "models", "runs", "calls", "unpriced_calls", "input_tokens",
        "cache_write_tokens", "cache_read_tokens", "output_tokens",
        "cost_usd", "baseline_usd", "saved_usd", "saved_pct",
    ]  # fmt: skip
    out = []
    for row in report.rows:
        cells = [row.key]
        if report.group_by == "step":
            cells.append("" if row.step_number is None else str(row.step_number))
        pct = row.saved_pct
        cells += [
            ";".join(_tiers(row.tiers)),
            ";".join(sorted(row.models)),
            str(row.runs),
            str(row.calls),
            str(row.unpriced_calls),
            str(row.tokens.input),
            str(row.tokens.cache_write),
            str(row.tokens.cache_read),
            str(row.tokens.output),
            _money(row.cost_usd) or "",
            _money(row.baseline_usd) or "",
            _money(row.saved_usd) or "",
            "" if pct is None else str(pct),
        ]
        out.append(cells)
    return headers, out


# ------------------------------------------------------------------ table


@dataclass(frozen=True)
class TableView:
    title: str
    headers: list[str]
    rows: list[list[str]]
    footer: list[str]
    right: set[int]
    notes: list[str]
    drop: list[str]  # on a narrow terminal, the columns left out first (cli/render.py)
    wrap: list[str]  # prose columns: wrap in their cells rather than widen the table


def _cost_cell(row: CostRow) -> str:
    if row.cost_usd is None:
        return f"unpriced ({row.unpriced_calls})"
    if row.unpriced_calls:
        return f"{usd(row.cost_usd)} + {row.unpriced_calls} unpriced"
    return usd(row.cost_usd)


def _baseline_cell(row: CostRow) -> str:
    if row.baseline_usd is not None:
        return usd(row.baseline_usd)
    if row.baseline_unpriced_calls:
        return f"unpriced ({row.baseline_unpriced_calls})"
    return "-"


def _money_cells(row: CostRow) -> list[str]:
    pct = row.saved_pct
    return [
        _cost_cell(row),
        _baseline_cell(row),
        "-" if row.saved_usd is None else usd(row.saved_usd),
        "-" if pct is None else f"{pct:.1f}%",
    ]


def _token_cells(row: CostRow) -> list[str]:
    t = row.tokens
    share = row.tokens.read_share
    cells = [f"{n:,}" for n in (row.calls, t.input, t.cache_write, t.cache_read, t.output)]
    return [*cells, "-" if share is None else f"{share:.0%}"]


_TOKEN_HEADERS = ["calls", "input", "cache write", "cache read", "output", "read %"]
_MONEY_HEADERS = ["cost", "baseline", "saved", "saved %"]
# What a narrow terminal leaves out first: the token detail, then the lesser labels, then
# the comparison. The row's name (step, model, tier, feature) and its cost always stay.
_DROP_ORDER = [
    "cache write", "cache read", "input", "output", "read %", "calls", "saved %",
    "status", "model", "tier", "#", "saved", "baseline",
]  # fmt: skip


def _summary(names: list[str], plural: str) -> str:
    """The total row's tier or model cell: the one name, or how many (the rows above name
    them; a list there would make the total row the widest of the table)."""
    if len(names) > 1:
        return f"{len(names)} {plural}"
    return names[0] if names else "-"


def _window_text(report: CostReport) -> str:
    parts = []
    if report.since:
        parts.append(f"from {report.since}")
    if report.until:
        parts.append(f"before {report.until}")
    return " ".join(parts)


def table_view(report: CostReport) -> TableView:
    """Cells for a terminal, plain-text or Markdown table, with the total as footer."""
    total = report.total
    tiers = _summary(_tiers(total.tiers), "tiers")
    models = _summary(sorted(total.models), "models")
    if report.group_by == "feature":
        headers = ["feature", "status", "calls", *_MONEY_HEADERS]
        rows = [
            [r.key, r.feature.status if r.feature else "", f"{r.calls:,}", *_money_cells(r)]
            for r in report.rows
        ]
        footer = ["total", "", f"{total.calls:,}", *_money_cells(total)]
        title = "Cost of all features"
    else:
        first = {
            "step": ["#", "step", "tier", "model"],
            "model": ["model", "tier"],
            "tier": ["tier", "model"],
        }.get(report.group_by, [report.group_by, "model"])
        headers = first + _TOKEN_HEADERS + _MONEY_HEADERS
        rows = []
        for r in report.rows:
            row_tiers = ", ".join(_tiers(r.tiers)) or "-"
            row_models = ", ".join(sorted(r.models)) or "-"
            lead = {
                "step": ["" if r.step_number is None else str(r.step_number), r.key]
                + [row_tiers, row_models],
                "model": [r.key, row_tiers],
                "tier": [r.key, row_models],
            }.get(report.group_by, [r.key, row_models])
            rows.append(lead + _token_cells(r) + _money_cells(r))
        lead_total = {
            "step": ["", "total", tiers, models],
            "model": ["total", tiers],
            "tier": ["total", models],
        }.get(report.group_by, ["total", models])
        footer = lead_total + _token_cells(total) + _money_cells(total)
        scope = f"feature '{report.feature.slug}'" if report.feature else "all features"
        title = f"Cost of {scope} by {report.group_by}"
    if report.since or report.until:
        title += f", calls answered {_window_text(report)}"
    right = {i for i, h in enumerate(headers) if h in (*_TOKEN_HEADERS, *_MONEY_HEADERS, "#")}
    # The row's own name is never dropped: it is the first column after any "#".
    name = headers[1] if headers[0] == "#" else headers[0]
    drop = [h for h in _DROP_ORDER if h in headers and h != name]
    wrap = [h for h in ("model", "tier") if h in headers and h != name]
    return TableView(title, headers, rows, footer, right, notes(report), drop, wrap)
