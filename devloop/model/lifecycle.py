"""`devloop models`: each tier's model, its prices, and whether it is fit to use.

A model that is deprecated or retired, or that the price table cannot price, is a loud
warning: its calls would fail soon, or show up as "unpriced" in every report.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal

from devloop.capabilities import capability
from devloop.config import MODEL_TIERS, Config
from devloop.errors import ApiError, UnpricedModelError
from devloop.model import pricing
from devloop.money import usd_or


@dataclass
class TierModel:
    tier: str
    model: str
    rates: pricing.Rates | None
    lifecycle: str  # "active", "deprecated", "retired" or "unknown"
    lifecycle_source: str  # "Models API" or "devloop's table"
    retires_at: str | None = None
    warnings: list[str] = field(default_factory=list)


def live_lookup_configured(cfg: Config) -> bool:
    """The Models API is asked only when a key or a base URL says where to ask."""
    return bool(
        os.environ.get("ANTHROPIC_API_KEY")
        or os.environ.get("ANTHROPIC_AUTH_TOKEN")
        or os.environ.get("ANTHROPIC_BASE_URL")
        or any(getattr(cfg.endpoints, tier) for tier in MODEL_TIERS)
    )


def inspect_tiers(cfg: Config, *, live: bool | None = None) -> list[TierModel]:
    live = live_lookup_configured(cfg) if live is None else live
    rows = []
    for tier in MODEL_TIERS:
        model = cfg.models.for_tier(tier)
        row = TierModel(tier, model, None, "unknown", "devloop's table")
        try:
            row.rates = pricing.rates(model)
        except UnpricedModelError as exc:
            row.warnings.append(
                f"not in the price table: its calls will be unpriced ({exc.message})"
            )
        known = capability(model)
        if known is not None:
            row.lifecycle, row.retires_at = known.lifecycle, known.retires_at
        if live:
            from devloop.model import client  # imports anthropic: only when asking the API

            try:
                info = client.fetch_model_info(cfg, tier)
                row.lifecycle = info.get("lifecycle") or "unknown"
                row.retires_at = info.get("retires_at")
                row.lifecycle_source = "Models API"
            except ApiError as exc:
                row.warnings.append(f"lifecycle not checked: {exc.message}")
        if row.lifecycle in ("deprecated", "retired"):
            when = f" (retires {row.retires_at[:10]})" if row.retires_at else ""
            row.warnings.append(
                f"{model} is {row.lifecycle}{when}: choose a current model under [models] {tier}"
            )
        elif row.lifecycle == "unknown" and not row.warnings:
            row.warnings.append(f"{model} is not a model devloop knows; check the id")
        rows.append(row)
    return rows


def rate_text(value: Decimal | None) -> str:
    return usd_or(value, "not verified", places=None)
