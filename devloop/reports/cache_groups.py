"""A feature's prompt-cache groups: the calls that can read each other's cached prefix.

The cache is per model, and its key covers the tools, the system prefix and the output
format (promptcache.py), so with routing a feature's calls fall into a few groups. A group
is the served model plus the hash of the prefix up to a call's first breakpoint, as the
call's recorded cache shape says; a call with no breakpoint is in no group. The groups, in
order of first use, with their cache write and read tokens and read share, show where a
feature's cache pays and where a step writes a prefix nobody reads.

May import: the ledger. Nothing of model, loop, agent or cli.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from devloop.ledger import CacheUse

NO_BREAKPOINT = "(no cache breakpoint)"


def read_share(input_tokens: int, cache_write: int, cache_read: int) -> float | None:
    """The share of the prompt tokens read from the cache (None: no prompt tokens), to four
    places: every report's `read %` and `cache_read_share`."""
    prompt = input_tokens + cache_write + cache_read
    return round(cache_read / prompt, 4) if prompt else None


@dataclass
class CacheGroup:
    model: str
    prefix: str | None  # the prefix hash (None: calls that set no breakpoint)
    steps: list[str] = field(default_factory=list)  # in order of first use
    calls: int = 0
    input_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    @property
    def read_share(self) -> float | None:
        return read_share(self.input_tokens, self.cache_write_tokens, self.cache_read_tokens)

    @property
    def label(self) -> str:
        return ", ".join(self.steps) if self.prefix is not None else NO_BREAKPOINT

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "steps": list(self.steps),
            "prefix": self.prefix,
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "cache_write_tokens": self.cache_write_tokens,
            "cache_read_tokens": self.cache_read_tokens,
            "cache_read_share": self.read_share,
        }


def groups(uses: list[CacheUse]) -> list[CacheGroup]:
    """The calls (in send order) folded into their cache groups, in order of first use."""
    from devloop.ledger.baseline import prefix_key  # the prompt-cache model: only when asked

    found: dict[tuple[str, str | None], CacheGroup] = {}
    for use in uses:
        prefix = prefix_key(use.shape) if use.shape else None
        group = found.setdefault((use.model, prefix), CacheGroup(use.model, prefix))
        if use.step_key not in group.steps:
            group.steps.append(use.step_key)
        group.calls += 1
        group.input_tokens += use.input_tokens
        group.cache_write_tokens += use.cache_write_tokens
        group.cache_read_tokens += use.cache_read_tokens
    return list(found.values())


HEADERS = ["group", "model", "steps", "calls", "cache write", "cache read", "read %"]
RIGHT = {i for i, h in enumerate(HEADERS) if h in ("calls", "cache write", "cache read", "read %")}
DROP = ("cache write", "cache read", "group")  # on a narrow terminal, least important first
TITLE = (
    "Prompt cache groups (calls that can read each other's cached prefix: the same model, "
    "tools, system prefix and output format)"
)


def table_rows(found: list[CacheGroup]) -> list[list[str]]:
    rows = []
    for number, group in enumerate(found, 1):
        share = group.read_share
        rows.append(
            [
                str(number),
                group.model,
                group.label,
                str(group.calls),
                f"{group.cache_write_tokens:,}",
                f"{group.cache_read_tokens:,}",
                "-" if share is None else f"{share:.0%}",
            ]
        )
    return rows
