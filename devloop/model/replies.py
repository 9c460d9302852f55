"""What a response is worth: classified without raising (the ledger row comes first), then
raised as a typed, loud error when it cannot be used: empty, truncated, refused, paused
too often, off-schema, an unknown stop reason, or answered by another model."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from devloop import jsonshape
from devloop.errors import ApiError

# Stop reasons that mean the answer was cut off.
TRUNCATED = ("max_tokens", "model_context_window_exceeded")


# Every stop reason the API documents (§6); any other is an error, never an answer.
KNOWN_STOPS = (
    "end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal",
    "model_context_window_exceeded",
)  # fmt: skip


class ModelReplyError(ApiError):
    """A response arrived (and was billed and recorded) but cannot be used."""

    outcome = "error"

    def __init__(self, message: str, *, step: str, model: str, request_id: str) -> None:
        super().__init__(f"step '{step}', model {model}, request {request_id or '-'}: {message}")
        self.step = step
        self.model = model
        self.request_id = request_id


class EmptyReplyError(ModelReplyError):
    outcome = "empty"


class TruncatedReplyError(ModelReplyError):
    outcome = "truncated"


class RefusalError(ModelReplyError):
    outcome = "refusal"


class InvalidOutputError(ModelReplyError):
    outcome = "invalid_output"


class PausedReplyError(ModelReplyError):
    outcome = "paused"


class UnknownStopError(ModelReplyError):
    outcome = "unknown_stop"


class ModelMismatchError(ModelReplyError):
    outcome = "model_mismatch"


@dataclass
class Verdict:
    outcome: str
    text: str = ""
    data: Any = None
    error: type[ModelReplyError] | None = None
    message: str = ""


def classify(reply: dict[str, Any], schema: dict[str, Any] | None) -> Verdict:
    """Decide what a response is worth, without raising: the ledger row comes first."""
    content = reply.get("content") or []
    text = "".join(b.get("text") or "" for b in content if b.get("type") == "text")
    has_tool_use = any(b.get("type") == "tool_use" for b in content)
    stop = reply.get("stop_reason") or ""
    output_tokens = (reply.get("usage") or {}).get("output_tokens", 0)
    if stop == "refusal":
        details = reply.get("stop_details") or {}
        category = details.get("category") or "unspecified"
        explanation = details.get("explanation") or "no explanation given"
        return Verdict(
            "refusal",
            error=RefusalError,
            message=f"the model refused (category {category}): {explanation}",
        )
    if stop not in KNOWN_STOPS:
        return Verdict(
            "unknown_stop",
            error=UnknownStopError,
            message=f"the answer stopped for a reason devloop does not know ({stop!r}); it is "
            "not taken as an answer. Update devloop, or report the stop reason",
        )
    if stop == "pause_turn":
        return Verdict("paused", text=text)  # Door._answer continues the turn
    if stop in TRUNCATED:
        return Verdict(
            "truncated",
            error=TruncatedReplyError,
            message=f"the answer was cut off (stop_reason {stop}, {output_tokens} output tokens); "
            "raise max_tokens for this step or shrink its input",
        )
    if not text.strip() and not has_tool_use:
        return Verdict(
            "empty",
            error=EmptyReplyError,
            message=f"empty answer on stop_reason '{stop}' ({output_tokens} output tokens billed)",
        )
    if schema is None:
        return Verdict("ok", text=text)
    if has_tool_use:  # no request with a schema offers tools: this is not the answer asked for
        return Verdict(
            "invalid_output",
            error=InvalidOutputError,
            message="the answer called a tool where a structured answer was asked for",
        )
    try:
        data = json.loads(text)
    except ValueError as exc:
        return Verdict(
            "invalid_output",
            error=InvalidOutputError,
            message=f"the structured answer is not valid JSON ({exc})",
        )
    found = jsonshape.problems(data, schema)
    if found:
        shown = "; ".join(found[:5])
        return Verdict(
            "invalid_output",
            error=InvalidOutputError,
            message=f"the structured answer does not match the schema: {shown}",
        )
    return Verdict("ok", text=text, data=data)
