"""Exact USD cost of a model call, from the effective-dated table in devloop/prices.toml.

`cost_usd(model, usage)` prices the Messages API `usage` object (as a plain dict) with
Decimal arithmetic that never rounds. Whatever the table cannot price — an unknown model,
a rate that is not verified, a date before a model's first row, usage fields with no price
rule — raises UnpricedModelError: no call is ever priced at $0 by accident.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, Inexact, InvalidOperation, localcontext
from importlib import resources
from pathlib import Path
from typing import Any

from devloop.config import read_toml
from devloop.errors import ConfigError, UnpricedModelError, did_you_mean
from devloop.usage import UsageProblem
from devloop.usage import parse as parse_usage

PRICES_FILE = "prices.toml"  # package data next to this module
MTOK = Decimal(1_000_000)
CATEGORIES = ("input", "write_5m", "write_1h", "read", "output")
LABELS = {
    "input": "input",
    "write_5m": "5-minute cache write",
    "write_1h": "1-hour cache write",
    "read": "cache read",
    "output": "output",
}
# "priority" is priced at standard rates: Priority Tier is bought as a capacity commitment,
# and the brief gives no per-token priority rate, so the ledger records the list price.
SERVICE_TIERS = ("standard", "priority", "batch")
SPEEDS = ("standard", "fast")

_TOP_KEYS = ("version", "batch_multiplier", "us_geo_multiplier", "web_search_usd", "price")
_ROW_KEYS = (
    "model",
    "aliases",
    "effective",
    "us_geo",
    *CATEGORIES,
    "fast",
    "long_prompt_over",
    "long_prompt",
)


@dataclass(frozen=True)
class Rates:
    """USD per million tokens. None: the rate is not verified, and a call using it raises."""

    input: Decimal
    write_5m: Decimal | None
    write_1h: Decimal | None
    read: Decimal | None
    output: Decimal


@dataclass(frozen=True)
class PriceRow:
    model: str
    effective: dt.date
    us_geo: bool  # inference_geo "us" multiplies every category (Claude 4.6+)
    base: Rates
    fast: Rates | None = None
    long_prompt_over: int | None = None  # prompts above this many tokens use long_prompt
    long_prompt: Rates | None = None


@dataclass(frozen=True)
class PriceTable:
    version: str
    batch_multiplier: Decimal
    us_geo_multiplier: Decimal
    web_search_usd: Decimal
    rows: dict[str, tuple[PriceRow, ...]]  # canonical id -> rows, oldest first
    ids: dict[str, str]  # every accepted id (canonical or alias) -> canonical id


# ---------------------------------------------------------------- public API


def cost_usd(model: str, usage: Mapping[str, Any], *, at: dt.date | None = None) -> Decimal:
    """The exact USD cost of one Messages API call to `model` with this `usage`.

    `at` (date or datetime, UTC; default now) picks the effective-dated price row.
    """
    table = _table()
    row = _row(table, model, at)
    if not isinstance(usage, Mapping):
        raise UnpricedModelError(
            f"Cannot price a '{model}' call: usage must be a dict, not {type(usage).__name__}."
        )
    tokens = _tokens(model, usage)
    tier = _choice(model, usage, "service_tier", SERVICE_TIERS)
    fast = _choice(model, usage, "speed", SPEEDS) == "fast"
    if fast and tier == "batch":
        raise UnpricedModelError(
            f"Cannot price a '{model}' call: usage says speed 'fast' on the Batch API, which"
            " does not offer fast mode, so no price applies."
        )
    # input_tokens excludes cached tokens, so the prompt is the sum of all four categories.
    prompt = sum(tokens[c] for c in CATEGORIES if c != "output")
    chosen = _select(row, model, prompt_tokens=prompt, fast=fast)

    with localcontext() as ctx:
        ctx.prec = 60
        ctx.traps[Inexact] = True  # every step below is exact; fail loudly if one is not
        total = Decimal(0)
        for category in CATEGORIES:
            count = tokens[category]
            if not count:
                continue
            rate = getattr(chosen, category)
            if rate is None:
                mode = " in fast mode" if fast else ""
                raise UnpricedModelError(
                    f"Cannot price a '{model}' call: the {LABELS[category]} rate{mode} is not"
                    f" verified (devloop/prices.toml, table {table.version}) and this call has"
                    f" {count:,} {LABELS[category]} tokens. Add a verified rate to price it."
                )
            total += count * rate
        cost = total / MTOK
        if tier == "batch":
            cost *= table.batch_multiplier
        # Models before Claude 4.6 reject inference_geo and always bill standard rates [PR].
        if row.us_geo and usage.get("inference_geo") == "us":
            cost *= table.us_geo_multiplier
        # Searches are a per-request fee, outside the token discounts and multipliers.
        cost += _web_searches(model, usage) * table.web_search_usd
    return cost


def rates(
    model: str, *, at: dt.date | None = None, band_tokens: int = 0, fast: bool = False
) -> Rates:
    """The per-MTok rates of `model` at `at` (default now) for a prompt of `band_tokens`
    tokens (input + cache writes + cache reads; it only matters for banded models).

    Batch, inference_geo and web search are not folded in: to estimate a whole call, pass
    a usage dict to cost_usd().
    """
    return _select(_row(_table(), model, at), model, prompt_tokens=band_tokens, fast=fast)


def known_models() -> list[str]:
    """Every model id the table can price (canonical ids and their aliases), sorted."""
    return sorted(_table().ids)


def table_version() -> str:
    """The price table's version string, recorded with each call in the ledger."""
    return _table().version


