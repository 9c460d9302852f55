"""Budget reservations: a call's worst case held against the ceilings before it is sent.

`Reservations` is mixed into `Ledger`. `reserve` checks the ceilings (the feature's, the
step's, and the team's per day and month) and holds the worst case in one write
transaction, so two calls in flight can never both fit where only one does, on one machine
or (PostgreSQL) many; the call's row settles it (record_call), a person settles one whose answer never
arrived (`settle_by_hand`), and reuses of a recorded answer are noted (`mark_reused`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

from devloop.errors import LedgerError
from devloop.ledger.queries import Scope, committed_total, feature_scope, team_scope
from devloop.ledger.records import Origin, Refusal, Reservation, _json, _now, stamp
from devloop.ledger.schema import ORIGIN_FIELDS, RESERVED, SETTLED_BY_HAND
from devloop.money import usd_to_pico

T = TypeVar("T")


TEAM_SCOPES = ("team_day", "team_month")


def window_start(scope: str, moment: datetime) -> str:
    """The stamp a team ceiling counts from: the start of the UTC day or month."""
    moment = moment.astimezone(UTC)
    start = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if scope == "team_month":
        start = start.replace(day=1)
    return stamp(start)


def _scope(scope: str, feature: str, step_key: str, team: str, moment: datetime) -> Scope:
    if scope in TEAM_SCOPES:
        return team_scope(team, window_start(scope, moment))
    return feature_scope(feature, step_key if scope == "step" else None)


class Reservations:
    """The reservation half of the ledger; needs `_write`, `_read`, `_using`,
    `_lock_scopes`, `_touch_feature`, `origin` and `path`."""

    _write: Callable[..., Any]
    _read: Callable[..., list[tuple]]
    _using: Callable[..., Any]
    _lock_scopes: Callable[..., None]
    _touch_feature: Callable[..., None]
    origin: Origin

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
        transaction that sees every other reservation counting against the same ceilings
        (other threads, other processes, other machines sharing the ledger). `ceilings`:
        {"feature": USD, "step": USD, "team_day": USD, "team_month": USD}, None for none;
        the team ones are the origin's team's, per UTC day and month. Returns the
        reservation, or one with `refused` set (nothing written) when it does not fit."""
        import os

        worst = None if worst_usd is None else usd_to_pico(worst_usd)
        limits = {k: usd_to_pico(v) for k, v in (ceilings or {}).items() if v is not None}
        team = self.origin.team
        if not team and any(scope in TEAM_SCOPES for scope in limits):
            raise ValueError("a team ceiling needs the origin's team ([budget] team)")

        def write(conn: Any) -> Reservation:
            # Whoever counts against the same ceilings waits here (postgres.py: advisory
            # locks; SQLite's write lock already serialises every writer). The time is read
            # after the wait, so reservations' stamps are in the order they were granted.
            self._lock_scopes(conn, [f"feature:{feature}", *([f"team:{team}"] if team else [])])
            moment = datetime.now(UTC)
            now = stamp(moment)
            self._touch_feature(conn, feature, now)
            for scope, ceiling in limits.items():
                held = committed_total(conn, _scope(scope, feature, step_key, team, moment))
                if held.unpriced:
                    return Reservation(None, worst, refused=Refusal(scope, ceiling, held, True))
                if worst is None or held.pico + worst > ceiling:
                    return Reservation(None, worst, refused=Refusal(scope, ceiling, held, False))
            cur = conn.execute(
                "INSERT INTO reservations (feature, step_key, step_run_id, model, worst_pico,"
                f" status, pid, created_at, {', '.join(ORIGIN_FIELDS)})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                (feature, step_key, step_run_id, model, worst, RESERVED, os.getpid(), now,
                 *self.origin.values()),
            )  # fmt: skip
            return Reservation(int(cur.fetchone()[0]), worst)

        return self._write(write)

    def settle_by_hand(self, reservation_id: int, usd: Decimal, note: str = "") -> None:
        """A person says what an unsettled call cost (0 when it was never billed)."""
        pico = usd_to_pico(usd)
        if pico < 0:
            raise ValueError("a settled amount cannot be negative")

        def write(conn: Any) -> None:
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
        rows = self._read(
            "SELECT feature, step_key, cost_pico, team FROM calls WHERE id = ?", (call_id,)
        )
        if not rows or rows[0][2] is not None:
            raise LedgerError(f"{self.path}: call {call_id} is not an unpriced call.")
        feature, step_key, _, team = rows[0]

        def write(conn: Any) -> None:
            now = _now()
            conn.execute(
                "INSERT INTO reservations (feature, step_key, model, worst_pico, status,"
                " created_at, settled_at, call_id, settled_pico, note, team)"
                " VALUES (?, ?, '', NULL, ?, ?, ?, ?, ?, ?, ?)",
                (feature, step_key, SETTLED_BY_HAND, now, now, call_id, pico, note or None, team),
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
