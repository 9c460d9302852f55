"""Request validation the way the API does it: the same statuses, error types and messages.

Each check raises ``SimApiError``; the server turns it into the API's error body. Messages
quote the API where the brief gives the text and are otherwise written to name the field, in
the API's ``path: problem`` style, so a devloop bug shows up as the 400 the real API would give.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from devloop.capabilities import EFFORTS, THINKING_TYPES, ModelCapability, capability
from devloop.promptcache import (
    TTL_SECONDS,
    UNCACHEABLE_TYPES,
    Breakpoint,
    PromptBlock,
    message_blocks,
)

MAX_CACHE_BREAKPOINTS = 4

# Body fields SDK 2.10.0 sends to POST /v1/messages (resources/messages/messages.py).
MESSAGES_FIELDS = frozenset(
    {
        "max_tokens",
        "messages",
        "model",
        "cache_control",
        "container",
        "diagnostics",
        "inference_geo",
        "metadata",
        "output_config",
        "service_tier",
        "speed",
        "stop_sequences",
        "stream",
        "system",
        "thinking",
        "tool_choice",
        "tools",
    }
)
COUNT_TOKENS_FIELDS = frozenset(
    {"messages", "model", "cache_control", "output_config", "speed", "system", "thinking"}
    | {"tool_choice", "tools"}
)
# Removed by API version 2026-10-21 on every model (brief §0).
REMOVED_SAMPLING = ("temperature", "top_p", "top_k")


class SimApiError(Exception):
    """An error the sim answers with: HTTP status, the API's error type, a message."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


def invalid(message: str) -> SimApiError:
    return SimApiError(400, "invalid_request_error", message)


@dataclass(frozen=True)
class CheckedRequest:
    cap: ModelCapability
    body: dict


def check_body(body: Any, *, count_tokens: bool = False) -> CheckedRequest:
    """Validate a messages (or count_tokens) body; return it with the model's capabilities."""
    if not isinstance(body, dict):
        raise invalid("The request body is not a JSON object.")
    for name in REMOVED_SAMPLING:
        if name in body:
            raise invalid(
                f"{name}: is not supported with anthropic-version 2026-10-21; remove it "
                "and use output_config.effort to steer the model."
            )
    allowed = COUNT_TOKENS_FIELDS if count_tokens else MESSAGES_FIELDS
    for name in body:
        if name not in allowed:
            raise invalid(f"{name}: Extra inputs are not permitted")
    cap = _check_model(body)
    if not count_tokens:
        _check_max_tokens(body, cap)
        if "stream" in body and not isinstance(body["stream"], bool):
            raise invalid("stream: Input should be a valid boolean")
    _check_system(body.get("system"))
    _check_messages(body)
    _check_tools(body, cap)
    _check_thinking_and_effort(body, cap)
    return CheckedRequest(cap, body)


def _check_model(body: dict) -> ModelCapability:
    model = body.get("model")
    if model is None:
        raise invalid("model: Field required")
    if not isinstance(model, str):
        raise invalid("model: Input should be a valid string")
    cap = capability(model)
    if cap is None:
        raise SimApiError(404, "not_found_error", f"model: {model}")
    if cap.lifecycle == "retired":
        raise SimApiError(404, "not_found_error", f"model: {model} has been retired.")
    return cap


def _check_max_tokens(body: dict, cap: ModelCapability) -> None:
    if "max_tokens" not in body:
        raise invalid("max_tokens: Field required")
    value = body["max_tokens"]
    if not isinstance(value, int) or isinstance(value, bool):
        raise invalid("max_tokens: Input should be a valid integer")
    if value < 0:
        raise invalid("max_tokens: Input should be greater than or equal to 0")
    if value > cap.max_output_tokens:
        raise invalid(
            f"max_tokens: {value} > {cap.max_output_tokens}, which is the maximum allowed "
            f"number of output tokens for {cap.id}"
        )


def _check_system(system: Any) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list):
        raise invalid("system: Input should be a valid string or a list of text blocks")
    for i, block in enumerate(system):
        if not isinstance(block, dict) or block.get("type") != "text":
            raise invalid(f"system.{i}: Input should be a text block")
        if not isinstance(block.get("text"), str) or not block["text"]:
            raise invalid(f"system.{i}: text content blocks must be non-empty")


