"""The parse cache: each file's tags, kept under `.devloop/cache/` and keyed by the blob id
of its content and the grammar that parsed it.

One JSON file, read once per map and written back with the entries that map used (so it
holds one repository state and does not grow without bound). A cache written by another
version of the grammars or of the tag format is ignored. The cache only saves time: a
missing, unreadable or unwritable one means files are parsed again, never a failure.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from devloop.codemap.tags import FileTags

FORMAT = 1  # bump when FileTags or what tags.py extracts changes
CACHE_FILE = "codemap-tags.json"


class ParseCache:
    def __init__(self, directory: Path | None, version: str) -> None:
        self.path = directory / CACHE_FILE if directory is not None else None
        self.version = f"{FORMAT}:{version}"
        self._stored: dict[str, Any] = {}
        self._used: dict[str, Any] = {}
        self.hits = 0
        self.misses = 0
        if self.path is not None:
            try:
                data = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                data = None
            if isinstance(data, dict) and data.get("version") == self.version:
                entries = data.get("entries")
                self._stored = entries if isinstance(entries, dict) else {}

    def get(self, key: str) -> tuple[bool, FileTags | None]:
        """(found, tags); tags None for a file cached as unparseable."""
        if key not in self._stored:
            self.misses += 1
            return False, None
        entry = self._stored[key]
        try:
            tags = None if entry is None else FileTags.from_json(entry)
        except (KeyError, TypeError, ValueError):
            self.misses += 1
            return False, None
        self.hits += 1
        self._used[key] = entry
        return True, tags

    def put(self, key: str, tags: FileTags | None) -> None:
        self._used[key] = None if tags is None else tags.to_json()

    def save(self) -> None:
        """Write the entries this map used, atomically; skipped when nothing changed."""
        if self.path is None or (self.misses == 0 and set(self._used) == set(self._stored)):
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".codemap-", dir=self.path.parent)
        except OSError:
            return  # a read-only checkout: the next map parses again
        body = json.dumps(
            {"version": self.version, "entries": self._used}, separators=(",", ":"), sort_keys=True
        )
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(body)
            os.replace(tmp, self.path)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
