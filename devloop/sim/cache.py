"""Prompt-cache emulation: which part of a prompt is read from cache, written, or uncached.

Follows the brief (§3): the prefix is hashed in the order tools -> system -> messages up to
each ``cache_control`` breakpoint; a write happens only at a breakpoint; a lookup walks back
at most ``LOOKBACK_BLOCKS`` blocks from each breakpoint for an earlier write; entries live
5 minutes or 1 hour from the request that wrote or last read them (hits refresh for free);
a prefix shorter than the model's minimum is silently not cached; the cache is per model.

Settings that invalidate part of the cache are mixed into the prefix hash where they take
effect: ``output_config.format`` before everything, ``speed`` before system, and tool_choice,
thinking config and effort (the model default counts as unset) before the messages.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from devloop.sim.tokens import PromptBlock, canonical

LOOKBACK_BLOCKS = 20
TTL_SECONDS = {"5m": 300.0, "1h": 3600.0}


@dataclass(frozen=True)
class Breakpoint:
    index: int  # position in the flattened prompt, inclusive
    ttl: str  # "5m" | "1h"


@dataclass(frozen=True)
class CacheOutcome:
    """The request's prompt tokens split the way usage reports them."""

    input_tokens: int  # not cached: after the last breakpoint, or everything on a miss
    cache_read: int
    write_5m: int
    write_1h: int

    @property
    def cache_creation(self) -> int:
        return self.write_5m + self.write_1h


@dataclass(frozen=True)
class HashSettings:
    """Request settings outside the blocks that still change what a cached prefix means."""

    format: object = None
    speed: object = None
    messages: object = None  # tool_choice, thinking, effort


@dataclass
class _Entry:
    expires_at: float
    ttl_seconds: float


def prefix_hashes(blocks: list[PromptBlock], settings: HashSettings) -> list[str]:
    """Hash of the prompt prefix ending at each block (a chain, so order matters)."""
    digest = hashlib.sha256(b"format:" + canonical(settings.format).encode())
    hashes: list[str] = []
    sections_seen: set[str] = set()
    for block in blocks:
        if block.section not in sections_seen:
            sections_seen.add(block.section)
            if block.section == "system":
                digest.update(b"speed:" + canonical(settings.speed).encode())
            elif block.section == "messages":
                if "system" not in sections_seen:
                    digest.update(b"speed:" + canonical(settings.speed).encode())
                digest.update(b"messages:" + canonical(settings.messages).encode())
        digest.update(b"\x00" + block.material.encode())
        hashes.append(digest.copy().hexdigest())
    return hashes


class PromptCache:
    """Thread-safe store of written prefixes, keyed by (model, prefix hash)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], _Entry] = {}

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def apply(
        self,
        model: str,
        blocks: list[PromptBlock],
        breakpoints: list[Breakpoint],
        settings: HashSettings,
        min_tokens: int,
    ) -> CacheOutcome:
        """Look up and write this prompt's prefixes; return its usage split."""
        total = sum(b.tokens for b in blocks)
        cumulative: list[int] = []
        running = 0
        for block in blocks:
            running += block.tokens
            cumulative.append(running)
        usable = sorted(
            (bp for bp in breakpoints if cumulative[bp.index] >= min_tokens),
            key=lambda bp: bp.index,
        )
        if not usable:
            return CacheOutcome(total, 0, 0, 0)
        hashes = prefix_hashes(blocks, settings)
        now = self._clock()
        with self._lock:
            self._entries = {k: e for k, e in self._entries.items() if e.expires_at > now}
            read_end = -1
            for bp in usable:
                for j in range(bp.index, max(-1, bp.index - LOOKBACK_BLOCKS - 1), -1):
                    entry = self._entries.get((model, hashes[j]))
                    if entry is not None:
                        entry.expires_at = now + entry.ttl_seconds  # a hit refreshes the TTL
                        read_end = max(read_end, j)
                        break
            writes = [bp for bp in usable if bp.index > read_end]
            for bp in writes:
                ttl = TTL_SECONDS[bp.ttl]
                self._entries[(model, hashes[bp.index])] = _Entry(now + ttl, ttl)
        read = cumulative[read_end] if read_end >= 0 else 0
        if not writes:
            return CacheOutcome(total - read, read, 0, 0)
        written = cumulative[writes[-1].index] - read
        # 1h writes are billed up to the last 1h breakpoint, 5m writes for the rest (§2).
        last_1h = max((bp.index for bp in writes if bp.ttl == "1h"), default=None)
        write_1h = cumulative[last_1h] - read if last_1h is not None else 0
        return CacheOutcome(total - read - written, read, written - write_1h, write_1h)
