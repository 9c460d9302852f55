"""Turn a scenario reply into the API's Message object, with usage computed from the request."""

from __future__ import annotations

import hashlib
import itertools
import threading

from devloop.promptcache import CacheOutcome, block_tokens
from devloop.sim.scenario import Block, Reply
from devloop.sim.validate import CheckedRequest


class IdMaker:
    """Deterministic, unique ids per server: msg_sim_000001, toolu_sim_000002, req_sim_000003."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def next(self, prefix: str) -> str:
        with self._lock:
            return f"{prefix}_sim_{next(self._counter):06d}"


def render_blocks(blocks: tuple[Block, ...], ids: IdMaker) -> list[dict]:
    """Scenario blocks as response content blocks, tool ids filled in."""
    out: list[dict] = []
    for block in blocks:
        if block.type == "text":
            out.append({"type": "text", "text": block.text, "citations": None})
        elif block.type == "thinking":
            signature = "sig_sim_" + hashlib.sha256(block.text.encode()).hexdigest()[:32]
            out.append({"type": "thinking", "thinking": block.text, "signature": signature})
        elif block.type == "redacted_thinking":
            out.append({"type": "redacted_thinking", "data": block.text})
        else:
            out.append(
                {
                    "type": "tool_use",
                    "id": block.id or ids.next("toolu"),
                    "name": block.name,
                    "input": dict(block.input),
                }
            )
    return out


def truncate(content: list[dict], max_tokens: int) -> tuple[list[dict], bool]:
    """Cut the content to max_tokens output tokens, as generation would stop.

    A text or thinking block is cut at a character boundary; a tool_use that does not fit
    keeps its name and id with an empty input (its JSON never finished).
    """
    kept: list[dict] = []
    budget = max_tokens
    for block in content:
        cost = block_tokens(block)
        if cost <= budget:
            kept.append(block)
            budget -= cost
            continue
        key = {"text": "text", "thinking": "thinking"}.get(block["type"])
        if key is not None and budget > 0:
            cut = block[key].encode("utf-8")[: budget * 4].decode("utf-8", errors="ignore")
            kept.append({**block, key: cut})
        elif block["type"] == "tool_use" and budget > 0:
            kept.append({**block, "input": {}})
        return kept, True
    return kept, False


def build_message(
    reply: Reply | None,
    request: CheckedRequest,
    prompt: CacheOutcome,
    ids: IdMaker,
) -> dict:
    """The complete Message for a request. ``reply`` is None for a max_tokens=0 pre-warm."""
    body = request.body
    max_tokens = body["max_tokens"]
    content = render_blocks(reply.blocks, ids) if reply else []
    content, truncated = truncate(content, max_tokens)
    thinking_tokens = sum(block_tokens(b) for b in content if b["type"] == "thinking")
    output_tokens = max_tokens if truncated else sum(block_tokens(b) for b in content)

    thinking = body.get("thinking")
    if isinstance(thinking, dict) and thinking.get("display") == "omitted":
        # Omitted thinking is billed but comes back empty, with its signature.
        content = [{**b, "thinking": ""} if b["type"] == "thinking" else b for b in content]

    stop_reason = _stop_reason(reply, content, truncated or max_tokens == 0)
    stop_details = None
    if stop_reason == "refusal":
        stop_details = (reply.refusal if reply else None) or {
            "type": "refusal",
            "category": None,
            "explanation": None,
        }
    message = {
        "id": ids.next("msg"),
        "type": "message",
        "role": "assistant",
        "model": (reply.model if reply and reply.model else None) or body["model"],
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "stop_details": stop_details,
        "container": None,
        "usage": {
            "input_tokens": prompt.input_tokens,
            "cache_creation_input_tokens": prompt.cache_creation,
            "cache_read_input_tokens": prompt.cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": prompt.write_5m,
                "ephemeral_1h_input_tokens": prompt.write_1h,
            },
            "output_tokens": output_tokens,
            "output_tokens_details": {"thinking_tokens": min(thinking_tokens, output_tokens)},
            "server_tool_use": None,
            "service_tier": "standard",
            "speed": body.get("speed") or "standard",
            "inference_geo": body.get("inference_geo") or "global",
        },
    }
    if "diagnostics" in body:
        # Requested: null means "first turn or no divergence found" (cache diagnostics §3).
        message["diagnostics"] = None
    return message


def _stop_reason(reply: Reply | None, content: list[dict], cut: bool) -> str:
    if reply is not None and reply.stop_reason:
        return reply.stop_reason
    if cut:
        return "max_tokens"
    if reply is not None and reply.refusal is not None:
        return "refusal"
    if any(b["type"] == "tool_use" for b in content):
        return "tool_use"
    return "end_turn"
