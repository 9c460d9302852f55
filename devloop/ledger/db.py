"""The cost ledger: `.devloop/ledger.db`, a SQLite database in WAL mode.

Three tables: `features` (one row per feature slug), `step_runs` (one row each time a step
runs, scripts included, at $0) and `calls` (one row per model response, append-only: SQLite
triggers abort any UPDATE or DELETE on it). Money is INTEGER pico-USD (1e-12) so SQL SUM is
exact; a NULL cost means "unpriced" and is counted, never summed as $0.

Reports are aggregate queries over these tables (`call_groups`, `step_run_groups`); no row
is ever loaded into Python one by one to be summed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path
from typing import Any, TypeVar

from devloop.errors import LedgerError

T = TypeVar("T")

LEDGER_DIR = ".devloop"
LEDGER_FILE = "ledger.db"
BUSY_TIMEOUT_S = 30.0  # how long a writer waits for another process's transaction

PICO_PER_USD = 10**12
_PICO = Decimal(1).scaleb(-12)

# What happened to one model call: the conventional values. The ledger stores whatever
# non-empty outcome it is given (a "kind:detail" form such as "api_error:overloaded" is
# fine): refusing an unexpected word would lose the record of a billed call.
CALL_OUTCOMES: tuple[str, ...] = (
    "ok",
    "empty",  # billed, but no usable content
    "truncated",  # stopped at max_tokens
    "refusal",
    "invalid_output",  # did not match the requested structure
    "model_mismatch",  # served model differs from the one asked for
    "error",  # failed after the request was sent
    "api_error",  # the provider answered with an error (usually "api_error:<type>")
    "cancelled",
)
STEP_RUN_RUNNING = "running"


class LedgerMissing(LedgerError):
    """There is no ledger (or nothing in it) yet: nothing to report."""


# ------------------------------------------------------------------ money


def usd_to_pico(usd: Decimal | int) -> int:
    """Exact USD -> integer pico-USD; sub-pico remainders round half-even.

    Floats are refused: they cannot hold most prices exactly.
    """
    if isinstance(usd, bool) or not isinstance(usd, Decimal | int):
        raise TypeError(f"money must be a Decimal or int, not {type(usd).__name__} ({usd!r})")
    value = Decimal(usd)
    if not value.is_finite():
        raise ValueError(f"money must be a finite amount, not {value}")
    with localcontext() as ctx:
        ctx.prec = 60
        return int(value.scaleb(12).to_integral_value(rounding=ROUND_HALF_EVEN))


def pico_to_usd(pico: int) -> Decimal:
    """Integer pico-USD -> exact Decimal USD with 12 fractional digits."""
    with localcontext() as ctx:
        ctx.prec = 60
        return Decimal(int(pico)).scaleb(-12).quantize(_PICO)


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class Feature:
    slug: str
    title: str
    spec_path: str
    branch: str
    status: str
    budget_usd: Decimal | None
    tag: str | None
    created_at: str
    updated_at: str


@dataclass(frozen=True)
class CallRecord:
    """One model response, as the model-access layer saw it.

    `usage` is the API's usage object as a dict (`response.usage.model_dump()`); the raw
    fields are copied out of it into columns and the whole dict is kept as JSON.
    `cost_usd` / `baseline_usd` of None mean "unpriced" (model without a verified price).
    """

    feature: str  # slug
    step_key: str
    tier: str
    requested_model: str
    outcome: str = ""  # required by record_call; a default so a template can be filled later
    served_model: str | None = None
    step_run_id: int | None = None
    attempt: int = 1
    usage: Mapping[str, Any] = field(default_factory=dict)
    cost_usd: Decimal | None = None
    baseline_usd: Decimal | None = None  # in one all-frontier run (baseline.py)
    baseline_model: str | None = None
    price_version: str | None = None
    latency_ms: int | None = None
    stop_reason: str | None = None
    request_id: str | None = None
    retries: int = 0
    escalated_from: int | None = None  # id of the call this one escalates from
    created_at: datetime | None = None  # default: now (UTC)
    same_usage_baseline_usd: Decimal | None = None  # this usage at frontier rates
    cache_shape: Mapping[str, Any] | None = None  # what the prompt cache saw (baseline.py)
    request_sha256: str | None = None
    transcript: str | None = None  # file name in the feature's transcripts/
    reservation_id: int | None = None
    started_at: datetime | None = None  # when the request was sent


@dataclass(frozen=True)
class UsageColumns:
    """The raw usage fields stored as columns (None: the API did not report it)."""

    input_tokens: int
    cache_write_5m_tokens: int | None
    cache_write_1h_tokens: int | None
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    output_tokens: int
    thinking_tokens: int | None
    web_search_requests: int
    web_fetch_requests: int
    service_tier: str | None
    inference_geo: str | None
    speed: str | None


def usage_columns(usage: Mapping[str, Any]) -> UsageColumns:
    """Pick the raw fields out of an API usage dict; absent counts are 0 (or None when
    'unknown' differs from 'none', as for the 5m/1h split and thinking tokens)."""

    def count(value: Any, name: str) -> int:
        if value is None:
            return 0
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise LedgerError(f"usage field '{name}' must be a non-negative integer, not {value!r}")
        return value

    def sub(name: str) -> Mapping[str, Any]:
        value = usage.get(name)
        return value if isinstance(value, Mapping) else {}

    cache = sub("cache_creation")
    details = sub("output_tokens_details")
    tools = sub("server_tool_use")

    def optional(mapping: Mapping[str, Any], name: str) -> int | None:
        return None if mapping.get(name) is None else count(mapping[name], name)

    def text(name: str) -> str | None:
        value = usage.get(name)
        return None if value is None else str(value)

    write_5m = optional(cache, "ephemeral_5m_input_tokens")
    write_1h = optional(cache, "ephemeral_1h_input_tokens")
    cache_total = count(usage.get("cache_creation_input_tokens"), "cache_creation_input_tokens")
    if usage.get("cache_creation_input_tokens") is None:
        cache_total = (write_5m or 0) + (write_1h or 0)  # only the breakdown was reported

    return UsageColumns(
        input_tokens=count(usage.get("input_tokens"), "input_tokens"),
        cache_write_5m_tokens=write_5m,
        cache_write_1h_tokens=write_1h,
        cache_creation_input_tokens=cache_total,
        cache_read_input_tokens=count(
            usage.get("cache_read_input_tokens"), "cache_read_input_tokens"
        ),
        output_tokens=count(usage.get("output_tokens"), "output_tokens"),
        thinking_tokens=optional(details, "thinking_tokens"),
        web_search_requests=count(tools.get("web_search_requests"), "web_search_requests"),
        web_fetch_requests=count(tools.get("web_fetch_requests"), "web_fetch_requests"),
        service_tier=text("service_tier"),
        inference_geo=text("inference_geo"),
        speed=text("speed"),
    )


@dataclass(frozen=True)
class Spend:
    """Money spent so far (priced calls only) and how many calls could not be priced."""

    cost_usd: Decimal
    calls: int
    unpriced_calls: int


@dataclass(frozen=True)
class Committed:
    """What counts against a ceiling (pico-USD), and whether an unpriced call that no
    person settled makes the ceiling impossible to keep."""

    pico: int
    calls_pico: int
    open_pico: int  # open reservations at their worst case
    open_count: int
    by_hand_pico: int
    unpriced: int  # unpriced calls not settled by hand


@dataclass(frozen=True)
class Refusal:
    scope: str  # "feature" or "step"
    ceiling_pico: int
    held: Committed
    unpriced: bool  # refused because an unpriced call makes the ceiling unknowable


@dataclass(frozen=True)
class Reservation:
    id: int | None
    worst_pico: int | None
    refused: Refusal | None = None


@dataclass(frozen=True)
class OpenReservation:
    id: int
    feature: str
    step_key: str
    step_run_id: int | None
    model: str
    worst_pico: int | None
    pid: int | None
    host: str | None
    created_at: str


@dataclass(frozen=True)
class CallShape:
    """A recorded call as the counterfactual baseline replays it."""

    id: int  # the call's id; minus the reservation's for a call still in flight
    started_at: str
    shape: dict[str, Any]
    prompt_tokens: int  # input + cache writes + cache reads, as billed (in flight: estimated)
    reservation_id: int | None = None  # set for a call still in flight


@dataclass(frozen=True)
class ReusableCall:
    id: int
    transcript: str
    step_run_id: int


@dataclass(frozen=True)
class CallGroup:
    """Calls aggregated by (feature, step, tier, served model, baseline model)."""

    feature: str
    step_key: str
    tier: str
    model: str  # served model, or the requested one when the response named none
    baseline_model: str | None
    calls: int
    unpriced_calls: int  # cost is NULL
    baseline_unpriced_calls: int  # cost known, baseline NULL
    input_tokens: int
    cache_write_tokens: int
    cache_write_5m_tokens: int
    cache_write_1h_tokens: int
    cache_read_tokens: int
    output_tokens: int
    cost_pico: int  # over calls with a known cost
    baseline_pico: int  # over calls with a known cost and a known baseline
    same_usage_baseline_pico: int = 0  # the same, for the same-usage baseline
    same_usage_unpriced_calls: int = 0  # cost known, same-usage baseline NULL


@dataclass(frozen=True)
class RunGroup:
    """Step runs aggregated by (feature, step, tier, model); tier is "script" for scripts."""

    feature: str
    step_key: str
    step_number: int
    worker: str
    tier: str
    model: str | None
    runs: int


@dataclass(frozen=True)
class StepRunRecord:
    """One step run with the route it took and the outcome it recorded (JSON, parsed)."""

    id: int
    feature: str
    step_number: int
    step_key: str
    worker: str
    tier: str | None
    model: str | None
    status: str
    started_at: str
    ended_at: str | None
    route: dict[str, Any] | None
    outcome: dict[str, Any] | None


@dataclass(frozen=True)
class RunCallStats:
    """The calls of one step run, aggregated."""

    calls: int
    priced_calls: int
    cost_pico: int
    baseline_pico: int
    escalated: int  # calls made as an escalation (escalated_from set)
    empty: int
    truncated: int
    failed: int  # outcome other than "ok"
    frontier_calls: int
    input_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    output_tokens: int


@dataclass(frozen=True)
class OutcomeGroup:
    """Calls aggregated by (step, tier, model, outcome)."""

    step_key: str
    tier: str
    model: str
    outcome: str
    calls: int
    input_tokens: int
    cache_write_tokens: int
    cache_read_tokens: int
    output_tokens: int
    cost_pico: int  # over calls with a known cost
    baseline_pico: int  # over calls with a known cost
    escalated: int


@dataclass(frozen=True)
class Escalation:
    """An escalated call and the call it escalated from."""

    call_id: int
    step_run_id: int | None
    step_key: str
    tier: str
    model: str
    outcome: str
    from_call: int
    from_tier: str | None
    from_model: str | None
    from_outcome: str | None


@dataclass(frozen=True)
class CallSpan:
    """What a trace span of one call needs."""

    id: int
    step_run_id: int | None
    step_key: str
    tier: str
    requested_model: str
    served_model: str | None
    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    output_tokens: int
    cost_pico: int | None
    baseline_pico: int | None
    latency_ms: int | None
    created_at: str
    outcome: str
    stop_reason: str | None
    request_id: str | None
    escalated_from: int | None


# ----------------------------------------------------------------- schema

# Each entry moves the schema from version i to i+1. Never edit a released entry: append.
MIGRATIONS: list[tuple[str, ...]] = [
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
        """CREATE TRIGGER calls_no_update BEFORE UPDATE ON calls
           BEGIN SELECT RAISE(ABORT, 'calls is append-only: a call row is never updated'); END""",
        """CREATE TRIGGER calls_no_delete BEFORE DELETE ON calls
           BEGIN SELECT RAISE(ABORT, 'calls is append-only: a call row is never deleted'); END""",
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
        "DROP TRIGGER calls_no_update",
        "UPDATE calls SET same_usage_baseline_pico = baseline_pico",
        """CREATE TRIGGER calls_no_update BEFORE UPDATE ON calls
           BEGIN SELECT RAISE(ABORT, 'calls is append-only: a call row is never updated'); END""",
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
]
# Reservation states: a call in flight holds its worst case against the ceilings until it
# settles (the call row is written), is released (no response: not billed), or a person
# settles it by hand after a crash left it open.
RESERVED, SETTLED, RELEASED, SETTLED_BY_HAND = "open", "settled", "released", "settled by hand"


def schema_version() -> int:
    """The schema version this code writes and reads."""
    return len(MIGRATIONS)


def ledger_path(root: Path) -> Path:
    return Path(root) / LEDGER_DIR / LEDGER_FILE


def looks_blank(path: Path) -> bool:
    """Missing, empty, or an SQLite file without the calls table: nothing recorded in it."""
    try:
        if path.stat().st_size == 0:
            return True
    except FileNotFoundError:
        return True
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            found = conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'calls'"
            ).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return False  # unreadable: Ledger() says what is wrong with it
    return found is None


def _now() -> str:
    return stamp(datetime.now(UTC))


def stamp(moment: datetime) -> str:
    # Fixed-width UTC text so timestamps sort as strings.
    if moment.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def _rollback(conn: sqlite3.Connection) -> None:
    # SQLite may already have ended the transaction (disk full, I/O error); a second
    # error from ROLLBACK would hide the first one.
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def _optional_pico(usd: Decimal | None, what: str) -> int | None:
    if usd is None:
        return None
    pico = usd_to_pico(usd)
    if pico < 0:
        raise ValueError(f"{what} must not be negative, got {usd}")
    return pico


# ----------------------------------------------------------------- ledger


class Ledger:
    """One open ledger database. Thread-safe; several processes may share the file."""

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        if self.path.is_dir():
            raise LedgerError(f"{self.path}: is a directory, not a ledger. Move it aside.")
        if not create and not self.path.is_file():
            raise LedgerMissing(
                f"no cost ledger at {self.path} yet: nothing has been recorded in this "
                "repository. Run `devloop feature SPEC` first."
            )
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise LedgerError(
                f"{self.path.parent}: cannot create the ledger directory: {exc.strerror}."
            ) from None
        self._conn = self._connect()

    @classmethod
    def open(cls, root: Path, *, create: bool = True) -> Ledger:
        """The ledger of the repository at `root` (the config's root)."""
        return cls(ledger_path(root), create=create)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # ------------------------------------------------------------ opening

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise LedgerError(f"{self.path}: cannot open the ledger: {exc}.") from None
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            # The first read of the header: a non-SQLite file fails here.
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > schema_version():  # refuse before changing anything in the file
                raise self._too_new(version)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable across crashes in WAL mode
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise LedgerError(self._database_error(exc)) from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _too_new(self, version: int) -> LedgerError:
        return LedgerError(
            f"{self.path}: ledger schema version {version} is newer than this devloop "
            f"understands (up to {schema_version()}). Upgrade devloop to read it; "
            "do not delete the file."
        )

    def _database_error(self, exc: sqlite3.Error) -> str:
        text = str(exc)
        if "not a database" in text or "malformed" in text or "encrypted" in text:
            return (
                f"{self.path}: not a readable devloop ledger (SQLite: {text}). Move it aside "
                f"(e.g. `mv {self.path} {self.path}.broken`); devloop starts a new ledger on "
                "the next run."
            )
        if "locked" in text or "busy" in text:
            return (
                f"{self.path}: the ledger stayed locked by another process for "
                f"{BUSY_TIMEOUT_S:.0f}s ({text}). Wait for it to finish, then retry."
            )
        return f"{self.path}: ledger error (SQLite: {text})."

    def _migrate(self, conn: sqlite3.Connection) -> None:
        if conn.execute("PRAGMA user_version").fetchone()[0] == schema_version():
            return
        # IMMEDIATE takes the write lock first, so two processes opening a new ledger at
        # once migrate it once: the second re-reads the version after the first commits.
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > schema_version():  # another process upgraded it meanwhile
                raise self._too_new(version)
            for number in range(version, schema_version()):
                for statement in MIGRATIONS[number]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            _rollback(conn)
            if "already exists" in str(exc):
                raise LedgerError(
                    f"{self.path}: an SQLite file that is not a devloop ledger ({exc}). "
                    "Move it aside; devloop starts a new ledger on the next run."
                ) from None
            raise
        except BaseException:
            _rollback(conn)
            raise

    # ------------------------------------------------------------ helpers

    @property
    def connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise LedgerError(f"{self.path}: the ledger is closed.")
        return self._conn

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run fn(conn) in one IMMEDIATE transaction; SQLite errors become LedgerError."""
        with self._lock:
            conn = self.connection
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise LedgerError(self._database_error(exc)) from None
            try:
                result = fn(conn)
                conn.execute("COMMIT")
                return result
            except sqlite3.Error as exc:
                _rollback(conn)
                raise LedgerError(self._database_error(exc)) from None
            except BaseException:
                _rollback(conn)
                raise

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._lock:
            try:
                return self.connection.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise LedgerError(self._database_error(exc)) from None

    @staticmethod
    def _touch_feature(conn: sqlite3.Connection, slug: str, now: str) -> None:
        conn.execute(
            "INSERT INTO features (slug, created_at, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (slug) DO UPDATE SET updated_at = MAX(updated_at, excluded.updated_at)",
            (slug, now, now),
        )

    # ----------------------------------------------------------- features

    def ensure_feature(
        self,
        slug: str,
        *,
        title: str | None = None,
        spec_path: str | None = None,
        branch: str | None = None,
        status: str | None = None,
        budget_usd: Decimal | None = None,
        tag: str | None = None,
    ) -> Feature:
        """Create the feature if it is new; update the fields given (not None) if not."""
        if not slug:
            raise ValueError("a feature needs a slug")
        values = {
            "title": title,
            "spec_path": spec_path,
            "branch": branch,
            "status": status,
            "budget_pico": None if budget_usd is None else usd_to_pico(budget_usd),
            "tag": tag,
        }
        given = {name: value for name, value in values.items() if value is not None}

        def write(conn: sqlite3.Connection) -> None:
            now = _now()
            self._touch_feature(conn, slug, now)
            if given:
                assignments = ", ".join(f"{name} = ?" for name in given)
                conn.execute(
                    f"UPDATE features SET {assignments} WHERE slug = ?", (*given.values(), slug)
                )

        self._write(write)
        found = self.feature(slug)
        assert found is not None
        return found

    def set_feature_status(self, slug: str, status: str) -> None:
        def write(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "UPDATE features SET status = ?, updated_at = ? WHERE slug = ?",
                (status, _now(), slug),
            )
            if cur.rowcount == 0:
                raise LedgerError(f"{self.path}: no feature '{slug}' to set the status of.")

        self._write(write)

    _FEATURE_COLUMNS = (
        "slug, title, spec_path, branch, status, budget_pico, tag, created_at, updated_at"
    )

    @staticmethod
    def _feature(row: tuple) -> Feature:
        slug, title, spec, branch, status, budget, tag, created, updated = row
        return Feature(
            slug=slug,
            title=title,
            spec_path=spec,
            branch=branch,
            status=status,
            budget_usd=None if budget is None else pico_to_usd(budget),
            tag=tag,
            created_at=created,
            updated_at=updated,
        )

    def feature(self, slug: str) -> Feature | None:
        rows = self._read(f"SELECT {self._FEATURE_COLUMNS} FROM features WHERE slug = ?", (slug,))
        return self._feature(rows[0]) if rows else None

    def features(self) -> list[Feature]:
        """Every feature, oldest first."""
        rows = self._read(f"SELECT {self._FEATURE_COLUMNS} FROM features ORDER BY id")
        return [self._feature(row) for row in rows]

    def latest_feature(self) -> Feature | None:
        """The feature with the most recent activity (a step run or a call)."""
        rows = self._read(
            f"SELECT {self._FEATURE_COLUMNS} FROM features ORDER BY updated_at DESC, id DESC "
            "LIMIT 1"
        )
        return self._feature(rows[0]) if rows else None

    # ---------------------------------------------------------- step runs

    def start_step_run(
        self,
        feature: str,
        step_number: int,
        step_key: str,
        *,
        worker: str,
        tier: str | None = None,
        model: str | None = None,
        route: Mapping[str, Any] | None = None,
        started_at: datetime | None = None,
        sandbox: str | None = None,
    ) -> int:
        """Record that a step started; returns the step run id. `worker` is "llm",
        "script" or "mixed"; tier and model are None for a script. `sandbox` says where the
        step's commands run (None: it runs none)."""
        started = stamp(started_at) if started_at else _now()

        def write(conn: sqlite3.Connection) -> int:
            self._touch_feature(conn, feature, started)
            cur = conn.execute(
                "INSERT INTO step_runs (feature, step_number, step_key, worker, tier, model,"
                " status, started_at, route_json, sandbox) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    feature,
                    step_number,
                    step_key,
                    worker,
                    tier,
                    model,
                    STEP_RUN_RUNNING,
                    started,
                    _json(route),
                    sandbox,
                ),
            )
            return int(cur.lastrowid)

        return self._write(write)

    def finish_step_run(
        self,
        run_id: int,
        status: str,
        outcome: Mapping[str, Any] | None = None,
        *,
        ended_at: datetime | None = None,
    ) -> None:
        """Close a step run with its final status ("ok", "failed", ...) and outcome."""
        if not status or status == STEP_RUN_RUNNING:
            raise ValueError(f"a finished step run needs a final status, not {status!r}")
        ended = stamp(ended_at) if ended_at else _now()

        def write(conn: sqlite3.Connection) -> None:
            row = conn.execute(
                "SELECT feature, ended_at FROM step_runs WHERE id = ?", (run_id,)
            ).fetchone()
            if row is None:
                raise LedgerError(f"{self.path}: no step run {run_id} to finish.")
            if row[1] is not None:
                raise LedgerError(f"{self.path}: step run {run_id} was already finished.")
            conn.execute(
                "UPDATE step_runs SET status = ?, ended_at = ?, outcome_json = ? WHERE id = ?",
                (status, ended, _json(outcome), run_id),
            )
            conn.execute("UPDATE features SET updated_at = ? WHERE slug = ?", (ended, row[0]))

        self._write(write)

    def record_automated_step(
        self,
        feature: str,
        step_number: int,
        step_key: str,
        status: str,
        outcome: Mapping[str, Any] | None = None,
    ) -> int:
        """A script step: a step run at $0 with no calls."""
        run_id = self.start_step_run(feature, step_number, step_key, worker="script")
        self.finish_step_run(run_id, status, outcome)
        return run_id

    # -------------------------------------------------------------- calls

    def record_call(self, call: CallRecord, *, release: bool = False) -> int:
        """Append one call row in its own transaction; returns its id. Never updated.
        The call's reservation, if any, is settled by it (or, with `release`, released:
        a request that got no response is not billed) in the same transaction."""
        row = _call_row(call)

        def write(conn: sqlite3.Connection) -> int:
            # The feature row is created on demand: losing a billed call because the
            # caller forgot ensure_feature() would be worse than an untitled feature.
            self._touch_feature(conn, call.feature, row["created_at"])
            cur = conn.execute(INSERT_CALL, [row[name] for name in CALL_FIELDS])
            call_id = int(cur.lastrowid)
            if call.reservation_id is not None:
                status = RELEASED if release else SETTLED
                conn.execute(
                    "UPDATE reservations SET status = ?, settled_at = ?, call_id = ?"
                    " WHERE id = ? AND status = ?",
                    (status, row["created_at"], call_id, call.reservation_id, RESERVED),
                )
            return call_id

        return self._write(write)

    # ------------------------------------------------------- reservations

    def reserve(
        self,
        feature: str,
        step_key: str,
        model: str,
        worst_usd: Decimal | None,
        *,
        step_run_id: int | None = None,
        ceilings: Mapping[str, Decimal | None] | None = None,
    ) -> Reservation:
        """Hold a call's worst case against the ceilings before it is sent, in one
        transaction that sees every other reservation of the feature (other threads, other
        processes). `ceilings`: {"feature": USD, "step": USD}, None for none. Returns the
        reservation, or one with `refused` set (nothing written) when it does not fit."""
        import os
        import socket

        worst = None if worst_usd is None else usd_to_pico(worst_usd)
        limits = {k: usd_to_pico(v) for k, v in (ceilings or {}).items() if v is not None}

        def write(conn: sqlite3.Connection) -> Reservation:
            now = _now()
            self._touch_feature(conn, feature, now)
            for scope, ceiling in limits.items():
                step = step_key if scope == "step" else None
                held = _committed(conn, feature, step)
                if held.unpriced:
                    return Reservation(None, worst, refused=Refusal(scope, ceiling, held, True))
                if worst is None or held.pico + worst > ceiling:
                    return Reservation(None, worst, refused=Refusal(scope, ceiling, held, False))
            cur = conn.execute(
                "INSERT INTO reservations (feature, step_key, step_run_id, model, worst_pico,"
                " status, pid, host, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (feature, step_key, step_run_id, model, worst, RESERVED, os.getpid(),
                 socket.gethostname(), now),
            )  # fmt: skip
            return Reservation(int(cur.lastrowid), worst)

        return self._write(write)

    def committed(self, feature: str, step_key: str | None = None) -> Committed:
        """What counts against a ceiling: priced calls, open reservations at their worst
        case, and what a person settled by hand."""
        with self._lock:
            try:
                return _committed(self.connection, feature, step_key)
            except sqlite3.Error as exc:
                raise LedgerError(self._database_error(exc)) from None

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

    def settle_by_hand(self, reservation_id: int, usd: Decimal, note: str = "") -> None:
        """A person says what an unsettled call cost (0 when it was never billed)."""
        pico = usd_to_pico(usd)
        if pico < 0:
            raise ValueError("a settled amount cannot be negative")

        def write(conn: sqlite3.Connection) -> None:
            cur = conn.execute(
                "UPDATE reservations SET status = ?, settled_pico = ?, settled_at = ?, note = ?"
                " WHERE id = ? AND status = ?",
                (SETTLED_BY_HAND, pico, _now(), note or None, reservation_id, RESERVED),
            )
            if cur.rowcount == 0:
                raise LedgerError(
                    f"{self.path}: no unsettled call {reservation_id} (see `devloop cost "
                    "--unsettled`)."
                )

        self._write(write)

    def settle_unpriced_by_hand(self, call_id: int, usd: Decimal, note: str = "") -> None:
        """A person says what an unpriced call cost, so a ceiling can be kept again."""
        pico = usd_to_pico(usd)
        rows = self._read("SELECT feature, step_key, cost_pico FROM calls WHERE id = ?", (call_id,))
        if not rows or rows[0][2] is not None:
            raise LedgerError(f"{self.path}: call {call_id} is not an unpriced call.")

        def write(conn: sqlite3.Connection) -> None:
            now = _now()
            conn.execute(
                "INSERT INTO reservations (feature, step_key, model, worst_pico, status,"
                " created_at, settled_at, call_id, settled_pico, note)"
                " VALUES (?, ?, '', NULL, ?, ?, ?, ?, ?, ?)",
                (rows[0][0], rows[0][1], SETTLED_BY_HAND, now, now, call_id, pico, note or None),
            )

        self._write(write)

    # ------------------------------------------------ counterfactual, reuse

    def mark_sent(
        self, reservation_id: int, started_at: datetime, shape: Mapping[str, Any]
    ) -> None:
        """The reserved call is being sent now, with this prompt shape: calls answered while
        it is in flight replay it in the counterfactual baseline (baseline.py)."""
        self._write(
            lambda conn: conn.execute(
                "UPDATE reservations SET started_at = ?, cache_json = ? WHERE id = ?",
                (stamp(started_at), _json(shape), reservation_id),
            )
        )

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

    def mark_reused(self, call_id: int, step_run_id: int | None) -> None:
        self._write(
            lambda conn: conn.execute(
                "INSERT INTO reuses (call_id, step_run_id, created_at) VALUES (?, ?, ?)",
                (call_id, step_run_id, _now()),
            )
        )

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

    # ------------------------------------------------------------ reports

    def call_groups(self, feature: str | None = None) -> list[CallGroup]:
        """Calls aggregated in SQL by feature, step, tier, model and baseline model.

        Grouped on the raw columns (the order of `calls_report`), so one model can come back
        in two groups (served vs requested only); callers add groups with the same key.
        """
        where, params = ("WHERE feature = ?", (feature,)) if feature is not None else ("", ())
        rows = self._read(
            "SELECT feature, step_key, tier, COALESCE(served_model, requested_model),"
            " baseline_model, COUNT(*), COUNT(*) - COUNT(cost_pico),"
            " SUM(cost_pico IS NOT NULL AND baseline_pico IS NULL),"
            " SUM(input_tokens), SUM(cache_creation_input_tokens),"
            " COALESCE(SUM(cache_write_5m_tokens), 0), COALESCE(SUM(cache_write_1h_tokens), 0),"
            " SUM(cache_read_input_tokens), SUM(output_tokens),"
            " COALESCE(SUM(cost_pico), 0),"
            " COALESCE(SUM(CASE WHEN cost_pico IS NOT NULL THEN baseline_pico END), 0),"
            " COALESCE(SUM(CASE WHEN cost_pico IS NOT NULL THEN same_usage_baseline_pico END), 0),"
            " SUM(cost_pico IS NOT NULL AND same_usage_baseline_pico IS NULL)"
            f" FROM calls {where}"
            " GROUP BY feature, step_key, tier, served_model, requested_model, baseline_model",
            params,
        )
        return [CallGroup(*row) for row in rows]

    def step_run_groups(self, feature: str | None = None) -> list[RunGroup]:
        """Step runs aggregated by feature, step, worker, tier and model."""
        where, params = ("WHERE feature = ?", (feature,)) if feature is not None else ("", ())
        rows = self._read(
            "SELECT feature, step_key, MIN(step_number), worker, COALESCE(tier, 'script'),"
            f" model, COUNT(*) FROM step_runs {where} GROUP BY feature, step_key, worker,"
            " COALESCE(tier, 'script'), model",
            params,
        )
        return [RunGroup(*row) for row in rows]

    # ------------------------------------------------- routing and outcomes

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
            " SUM(escalated_from IS NOT NULL), SUM(outcome = 'empty'),"
            " SUM(outcome = 'truncated'), SUM(outcome != 'ok'), SUM(tier = 'frontier'),"
            " SUM(input_tokens), SUM(cache_creation_input_tokens),"
            " SUM(cache_read_input_tokens), SUM(output_tokens)"
            f" FROM calls {where} GROUP BY step_run_id",
            params,
        )
        return {row[0]: RunCallStats(*row[1:]) for row in rows}

    def outcome_groups(self, feature: str | None = None) -> list[OutcomeGroup]:
        """Calls aggregated by step, tier, model and outcome (`devloop metrics`)."""
        where, params = ("WHERE feature = ?", (feature,)) if feature is not None else ("", ())
        rows = self._read(
            "SELECT step_key, tier, COALESCE(served_model, requested_model), outcome, COUNT(*),"
            " SUM(input_tokens), SUM(cache_creation_input_tokens),"
            " SUM(cache_read_input_tokens), SUM(output_tokens), COALESCE(SUM(cost_pico), 0),"
            " COALESCE(SUM(CASE WHEN cost_pico IS NOT NULL THEN baseline_pico END), 0),"
            " SUM(escalated_from IS NOT NULL)"
            f" FROM calls {where} GROUP BY step_key, tier, served_model, requested_model, outcome",
            params,
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

    def import_feature(self, source: Path, slug: str) -> None:
        """Copy feature `slug` with its step runs and calls from the ledger at `source` (an
        A/B arm's) into this one, under new row ids (links rewritten by column name).
        Refused when this ledger has it. Reservations stay in the arm's ledger."""
        if self.feature(slug) is not None:
            raise LedgerError(f"{self.path}: already has a feature '{slug}'; not importing it.")
        with Ledger(source, create=False) as other:
            feature = other._read(
                f"SELECT {self._FEATURE_COLUMNS} FROM features WHERE slug = ?", (slug,)
            )
            runs = other._read(
                f"SELECT id, {', '.join(RUN_FIELDS)} FROM step_runs WHERE feature = ?", (slug,)
            )
            calls = other._read(
                f"SELECT id, {', '.join(CALL_FIELDS)} FROM calls WHERE feature = ? ORDER BY id",
                (slug,),
            )
        if not feature:
            raise LedgerError(f"{source}: no feature '{slug}' to import.")

        def write(conn: sqlite3.Connection) -> None:
            conn.execute(
                f"INSERT INTO features ({self._FEATURE_COLUMNS}) VALUES"
                f" ({', '.join('?' * len(feature[0]))})",
                feature[0],
            )
            run_ids: dict[int, int] = {}
            for old_id, *values in runs:
                cur = conn.execute(INSERT_RUN, values)
                run_ids[old_id] = int(cur.lastrowid)
            call_ids: dict[int, int] = {}
            for old_id, *values in calls:
                row = dict(zip(CALL_FIELDS, values, strict=True))
                run = row["step_run_id"]
                row["step_run_id"] = run_ids.get(run) if run is not None else None
                parent = row["escalated_from"]
                row["escalated_from"] = call_ids.get(parent) if parent is not None else None
                row["reservation_id"] = None
                cur = conn.execute(INSERT_CALL, [row[name] for name in CALL_FIELDS])
                call_ids[old_id] = int(cur.lastrowid)

        self._write(write)


def _committed(conn: sqlite3.Connection, feature: str, step_key: str | None) -> Committed:
    step = " AND step_key = ?" if step_key is not None else ""
    params: tuple = (feature, step_key) if step_key is not None else (feature,)
    calls_pico, unpriced = conn.execute(
        "SELECT COALESCE(SUM(cost_pico), 0),"
        " SUM(cost_pico IS NULL AND outcome NOT LIKE 'api_error%' AND id NOT IN"
        "  (SELECT call_id FROM reservations WHERE status = ? AND call_id IS NOT NULL))"
        f" FROM calls WHERE feature = ?{step}",
        (SETTLED_BY_HAND, *params),
    ).fetchone()
    open_pico, open_count = conn.execute(
        "SELECT COALESCE(SUM(worst_pico), 0), COUNT(*) FROM reservations"
        f" WHERE status = ? AND feature = ?{step}",
        (RESERVED, *params),
    ).fetchone()
    (by_hand,) = conn.execute(
        "SELECT COALESCE(SUM(settled_pico), 0) FROM reservations"
        f" WHERE status = ? AND feature = ?{step}",
        (SETTLED_BY_HAND, *params),
    ).fetchone()
    total = calls_pico + open_pico + by_hand
    return Committed(total, calls_pico, open_pico, open_count, by_hand, unpriced or 0)


def _call_row(call: CallRecord) -> dict[str, Any]:
    """A CallRecord as the calls table's columns, checked."""
    if not isinstance(call.outcome, str) or not call.outcome.strip():
        raise ValueError(f"a call needs an outcome, e.g. one of {', '.join(CALL_OUTCOMES)}")
    if call.attempt < 1 or call.retries < 0:
        raise ValueError("attempt starts at 1 and retries cannot be negative")
    usage = usage_columns(call.usage)
    return {
        "feature": call.feature,
        "step_key": call.step_key,
        "step_run_id": call.step_run_id,
        "attempt": call.attempt,
        "tier": call.tier,
        "requested_model": call.requested_model,
        "served_model": call.served_model,
        "input_tokens": usage.input_tokens,
        "cache_write_5m_tokens": usage.cache_write_5m_tokens,
        "cache_write_1h_tokens": usage.cache_write_1h_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "output_tokens": usage.output_tokens,
        "thinking_tokens": usage.thinking_tokens,
        "service_tier": usage.service_tier,
        "inference_geo": usage.inference_geo,
        "speed": usage.speed,
        "web_search_requests": usage.web_search_requests,
        "web_fetch_requests": usage.web_fetch_requests,
        "usage_json": json.dumps(dict(call.usage), sort_keys=True, default=str),
        "cost_pico": _optional_pico(call.cost_usd, "cost_usd"),
        "baseline_pico": _optional_pico(call.baseline_usd, "baseline_usd"),
        "baseline_model": call.baseline_model,
        "price_version": call.price_version,
        "latency_ms": call.latency_ms,
        "stop_reason": call.stop_reason,
        "request_id": call.request_id,
        "outcome": call.outcome,
        "retries": call.retries,
        "escalated_from": call.escalated_from,
        "created_at": stamp(call.created_at) if call.created_at else _now(),
        "same_usage_baseline_pico": _optional_pico(
            call.same_usage_baseline_usd, "same_usage_baseline_usd"
        ),
        "cache_json": _json(call.cache_shape),
        "request_sha256": call.request_sha256,
        "transcript": call.transcript,
        "reservation_id": call.reservation_id,
        "started_at": stamp(call.started_at) if call.started_at else None,
    }


def _loads(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


# The columns of a step run and a call, by name: inserts and the A/B import use these, so a
# new column is one line here.
RUN_FIELDS = (
    "feature", "step_number", "step_key", "worker", "tier", "model", "status", "started_at",
    "ended_at", "outcome_json", "route_json", "sandbox",
)  # fmt: skip
CALL_FIELDS = (
    "feature", "step_key", "step_run_id", "attempt", "tier", "requested_model",
    "served_model", "input_tokens", "cache_write_5m_tokens", "cache_write_1h_tokens",
    "cache_creation_input_tokens", "cache_read_input_tokens", "output_tokens",
    "thinking_tokens", "service_tier", "inference_geo", "speed", "web_search_requests",
    "web_fetch_requests", "usage_json", "cost_pico", "baseline_pico", "baseline_model",
    "price_version", "latency_ms", "stop_reason", "request_id", "outcome", "retries",
    "escalated_from", "created_at", "same_usage_baseline_pico", "cache_json",
    "request_sha256", "transcript", "reservation_id", "started_at",
)  # fmt: skip
INSERT_RUN = (
    f"INSERT INTO step_runs ({', '.join(RUN_FIELDS)}) VALUES ({', '.join('?' * len(RUN_FIELDS))})"
)
INSERT_CALL = (
    f"INSERT INTO calls ({', '.join(CALL_FIELDS)}) VALUES ({', '.join('?' * len(CALL_FIELDS))})"
)
