"""The ledger's schema: migrations (applied in order, never edited once released) and the
columns of step runs and calls by name, so inserts and the A/B import list them once.

One list of migrations serves both back ends. It is written in SQLite's dialect; PostgreSQL
gets the same statements with 64-bit integer columns (`postgres_form`), and the few
statements that have no common form (the append-only triggers) say both forms (`Per`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Per:
    """A statement whose text differs by back end (SQLite's is the released one)."""

    sqlite: str
    postgres: tuple[str, ...]


Statement = str | Per

# PostgreSQL has no BEFORE ... RAISE(ABORT) triggers: one function refuses every change to a
# call row, fired per row on UPDATE and DELETE and per statement on TRUNCATE (which skips
# row triggers).
_PG_APPEND_ONLY = """CREATE FUNCTION devloop_calls_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'calls is append-only: a call row is never %',
            CASE TG_OP WHEN 'UPDATE' THEN 'updated' ELSE 'deleted' END
            USING ERRCODE = 'integrity_constraint_violation';
    END $$"""
_PG_NO_UPDATE = (
    "CREATE TRIGGER calls_no_update BEFORE UPDATE ON calls"
    " FOR EACH ROW EXECUTE FUNCTION devloop_calls_append_only()"
)

# Running totals of the calls by the labels `devloop metrics` reports (Ledger.outcome_groups):
# a scrape of a shared ledger reads a few hundred rows instead of aggregating every call.
# Calls are append-only, so a trigger that adds each new row in the same transaction keeps
# the totals exact; a migration that ever rewrites call rows must rebuild them
# (TOTALS_FROM_CALLS). One row per label set, updated by every call of that set: a bulk load
# of many calls in one PostgreSQL transaction should disable the trigger and rebuild.
_TOTAL_KEYS = "step_key, tier, model, outcome, repository, team"
_TOTAL_SUMS = (
    "calls, input_tokens, cache_creation_input_tokens, cache_read_input_tokens,"
    " output_tokens, cost_pico, baseline_pico, escalated"
)
_TOTAL_COLUMNS = f"{_TOTAL_KEYS}, {_TOTAL_SUMS}"
# One call's contribution, from the row `row` (NEW in a trigger).
_TOTAL_KEY_VALUES = (
    "{r}.step_key, {r}.tier, COALESCE({r}.served_model, {r}.requested_model), {r}.outcome,"
    " COALESCE({r}.repository, ''), COALESCE({r}.team, '')"
)
_TOTAL_SUM_VALUES = (
    "1, {r}.input_tokens, {r}.cache_creation_input_tokens, {r}.cache_read_input_tokens,"
    " {r}.output_tokens, COALESCE({r}.cost_pico, 0),"
    " CASE WHEN {r}.cost_pico IS NOT NULL THEN COALESCE({r}.baseline_pico, 0) ELSE 0 END,"
    " CASE WHEN {r}.escalated_from IS NOT NULL THEN 1 ELSE 0 END"
)
_TOTAL_ADD = ", ".join(
    f"{c} = call_totals.{c} + excluded.{c}" for c in _TOTAL_SUMS.replace(" ", "").split(",")
)
_TOTAL_UPSERT = (
    f"INSERT INTO call_totals ({_TOTAL_COLUMNS}) VALUES"
    f" ({_TOTAL_KEY_VALUES.format(r='NEW')}, {_TOTAL_SUM_VALUES.format(r='NEW')})"
    f" ON CONFLICT ({_TOTAL_KEYS}) DO UPDATE SET {_TOTAL_ADD}"
)
# The totals of every call row, computed from scratch: the migration's backfill, and the
# rebuild after a bulk load made with the trigger disabled (tests/bench/bench_cost.py).
TOTALS_FROM_CALLS = (
    f"INSERT INTO call_totals ({_TOTAL_COLUMNS})"
    f" SELECT {_TOTAL_KEY_VALUES.format(r='c')}, COUNT(*), SUM(c.input_tokens),"
    " SUM(c.cache_creation_input_tokens), SUM(c.cache_read_input_tokens),"
    " SUM(c.output_tokens), COALESCE(SUM(c.cost_pico), 0),"
    " COALESCE(SUM(CASE WHEN c.cost_pico IS NOT NULL THEN c.baseline_pico END), 0),"
    " SUM(CASE WHEN c.escalated_from IS NOT NULL THEN 1 ELSE 0 END)"
    f" FROM calls c GROUP BY {_TOTAL_KEY_VALUES.format(r='c')}"
)
_PG_TOTALS_FUNCTION = f"""CREATE FUNCTION devloop_call_totals_add() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        {_TOTAL_UPSERT};
        RETURN NULL;
    END $$"""

# Each entry moves the schema from version i to i+1. Never edit a released entry: append.
MIGRATIONS: list[tuple[Statement, ...]] = [
    (  # 1: features, step runs and append-only calls
        """CREATE TABLE features (
            id INTEGER PRIMARY KEY,
            slug TEXT NOT NULL UNIQUE,
            title TEXT NOT NULL DEFAULT '',
            spec_path TEXT NOT NULL DEFAULT '',
            branch TEXT NOT NULL DEFAULT '',
            status TEXT NOT NULL DEFAULT 'active',
            budget_pico INTEGER,
            tag TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE INDEX features_updated ON features(updated_at)",
        """CREATE TABLE step_runs (
            id INTEGER PRIMARY KEY,
            feature TEXT NOT NULL REFERENCES features(slug),
            step_number INTEGER NOT NULL,
            step_key TEXT NOT NULL,
            worker TEXT NOT NULL,
            tier TEXT,
            model TEXT,
            status TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            outcome_json TEXT,
            route_json TEXT
        )""",
        "CREATE INDEX step_runs_feature ON step_runs(feature, step_key)",
        """CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            feature TEXT NOT NULL REFERENCES features(slug),
            step_key TEXT NOT NULL,
            step_run_id INTEGER REFERENCES step_runs(id),
            attempt INTEGER NOT NULL,
            tier TEXT NOT NULL,
            requested_model TEXT NOT NULL,
            served_model TEXT,
            input_tokens INTEGER NOT NULL,
            cache_write_5m_tokens INTEGER,
            cache_write_1h_tokens INTEGER,
            cache_creation_input_tokens INTEGER NOT NULL,
            cache_read_input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            thinking_tokens INTEGER,
            service_tier TEXT,
            inference_geo TEXT,
            speed TEXT,
            web_search_requests INTEGER NOT NULL,
            web_fetch_requests INTEGER NOT NULL,
            usage_json TEXT NOT NULL,
            cost_pico INTEGER CHECK (cost_pico IS NULL OR cost_pico >= 0),
            baseline_pico INTEGER CHECK (baseline_pico IS NULL OR baseline_pico >= 0),
            baseline_model TEXT,
            price_version TEXT,
            latency_ms INTEGER,
            stop_reason TEXT,
            request_id TEXT,
            outcome TEXT NOT NULL,
            retries INTEGER NOT NULL,
            escalated_from INTEGER REFERENCES calls(id),
            created_at TEXT NOT NULL
        )""",
        # Covering index in the report's GROUP BY order: `devloop cost --all` streams it
        # without a sort or a table lookup (100,000 calls: ~0.1 s instead of ~0.4 s).
        """CREATE INDEX calls_report ON calls(
            feature, step_key, tier, served_model, requested_model, baseline_model,
            input_tokens, cache_creation_input_tokens, cache_write_5m_tokens,
            cache_write_1h_tokens, cache_read_input_tokens, output_tokens, cost_pico,
            baseline_pico
        )""",
        "CREATE INDEX calls_step_run ON calls(step_run_id)",
        Per(
            """CREATE TRIGGER calls_no_update BEFORE UPDATE ON calls
           BEGIN SELECT RAISE(ABORT, 'calls is append-only: a call row is never updated'); END""",
            (_PG_APPEND_ONLY, _PG_NO_UPDATE),
        ),
        Per(
            """CREATE TRIGGER calls_no_delete BEFORE DELETE ON calls
           BEGIN SELECT RAISE(ABORT, 'calls is append-only: a call row is never deleted'); END""",
            (
                "CREATE TRIGGER calls_no_delete BEFORE DELETE ON calls"
                " FOR EACH ROW EXECUTE FUNCTION devloop_calls_append_only()",
                "CREATE TRIGGER calls_no_truncate BEFORE TRUNCATE ON calls"
                " FOR EACH STATEMENT EXECUTE FUNCTION devloop_calls_append_only()",
            ),
        ),
    ),
    (  # 2: the sandbox each step run's commands ran in ("bubblewrap 0.8.0", "off (...)")
        "ALTER TABLE step_runs ADD COLUMN sandbox TEXT",
    ),
    (  # 3: cost truth: the counterfactual baseline, reservations, reuse of recorded answers
        "ALTER TABLE calls ADD COLUMN same_usage_baseline_pico INTEGER"
        " CHECK (same_usage_baseline_pico IS NULL OR same_usage_baseline_pico >= 0)",
        "ALTER TABLE calls ADD COLUMN cache_json TEXT",  # what the prompt cache saw (baseline.py)
        "ALTER TABLE calls ADD COLUMN request_sha256 TEXT",
        "ALTER TABLE calls ADD COLUMN transcript TEXT",  # the exchange's file in transcripts/
        "ALTER TABLE calls ADD COLUMN reservation_id INTEGER",
        "ALTER TABLE calls ADD COLUMN started_at TEXT",  # when the request was sent
        # Rows recorded before this version have only the same-usage baseline: it stays
        # their baseline, and is copied where the new column expects it.
        Per("DROP TRIGGER calls_no_update", ("DROP TRIGGER calls_no_update ON calls",)),
        "UPDATE calls SET same_usage_baseline_pico = baseline_pico",
        Per(
            """CREATE TRIGGER calls_no_update BEFORE UPDATE ON calls
           BEGIN SELECT RAISE(ABORT, 'calls is append-only: a call row is never updated'); END""",
            (_PG_NO_UPDATE,),
        ),
        "CREATE INDEX calls_request ON calls(feature, step_key, request_sha256)",
        """CREATE TABLE reservations (
            id INTEGER PRIMARY KEY,
            feature TEXT NOT NULL REFERENCES features(slug),
            step_key TEXT NOT NULL,
            step_run_id INTEGER REFERENCES step_runs(id),
            model TEXT NOT NULL,
            worst_pico INTEGER CHECK (worst_pico IS NULL OR worst_pico >= 0),
            status TEXT NOT NULL,
            pid INTEGER,
            host TEXT,
            created_at TEXT NOT NULL,
            settled_at TEXT,
            call_id INTEGER REFERENCES calls(id),
            settled_pico INTEGER CHECK (settled_pico IS NULL OR settled_pico >= 0),
            note TEXT,
            started_at TEXT,
            cache_json TEXT
        )""",
        "CREATE INDEX reservations_open ON reservations(feature, status)",
        """CREATE TABLE reuses (
            call_id INTEGER PRIMARY KEY REFERENCES calls(id),
            step_run_id INTEGER REFERENCES step_runs(id),
            created_at TEXT NOT NULL
        )""",
    ),
    (  # 4: who and where (shared ledgers), team budgets, team reports
        "ALTER TABLE features ADD COLUMN repository TEXT",
        *(
            f"ALTER TABLE {table} ADD COLUMN {column} TEXT"
            for table in ("calls", "step_runs", "reservations")
            for column in ("user_name", "host", "repository", "branch", "team")
            if (table, column) != ("reservations", "host")  # it has one since version 3
        ),
        # A team ceiling sums the team's calls since the start of the day or month.
        "CREATE INDEX calls_team ON calls(team, created_at)",
        "CREATE INDEX reservations_team ON reservations(team, status)",
        # Covering index of the team reports (`devloop cost --all --by user|repo|host|day`,
        # `--since/--until`): an aggregate reads it instead of the wide call rows.
        """CREATE INDEX calls_team_report ON calls(
            created_at, user_name, repository, host, team, tier, served_model,
            requested_model, baseline_model, feature, step_key, input_tokens,
            cache_creation_input_tokens, cache_write_5m_tokens, cache_write_1h_tokens,
            cache_read_input_tokens, output_tokens, cost_pico, baseline_pico,
            same_usage_baseline_pico
        )""",
    ),
    (  # 5: running totals for `devloop metrics`, kept by a trigger on every new call
        f"""CREATE TABLE call_totals (
            step_key TEXT NOT NULL,
            tier TEXT NOT NULL,
            model TEXT NOT NULL,
            outcome TEXT NOT NULL,
            repository TEXT NOT NULL,
            team TEXT NOT NULL,
            calls INTEGER NOT NULL,
            input_tokens INTEGER NOT NULL,
            cache_creation_input_tokens INTEGER NOT NULL,
            cache_read_input_tokens INTEGER NOT NULL,
            output_tokens INTEGER NOT NULL,
            cost_pico INTEGER NOT NULL,
            baseline_pico INTEGER NOT NULL,
            escalated INTEGER NOT NULL,
            PRIMARY KEY ({_TOTAL_KEYS})
        )""",
        TOTALS_FROM_CALLS,  # the calls recorded before this version
        Per(
            f"CREATE TRIGGER calls_totals AFTER INSERT ON calls BEGIN {_TOTAL_UPSERT}; END",
            (
                _PG_TOTALS_FUNCTION,
                "CREATE TRIGGER calls_totals AFTER INSERT ON calls"
                " FOR EACH ROW EXECUTE FUNCTION devloop_call_totals_add()",
            ),
        ),
    ),
]


def sqlite_form(statement: Statement) -> tuple[str, ...]:
    return (statement.sqlite,) if isinstance(statement, Per) else (statement,)


def postgres_form(statement: Statement) -> tuple[str, ...]:
    """The statement as PostgreSQL runs it: integers are 64-bit (pico-USD amounts pass
    2**31 at $0.002) and an INTEGER PRIMARY KEY is an identity column."""
    if isinstance(statement, Per):
        return statement.postgres
    text = statement.replace(
        "INTEGER PRIMARY KEY REFERENCES", "BIGINT PRIMARY KEY REFERENCES"
    ).replace("INTEGER PRIMARY KEY", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY")
    return (re.sub(r"\bINTEGER\b", "BIGINT", text),)


# Reservation states: a call in flight holds its worst case against the ceilings until it
# settles (the call row is written), is released (no response: not billed), or a person
# settles it by hand after a crash left it open.
RESERVED, SETTLED, RELEASED, SETTLED_BY_HAND = "open", "settled", "released", "settled by hand"


def schema_version() -> int:
    """The schema version this code writes and reads."""
    return len(MIGRATIONS)


# The columns of a step run and a call, by name: inserts and the A/B import use these, so a
# new column is one line here.
RUN_FIELDS = (
    "feature", "step_number", "step_key", "worker", "tier", "model", "status", "started_at",
    "ended_at", "outcome_json", "route_json", "sandbox",
    "user_name", "host", "repository", "branch", "team",
)  # fmt: skip

# Who and where a row was written: the columns of `Origin` (records.py), on calls, step runs
# and reservations.
ORIGIN_FIELDS = ("user_name", "host", "repository", "branch", "team")


CALL_FIELDS = (
    "feature", "step_key", "step_run_id", "attempt", "tier", "requested_model",
    "served_model", "input_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens",
    "thinking_tokens", "service_tier", "inference_geo", "speed", "web_search_requests",
    "web_fetch_requests", "usage_json", "cost_pico", "baseline_pico", "baseline_model",
    "price_version", "latency_ms", "stop_reason", "request_id", "outcome", "retries",
    "escalated_from", "created_at", "same_usage_baseline_pico", "cache_json",
    "request_sha256", "transcript", "reservation_id", "started_at",
    "user_name", "host", "repository", "branch", "team",
)  # fmt: skip


INSERT_RUN = (
    f"INSERT INTO step_runs ({', '.join(RUN_FIELDS)}) VALUES ({', '.join('?' * len(RUN_FIELDS))})"
    " RETURNING id"
)


INSERT_CALL = (
    f"INSERT INTO calls ({', '.join(CALL_FIELDS)}) VALUES ({', '.join('?' * len(CALL_FIELDS))})"
    " RETURNING id"
)
