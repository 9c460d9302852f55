"""`devloop cost`: fold the ledger's aggregate queries into report rows, and lay them out.

The ledger does the summing in SQL (a few hundred groups at most, however many calls);
this module only merges those groups by step, model, tier or feature, adds the totals and
turns the result into JSON, CSV or table cells. The CLI picks the format and prints.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path

from devloop.errors import UnknownStepError, UsageError, did_you_mean
from devloop.ledger import (
    CallGroup,
    Feature,
    Ledger,
    LedgerMissing,
    OpenReservation,
    RunGroup,
    pico_to_usd,
)
from devloop.reports import cache_groups
from devloop.reports.cache_groups import CacheGroup
from devloop.steps import SCRIPT, TIERS

GROUPINGS: tuple[str, ...] = ("step", "model", "tier", "user", "repo", "host", "day")
# Groupings by who and where (the ledger's DIMENSIONS), grouped in SQL on their own column.
TEAM_GROUPINGS: tuple[str, ...] = ("user", "repo", "host", "day")
UNKNOWN = "(unknown)"  # the key of rows whose who/where was not recorded (older rows)
JSON_SCHEMA = "devloop.cost/1"
BASELINES = ("counterfactual", "same-usage")
BASELINE_NOTES = {
    "counterfactual": "frontier baseline = what these calls would have cost in one all-frontier "
    "run, sharing one prompt cache (cache reads and writes replayed on the frontier model; "
    "output tokens as observed)",
    "same-usage": "frontier baseline (same usage) = each call's own token usage repriced at "
    "frontier rates (ignores that an all-frontier run shares one prompt cache)",
}
_TIER_ORDER = (*TIERS, SCRIPT)
_KNOWN_SLUGS_SHOWN = 20


@dataclass
class Tokens:
    input: int = 0
    cache_write: int = 0  # all cache writes (5m + 1h)
    cache_write_5m: int = 0
    cache_write_1h: int = 0
    cache_read: int = 0
    output: int = 0

    @property
    def read_share(self) -> float | None:
        return cache_groups.read_share(self.input, self.cache_write, self.cache_read)

    def add(self, other: Tokens) -> None:
        self.input += other.input
        self.cache_write += other.cache_write
        self.cache_write_5m += other.cache_write_5m
        self.cache_write_1h += other.cache_write_1h
        self.cache_read += other.cache_read
        self.output += other.output


@dataclass
class CostRow:
    """One line of a report: a step, model, tier or feature, or the total.

    Cost and baseline are summed over priced calls only (cost known); unpriced calls are
    counted in `unpriced_calls` and never contribute $0.
    """

    key: str
    step_number: int | None = None
    feature: Feature | None = None
    tiers: set[str] = field(default_factory=set)
    models: set[str] = field(default_factory=set)
    unpriced_models: set[str] = field(default_factory=set)
    runs: int = 0
    calls: int = 0
    unpriced_calls: int = 0
    baseline_unpriced_calls: int = 0  # priced calls whose frontier baseline is unknown
    tokens: Tokens = field(default_factory=Tokens)
    cost_pico: int = 0
    baseline_pico: int = 0
    same_usage_baseline_pico: int = 0
    same_usage_unpriced_calls: int = 0

    def add_calls(self, group: CallGroup) -> None:
        self.tiers.add(group.tier)
        self.models.add(group.model)
        if group.unpriced_calls:
            self.unpriced_models.add(group.model)
        self.calls += group.calls
        self.unpriced_calls += group.unpriced_calls
        self.baseline_unpriced_calls += group.baseline_unpriced_calls
        self.tokens.add(
            Tokens(
                input=group.input_tokens,
                cache_write=group.cache_write_tokens,
                cache_write_5m=group.cache_write_5m_tokens,
                cache_write_1h=group.cache_write_1h_tokens,
                cache_read=group.cache_read_tokens,
                output=group.output_tokens,
            )
        )
        self.cost_pico += group.cost_pico
        self.baseline_pico += group.baseline_pico
        self.same_usage_baseline_pico += group.same_usage_baseline_pico
        self.same_usage_unpriced_calls += group.same_usage_unpriced_calls

    def add_row(self, other: CostRow) -> None:
        self.tiers |= other.tiers
        self.models |= other.models
        self.unpriced_models |= other.unpriced_models
        self.runs += other.runs
        self.calls += other.calls
        self.unpriced_calls += other.unpriced_calls
        self.baseline_unpriced_calls += other.baseline_unpriced_calls
        self.tokens.add(other.tokens)
        self.cost_pico += other.cost_pico
        self.baseline_pico += other.baseline_pico
        self.same_usage_baseline_pico += other.same_usage_baseline_pico
        self.same_usage_unpriced_calls += other.same_usage_unpriced_calls

    @property
    def priced_calls(self) -> int:
        return self.calls - self.unpriced_calls

    @property
    def cost_usd(self) -> Decimal | None:
        """Known cost; None when every call of the row is unpriced."""
        if self.calls and not self.priced_calls:
            return None
        return pico_to_usd(self.cost_pico)

    @property
    def baseline_usd(self) -> Decimal | None:
        """Baseline of the priced calls; None when it is not known for all of them."""
        if self.cost_usd is None or self.baseline_unpriced_calls:
            return None
        return pico_to_usd(self.baseline_pico)

    @property
    def same_usage_baseline_usd(self) -> Decimal | None:
        if self.cost_usd is None or self.same_usage_unpriced_calls:
            return None
        return pico_to_usd(self.same_usage_baseline_pico)

    @property
    def saved_usd(self) -> Decimal | None:
        if self.baseline_usd is None:
            return None
        return pico_to_usd(self.baseline_pico - self.cost_pico)

    @property
    def saved_pct(self) -> Decimal | None:
        """Saved as a percentage of the baseline, 2 decimals; None without a baseline."""
        if self.baseline_usd is None or self.baseline_pico == 0:
            return None
        pct = Decimal(100 * (self.baseline_pico - self.cost_pico)) / Decimal(self.baseline_pico)
        return pct.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)


@dataclass
class CostReport:
    ledger_path: Path
    scope: str  # "feature" or "all"
    group_by: str  # "step", "model", "tier" or "feature"
    feature: Feature | None  # the feature reported on (scope "feature")
    rows: list[CostRow]
    total: CostRow
    baseline_models: list[str]
    baseline: str = "counterfactual"  # which baseline the baseline/saved columns show
    unsettled: list[OpenReservation] = field(default_factory=list)  # calls in flight at a crash
    cache_groups: list[CacheGroup] = field(default_factory=list)  # one feature's (cache_groups.py)
    since: str | None = None  # the window reported: calls answered in [since, until)
    until: str | None = None


# --------------------------------------------------------------- building


def build(
    ledger: Ledger,
    slug: str | None = None,
    *,
    all_features: bool = False,
    by: str | None = None,
    baseline: str = "counterfactual",
    since: str | None = None,
    until: str | None = None,
) -> CostReport:
    """The report for one feature (`slug`, default the most recent) or for all of them.
    `baseline`: which frontier baseline the baseline and saved columns show. `since` and
    `until` (as `devloop cost` takes them: a date or a time, UTC unless it says) keep the
    calls answered in [since, until); a date as `until` includes that whole day."""
    check_arguments(slug, all_features=all_features, by=by, baseline=baseline)
    start, end = window(since, until)
    features = ledger.features()
    if not features:
        raise LedgerMissing(
            f"the ledger {ledger.path} has no features yet: nothing has been recorded. "
            "Run `devloop feature SPEC` first."
        )
    feature: Feature | None = None
    if not all_features:
        feature = ledger.feature(slug) if slug else ledger.latest_feature()
        if feature is None:
            raise UsageError(_unknown_slug(slug or "", features, ledger.path))
    group_by = by or ("feature" if all_features else "step")
    only = feature.slug if feature else None
    dimension = group_by if group_by in TEAM_GROUPINGS else None
    calls = ledger.call_groups(only, dimension=dimension, since=start, until=end)
    if baseline == "same-usage":
        calls = [
            replace(
                g,
                baseline_pico=g.same_usage_baseline_pico,
                baseline_unpriced_calls=g.same_usage_unpriced_calls,
            )
            for g in calls
        ]
    runs = ledger.step_run_groups(only, dimension=dimension, since=start, until=end)
    listed = features if group_by == "feature" else []
    if listed and (start or end):  # a window lists the features active in it
        active = {g.feature for g in calls} | {r.feature for r in runs}
        listed = [f for f in listed if f.slug in active]
    rows = _fold(group_by, listed, calls, runs)
    total = CostRow(key="total")
    for row in rows:
        total.add_row(row)
    baseline_models = sorted({g.baseline_model for g in calls if g.baseline_model})
    return CostReport(
        ledger_path=ledger.path,
        scope="all" if all_features else "feature",
        group_by=group_by,
        feature=feature,
        rows=rows,
        total=total,
        baseline_models=baseline_models,
        baseline=baseline,
        unsettled=ledger.open_reservations(only),
        cache_groups=cache_groups.groups(ledger.cache_uses(only)) if only else [],
        since=start,
        until=end,
    )


def window(since: str | None, until: str | None) -> tuple[str | None, str | None]:
    """`--since` and `--until` as ledger stamps: [since, until). A date alone is midnight
    UTC, and a date as `until` means the end of that day; a time without a zone is UTC."""
    start = _moment(since, "--since", end_of_day=False)
    end = _moment(until, "--until", end_of_day=True)
    if start is not None and end is not None and start >= end:
        raise UsageError(f"--since {since} is not before --until {until}: the window is empty.")
    return start, end


def _moment(text: str | None, what: str, *, end_of_day: bool) -> str | None:
    from datetime import UTC, date, datetime, timedelta

    from devloop.ledger import stamp

    if text is None:
        return None
    value = text.strip()
    try:
        day = date.fromisoformat(value)
    except ValueError:
        day = None
    if day is not None:
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return stamp(moment + timedelta(days=1) if end_of_day else moment)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise UsageError(
            f"{what} {text}: give a date or a time, e.g. {what} 2026-03-01 or "
            f"{what} 2026-03-01T09:30 (UTC unless it says, e.g. +02:00)."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return stamp(moment)


def build_for_repo(
    root: Path,
    slug: str | None = None,
    *,
    all_features: bool = False,
    by: str | None = None,
    baseline: str = "counterfactual",
    since: str | None = None,
    until: str | None = None,
) -> CostReport:
    """Open the repository's ledger read-only-ish (never create it) and build the report."""
    from devloop.ledger import require_ledger

    check_arguments(slug, all_features=all_features, by=by, baseline=baseline)
    window(since, until)  # a bad date is a usage error before the ledger is opened
    require_ledger(root)
    with Ledger.open(root, create=False) as ledger:
        return build(
            ledger,
            slug,
            all_features=all_features,
            by=by,
            baseline=baseline,
            since=since,
            until=until,
        )


