"""Budget reservations: a call's worst case held against the ceilings before it is sent.

`Reservations` is mixed into `Ledger`. `reserve` checks the ceilings and holds the worst
case in one write transaction, so two calls in flight can never both fit where only one
does; the call's row settles it (record_call), a person settles one whose answer never
arrived (`settle_by_hand`), and reuses of a recorded answer are noted (`mark_reused`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

from devloop.errors import LedgerError
from devloop.ledger.queries import committed_total
from devloop.ledger.records import Refusal, Reservation, _json, _now, stamp
from devloop.ledger.schema import RESERVED, SETTLED_BY_HAND
from devloop.money import usd_to_pico

T = TypeVar("T")


class Reservations:
    """The reservation half of the ledger; needs `_write`, `_read` and `path`."""

    _write: Callable[..., Any]
    _read: Callable[..., list[tuple]]

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
                held = committed_total(conn, feature, step)
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

    def mark_reused(self, call_id: int, step_run_id: int | None) -> None:
        self._write(
            lambda conn: conn.execute(
                "INSERT INTO reuses (call_id, step_run_id, created_at) VALUES (?, ?, ?)",
                (call_id, step_run_id, _now()),
            )
        )