def _check_messages(body: dict) -> None:
    messages = body.get("messages")
    if messages is None:
        raise invalid("messages: Field required")
    if not isinstance(messages, list) or not messages:
        raise invalid("messages: at least one message is required")
    previous_role = None
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise invalid(f"messages.{i}: Input should be an object with role and content")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise invalid(f'messages.{i}.role: Input should be "user" or "assistant"')
        if i == 0 and role != "user":
            raise invalid('messages: first message must use the "user" role')
        if role == previous_role:
            raise invalid(
                'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{role}" roles in a row'
            )
        previous_role = role
        content = message.get("content")
        if isinstance(content, str):
            if not content:
                raise invalid(f"messages.{i}: text content blocks must be non-empty")
            continue
        if not isinstance(content, list) or not content:
            raise invalid(f"messages.{i}.content: Input should be a string or a non-empty list")
        for j, block in enumerate(content):
            if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                raise invalid(f"messages.{i}.content.{j}: Input should be a content block")
            if block["type"] == "text" and not block.get("text"):
                raise invalid(f"messages.{i}.content.{j}: text content blocks must be non-empty")
            if role == "assistant" and block["type"] == "tool_result":
                raise invalid(
                    f"messages.{i}.content.{j}: tool_result blocks are only allowed in user "
                    "messages"
                )
    _check_tool_pairs(messages)


def _check_tool_pairs(messages: list[dict]) -> None:
    """Every assistant tool_use is answered, first thing, by the next user message."""
    expected: list[str] = []  # tool_use ids of the previous assistant turn
    for i, message in enumerate(messages):
        blocks = message_blocks(message.get("content"))
        if message["role"] == "assistant":
            expected = [str(b.get("id")) for b in blocks if b.get("type") == "tool_use"]
            if expected and i == len(messages) - 1:
                raise _missing_results(i, expected)
            continue
        leading: list[str] = []
        for j, block in enumerate(blocks):
            if block.get("type") != "tool_result":
                continue
            if j != len(leading):
                raise invalid(
                    f"messages.{i}.content.{j}: tool_result blocks must come first in the user "
                    "message, before any other content."
                )
            leading.append(str(block.get("tool_use_id")))
        unexpected = [t for t in leading if t not in expected]
        if unexpected:
            raise invalid(
                f"messages.{i}.content.{leading.index(unexpected[0])}: unexpected `tool_use_id` "
                f"found in `tool_result` blocks: {unexpected[0]}. Each `tool_result` block must "
                "have a corresponding `tool_use` block in the previous message."
            )
        missing = [t for t in expected if t not in leading]
        if missing:
            raise _missing_results(i - 1, missing)
        if len(set(leading)) != len(leading):
            raise invalid(f"messages.{i}: each tool_use id may be answered only once.")
        expected = []


def _missing_results(index: int, ids: list[str]) -> SimApiError:
    return invalid(
        f"messages.{index}: `tool_use` ids were found without `tool_result` blocks immediately "
        f"after: {', '.join(ids)}. Each `tool_use` block must have a corresponding "
        "`tool_result` block in the next message."
    )


def _check_tools(body: dict, cap: ModelCapability) -> None:
    tools = body.get("tools")
    if tools is not None and not isinstance(tools, list):
        raise invalid("tools: Input should be a valid list")
    names = []
    for i, tool in enumerate(tools or []):
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
            raise invalid(f"tools.{i}.name: Field required")
        if tool["name"] in names:
            raise invalid(f"tools: Tool names must be unique (duplicate: {tool['name']})")
        names.append(tool["name"])
    choice = body.get("tool_choice")
    if choice is None:
        return
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind not in ("auto", "any", "tool", "none"):
        raise invalid('tool_choice.type: Input should be "auto", "any", "tool" or "none"')
    if kind in ("any", "tool"):
        if cap.rejects_forced_tool_choice:
            raise invalid(
                f'tool_choice.type: "{kind}" is not supported for this model. Use '
                '"tool_choice.type": "auto" with strict tools or structured outputs instead.'
            )
        if not names:
            raise invalid(f'tool_choice.type: "{kind}" requires `tools` to be provided')
        thinking = body.get("thinking")
        if isinstance(thinking, dict) and thinking.get("type") == "enabled":
            raise invalid(
                "Thinking may not be enabled when tool_choice forces tool use "
                f'(tool_choice.type "{kind}").'
            )
    if kind == "tool" and choice.get("name") not in names:
        raise invalid(f"tool_choice.name: no tool named {choice.get('name')!r} in `tools`")


