"""What a step asks (Request), what comes back (Reply), and the Messages API body built
from a Request: the cached prefix, its breakpoints, effort and structured output."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from devloop import tokens
from devloop.capabilities import capability
from devloop.config import Config

MAX_BREAKPOINTS = 4


DEFAULT_MAX_TOKENS = 16_000


@dataclass
class Request:
    """What a step asks. `system` and `context` form the cached prefix: keep them identical
    across the steps of a feature (project context, spec) and put the step's own
    instructions in `messages`."""

    messages: list[dict[str, Any]]
    system: str = ""
    context: list[str] = field(default_factory=list)
    tools: list[dict[str, Any]] | None = None
    schema: dict[str, Any] | None = None  # structured output: the answer is JSON of this shape
    max_tokens: int = DEFAULT_MAX_TOKENS
    tool_choice: dict[str, Any] | None = None  # {"type": "none"}: answer now, without tools


@dataclass
class Reply:
    text: str  # all text blocks joined
    data: Any  # the parsed JSON when the request had a schema
    content: list[dict[str, Any]]  # every block, to send back unchanged in a tool loop
    stop_reason: str
    model: str  # the model that served it
    requested_model: str
    request_id: str
    usage: dict[str, Any]
    call_id: int
    cost_usd: Decimal | None
    baseline_usd: Decimal | None
    retries: int

    @property
    def tool_uses(self) -> list[dict[str, Any]]:
        return [b for b in self.content if b.get("type") == "tool_use"]

    def assistant_message(self) -> dict[str, Any]:
        return {"role": "assistant", "content": self.content}


def build_params(request: Request, model: str, effort: str | None) -> dict[str, Any]:
    """The Messages API body (without stream/model-independent headers).

    The system blocks end with one cache breakpoint, so tools + system + context are a
    byte-stable prefix shared by every call of the feature on this model. A conversation of
    several turns gets a second, moving breakpoint on its last block, so each turn reads the
    previous turns from cache. Never more than MAX_BREAKPOINTS.
    """
    system_blocks = [{"type": "text", "text": t} for t in (request.system, *request.context) if t]
    if system_blocks:
        system_blocks[-1]["cache_control"] = {"type": "ephemeral"}
    messages = [dict(m) for m in request.messages]
    if len(messages) > 1:
        last = messages[-1]
        content = last["content"]
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else list(content)
        if blocks and blocks[-1].get("type") != "thinking" and blocks[-1].get("text", "x") != "":
            blocks[-1] = {**blocks[-1], "cache_control": {"type": "ephemeral"}}
        last["content"] = blocks
    params: dict[str, Any] = {
        "model": model,
        "max_tokens": request.max_tokens,
        "messages": messages,
    }
    if system_blocks:
        params["system"] = system_blocks
    if request.tools:
        params["tools"] = request.tools
        if request.tool_choice is not None:
            params["tool_choice"] = request.tool_choice
    output_config: dict[str, Any] = {}
    if effort:
        output_config["effort"] = effort
    if request.schema is not None:
        output_config["format"] = {"type": "json_schema", "schema": request.schema}
    if output_config:
        params["output_config"] = output_config
    # Thinking is left to the model's default (adaptive): several models reject `disabled`.
    assert count_breakpoints(params) <= MAX_BREAKPOINTS
    return params


def count_breakpoints(params: dict[str, Any]) -> int:
    """Cache breakpoints in a request: blocks (tools, system, message content) carrying
    cache_control. Counted on the structure, never on text that merely mentions it."""
    blocks = [*params.get("tools", []), *params.get("system", [])]
    for message in params["messages"]:
        if isinstance(message["content"], list):
            blocks += message["content"]
    return sum(1 for block in blocks if isinstance(block, dict) and "cache_control" in block)


def estimate_input_tokens(params: dict[str, Any]) -> int:
    parts = [params.get("system", []), params.get("tools", []), params["messages"]]
    return sum(tokens.estimate_json(p) for p in parts)


def request_sha256(params: dict[str, Any]) -> str:
    """The identity of a request: the same body asks the same question."""
    import hashlib

    body = json.dumps(params, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(body.encode("utf-8", "surrogatepass")).hexdigest()


def min_cache_tokens(model: str) -> int:
    from devloop.capabilities import DEFAULT_MIN_CACHE_TOKENS

    found = capability(model)
    return found.min_cache_tokens if found else DEFAULT_MIN_CACHE_TOKENS


def effort_for(cfg: Config, step: str, model: str, asked: str | None = None) -> str | None:
    """The effort a call sends: `asked` (an escalation), else the config's or the step
    table's. A level the model does not take is not sent (its default applies); [effort] in
    the config is checked against the models when it is loaded."""
    level = asked or cfg.step_effort(step)
    cap = capability(model)
    if level is None or cap is None or cap.default_effort is None:
        return None
    return level if cap.accepts_effort(level) else None
