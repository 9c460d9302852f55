"""The frontier baseline: what a feature's calls would have cost in one all-frontier run.

An always-frontier run sends the same requests to one model, so they share one prompt
cache; a routed run splits its requests across models (one cache each) and writes a shared
prefix again after each switch. Repricing each call's own usage at frontier rates misses
that and overstates what routing saved. So the baseline is counterfactual:

1. For every call the ledger keeps its *shape*: for each cache breakpoint, and for the 20
   blocks before it (the API's lookback), the hash of the prompt prefix up to that block
   and the tokens up to it. Token counts are estimated per block (bytes / 4, the offline
   server's rule) and scaled so their total equals the prompt tokens the call was billed for:
   the total is exact, the split between blocks is proportional to their size. That split
   is the estimator's only error; it moves tokens between "read", "written" and "uncached"
   only where a block's bytes-per-token differs from the prompt's average.
2. The feature's calls are replayed in the order they were sent through one model of the
   frontier model's prompt cache (promptcache.CacheModel: prefix match at breakpoints,
   20-block lookback, minimum cacheable length, 5m/1h TTL counted from the request that
   wrote or last read an entry). Each call gets the cache reads and writes it would have
   had, and is priced at frontier rates.
3. Output tokens are taken as observed: a frontier model would have answered differently,
   and nothing can know how. Reports say so in one line.

Calls that overlap in time are replayed in the order they were sent, each seeing what the
earlier ones wrote: devloop holds back a call whose prompt prefix another call is writing
until that call's response has begun (llm.Door), so the all-frontier run would have read it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from devloop.ledger import CallShape
from devloop.promptcache import (
    LOOKBACK_BLOCKS,
    Breakpoint,
    CacheModel,
    CacheOutcome,
    Point,
    flatten,
    hash_settings,
    prompt_points,
    request_breakpoints,
)

SHAPE_VERSION = 1
HASH_CHARS = 24  # of a prefix hash kept in the ledger (96 bits)


def request_shape(params: Mapping[str, Any]) -> dict[str, Any]:
    """What the prompt cache sees of a request: its breakpoints, and the prefix hash and
    estimated tokens of every block a lookup from them can reach."""
    blocks = flatten(dict(params))
    breakpoints = request_breakpoints(blocks)
    points = prompt_points(blocks, hash_settings(params))
    keep: set[int] = set()
    for bp in breakpoints:
        keep.update(range(max(0, bp.index - LOOKBACK_BLOCKS), bp.index + 1))
    return {
        "v": SHAPE_VERSION,
        "estimated_tokens": sum(b.tokens for b in blocks),
        "breakpoints": [[bp.index, bp.ttl] for bp in breakpoints],
        "points": [[i, points[i][0][:HASH_CHARS], points[i][1]] for i in sorted(keep)],
    }


def prefix_key(shape: Mapping[str, Any]) -> str | None:
    """The hash of the prefix up to the request's first breakpoint (None: no breakpoint)."""
    if not shape.get("breakpoints"):
        return None
    first = shape["breakpoints"][0][0]
    return next((h for i, h, _ in shape["points"] if i == first), None)


def _scaled(shape: Mapping[str, Any], prompt_tokens: int) -> dict[int, Point]:
    estimated = shape.get("estimated_tokens") or 0
    ratio = prompt_tokens / estimated if estimated else 1.0
    return {int(i): (h, round(tokens * ratio)) for i, h, tokens in shape.get("points", [])}


def _seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _replay(model: CacheModel, call: CallShape, frontier: str, min_tokens: int) -> CacheOutcome:
    breakpoints = [Breakpoint(int(i), ttl) for i, ttl in call.shape.get("breakpoints", [])]
    points = _scaled(call.shape, call.prompt_tokens)
    return model.apply(
        frontier, points, call.prompt_tokens, breakpoints, min_tokens, _seconds(call.started_at)
    )


def counterfactual_usage(
    prior: Sequence[CallShape],
    call: CallShape,
    usage: Mapping[str, Any],
    *,
    frontier: str,
    min_tokens: int,
) -> dict[str, Any]:
    """`call`'s usage had every call of the feature, `prior` ones first (in send order),
    gone to `frontier` through one prompt cache; output as observed."""
    cache = CacheModel()
    for earlier in sorted(prior, key=lambda c: (c.started_at, c.id)):
        if (earlier.started_at, earlier.id) < (call.started_at, call.id):
            _replay(cache, earlier, frontier, min_tokens)
    outcome = _replay(cache, call, frontier, min_tokens)
    out = {
        key: usage[key]
        for key in (
            "output_tokens",
            "output_tokens_details",
            "service_tier",
            "inference_geo",
            "speed",
            "server_tool_use",
        )
        if key in usage
    }
    out.update(
        input_tokens=outcome.input_tokens,
        cache_read_input_tokens=outcome.cache_read,
        cache_creation_input_tokens=outcome.cache_creation,
        cache_creation={
            "ephemeral_5m_input_tokens": outcome.write_5m,
            "ephemeral_1h_input_tokens": outcome.write_1h,
        },
    )
    return out


def prompt_tokens(usage: Mapping[str, Any]) -> int:
    """A call's whole prompt as billed: uncached input plus cache writes and reads."""
    return sum(
        int(usage.get(k) or 0)
        for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    )
