"""The prompt cache, as the API describes it (shared/anthropic-api.md §3): one model of it,
used by the offline server to compute usage and by the ledger to price the counterfactual
all-frontier run (baseline.py).

Tokens (deterministic estimates, so the offline server's usage is computed, never invented):

- a piece of text costs ``ceil(utf-8 bytes / 4)`` tokens (``devloop.tokens.estimate``);
- structured values (tool definitions, tool_use inputs, unknown block types) are measured on
  their canonical JSON (sorted keys, no spaces, ``cache_control`` removed);
- a tool definition adds ``TOOL_OVERHEAD`` and each message adds ``MESSAGE_OVERHEAD`` (the role
  marker), charged on the message's first block; an image costs a flat ``IMAGE_TOKENS``;
- thinking from earlier turns is counted like any other text.

The prompt is flattened in the API's cache order, tools -> system -> messages, one
``PromptBlock`` per block, so cache breakpoints and prefix sums fall out of the same list.

The cache (``CacheModel``): the prefix is hashed in that order up to each ``cache_control``
breakpoint; a write happens only at a breakpoint; a lookup walks back at most
``LOOKBACK_BLOCKS`` blocks from each breakpoint for an earlier write; entries live 5 minutes
or 1 hour from the request that wrote or last read them (hits refresh for free); a prefix
shorter than the model's minimum is silently not cached; the cache is per model. Settings
that invalidate part of the cache are mixed into the prefix hash where they take effect:
``output_config.format`` before everything, ``speed`` before system, and tool_choice,
thinking config and effort before the messages.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from devloop.tokens import estimate  # one rule for the sim, the budget guard and the map

MESSAGE_OVERHEAD = 3
TOOL_OVERHEAD = 8
IMAGE_TOKENS = 1600

# Block types that can never carry cache_control (the API rejects it on them).
UNCACHEABLE_TYPES = frozenset({"thinking", "redacted_thinking"})


def canonical(value: Any) -> str:
    """Stable JSON of a request value without its cache_control marks (they are not content)."""
    return json.dumps(_strip_cache_control(value), sort_keys=True, separators=(",", ":"))


def _strip_cache_control(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_cache_control(v) for k, v in value.items() if k != "cache_control"}
    if isinstance(value, list):
        return [_strip_cache_control(v) for v in value]
    return value


@dataclass(frozen=True)
class PromptBlock:
    section: str  # "tools" | "system" | "messages"
    path: str  # where it sits in the request, for error messages: "messages.2.content.0"
    type: str  # block type ("tool" for a tool definition)
    tokens: int
    material: str  # canonical content, hashed for prompt caching
    cache_control: dict | None
    empty_text: bool = False  # an empty text block: the API refuses to cache it


def block_tokens(block: dict) -> int:
    """Tokens of one content block (request or response side)."""
    kind = block.get("type")
    if kind == "text":
        return estimate(str(block.get("text", "")))
    if kind == "thinking":
        return estimate(str(block.get("thinking", "")))
    if kind == "redacted_thinking":
        return estimate(str(block.get("data", "")))
    if kind == "tool_use":
        return estimate(str(block.get("name", "")) + canonical(block.get("input", {})))
    if kind == "tool_result":
        content = block.get("content")
        if content is None:
            return 1
        if isinstance(content, str):
            return estimate(content)
        return sum(block_tokens(b) for b in content if isinstance(b, dict))
    if kind == "image":
        return IMAGE_TOKENS
    return estimate(canonical(block))


def message_blocks(content: Any) -> list[dict]:
    """A message's content as a list of blocks (a string is shorthand for one text block)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def flatten(body: dict) -> list[PromptBlock]:
    """The request's prompt as blocks in cache order: tools, then system, then messages."""
    blocks: list[PromptBlock] = []
    for i, tool in enumerate(body.get("tools") or []):
        blocks.append(
            PromptBlock(
                "tools",
                f"tools.{i}",
                "tool",
                TOOL_OVERHEAD + estimate(canonical(tool)),
                canonical(tool),
                tool.get("cache_control"),
            )
        )
    system = body.get("system")
    for i, block in enumerate(message_blocks(system) if system is not None else []):
        blocks.append(_content_block("system", f"system.{i}", block, extra=0))
    for m, message in enumerate(body.get("messages") or []):
        role = message.get("role", "")
        for i, block in enumerate(message_blocks(message.get("content"))):
            extra = MESSAGE_OVERHEAD if i == 0 else 0
            blocks.append(
                _content_block("messages", f"messages.{m}.content.{i}", block, extra, role)
            )
    return blocks


