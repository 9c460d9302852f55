"""The ledger's read side: what reports, budgets and the baseline ask of it, each one
aggregate query (summing happens in SQL, never row by row in Python).

`Queries` is mixed into `Ledger`; its methods need only `_read` and `_using`. The SQL is
written once for SQLite and PostgreSQL (postgres.py translates the placeholders).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from devloop.ledger.records import (
    CacheUse,
    CallGroup,
    CallShape,
    CallSpan,
    Committed,
    Escalation,
    OpenReservation,
    OutcomeGroup,
    ReusableCall,
    RunCallStats,
    RunGroup,
    Spend,
    StepRunRecord,
    _loads,
)
from devloop.ledger.schema import (
    RESERVED,
    SETTLED_BY_HAND,
)
from devloop.money import pico_to_usd


def _count(condition: str) -> str:
    """How many rows of the group satisfy `condition` (SQLite can SUM a boolean,
    PostgreSQL cannot)."""
    return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"


_ESCALATED = _count("escalated_from IS NOT NULL")
_EMPTY = _count("outcome = 'empty'")
_TRUNCATED = _count("outcome = 'truncated'")
_FAILED = _count("outcome != 'ok'")
_BASELINE_UNPRICED = _count("cost_pico IS NOT NULL AND baseline_pico IS NULL")
_SAME_USAGE_UNPRICED = _count("cost_pico IS NOT NULL AND same_usage_baseline_pico IS NULL")


# What a team report can group by, as SQL over a row's who/where columns ("" for unknown);
# "day" is the UTC date of the call's answer (of the step run's start).
DIMENSIONS: dict[str, str] = {
    "user": "COALESCE(user_name, '')",
    "repo": "COALESCE(repository, '')",
    "host": "COALESCE(host, '')",
    "day": "substr({time}, 1, 10)",
}


def _dimension(name: str, time_column: str) -> str:
    return DIMENSIONS[name].format(time=time_column)


def _filters(
    feature: str | None, since: str | None, until: str | None, time_column: str
) -> tuple[str, tuple]:
    """A WHERE clause: one feature, and a window [since, until) of `time_column`."""
    clauses: list[str] = []
    params: list[Any] = []
    for clause, value in (
        ("feature = ?", feature),
        (f"{time_column} >= ?", since),
        (f"{time_column} < ?", until),
    ):
        if value is not None:
            clauses.append(clause)
            params.append(value)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), tuple(params)


class Queries:
    """Read queries over the features, step runs, calls and reservations tables."""

    _read: Callable[..., list[tuple]]
    _using: Callable[..., Any]

    def committed(self, feature: str, step_key: str | None = None) -> Committed:
        """What counts against a ceiling: priced calls, open reservations at their worst
        case, and what a person settled by hand."""
        return self._using(lambda conn: committed_total(conn, feature_scope(feature, step_key)))

    def committed_usd(self, feature: str, step_key: str | None = None) -> Decimal:
        return pico_to_usd(self.committed(feature, step_key).pico)

    def open_reservations(self, feature: str | None = None) -> list[OpenReservation]:
        """Reservations not settled (calls in flight, or cut off by a crash), oldest first."""
        where, params = ("AND feature = ?", (feature,)) if feature is not None else ("", ())
        rows = self._read(
            "SELECT id, feature, step_key, step_run_id, model, worst_pico, pid, host,"
            f" created_at FROM reservations WHERE status = ? {where} ORDER BY id",
            (RESERVED, *params),
        )
        return [OpenReservation(*row) for row in rows]

    def call_shapes(self, feature: str) -> list[CallShape]:
        """The feature's answered calls with what their prompt cache saw, and the calls in
        flight (their estimated tokens), in send order. One query, so a call settling
        meanwhile is seen once, as one or the other."""
        rows = self._read(
            "SELECT id, COALESCE(started_at, created_at), cache_json,"
            " input_tokens + cache_creation_input_tokens + cache_read_input_tokens, NULL"
            " FROM calls WHERE feature = ? AND cache_json IS NOT NULL"
            " UNION ALL SELECT -id, started_at, cache_json, NULL, id FROM reservations"
            " WHERE feature = ? AND status = ? AND cache_json IS NOT NULL",
            (feature, feature, RESERVED),
        )
        shapes = []
        for key, started, text, tokens, reservation in rows:
            shape = _loads(text) or {}
            if tokens is None:
                tokens = int(shape.get("estimated_tokens") or 0)
            shapes.append(CallShape(key, started, shape, tokens, reservation_id=reservation))
        return sorted(shapes, key=lambda c: (c.started_at, c.id))

    def cache_uses(self, feature: str) -> list[CacheUse]:
        """The feature's answered calls with what their prompt cache saw, in send order."""
        rows = self._read(
            "SELECT step_key, COALESCE(served_model, requested_model), cache_json,"
            " input_tokens, cache_creation_input_tokens, cache_read_input_tokens"
            " FROM calls WHERE feature = ? ORDER BY COALESCE(started_at, created_at), id",
            (feature,),
        )
        return [
            CacheUse(step, model, _loads(text) or {}, inp, written, read)
            for step, model, text, inp, written, read in rows
        ]

    def reusable_call(
        self, feature: str, step_key: str, request_sha256: str
    ) -> ReusableCall | None:
        """A call answered for this exact request whose step run was cut off before the
        step was marked done, and not reused yet: its answer can be used instead of buying
        it again."""
        rows = self._read(
            "SELECT c.id, c.transcript, c.step_run_id FROM calls c"
            " JOIN step_runs r ON r.id = c.step_run_id"
            " LEFT JOIN reuses u ON u.call_id = c.id"
            " WHERE c.feature = ? AND c.step_key = ? AND c.request_sha256 = ?"
            " AND c.transcript IS NOT NULL AND c.outcome IN ('ok', 'model_mismatch')"
            " AND r.status = 'interrupted' AND u.call_id IS NULL ORDER BY c.id DESC LIMIT 1",
            (feature, step_key, request_sha256),
        )
        return ReusableCall(*rows[0]) if rows else None

    def spend(self, feature: str, step_key: str | None = None) -> Spend:
        """Money spent on a feature (or one of its steps) so far."""
        sql = "SELECT COUNT(*), COUNT(cost_pico), COALESCE(SUM(cost_pico), 0) FROM calls "
        sql += "WHERE feature = ?"
        params: list[Any] = [feature]
        if step_key is not None:
            sql += " AND step_key = ?"
            params.append(step_key)
        calls, priced, pico = self._read(sql, params)[0]
        return Spend(cost_usd=pico_to_usd(pico), calls=calls, unpriced_calls=calls - priced)

    def spent_usd(self, feature: str, step_key: str | None = None) -> Decimal:
        """Known spend (unpriced calls excluded; see `spend` for their count)."""
        return self.spend(feature, step_key).cost_usd

    def call_groups(
        self,
        feature: str | None = None,
        *,
        dimension: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[CallGroup]:
        """Calls aggregated in SQL by feature, step, tier, model and baseline model; or,
        with a `dimension` (DIMENSIONS: user, repo, host, day), by it, tier, model and
        baseline model (feature and step come back ""). `since`/`until`: stamps, the calls
        answered in [since, until).

        Grouped on the raw columns (the order of `calls_report`), so one model can come back
        in two groups (served vs requested only); callers add groups with the same key.
        """
        where, params = _filters(feature, since, until, "created_at")
        if dimension is None:
            lead, group, tail = "feature, step_key,", "feature, step_key,", "''"
        else:
            expr = _dimension(dimension, "created_at")
            lead, group, tail = "'', '',", f"{expr},", expr
        rows = self._read(
            f"SELECT {lead} tier, COALESCE(served_model, requested_model),"
            " baseline_model, COUNT(*), COUNT(*) - COUNT(cost_pico),"
            f" {_BASELINE_UNPRICED},"
            " SUM(input_tokens), SUM(cache_creation_input_tokens),"
            " COALESCE(SUM(cache_write_5m_tokens), 0), COALESCE(SUM(cache_write_1h_tokens), 0),"
            " SUM(cache_read_input_tokens), SUM(output_tokens),"
            " COALESCE(SUM(cost_pico), 0),"
            " COALESCE(SUM(CASE WHEN cost_pico IS NOT NULL THEN baseline_pico END), 0),"
            " COALESCE(SUM(CASE WHEN cost_pico IS NOT NULL THEN same_usage_baseline_pico END), 0),"
            f" {_SAME_USAGE_UNPRICED}, {tail}"
            f" FROM calls {where}"
            f" GROUP BY {group} tier, served_model, requested_model, baseline_model",
            params,
        )
        return [CallGroup(*row) for row in rows]

    def step_run_groups(
        self,
        feature: str | None = None,
        *,
        dimension: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[RunGroup]:
        """Step runs aggregated by feature, step, worker, tier and model; or by a
        `dimension`, worker, tier and model (feature and step ""). `since`/`until`: the
        runs started in [since, until)."""
        where, params = _filters(feature, since, until, "started_at")
        if dimension is None:
            lead, group, tail = "feature, step_key,", "feature, step_key,", "''"
        else:
            expr = _dimension(dimension, "started_at")
            lead, group, tail = "'', '',", f"{expr},", expr
        rows = self._read(
            f"SELECT {lead} MIN(step_number), worker, COALESCE(tier, 'script'),"
            f" model, COUNT(*), {tail} FROM step_runs {where} GROUP BY {group} worker,"
            " COALESCE(tier, 'script'), model",
            params,
        )
        return [RunGroup(*row) for row in rows]

    def step_run_records(self, feature: str | None = None) -> list[StepRunRecord]:
        """Every step run (of one feature, or all), in the order they started, with the
        route and outcome JSON each recorded (explain, suggest, calibrate)."""
        where, params = ("WHERE feature = ?", (feature,)) if feature is not None else ("", ())
        rows = self._read(
            "SELECT id, feature, step_number, step_key, worker, tier, model, status,"
            f" started_at, ended_at, route_json, outcome_json FROM step_runs {where} ORDER BY id",
            params,
        )
        return [StepRunRecord(*row[:10], _loads(row[10]), _loads(row[11])) for row in rows]

    def run_call_stats(
        self, feature: str | None = None, run_id: int | None = None
    ) -> dict[int, RunCallStats]:
        """Calls aggregated per step run: counts by outcome, escalations, tokens, money."""
        clauses, params = [], []
        if feature is not None:
            clauses.append("feature = ?")
            params.append(feature)
        if run_id is not None:
            clauses.append("step_run_id = ?")
            params.append(run_id)
        where = "WHERE step_run_id IS NOT NULL" + "".join(f" AND {c}" for c in clauses)
        rows = self._read(
            "SELECT step_run_id, COUNT(*), COUNT(cost_pico), COALESCE(SUM(cost_pico), 0),"
            " COALESCE(SUM(CASE WHEN cost_pico IS NOT NULL THEN baseline_pico END), 0),"
            f" {_ESCALATED}, {_EMPTY}, {_TRUNCATED}, {_FAILED},"
            " SUM(input_tokens), SUM(cache_creation_input_tokens),"
            " SUM(cache_read_input_tokens), SUM(output_tokens)"
            f" FROM calls {where} GROUP BY step_run_id",
            params,
        )
        return {row[0]: RunCallStats(*row[1:]) for row in rows}

    def outcome_groups(self) -> list[OutcomeGroup]:
        """Every call, totalled by step, tier, model, outcome, repository and team (`devloop
        metrics`: one scrape of a shared ledger covers the whole team). Read from the running
        totals a trigger keeps (schema.py, migration 5): a few rows, however many calls."""
        rows = self._read(
            "SELECT step_key, tier, model, outcome, calls, input_tokens,"
            " cache_creation_input_tokens, cache_read_input_tokens, output_tokens, cost_pico,"
            " baseline_pico, escalated, repository, team FROM call_totals"
            " ORDER BY step_key, tier, model, outcome, repository, team"
        )
        return [OutcomeGroup(*row) for row in rows]

    def escalations(self, feature: str) -> list[Escalation]:
        """The feature's escalated calls, each with the call it escalated from."""
        rows = self._read(
            "SELECT c.id, c.step_run_id, c.step_key, c.tier,"
            " COALESCE(c.served_model, c.requested_model), c.outcome, c.escalated_from,"
            " o.tier, COALESCE(o.served_model, o.requested_model), o.outcome"
            " FROM calls c LEFT JOIN calls o ON o.id = c.escalated_from"
            " WHERE c.feature = ? AND c.escalated_from IS NOT NULL ORDER BY c.id",
            (feature,),
        )
        return [Escalation(*row) for row in rows]

    def call_spans(self, feature: str, run_ids: Sequence[int]) -> list[CallSpan]:
        """The calls of some step runs, for tracing: when, how long, which model, usage."""
        if not run_ids:
            return []
        marks = ", ".join("?" * len(run_ids))
        rows = self._read(
            "SELECT id, step_run_id, step_key, tier, requested_model, served_model,"
            " input_tokens, cache_creation_input_tokens, cache_read_input_tokens,"
            " output_tokens, cost_pico, baseline_pico, latency_ms, created_at, outcome,"
            " stop_reason, request_id, escalated_from"
            f" FROM calls WHERE feature = ? AND step_run_id IN ({marks}) ORDER BY id",
            (feature, *run_ids),
        )
        return [CallSpan(*row) for row in rows]


@dataclass(frozen=True)
class Scope:
    """What a ceiling counts: which calls, which open reservations, which amounts settled
    by hand (SQL conditions on each table, with their parameters)."""

    calls: str
    calls_params: tuple
    held: str
    held_params: tuple
    by_hand: str
    by_hand_params: tuple


def feature_scope(feature: str, step_key: str | None = None) -> Scope:
    where = "feature = ?" + (" AND step_key = ?" if step_key is not None else "")
    params = (feature,) if step_key is None else (feature, step_key)
    return Scope(where, params, where, params, where, params)


def team_scope(team: str, since: str) -> Scope:
    """A team's spending since `since` (a stamp): its calls answered since then, every
    reservation of it still open, and what a person settled by hand since then."""
    return Scope(
        "team = ? AND created_at >= ?",
        (team, since),
        "team = ?",
        (team,),
        "team = ? AND settled_at >= ?",
        (team, since),
    )


def committed_total(conn: Any, scope: Scope) -> Committed:
    """What counts against one ceiling, read in one statement: one snapshot, so a call
    settling its reservation meanwhile is counted once, as one or the other (postgres.py)."""
    row = conn.execute(
        "SELECT"
        f" (SELECT COALESCE(SUM(cost_pico), 0) FROM calls WHERE {scope.calls}),"
        f" (SELECT COUNT(*) FROM calls WHERE {scope.calls} AND cost_pico IS NULL"
        "   AND outcome NOT LIKE 'api_error%' AND id NOT IN"
        "   (SELECT call_id FROM reservations WHERE status = ? AND call_id IS NOT NULL)),"
        " (SELECT COALESCE(SUM(worst_pico), 0) FROM reservations"
        f"   WHERE status = ? AND {scope.held}),"
        f" (SELECT COUNT(*) FROM reservations WHERE status = ? AND {scope.held}),"
        " (SELECT COALESCE(SUM(settled_pico), 0) FROM reservations"
        f"   WHERE status = ? AND {scope.by_hand})",
        (
            *scope.calls_params,
            *scope.calls_params,
            SETTLED_BY_HAND,
            RESERVED,
            *scope.held_params,
            RESERVED,
            *scope.held_params,
            SETTLED_BY_HAND,
            *scope.by_hand_params,
        ),
    ).fetchone()
    calls_pico, unpriced, open_pico, open_count, by_hand = (int(v or 0) for v in row)
    total = calls_pico + open_pico + by_hand
    return Committed(total, calls_pico, open_pico, open_count, by_hand, unpriced)
