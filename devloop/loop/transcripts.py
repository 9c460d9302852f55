"""A feature's transcripts: every request and response, redacted, one JSON file each.

`transcripts/NNNN-<step>.json` holds {"step", "at", "request", "response", "meta"}; meta
names the ledger reservation the call held and the request's identity. The Door writes the
file before the call's ledger row, so an answer a crash kept out of the ledger is found
here on the next run, and a recorded answer can be used again instead of bought twice.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

from devloop import state as state_mod
from devloop.redaction import redact


class Transcripts:
    """The Door's exchange log (llm.ExchangeLog) for one feature directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        numbers = [int(p.name.split("-", 1)[0]) for p in directory.glob("[0-9]*-*.json")]
        self._next = max(numbers, default=0) + 1

    def write(
        self, step: str, params: dict[str, Any], reply: dict[str, Any], meta: dict[str, Any]
    ) -> str:
        with self._lock:
            number = self._next
            self._next += 1
        record = {
            "step": step,
            "at": state_mod.now(),
            "request": params,
            "response": reply,
            "meta": meta,
        }
        text = redact(json.dumps(record, indent=1, ensure_ascii=False, default=str))
        name = f"{number:04d}-{step}.json"
        state_mod.atomic_write(self.directory / name, text + "\n")
        return name

    def read(self, name: str) -> dict[str, Any] | None:
        path = self.directory / name
        if path.parent != self.directory:  # a name from the ledger, never a path elsewhere
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def find(self, reservation_id: int) -> str | None:
        """The transcript of the call that held `reservation_id`, if it got that far."""
        for path in sorted(self.directory.glob("[0-9]*-*.json"), reverse=True):
            data = self.read(path.name)
            if data and (data.get("meta") or {}).get("reservation") == reservation_id:
                return path.name
        return None
