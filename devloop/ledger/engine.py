"""Where the ledger lives: an SQLite file (the default) or a PostgreSQL database.

An engine opens and migrates its database and hides what differs between the two, so the
ledger's SQL is written once (SQLite's `?` placeholders; postgres.py translates them):

- how a write transaction starts, and how writers that must see each other are serialised
  (`lock`): SQLite's `BEGIN IMMEDIATE` takes the one write lock of the file; PostgreSQL
  takes transaction-scoped advisory locks named by the caller (see postgres.py);
- how the schema version is kept (SQLite: `PRAGMA user_version`; PostgreSQL: a table);
- how a database error reads to a person, and which ones mean "unreachable" (exit 4).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from devloop.errors import LedgerError
from devloop.ledger import schema
from devloop.ledger.records import LedgerMissing

BUSY_TIMEOUT_S = 30.0  # how long a writer waits for another process's transaction
LEDGER_URL_ENV = "DEVLOOP_LEDGER_URL"
URL_SCHEMES = ("postgresql://", "postgres://")


class Engine(Protocol):
    kind: str  # "sqlite" or "postgresql"
    where: str  # shown in messages: the file, or the URL without its password
    greatest: str  # the two-argument maximum: MAX in SQLite, GREATEST in PostgreSQL

    def connect(self, create: bool) -> Any: ...

    def begin(self, conn: Any) -> None: ...

    def lock(self, conn: Any, keys: Sequence[str]) -> None: ...

    def rollback(self, conn: Any) -> None: ...

    def is_error(self, exc: BaseException) -> bool: ...

    def error(self, exc: BaseException) -> LedgerError: ...

    def usable(self, conn: Any) -> bool: ...


def is_url(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(URL_SCHEMES)


def engine_for(location: str | Path) -> Engine:
    if is_url(location):
        from devloop.ledger.postgres import PostgresEngine

        return PostgresEngine(str(location))
    return SqliteEngine(Path(location))


def configured_url(configured: str) -> str:
    """The shared ledger's URL: DEVLOOP_LEDGER_URL, else `[ledger] url` (`configured`), else
    "" (the SQLite file under .devloop/)."""
    url = os.environ.get(LEDGER_URL_ENV, "").strip()
    if url and not is_url(url):
        from devloop.errors import ConfigError

        raise ConfigError(
            f"{LEDGER_URL_ENV}={url!r} is not a PostgreSQL URL. Use "
            "postgresql://USER@HOST/DATABASE, or unset it for the ledger in .devloop/."
        )
    return url or configured.strip()


def too_new(where: str, version: int) -> LedgerError:
    return LedgerError(
        f"{where}: ledger schema version {version} is newer than this devloop "
        f"understands (up to {schema.schema_version()}). Upgrade devloop to read it; "
        "do not delete the ledger."
    )


class SqliteEngine:
    """`.devloop/ledger.db` in WAL mode; several processes of one machine may share it."""

    kind = "sqlite"
    greatest = "MAX"

    def __init__(self, path: Path) -> None:
        self.path = path
        self.where = str(path)

    def connect(self, create: bool) -> sqlite3.Connection:
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
                raise too_new(self.where, version)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")  # durable across crashes in WAL mode
            conn.execute("PRAGMA foreign_keys = ON")
            self._migrate(conn)
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise self.error(exc) from None
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        if conn.execute("PRAGMA user_version").fetchone()[0] == schema.schema_version():
            return
        # IMMEDIATE takes the write lock first, so two processes opening a new ledger at
        # once migrate it once: the second re-reads the version after the first commits.
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version > schema.schema_version():  # another process upgraded it meanwhile
                raise too_new(self.where, version)
            for number in range(version, schema.schema_version()):
                for statement in schema.MIGRATIONS[number]:
                    for text in schema.sqlite_form(statement):
                        conn.execute(text)
                conn.execute(f"PRAGMA user_version = {number + 1}")
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self.rollback(conn)
            if "already exists" in str(exc):
                raise LedgerError(
                    f"{self.path}: an SQLite file that is not a devloop ledger ({exc}). "
                    "Move it aside; devloop starts a new ledger on the next run."
                ) from None
            raise
        except BaseException:
            self.rollback(conn)
            raise

    def begin(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")  # the file's one write lock: writers take turns

    def lock(self, conn: sqlite3.Connection, keys: Sequence[str]) -> None:
        """Nothing to add: BEGIN IMMEDIATE already serialises every writer of the file."""

    def rollback(self, conn: sqlite3.Connection) -> None:
        # SQLite may already have ended the transaction (disk full, I/O error); a second
        # error from ROLLBACK would hide the first one.
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    def is_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.Error)

    def usable(self, conn: sqlite3.Connection) -> bool:
        return True

    def error(self, exc: BaseException) -> LedgerError:
        text = str(exc)
        if "not a database" in text or "malformed" in text or "encrypted" in text:
            return LedgerError(
                f"{self.path}: not a readable devloop ledger (SQLite: {text}). Move it aside "
                f"(e.g. `mv {self.path} {self.path}.broken`); devloop starts a new ledger on "
                "the next run."
            )
        if "locked" in text or "busy" in text:
            return LedgerError(
                f"{self.path}: the ledger stayed locked by another process for "
                f"{BUSY_TIMEOUT_S:.0f}s ({text}). Wait for it to finish, then retry."
            )
        return LedgerError(f"{self.path}: ledger error (SQLite: {text}).")
