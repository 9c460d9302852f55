"""Showing a run's progress: a live table on a terminal, plain lines in a pipe (or with
NO_COLOR), or JSON.

Each renderer is a callable taking loop.Event; the loop calls it from its main thread and,
for warnings and agent notes, from worker threads, hence the locks. Rich is imported only
for the live table, which fits the terminal's width (cli/render.fit_table) every time it is
drawn. How the run ended is kept as `ending`, for the CLI to print as the last line, under
the closing cost table.
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


def _ending(event: Any) -> str:
    """The line saying how a run ended ("devloop: done (spent $0.12): committed ...")."""
    total = f" (spent {_money(event.total_usd)})" if event.total_usd else ""
    # Failures are printed by the CLI as the error itself; say it once.
    said = ""
    if event.status in ("stopped", "done") and event.message:
        said = ": " + event.message.removeprefix(f"{event.status}: ")
    return f"devloop: {event.status}{total}{said}"


class PlainProgress:
    """One line per event, for logs and pipes; `width`: wrap lines there (a terminal
    with NO_COLOR), None: never (a pipe gets every line whole)."""

    ending: str | None = None

    def __init__(
        self, out: TextIO | None = None, err: TextIO | None = None, width: int | None = None
    ) -> None:
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self.width = width
        self._lock = threading.Lock()

    def __call__(self, event: Any) -> None:
        with self._lock:
            if event.kind == "end":
                self.ending = _ending(event)
                return
            line = self.line(event)
            if self.width is not None:
                from devloop.cli.render import wrap_line

                line = "\n".join(wrap_line(line, self.width))
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
            return _ending(event)
        return f"         note: {event.message}"

    def close(self) -> None:
        pass


class JsonProgress:
    """One JSON object per event (JSON Lines) on stdout."""

    ending: str | None = None  # the end is an event like the others

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
    """The steps as a table redrawn in place: state, worker, model, elapsed, cost (of
    each step's latest run). On a narrow terminal the model, worker, elapsed and number
    columns go first; step names, states and costs always show whole."""

    ending: str | None = None
    HEADERS = ("#", "step", "state", "worker", "model", "elapsed", "cost")
    DROP = ("model", "worker", "elapsed", "#")

    def __init__(self, cfg: Any) -> None:
        from rich.live import Live

        from devloop.cli.render import make_console

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
        self.console = make_console()
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
            from rich.text import Text

            style = "yellow" if event.kind == "warning" else "dim"
            self.console.print(Text(f"{event.kind}: {event.message}", style=style))
        elif event.kind == "end":
            self.live.refresh()
            self.ending = _ending(event)

    def __rich_console__(self, console: Any, options: Any) -> Any:
        from rich.text import Text

        from devloop.cli.render import fit_table

        rows = []
        with self._lock:
            for step in STEPS:
                row = self.rows[step.key]
                elapsed = row["elapsed"]
                if row["started"] is not None:
                    elapsed = time.monotonic() - row["started"]
                state = row["state"] or "."
                style = {"done": "green", "running": "bold cyan", "failed": "red"}.get(state, "")
                rows.append(
                    [
                        str(step.number),
                        step.key,
                        Text(state, style=style),
                        row["worker"],
                        row["model"],
                        "" if elapsed is None else f"{elapsed:.1f}s",
                        _money(row["cost"]),
                    ]
                )
            caption = f"spent {_money(self.total)}" if self.total else ""
        yield fit_table(
            options.max_width,
            self.HEADERS,
            rows,
            title=self.title,
            caption=caption,
            right={0, 5, 6},
            drop=self.DROP,
        )

    def close(self) -> None:
        self.live.stop()
