"""The shared ledger in PostgreSQL (`[ledger] url` or DEVLOOP_LEDGER_URL), through psycopg 3.

psycopg is the optional extra `devloop[postgres]`, imported only when a URL is configured.
The schema and its migrations are schema.py's, in PostgreSQL's form (`postgres_form`); the
version is kept in the table `devloop_schema`; call rows are append-only by trigger.

How budgets stay kept across machines. A reservation must see every other reservation and
call that counts against the same ceilings before it adds its own. PostgreSQL runs each
transaction at READ COMMITTED, and `Ledger.reserve` first takes transaction-scoped advisory
locks on what it checks (`feature:<slug>`, and `team:<name>` for a team's ceilings), in a
fixed order so two reservations never wait on each other in a circle. A second reservation
of the same feature or team waits at the lock until the first commits; it then reads the
totals in one statement, whose snapshot is taken after the lock was granted, so it sees the
first one's row. (SERIALIZABLE would also be safe, but it aborts one of two concurrent
reservations and needs a retry loop; REPEATABLE READ would be wrong: its snapshot is taken
at the first statement, before the lock wait.) Settling a reservation needs no lock: the
call row and the settlement are written in one transaction, and a total read in one
statement sees both or neither.

When the server cannot be reached (down, network gone, connection dropped), devloop
refuses to spend: `LedgerUnreachable`, exit 4. A dropped connection is reopened once, on
the next use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from decimal import Decimal
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from devloop.errors import LedgerError, LedgerUnreachable, UsageError
from devloop.ledger import schema
from devloop.ledger.records import LedgerMissing

CONNECT_TIMEOUT_S = 10
LOCK_TIMEOUT = "30s"  # the SQLite ledger's busy timeout, for the same reason
REPORT_WORK_MEM = "64MB"  # per aggregate of a report, this connection only
VERSION_TABLE = "devloop_schema"
_MIGRATION_LOCK = "devloop:migrate"
# SQLSTATEs that mean the server went away rather than the statement being wrong:
# class 08 (connection exception) and the shutdown ones.
_GONE = ("57P01", "57P02", "57P03")


def redact(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = netloc[0].split(":", 1)[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{netloc[1]}"))


def lock_key(name: str) -> int:
    """A 64-bit advisory lock key for `name`, the same in every devloop process."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


@lru_cache(maxsize=512)
def translate(sql: str) -> str:
    """The ledger's SQL (SQLite's `?` placeholders) in psycopg's form."""
    return sql.replace("%", "%%").replace("?", "%s")


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise UsageError(
            "the ledger URL names a PostgreSQL database, but psycopg is not installed. "
            "Install the extra: pip install 'devloop[postgres]'."
        ) from None
    return psycopg


