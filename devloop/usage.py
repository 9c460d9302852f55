"""The Messages API `usage` object, read once: the token counts a call was billed for.

`parse(usage)` checks the shape (counts are non-negative integers, sub-objects are dicts)
and returns a Usage; pricing prices it and the ledger stores it. `input_tokens` excludes
cached tokens, so the prompt is input + cache writes + cache reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class UsageProblem(ValueError):
    """The usage object is not what the API documents; the message names the field."""


@dataclass(frozen=True)
class Usage:
    input: int
    write_5m: int  # without a 5m/1h split every write counts as 5m (the default TTL)
    write_1h: int
    cache_write: int  # cache_creation_input_tokens, as reported (or the split's sum)
    read: int
    output: int
    split_reported: bool  # the 5m/1h split was in the usage
    thinking: int | None
    web_search: int
    web_fetch: int
    service_tier: str | None
    inference_geo: str | None
    speed: str | None

    @property
    def prompt(self) -> int:
        return self.input + self.cache_write + self.read

    @property
    def split_mismatch(self) -> bool:
        """The reported total of cache writes differs from its 5m + 1h split."""
        return self.split_reported and self.write_5m + self.write_1h != self.cache_write


def _count(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise UsageProblem(f"usage field '{key}' must be a non-negative integer, not {value!r}")
    return value


def _sub(data: Mapping[str, Any], key: str) -> Mapping[str, Any] | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise UsageProblem(f"usage field '{key}' must be a dict or null, not {value!r}")
    return value


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def parse(usage: Mapping[str, Any]) -> Usage:
    """The usage object as a Usage; UsageProblem when its shape is wrong."""
    if not isinstance(usage, Mapping):
        raise UsageProblem(f"usage must be a dict, not {type(usage).__name__}")
    split = _sub(usage, "cache_creation")
    details = _sub(usage, "output_tokens_details") or {}
    tools = _sub(usage, "server_tool_use") or {}
    if split is None:
        written = _count(usage, "cache_creation_input_tokens")
        write_5m, write_1h = written, 0
    else:
        write_5m = _count(split, "ephemeral_5m_input_tokens")
        write_1h = _count(split, "ephemeral_1h_input_tokens")
        written = (
            write_5m + write_1h
            if usage.get("cache_creation_input_tokens") is None
            else _count(usage, "cache_creation_input_tokens")
        )
    thinking = details.get("thinking_tokens")
    return Usage(
        input=_count(usage, "input_tokens"),
        write_5m=write_5m,
        write_1h=write_1h,
        cache_write=written,
        read=_count(usage, "cache_read_input_tokens"),
        output=_count(usage, "output_tokens"),
        split_reported=split is not None,
        thinking=None if thinking is None else _count(details, "thinking_tokens"),
        web_search=_count(tools, "web_search_requests"),
        web_fetch=_count(tools, "web_fetch_requests"),
        service_tier=_text(usage, "service_tier"),
        inference_geo=_text(usage, "inference_geo"),
        speed=_text(usage, "speed"),
    )