def _content_block(section: str, path: str, block: dict, extra: int, role: str = "") -> PromptBlock:
    kind = str(block.get("type", ""))
    return PromptBlock(
        section,
        path,
        kind,
        extra + block_tokens(block),
        role + ":" + canonical(block),
        block.get("cache_control"),
        empty_text=kind == "text" and not block.get("text"),
    )


def count_input_tokens(body: dict) -> int:
    return sum(b.tokens for b in flatten(body))


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


def hash_settings(params: Mapping[str, Any], default_effort: object = None) -> HashSettings:
    """The settings of request `params` that change what a cached prefix means. An effort
    equal to the model's default (when known) is no setting at all."""
    output_config = params.get("output_config") or {}
    effort = output_config.get("effort")
    if default_effort is not None and effort == default_effort:
        effort = None
    return HashSettings(
        format=output_config.get("format"),
        speed=params.get("speed"),
        messages={
            "tool_choice": params.get("tool_choice"),
            "thinking": params.get("thinking"),
            "effort": effort,
        },
    )


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


@dataclass
class _Entry:
    expires_at: float
    ttl_seconds: float


# A position in a prompt the cache can key on: (prefix hash, tokens up to and including it).
Point = tuple[str, int]


class CacheModel:
    """Written prefixes keyed by (model, prefix hash), with their expiry. Not thread-safe:
    PromptCache wraps it for the server; the baseline replays calls through one in order."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], _Entry] = {}

    def clear(self) -> None:
        self._entries.clear()

    def apply(
        self,
        model: str,
        points: Mapping[int, Point],
        total: int,
        breakpoints: Sequence[Breakpoint],
        min_tokens: int,
        now: float,
    ) -> CacheOutcome:
        """Look up and write one request's prefixes at time `now` (seconds); its usage split.

        `points` maps a block index to its prefix hash and cumulative tokens; it must hold
        every breakpoint and may leave out blocks no lookback reaches (a stored request
        keeps only the 20 blocks before each breakpoint)."""
        usable = sorted(
            (bp for bp in breakpoints if points[bp.index][1] >= min_tokens),
            key=lambda bp: bp.index,
        )
        if not usable:
            return CacheOutcome(total, 0, 0, 0)
        self._entries = {k: e for k, e in self._entries.items() if e.expires_at > now}
        read_end = -1
        for bp in usable:
            for j in range(bp.index, max(-1, bp.index - LOOKBACK_BLOCKS - 1), -1):
                point = points.get(j)
                entry = self._entries.get((model, point[0])) if point is not None else None
                if entry is not None:
                    entry.expires_at = now + entry.ttl_seconds  # a hit refreshes the TTL
                    read_end = max(read_end, j)
                    break
        writes = [bp for bp in usable if bp.index > read_end]
        for bp in writes:
            ttl = TTL_SECONDS[bp.ttl]
            self._entries[(model, points[bp.index][0])] = _Entry(now + ttl, ttl)
        read = points[read_end][1] if read_end >= 0 else 0
        if not writes:
            return CacheOutcome(total - read, read, 0, 0)
        written = points[writes[-1].index][1] - read
        # 1h writes are billed up to the last 1h breakpoint, 5m writes for the rest (§2).
        last_1h = max((bp.index for bp in writes if bp.ttl == "1h"), default=None)
        write_1h = points[last_1h][1] - read if last_1h is not None else 0
        return CacheOutcome(total - read - written, read, written - write_1h, write_1h)


class PromptCache:
    """The offline server's cache: a CacheModel on a clock, safe across request threads."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._model = CacheModel()

    def clear(self) -> None:
        with self._lock:
            self._model.clear()

    def apply(
        self,
        model: str,
        blocks: list[PromptBlock],
        breakpoints: list[Breakpoint],
        settings: HashSettings,
        min_tokens: int,
    ) -> CacheOutcome:
        """Look up and write this prompt's prefixes; return its usage split."""
        points = prompt_points(blocks, settings)
        total = sum(b.tokens for b in blocks)
        with self._lock:
            return self._model.apply(model, points, total, breakpoints, min_tokens, self._clock())


def prompt_points(blocks: list[PromptBlock], settings: HashSettings) -> dict[int, Point]:
    """Every block's prefix hash and cumulative tokens."""
    running, points = 0, {}
    for index, (block, digest) in enumerate(
        zip(blocks, prefix_hashes(blocks, settings), strict=True)
    ):
        running += block.tokens
        points[index] = (digest, running)
    return points


def request_breakpoints(blocks: list[PromptBlock]) -> list[Breakpoint]:
    """The explicit breakpoints of a request devloop built (it never uses automatic caching;
    the server validates breakpoints itself)."""
    return [
        Breakpoint(i, (b.cache_control or {}).get("ttl", "5m"))
        for i, b in enumerate(blocks)
        if b.cache_control is not None
    ]