class PgConnection:
    """A psycopg connection that takes the ledger's SQL as sqlite3 does: `execute(sql,
    params)` returns a cursor (fetchone, fetchall, rowcount)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self.raw.execute(translate(sql), tuple(params))

    @property
    def in_transaction(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self.raw.info.transaction_status != TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


def _whole_numbers(raw: Any) -> None:
    """SUM over BIGINT is NUMERIC in PostgreSQL; the ledger's sums are whole pico-USD and
    token counts, so they load as int, as SQLite returns them."""
    from psycopg.adapt import Loader

    class WholeNumeric(Loader):
        def load(self, data: Any) -> Any:
            text = bytes(data).decode()
            return int(text) if text.lstrip("-").isdigit() else Decimal(text)

    raw.adapters.register_loader("numeric", WholeNumeric)


class PostgresEngine:
    kind = "postgresql"
    greatest = "GREATEST"

    def __init__(self, url: str) -> None:
        self.url = url
        self.where = redact(url)

    # ------------------------------------------------------------ opening

    def connect(self, create: bool) -> PgConnection:
        psycopg = _psycopg()
        try:
            raw = psycopg.connect(
                self.url,
                autocommit=True,  # the ledger says BEGIN and COMMIT itself
                connect_timeout=CONNECT_TIMEOUT_S,
                application_name="devloop",
            )
        except psycopg.OperationalError as exc:
            raise self.unreachable(exc) from None
        except psycopg.ProgrammingError as exc:  # a malformed URL
            raise UsageError(
                f"the ledger URL {self.where} is not a valid PostgreSQL URL ({_first_line(exc)})."
                " Fix [ledger] url in devloop.toml or DEVLOOP_LEDGER_URL, e.g. "
                "postgresql://devloop@db.example/devloop."
            ) from None
        _whole_numbers(raw)
        conn = PgConnection(raw)
        try:
            conn.execute(f"SET lock_timeout = '{LOCK_TIMEOUT}'")
            # Reports aggregate a whole team's calls into a few hundred groups, but the
            # planner cannot tell how few: with the default 4 MB it sorts a million rows on
            # disk instead of hashing them (`devloop cost --all`: 2.4 s instead of 1.2 s),
            # and JIT-compiling such a query costs more than it saves.
            conn.execute(f"SET work_mem = '{REPORT_WORK_MEM}'")
            conn.execute("SET jit = off")
            self._migrate(conn, create)
        except psycopg.Error as exc:
            self.rollback(conn)
            conn.close()
            raise self.error(exc) from None
        except BaseException:
            self.rollback(conn)
            conn.close()
            raise
        return conn

    def _version(self, conn: PgConnection) -> int | None:
        if conn.execute("SELECT to_regclass(?)", (VERSION_TABLE,)).fetchone()[0] is None:
            return None
        row = conn.execute(f"SELECT version FROM {VERSION_TABLE}").fetchone()
        return 0 if row is None else int(row[0])

    def _migrate(self, conn: PgConnection, create: bool) -> None:
        from devloop.ledger.engine import too_new

        version = self._version(conn)
        if version == schema.schema_version():
            return
        if version is not None and version > schema.schema_version():
            raise too_new(self.where, version)
        if version is None and not create:
            raise LedgerMissing(
                f"no devloop ledger in the database {self.where} yet: nothing has been "
                "recorded in it. Run `devloop feature SPEC` first."
            )
        conn.execute("BEGIN")
        # One process migrates; the others wait here, then find the work done.
        self.lock(conn, [_MIGRATION_LOCK])
        conn.execute(f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version INTEGER NOT NULL)")
        version = self._version(conn) or 0
        if version > schema.schema_version():
            raise too_new(self.where, version)
        try:
            for number in range(version, schema.schema_version()):
                for statement in schema.MIGRATIONS[number]:
                    for text in schema.postgres_form(statement):
                        conn.raw.execute(text)  # DDL as written: no placeholders in it
            conn.execute(f"DELETE FROM {VERSION_TABLE}")
            conn.execute(
                f"INSERT INTO {VERSION_TABLE} (version) VALUES (?)", (schema.schema_version(),)
            )
            conn.execute("COMMIT")
        except _psycopg().errors.DuplicateObject as exc:
            raise self._foreign(exc) from None
        except _psycopg().errors.DuplicateTable as exc:
            raise self._foreign(exc) from None

    def _foreign(self, exc: BaseException) -> LedgerError:
        return LedgerError(
            f"{self.where}: the database already has tables that are not a devloop ledger "
            f"({_first_line(exc)}). Point the ledger URL at a database (or a schema, with "
            "options=-csearch_path=NAME) of its own."
        )

    # -------------------------------------------------------- transactions

    def begin(self, conn: PgConnection) -> None:
        conn.execute("BEGIN")  # READ COMMITTED; reservations add advisory locks (lock)

    def lock(self, conn: PgConnection, keys: Sequence[str]) -> None:
        """Transaction-scoped advisory locks on `keys`, taken in one fixed order."""
        for key in sorted({lock_key(k) for k in keys}):
            conn.execute("SELECT pg_advisory_xact_lock(?)", (key,))

    def rollback(self, conn: PgConnection) -> None:
        raw = conn.raw
        if raw.closed or raw.broken or not conn.in_transaction:
            return
        try:
            conn.execute("ROLLBACK")
        except Exception:  # the first error is the one to report
            pass

    def usable(self, conn: PgConnection) -> bool:
        return not (conn.raw.closed or conn.raw.broken)

    # ------------------------------------------------------------- errors

    def is_error(self, exc: BaseException) -> bool:
        return isinstance(exc, _psycopg().Error)

    def error(self, exc: BaseException) -> LedgerError:
        psycopg = _psycopg()
        state = getattr(exc, "sqlstate", None)
        if isinstance(exc, psycopg.OperationalError) and (
            state is None or state.startswith("08") or state in _GONE
        ):
            return self.unreachable(exc)
        if isinstance(exc, psycopg.errors.LockNotAvailable):
            return LedgerError(
                f"{self.where}: the ledger stayed locked by another devloop for {LOCK_TIMEOUT}"
                f" ({_first_line(exc)}). Wait for it to finish, then retry."
            )
        return LedgerError(f"{self.where}: ledger error (PostgreSQL: {_first_line(exc)}).")

    def unreachable(self, exc: BaseException) -> LedgerUnreachable:
        return LedgerUnreachable(
            f"the shared ledger {self.where} cannot be reached ({_first_line(exc)}). devloop "
            "does not spend what it cannot record: no model call was sent after this. Check "
            "the database server and the network (or DEVLOOP_LEDGER_URL / [ledger] url), then "
            "resume with `devloop resume SLUG`."
        )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