def check_arguments(
    slug: str | None, *, all_features: bool, by: str | None, baseline: str = "counterfactual"
) -> None:
    if slug and all_features:
        raise UsageError("give a feature SLUG or --all, not both.")
    if by is not None and by not in GROUPINGS:
        raise UsageError(f"--by {by}: group by one of {', '.join(GROUPINGS)}.")
    if baseline not in BASELINES:
        raise UsageError(f"--baseline {baseline}: one of {', '.join(BASELINES)}.")


def _unknown_slug(slug: str, features: list[Feature], path: Path) -> str:
    slugs = [f.slug for f in sorted(features, key=lambda f: f.updated_at, reverse=True)]
    hint = did_you_mean(slug, slugs)
    shown = ", ".join(slugs[:_KNOWN_SLUGS_SHOWN])
    more = len(slugs) - _KNOWN_SLUGS_SHOWN
    if more > 0:
        shown += f" and {more} more (see `devloop cost --all`)"
    return f"no feature '{slug}' in the ledger {path}.{hint} Known features: {shown}."


def _step_number(key: str) -> int | None:
    from devloop.steps import resolve_step

    try:
        return resolve_step(key).number
    except UnknownStepError:
        return None


def _group_key(group_by: str, group: CallGroup | RunGroup) -> str:
    """The row a group of calls or step runs adds to."""
    if group_by in TEAM_GROUPINGS:
        return group.dimension or UNKNOWN
    fields = {
        "feature": group.feature,
        "step": group.step_key,
        "tier": group.tier,
        "model": group.model or "",
    }
    return fields[group_by]


