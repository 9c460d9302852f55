"""The most a request can be billed: what the ledger reserves before it is sent.

A reservation must be an upper bound, or concurrent steps could spend past a ceiling. So:

- tokens: a token covers at least one byte of what is sent, so each block of the prompt is
  bounded by its UTF-8 bytes (as JSON, so escapes count) plus a framing allowance, and a
  request with tools by the API's hidden tool prompt on top. Far above the real count for
  ordinary text (about four bytes per token), never below it;
- rates: every token before the last cache breakpoint at the cache-write rate (the 1-hour
  rate up to the last 1-hour breakpoint), the rest at the input rate, and `max_tokens` at
  the output rate; the long-prompt band when the bound reaches it; inference geo and speed
  as the request sets them. pricing.cost_usd applies the multipliers.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from devloop.model import pricing
from devloop.promptcache import flatten, request_breakpoints

BLOCK_FRAMING = 16  # tokens a block may cost beyond its bytes (role, separators)
TOOL_PROMPT = 2_000  # the API's hidden prompt for client tools (bash + text editor: ~1,400)


def worst_case_usage(params: Mapping[str, Any]) -> dict[str, Any]:
    """A usage object no response to `params` can exceed, category by category."""
    blocks = flatten(dict(params))
    bounds = [len(b.material.encode("utf-8", "surrogatepass")) + BLOCK_FRAMING for b in blocks]
    cumulative, running = [], TOOL_PROMPT if params.get("tools") else 0
    for bound in bounds:
        running += bound
        cumulative.append(running)
    total = running
    breakpoints = request_breakpoints(blocks)
    last = max((bp.index for bp in breakpoints), default=None)
    last_1h = max((bp.index for bp in breakpoints if bp.ttl == "1h"), default=None)
    write_1h = cumulative[last_1h] if last_1h is not None else 0
    written = cumulative[last] if last is not None else 0
    usage: dict[str, Any] = {
        "input_tokens": total - written,
        "cache_creation_input_tokens": written,
        "cache_creation": {
            "ephemeral_5m_input_tokens": written - write_1h,
            "ephemeral_1h_input_tokens": write_1h,
        },
        "cache_read_input_tokens": 0,
        "output_tokens": int(params["max_tokens"]),
    }
    for key in ("inference_geo", "speed"):
        if params.get(key) is not None:
            usage[key] = params[key]
    return usage


def worst_case_usd(model: str, params: Mapping[str, Any]) -> Decimal:
    """The most `model` can bill for `params`; UnpricedModelError when it has no price."""
    return pricing.cost_usd(model, worst_case_usage(params))