def load_table(path: Path | None = None) -> PriceTable:
    """Read and validate a price table (default: the one shipped with devloop)."""
    where = str(path) if path else f"devloop/model/{PRICES_FILE}"
    source = path or resources.files("devloop.model").joinpath(PRICES_FILE)
    data = read_toml(source, where, "cannot read the price table (reinstall devloop)")
    return parse_table(data, where=where)


# ---------------------------------------------------------------- lookup


@functools.cache
def _table() -> PriceTable:
    # Loaded once, on first use, so importing devloop stays cheap.
    return load_table()


def _row(table: PriceTable, model: str, at: dt.date | None) -> PriceRow:
    canonical = table.ids.get(model)
    if canonical is None:
        hint = did_you_mean(str(model), table.ids)
        raise UnpricedModelError(
            f"Unknown model '{model}': devloop/prices.toml (table {table.version}) has no price"
            f" for it, and devloop never prices a call at $0.{hint}"
            f" Priced models: {', '.join(sorted(table.rows))}."
        )
    day = _utc_day(at)
    rows = [r for r in table.rows[canonical] if r.effective <= day]
    if not rows:
        first = table.rows[canonical][0].effective
        raise UnpricedModelError(
            f"No price for '{model}' on {day}: its first row in devloop/prices.toml starts {first}."
        )
    return rows[-1]


def _select(row: PriceRow, model: str, *, prompt_tokens: int, fast: bool) -> Rates:
    if fast:
        if row.fast is None:
            raise UnpricedModelError(
                f"Cannot price '{model}' in fast mode (speed 'fast'): devloop/prices.toml has no"
                " verified fast-mode rate for it."
            )
        return row.fast
    if row.long_prompt is not None and prompt_tokens > (row.long_prompt_over or 0):
        return row.long_prompt
    return row.base


def _utc_day(at: dt.date | None) -> dt.date:
    if at is None:
        return dt.datetime.now(dt.UTC).date()
    if isinstance(at, dt.datetime):  # before date: a datetime is also a date
        return at.astimezone(dt.UTC).date() if at.tzinfo else at.date()  # naive means UTC
    if isinstance(at, dt.date):
        return at
    raise TypeError(f"at must be a date or datetime, not {type(at).__name__}.")


def _tokens(model: str, usage: Mapping[str, Any]) -> dict[str, int]:
    try:
        read = parse_usage(usage)
    except UsageProblem as exc:
        raise UnpricedModelError(f"Cannot price a '{model}' call: {exc}.") from None
    if read.split_mismatch:
        raise UnpricedModelError(
            f"Cannot price a '{model}' call: cache_creation_input_tokens ({read.cache_write})"
            f" differs from its 5m + 1h split ({read.write_5m} + {read.write_1h})."
        )
    return {
        "input": read.input,
        "write_5m": read.write_5m,
        "write_1h": read.write_1h,
        "read": read.read,
        "output": read.output,
    }