def _fold(
    group_by: str, features: list[Feature], calls: list[CallGroup], runs: list[RunGroup]
) -> list[CostRow]:
    rows: dict[str, CostRow] = {}

    def row(key: str) -> CostRow:
        if key not in rows:
            rows[key] = CostRow(key=key)
            if group_by == "step":
                rows[key].step_number = _step_number(key)
        return rows[key]

    for feature in features:  # every feature gets a row, even one without calls
        row(feature.slug).feature = feature
    for group in calls:
        row(_group_key(group_by, group)).add_calls(group)
    for run in runs:
        if group_by == "model":
            continue  # a run may use several models (escalation); runs count per step/tier
        target = row(_group_key(group_by, run))
        target.runs += run.runs
        target.tiers.add(run.tier)
        if target.step_number is None and group_by == "step":
            target.step_number = run.step_number
    return sorted(rows.values(), key=_sort_key(group_by, features))


def _sort_key(group_by: str, features: list[Feature]):
    if group_by == "feature":
        position = {f.slug: i for i, f in enumerate(features)}
        return lambda r: (position.get(r.key, len(position)), r.key)
    if group_by == "step":
        return lambda r: (r.step_number if r.step_number is not None else 10**6, r.key)
    if group_by == "tier":
        return lambda r: (_tier_rank(r.key), r.key)
    return lambda r: r.key


def _tier_rank(tier: str) -> int:
    return _TIER_ORDER.index(tier) if tier in _TIER_ORDER else len(_TIER_ORDER)


def _tiers(tiers: Iterable[str]) -> list[str]:
    return sorted(tiers, key=lambda t: (_tier_rank(t), t))
