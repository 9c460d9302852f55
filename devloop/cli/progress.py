"""Showing a run's progress: a live table on a terminal, plain lines in a pipe, or JSON.

Each renderer is a callable taking loop.Event; the loop calls it from its main thread and,
for warnings and agent notes, from worker threads, hence the locks. Rich is imported only
for the live table.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from decimal import Decimal
from typing import Any, TextIO

from devloop.routing import routes
from devloop.steps import STEPS

_DONE_STATES = ("done", "skipped")


def _money(value: str | None) -> str:
    """An event's amount (exact text) as money."""
    from devloop.money import usd

    return "" if value is None else usd(Decimal(value))


class PlainProgress:
    """One line per event, for logs and pipes."""

    def __init__(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        with self._lock:
            line = self.line(event)
            stream = self.err if event.kind == "warning" else self.out
            print(line, file=stream, flush=True)

    @staticmethod
    def line(event: Any) -> str:
        if event.kind == "step":
            from devloop.steps import STEPS

            head = f"[{event.step:>2}/{len(STEPS)}] {event.key:<22} "
            if event.status == "running":
                return head + f"running   {event.worker or ''} {event.model or ''}".rstrip()
            parts = [f"{event.status:<9}"]
            if event.elapsed_s is not None:
                parts.append(f"{event.elapsed_s:.1f}s")
            if event.cost_usd is not None:
                parts.append(_money(event.cost_usd))
            if event.artifact:
                parts.append(event.artifact)
            if event.message and event.status not in _DONE_STATES:
                parts.append(f"- {event.message.splitlines()[0]}")
            elif event.message:
                parts.append(f"- {event.message}")
            return head + "  ".join(parts)
        if event.kind == "warning":
            return f"devloop: warning: {event.message}"
        if event.kind == "start":
            where = f", from step {event.step} ({event.key})" if event.step else ""
            return f"devloop: {event.message}{where}"
        if event.kind == "end":
            total = f" (spent {_money(event.total_usd)})" if event.total_usd else ""
            # Failures are printed by the CLI as the error itself; say it once.
            said = f": {event.message}" if event.status in ("stopped", "done") else ""
            return f"devloop: {event.status}{total}{said}"
        return f"         note: {event.message}"

    def close(self) -> None:
        pass


class JsonProgress:
    """One JSON object per event (JSON Lines) on stdout."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        with self._lock:
            print(json.dumps({"event": event.kind, **event.to_dict()}), file=self.out, flush=True)

    def summary(self, data: dict[str, Any]) -> None:
        with self._lock:
            print(json.dumps({"event": "summary", **data}, default=str), file=self.out, flush=True)

    def close(self) -> None:
        pass


class LiveProgress:
    """The steps as a table redrawn in place: state, worker, model, elapsed, cost."""

    def __init__(self, cfg: Any) -> None:
        from rich.console import Console
        from rich.live import Live

        self._lock = threading.Lock()
        self.rows: dict[str, dict[str, Any]] = {}
        for route in routes(cfg):
            self.rows[route.step.key] = {
                "state": "",
                "worker": route.worker,
                "model": route.model or "-",
                "started": None,
                "elapsed": None,
                "cost": None,
            }
        self.total: str | None = None
        self.title = "devloop"
        self.console = Console()
        self.live = Live(self, console=self.console, refresh_per_second=4, transient=False)
        self.live.start()

    def __call__(self, event: Any) -> None:
        with self._lock:
            if event.kind == "step" and event.key in self.rows:
                row = self.rows[event.key]
                row["state"] = event.status
                row["worker"] = event.worker or row["worker"]
                if event.status == "running":
                    row["started"], row["elapsed"] = time.monotonic(), None
                else:
                    row["started"], row["elapsed"] = None, event.elapsed_s
                    row["cost"] = event.cost_usd
            if event.total_usd is not None:
                self.total = event.total_usd
            if event.kind == "start":
                self.title = f"devloop: {event.message}"
        if event.kind in ("note", "warning"):
            style = "yellow" if event.kind == "warning" else "dim"
            self.console.print(f"[{style}]{event.kind}: {event.message}[/{style}]", markup=True)
        elif event.kind == "end":
            self.live.refresh()
            said = f": {event.message}" if event.status in ("stopped", "done") else ""
            self.console.print(f"devloop: {event.status}{said}", markup=False)

    def __rich__(self) -> Any:
        from rich.table import Table

        table = Table(title=self.title, title_justify="left")
        for name in ("#", "step", "state", "worker", "model", "elapsed", "cost"):
            table.add_column(name, justify="right" if name in ("#", "elapsed", "cost") else "left")
        with self._lock:
            for step in STEPS:
                row = self.rows[step.key]
                elapsed = row["elapsed"]
                if row["started"] is not None:
                    elapsed = time.monotonic() - row["started"]
                state = row["state"] or "."
                style = {"done": "green", "running": "bold cyan", "failed": "red"}.get(state, "")
                table.add_row(
                    str(step.number),
                    step.key,
                    f"[{style}]{state}[/{style}]" if style else state,
                    row["worker"],
                    row["model"],
                    "" if elapsed is None else f"{elapsed:.1f}s",
                    _money(row["cost"]),
                )
            table.caption = f"spent {_money(self.total)}" if self.total else None
        return table

    def close(self) -> None:
        self.live.stop()
