"""The cost ledger: `.devloop/ledger.db` (SQLite, WAL) or a shared PostgreSQL database.

Three tables: `features` (one row per feature slug), `step_runs` (one row each time a step
runs, scripts included, at $0) and `calls` (one row per model response, append-only: database
triggers abort any UPDATE or DELETE on it). Money is integer pico-USD (1e-12) so SQL SUM is
exact; a NULL cost means "unpriced" and is counted, never summed as $0. Calls, step runs and
reservations record who and where they were written (`Origin`: user, host, repository,
branch, team).

Reports are aggregate queries over these tables (`call_groups`, `step_run_groups`); no row
is ever loaded into Python one by one to be summed. Where the database lives and how it is
locked is engine.py (SQLite) and postgres.py (PostgreSQL).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from devloop.errors import LedgerError, UsageError
from devloop.ledger.engine import configured_url, engine_for
from devloop.ledger.queries import Queries
from devloop.ledger.records import (
    STEP_RUN_RUNNING,
    CallRecord,
    Feature,
    Origin,
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
    ORIGIN_FIELDS,
    RELEASED,
    RESERVED,
    RUN_FIELDS,
    SETTLED,
)
from devloop.money import pico_to_usd, usd_to_pico

T = TypeVar("T")


LEDGER_DIR = ".devloop"


LEDGER_FILE = "ledger.db"


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


class Ledger(Queries, Reservations):
    """One open ledger database. Thread-safe; several processes (on several machines, for
    PostgreSQL) may share it."""

    def __init__(
        self, location: Path | str, *, create: bool = True, origin: Origin | None = None
    ) -> None:
        self._engine = engine_for(location)
        # Where the ledger is, for messages and reports: the SQLite file, or the URL
        # without its password.
        self.path: Path | str = (
            self._engine.where if self._engine.kind == "postgresql" else Path(location)
        )
        self.shared = self._engine.kind == "postgresql"
        self.origin = origin or Origin.here()
        self._lock = threading.RLock()
        self._create = create
        self._conn: Any = self._engine.connect(create)

    @classmethod
    def open(cls, root: Path, *, create: bool = True, branch: str = "") -> Ledger:
        """The ledger of the repository at `root` (the config's root): the shared one when
        DEVLOOP_LEDGER_URL or `[ledger] url` names one, else `.devloop/ledger.db`. Rows
        written through it record who and where (`branch`: the feature's branch)."""
        from devloop.config import load

        cfg = load(root)
        url = configured_url(cfg.ledger.url)
        repository = cfg.ledger.repository or Path(root).resolve().name
        origin = Origin.here(repository, branch, cfg.budget.team)
        return cls(url or ledger_path(root), create=create, origin=origin)

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # ------------------------------------------------------------ helpers

    @property
    def connection(self) -> Any:
        """The open connection (sqlite3's, or postgres.PgConnection with the same
        `execute`); a dropped PostgreSQL connection is reopened here, once per use."""
        if self._conn is None:
            raise LedgerError(f"{self.path}: the ledger is closed.")
        if not self._engine.usable(self._conn):
            self._conn = self._engine.connect(self._create)
        return self._conn

    def _write(self, fn: Callable[[Any], T]) -> T:
        """Run fn(conn) in one write transaction; database errors become LedgerError."""
        with self._lock:
            conn = self._begun()
            try:
                result = fn(conn)
                conn.execute("COMMIT")
                return result
            except BaseException as exc:
                self._engine.rollback(conn)
                if self._engine.is_error(exc):
                    raise self._engine.error(exc) from None
                raise

    def _begun(self) -> Any:
        """The connection, in a new write transaction. A connection the server dropped
        while idle (a restart, a network blip) is reopened once, as for a read: nothing
        was written on it yet."""

        def begin(conn: Any) -> Any:
            self._engine.begin(conn)
            return conn

        return self._using(begin)

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        return self._using(lambda conn: conn.execute(sql, params).fetchall())

    def _using(self, fn: Callable[[Any], T]) -> T:
        """fn(conn) outside a write transaction; database errors become LedgerError."""
        with self._lock:
            for attempt in (1, 2):
                conn = self.connection
                try:
                    return fn(conn)
                except Exception as exc:
                    if not self._engine.is_error(exc):
                        raise
                    # Safe to repeat on a reopened connection, once: a read, or a BEGIN.
                    if attempt == 2 or self._engine.usable(conn):
                        raise self._engine.error(exc) from None
            raise AssertionError("unreachable")

    def _lock_scopes(self, conn: Any, keys: Sequence[str]) -> None:
        """Serialise this transaction with every other one that locks one of `keys`."""
        self._engine.lock(conn, keys)

    def _touch_feature(self, conn: Any, slug: str, now: str) -> None:
        conn.execute(
            "INSERT INTO features (slug, created_at, updated_at, repository) VALUES (?, ?, ?, ?)"
            f" ON CONFLICT (slug) DO UPDATE SET updated_at ="
            f" {self._engine.greatest}(features.updated_at, excluded.updated_at)",
            (slug, now, now, self.origin.repository or None),
        )

    def _origin_values(self) -> tuple[str | None, ...]:
        return self.origin.values()

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

        def write(conn: Any) -> None:
            now = _now()
            self._check_owner(conn, slug)
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

    def _check_owner(self, conn: Any, slug: str) -> None:
        """In a shared ledger a slug is one feature of one repository: a second repository
        starting a feature of the same slug would spend against the first one's budget."""
        mine = self.origin.repository
        if not self.shared or not mine:
            return
        row = conn.execute("SELECT repository FROM features WHERE slug = ?", (slug,)).fetchone()
        if row is not None and row[0] and row[0] != mine:
            raise UsageError(
                f"feature '{slug}' in the shared ledger {self.path} belongs to repository "
                f"'{row[0]}', and this is '{mine}'. Give this feature another slug (rename the "
                "spec, or `slug` in its front matter), or set [ledger] repository if both are "
                "the same repository."
            )

    def set_feature_status(self, slug: str, status: str) -> None:
        def write(conn: Any) -> None:
            cur = conn.execute(
                "UPDATE features SET status = ?, updated_at = ? WHERE slug = ?",
                (status, _now(), slug),
            )
            if cur.rowcount == 0:
                raise LedgerError(f"{self.path}: no feature '{slug}' to set the status of.")

        self._write(write)

    _FEATURE_COLUMNS = (
        "slug, title, spec_path, branch, status, budget_pico, tag, created_at, updated_at,"
        " repository"
    )

    @staticmethod
    def _feature(row: tuple) -> Feature:
        slug, title, spec, branch, status, budget, tag, created, updated, repository = row
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
            repository=repository,
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

        def write(conn: Any) -> int:
            self._touch_feature(conn, feature, started)
            cur = conn.execute(
                "INSERT INTO step_runs (feature, step_number, step_key, worker, tier, model,"
                f" status, started_at, route_json, sandbox, {', '.join(ORIGIN_FIELDS)})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
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
                    *self._origin_values(),
                ),
            )
            return int(cur.fetchone()[0])

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

        def write(conn: Any) -> None:
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
        row.update(zip(ORIGIN_FIELDS, self._origin_values(), strict=True))

        def write(conn: Any) -> int:
            # The feature row is created on demand: losing a billed call because the
            # caller forgot ensure_feature() would be worse than an untitled feature.
            self._touch_feature(conn, call.feature, row["created_at"])
            cur = conn.execute(INSERT_CALL, [row[name] for name in CALL_FIELDS])
            call_id = int(cur.fetchone()[0])
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

        def write(conn: Any) -> None:
            conn.execute(
                f"INSERT INTO features ({self._FEATURE_COLUMNS}) VALUES"
                f" ({', '.join('?' * len(feature[0]))})",
                feature[0],
            )
            run_ids: dict[int, int] = {}
            for old_id, *values in runs:
                cur = conn.execute(INSERT_RUN, values)
                run_ids[old_id] = int(cur.fetchone()[0])
            call_ids: dict[int, int] = {}
            for old_id, *values in calls:
                row = dict(zip(CALL_FIELDS, values, strict=True))
                run = row["step_run_id"]
                row["step_run_id"] = run_ids.get(run) if run is not None else None
                parent = row["escalated_from"]
                row["escalated_from"] = call_ids.get(parent) if parent is not None else None
                row["reservation_id"] = None
                cur = conn.execute(INSERT_CALL, [row[name] for name in CALL_FIELDS])
                call_ids[old_id] = int(cur.fetchone()[0])

        self._write(write)
