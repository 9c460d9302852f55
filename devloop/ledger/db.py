"""The cost ledger: `.devloop/ledger.db`, a SQLite database in WAL mode.

Three tables: `features` (one row per feature slug), `step_runs` (one row each time a step
runs, scripts included, at $0) and `calls` (one row per model response, append-only: SQLite
triggers abort any UPDATE or DELETE on it). Money is INTEGER pico-USD (1e-12) so SQL SUM is
exact; a NULL cost means "unpriced" and is counted, never summed as $0.

Reports are aggregate queries over these tables (`call_groups`, `step_run_groups`); no row
is ever loaded into Python one by one to be summed.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from devloop.errors import LedgerError
from devloop.ledger import schema
from devloop.ledger.queries import Queries
from devloop.ledger.records import (
    STEP_RUN_RUNNING,
    CallRecord,
    Feature,
    LedgerMissing,
    _call_row,
    _json,
    _now,
    stamp,
)
from devloop.ledger.reservations import Reservations
from devloop.ledger.schema import (
    CALL_FIELDS,
    INSERT_CALL,
    INSERT_RUN,
    RELEASED,
    RESERVED,
    RUN_FIELDS,
    SETTLED,
)
from devloop.money import pico_to_usd, usd_to_pico

T = TypeVar("T")


LEDGER_DIR = ".devloop"


LEDGER_FILE = "ledger.db"


BUSY_TIMEOUT_S = 30.0  # how long a writer waits for another process's transaction


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


def _rollback(conn: sqlite3.Connection) -> None:
    # SQLite may already have ended the transaction (disk full, I/O error); a second
    # error from ROLLBACK would hide the first one.
    if conn.in_transaction:
        conn.execute("ROLLBACK")


class Ledger(Queries, Reservations):
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
            if version > schema.schema_version():  # refuse before changing anything in the file
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
            f"understands (up to {schema.schema_version()}). Upgrade devloop to read it; "
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
        if conn.execute("PRAGMA user_version").fetchone()[0] == schema.schema_version():
            return
        # IMMEDIATE takes the write lock first, so two processes opening a new ledger at
        # once migrate it once: the second re-reads the version after the first commits.
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > schema.schema_version():  # another process upgraded it meanwhile
                raise self._too_new(version)
            for number in range(version, schema.schema_version()):
                for statement in schema.MIGRATIONS[number]:
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

    # ------------------------------------------------------------ A/B arms

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