def _choice(model: str, usage: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = usage.get(key)
    if value is None:
        return allowed[0]
    if value not in allowed:
        raise UnpricedModelError(
            f"Cannot price a '{model}' call: usage {key} {value!r} has no price rule"
            f" (known: {', '.join(allowed)})."
        )
    return value


def _web_searches(model: str, usage: Mapping[str, Any]) -> int:
    # Web fetch is free and code execution is billed by container time, not in usage [PR].
    try:
        return parse_usage(usage).web_search
    except UsageProblem as exc:
        raise UnpricedModelError(f"Cannot price a '{model}' call: {exc}.") from None


# ---------------------------------------------------------------- table validation


def parse_table(data: Mapping[str, Any], *, where: str = "price table") -> PriceTable:
    """Validate parsed TOML into a PriceTable; every problem is a ConfigError naming the row."""
    _known_keys(data, _TOP_KEYS, where, "top level")
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        raise ConfigError(f"{where}: 'version' must be a non-empty string.")
    rows_data = data.get("price")
    if not isinstance(rows_data, list) or not rows_data:
        raise ConfigError(f"{where}: expected at least one [[price]] row.")

    by_model: dict[str, list[PriceRow]] = {}
    ids: dict[str, str] = {}
    aliases: list[tuple[str, str, str]] = []  # (alias, model, row name)
    for index, item in enumerate(rows_data, start=1):
        name = f"[[price]] row {index}"
        if not isinstance(item, Mapping):
            raise ConfigError(f"{where}: {name} must be a table.")
        row, row_aliases = _parse_row(item, where, name)
        name = f"{name} ({row.model})"
        existing = by_model.setdefault(row.model, [])
        if any(r.effective == row.effective for r in existing):
            raise ConfigError(f"{where}: {name}: a second row effective {row.effective}.")
        existing.append(row)
        ids[row.model] = row.model
        aliases += [(alias, row.model, name) for alias in row_aliases]
    for alias, model, name in aliases:
        if ids.get(alias, model) != model:
            raise ConfigError(f"{where}: {name}: alias '{alias}' already names '{ids[alias]}'.")
        ids[alias] = model

    return PriceTable(
        version=version,
        batch_multiplier=_decimal(data.get("batch_multiplier"), where, "batch_multiplier"),
        us_geo_multiplier=_decimal(data.get("us_geo_multiplier"), where, "us_geo_multiplier"),
        web_search_usd=_decimal(data.get("web_search_usd"), where, "web_search_usd"),
        rows={m: tuple(sorted(rs, key=lambda r: r.effective)) for m, rs in by_model.items()},
        ids=ids,
    )


def _parse_row(item: Mapping[str, Any], where: str, name: str) -> tuple[PriceRow, list[str]]:
    _known_keys(item, _ROW_KEYS, where, name)
    model = item.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"{where}: {name}: 'model' must be a model id string.")
    name = f"{name} ({model})"
    aliases = item.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a for a in aliases):
        raise ConfigError(f"{where}: {name}: 'aliases' must be a list of model id strings.")
    effective = item.get("effective")
    if not isinstance(effective, dt.date) or isinstance(effective, dt.datetime):
        raise ConfigError(f"{where}: {name}: 'effective' must be a TOML date like 2026-10-07.")
    us_geo = item.get("us_geo")
    if not isinstance(us_geo, bool):
        raise ConfigError(
            f"{where}: {name}: 'us_geo' must be true or false (does inference_geo 'us' apply?)."
        )
    over = item.get("long_prompt_over")
    if ("long_prompt" in item) != (over is not None):
        raise ConfigError(f"{where}: {name}: 'long_prompt_over' and [long_prompt] go together.")
    if over is not None and (isinstance(over, bool) or not isinstance(over, int) or over <= 0):
        raise ConfigError(f"{where}: {name}: 'long_prompt_over' must be a positive integer.")
    if "fast" in item and "long_prompt" in item:
        # No model has both, and how fast mode combines with prompt bands is not documented.
        raise ConfigError(f"{where}: {name}: a row cannot have both [fast] and [long_prompt].")

    def block(key: str) -> Rates | None:
        if key not in item:
            return None
        sub = item[key]
        if not isinstance(sub, Mapping):
            raise ConfigError(f"{where}: {name}: '{key}' must be a table of rates.")
        _known_keys(sub, CATEGORIES, where, f"{name} [{key}]")
        return _rates(sub, where, f"{name} [{key}]")

    row = PriceRow(
        model=model,
        effective=effective,
        us_geo=us_geo,
        base=_rates(item, where, name),
        fast=block("fast"),
        long_prompt_over=over,
        long_prompt=block("long_prompt"),
    )
    return row, aliases


def _rates(data: Mapping[str, Any], where: str, name: str) -> Rates:
    def rate(category: str, required: bool = False) -> Decimal | None:
        if category not in data:
            if required:
                raise ConfigError(f"{where}: {name}: missing the '{category}' rate.")
            return None  # not verified: left out on purpose
        return _decimal(data[category], where, f"{name}: '{category}'")

    return Rates(
        input=rate("input", required=True),
        write_5m=rate("write_5m"),
        write_1h=rate("write_1h"),
        read=rate("read"),
        output=rate("output", required=True),
    )


def _decimal(value: Any, where: str, what: str) -> Decimal:
    if not isinstance(value, str):
        raise ConfigError(
            f'{where}: {what} must be a decimal string like "6.25" (exact), not {value!r}.'
        )
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ConfigError(f"{where}: {what} = {value!r} is not a decimal number.") from None
    if not number.is_finite() or number < 0:
        raise ConfigError(f"{where}: {what} = {value!r} must be a finite amount >= 0.")
    return number


def _known_keys(data: Mapping[str, Any], allowed: tuple[str, ...], where: str, name: str) -> None:
    for key in data:
        if key not in allowed:
            hint = did_you_mean(key, allowed)
            raise ConfigError(
                f"{where}: {name}: unknown key '{key}'.{hint} Valid keys: {', '.join(allowed)}."
            )
