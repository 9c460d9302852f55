"""The files the map may show: those git tracks, with their size, text and blob id.

Only tracked files are mapped: untracked ones are the user's and stay private. The blob id
is git's object id of the content (`git hash-object`), the parse cache's key: a file whose
content did not change is never parsed twice, whatever its path or modification time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from devloop.codemap.languages import grammar_for
from devloop.git import repository

EXCLUDED_DIRS = (".devloop",)
READ_LIMIT = 256_000  # bytes: larger files are listed, never read


@dataclass
class FileInfo:
    path: str  # relative to the project root, with forward slashes
    size: int
    lines: int | None  # None: binary or too large to read
    text: str | None = None
    data: bytes | None = None  # the raw content, kept for the files a grammar parses
    blob: str = ""  # git's object id of the content ("" when not read)

    @property
    def depth(self) -> int:
        return self.path.count("/")


def blob_id(data: bytes) -> str:
    """git's object id of a file holding `data` (SHA-1 of "blob <size>\\0" + data)."""
    digest = hashlib.sha1(b"blob %d\0" % len(data), usedforsecurity=False)
    digest.update(data)
    return digest.hexdigest()


def scan(root: Path, leave_out: str | None = None, also: Iterable[str] = ()) -> list[FileInfo]:
    """The files git tracks under `root`, sorted by path, read when small and not binary;
    `leave_out` (a relative path) is skipped. `also`: untracked paths the caller knows may
    be shown (files the run itself created)."""
    infos = []
    tracked = repository.tracked_files(root, exclude=EXCLUDED_DIRS)
    excluded = tuple(d + "/" for d in EXCLUDED_DIRS)
    extra = {p for p in also if not p.startswith(excluded)}
    for rel in sorted(set(tracked) | extra):
        if rel == leave_out:
            continue
        path = root / rel
        try:
            if path.is_symlink() or not path.is_file():
                continue
            size = path.stat().st_size
            data = path.read_bytes() if size <= READ_LIMIT else None
        except OSError:
            continue
        if data is None or b"\0" in data[:8192]:
            infos.append(FileInfo(rel, size, None))
            continue
        text = data.decode("utf-8", "replace")
        lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        parsed = data if grammar_for(rel) is not None else None
        infos.append(FileInfo(rel, size, lines, text, parsed, blob_id(data)))
    return infos