def _check_thinking_and_effort(body: dict, cap: ModelCapability) -> None:
    output_config = body.get("output_config") or {}
    if not isinstance(output_config, dict):
        raise invalid("output_config: Input should be an object")
    effort = output_config.get("effort")
    if effort is not None:
        if effort not in EFFORTS:
            raise invalid(f"output_config.effort: Input should be one of {', '.join(EFFORTS)}")
        if not cap.accepts_effort(effort):
            raise invalid(f'output_config.effort: "{effort}" is not supported for this model.')
    fmt = output_config.get("format")
    if fmt is not None and (not isinstance(fmt, dict) or fmt.get("type") != "json_schema"):
        raise invalid('output_config.format.type: Input should be "json_schema"')
    if fmt is not None and not isinstance(fmt.get("schema"), dict):
        raise invalid("output_config.format.schema: Field required")

    thinking = body.get("thinking")
    if thinking is None:
        return
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in THINKING_TYPES:
        raise invalid(f"thinking.type: Input should be one of {', '.join(THINKING_TYPES)}")
    if kind not in cap.thinking_types:
        raise invalid(
            f'"thinking.type.{kind}" is not supported for this model. Use '
            '"thinking.type.adaptive" and "output_config.effort" to control thinking behavior.'
        )
    if kind == "enabled":
        budget = thinking.get("budget_tokens")
        if not isinstance(budget, int) or budget < 1024:
            raise invalid(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
            )
        if "max_tokens" in body and budget >= body["max_tokens"]:
            raise invalid("`max_tokens` must be greater than `thinking.budget_tokens`.")
    if kind in ("disabled", "between_tools") and cap.thinking_off_max_effort is not None:
        level = effort or cap.default_effort
        if level and EFFORTS.index(level) > EFFORTS.index(cap.thinking_off_max_effort):
            raise invalid(
                f'"thinking.type.{kind}" is not supported with output_config.effort "{level}" '
                f'on this model (at most "{cap.thinking_off_max_effort}").'
            )


def cache_breakpoints(blocks: list[PromptBlock], auto: Any) -> list[Breakpoint]:
    """The request's cache breakpoints, explicit and automatic, checked like the API does."""
    points: list[Breakpoint] = []
    last_ttl = None
    for index, block in enumerate(blocks):
        if block.cache_control is None:
            continue
        ttl = _ttl(block.cache_control, f"{block.path}.cache_control")
        if block.type in UNCACHEABLE_TYPES:
            raise invalid(f"{block.path}.cache_control: {block.type} blocks cannot be cached")
        if block.empty_text:
            raise invalid(f"{block.path}.cache_control: cannot be set for empty text blocks")
        if last_ttl == "5m" and ttl == "1h":
            raise invalid(
                f"{block.path}.cache_control: a ttl='1h' cache_control block must not come "
                "after a ttl='5m' cache_control block."
            )
        last_ttl = ttl
        points.append(Breakpoint(index, ttl))
    explicit = len(points)
    if auto is not None:
        ttl = _ttl(auto, "cache_control")
        target = _last_cacheable(blocks)
        if target is not None:
            existing = next((bp for bp in points if bp.index == target), None)
            if existing is not None and existing.ttl != ttl:
                raise invalid(
                    "cache_control: automatic caching targets the last block, which already has "
                    f"a cache_control with a different ttl ({existing.ttl!r} vs {ttl!r})."
                )
            if existing is None:
                if explicit >= MAX_CACHE_BREAKPOINTS:
                    raise invalid(
                        "cache_control: automatic caching needs a free breakpoint slot, but "
                        f"{explicit} explicit cache_control blocks already use all "
                        f"{MAX_CACHE_BREAKPOINTS}."
                    )
                points.append(Breakpoint(target, ttl))
    if len(points) > MAX_CACHE_BREAKPOINTS:
        raise invalid(
            f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be provided. "
            f"Found {len(points)}."
        )
    return sorted(points, key=lambda bp: bp.index)


def _ttl(cache_control: Any, where: str) -> str:
    if not isinstance(cache_control, dict) or cache_control.get("type") != "ephemeral":
        raise invalid(f'{where}.type: Input should be "ephemeral"')
    ttl = cache_control.get("ttl", "5m")
    if ttl not in TTL_SECONDS:
        raise invalid(f"{where}.ttl: Input should be '5m' or '1h'")
    return ttl


def _last_cacheable(blocks: list[PromptBlock]) -> int | None:
    for index in range(len(blocks) - 1, -1, -1):
        if blocks[index].type not in UNCACHEABLE_TYPES and not blocks[index].empty_text:
            return index
    return None
