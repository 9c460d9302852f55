"""A Message as the API's server-sent event stream (brief §8), plus the mid-stream faults.

Rules the SDK depends on: every event has an ``event:`` line; message_start comes first; block
indexes are 0, 1, 2 in order; a tool_use starts with ``input: {}`` and its ``partial_json``
pieces concatenate to the input; a thinking block ends with its signature_delta;
message_delta carries the cumulative usage, always.
"""

from __future__ import annotations

import json

Event = tuple[str, dict]

CHUNK_CHARS = 16  # text and JSON are sent in pieces this long, so clients see real deltas


def encode(name: str, data: dict) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def _chunks(text: str, size: int = CHUNK_CHARS) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def message_events(message: dict) -> list[Event]:
    """The stream that accumulates to exactly ``message``."""
    usage = message["usage"]
    start_usage = {
        **{k: usage[k] for k in usage if k != "output_tokens_details"},
        "output_tokens": min(1, usage["output_tokens"]),
    }
    start = {
        **message,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "stop_details": None,
        "usage": start_usage,
    }
    events: list[Event] = [
        ("message_start", {"type": "message_start", "message": start}),
        ("ping", {"type": "ping"}),
    ]
    for index, block in enumerate(message["content"]):
        events.extend(_block_events(index, block))
    events.append(
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {
                    "stop_reason": message["stop_reason"],
                    "stop_sequence": message["stop_sequence"],
                    "stop_details": message["stop_details"],
                    "container": None,
                },
                "usage": {
                    "input_tokens": usage["input_tokens"],
                    "cache_creation_input_tokens": usage["cache_creation_input_tokens"],
                    "cache_read_input_tokens": usage["cache_read_input_tokens"],
                    "output_tokens": usage["output_tokens"],
                    "output_tokens_details": usage["output_tokens_details"],
                    "server_tool_use": None,
                },
            },
        )
    )
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def _block_events(index: int, block: dict) -> list[Event]:
    kind = block["type"]
    if kind == "text":
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": t} for t in _chunks(block["text"])]
    elif kind == "thinking":
        start = {"type": "thinking", "thinking": "", "signature": ""}
        deltas = [{"type": "thinking_delta", "thinking": t} for t in _chunks(block["thinking"])]
        deltas.append({"type": "signature_delta", "signature": block["signature"]})
    elif kind == "tool_use":
        start = {**block, "input": {}}
        raw = json.dumps(block["input"]) if block["input"] else ""
        deltas = [{"type": "input_json_delta", "partial_json": p} for p in ["", *_chunks(raw)]]
    else:  # redacted_thinking arrives whole in its start event
        start, deltas = block, []
    events: list[Event] = [
        (
            "content_block_start",
            {"type": "content_block_start", "index": index, "content_block": start},
        )
    ]
    events.extend(
        ("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d})
        for d in deltas
    )
    events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def fault_cut(events: list[Event]) -> int:
    """Where a mid-stream fault strikes: right after the first content delta (else the ping)."""
    for i, (name, _) in enumerate(events):
        if name == "content_block_delta":
            return i + 1
    return 2
