"""Deterministic token estimates, so the sim's usage numbers are computed, never invented.

The rule (the same for billing, count_tokens and prompt caching):

- a piece of text costs ``ceil(utf-8 bytes / 4)`` tokens (``estimate``);
- structured values (tool definitions, tool_use inputs, unknown block types) are measured on
  their canonical JSON (sorted keys, no spaces, ``cache_control`` removed);
- a tool definition adds ``TOOL_OVERHEAD`` and each message adds ``MESSAGE_OVERHEAD`` (the role
  marker), charged on the message's first block; an image costs a flat ``IMAGE_TOKENS``;
- thinking from earlier turns is counted like any other text (the real count_tokens skips it;
  counting it keeps count_tokens equal to what the sim bills).

The prompt is flattened in the API's cache order, tools -> system -> messages, one
``PromptBlock`` per block, so cache breakpoints and prefix sums fall out of the same list.
"""

from __future__ import annotations

import json
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
