"""Requests the API would refuse get the API's status, error type and message from the sim."""

from __future__ import annotations

import anthropic
import pytest

from devloop.sim import SimServer

HI = [{"role": "user", "content": "hi"}]
BASH = [{"type": "bash_20250124", "name": "bash"}]
TOOL_TURN = {
    "role": "assistant",
    "content": [
        {"type": "tool_use", "id": "toolu_a", "name": "bash", "input": {"command": "ls"}},
        {"type": "tool_use", "id": "toolu_b", "name": "bash", "input": {"command": "pwd"}},
    ],
}


def result(tool_id: str) -> dict:
    return {"type": "tool_result", "tool_use_id": tool_id, "content": "ok"}


def cached(text: str) -> dict:
    return {"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}


def body(**overrides) -> dict:
    return {"model": "claude-sonnet-5", "max_tokens": 100, "messages": HI, **overrides}


def post(sim: SimServer, payload: dict):
    """A raw POST through the SDK, for bodies its typed methods refuse to build."""
    sdk = anthropic.Anthropic(base_url=sim.base_url, api_key="test-key", max_retries=0)
    return sdk.post("/v1/messages", body=payload, cast_to=anthropic.types.Message)


NOT_FORCED = "tool_choice.type"
OPUS55_THINKING = (
    '"thinking.type.disabled" is not supported for this model. Use "thinking.type.adaptive" '
    'and "output_config.effort" to control thinking behavior.'
)

# The SDK class and error type follow from the status.
ERRORS = {
    400: (anthropic.BadRequestError, "invalid_request_error"),
    404: (anthropic.NotFoundError, "not_found_error"),
}
NO_ID_B = [*HI, TOOL_TURN, {"role": "user", "content": [result("toolu_a")]}]
EXTRA_ID = [
    *HI,
    TOOL_TURN,
    {"role": "user", "content": [result(i) for i in ("toolu_a", "toolu_b", "toolu_x")]},
]
TEXT_FIRST = [{"type": "text", "text": "here"}, result("toolu_a"), result("toolu_b")]
FIVE = [cached(f"part {i}") for i in range(5)]
FOUR = [cached(f"part {i}") for i in range(4)]
ONE_HOUR = {"type": "text", "text": "b", "cache_control": {"type": "ephemeral", "ttl": "1h"}}
BLOCK_Q = [{"role": "user", "content": [{"type": "text", "text": "q"}]}]
EMPTY_TEXT = [{"role": "user", "content": [{"type": "text", "text": ""}]}]
AUTO = {"type": "ephemeral"}
OPUS55 = "claude-opus-5-5"
SONNET55 = "claude-sonnet-5-5"

CASES = [
    ("unknown model", body(model="claude-nope-9"), 404, "claude-nope-9"),
    (
        "missing max_tokens",
        {"model": "claude-sonnet-5", "messages": HI},
        400,
        "max_tokens: Field required",
    ),
    ("max_tokens too large", body(max_tokens=200_000), 400, "maximum allowed"),
    (
        "first message not user",
        body(messages=[{"role": "assistant", "content": "x"}]),
        400,
        '"user" role',
    ),
    ("roles not alternating", body(messages=[*HI, *HI]), 400, "roles must alternate"),
    ("tool_use left unanswered", body(messages=[*HI, TOOL_TURN, *HI]), 400, "toolu_a, toolu_b"),
    ("tool_result missing one id", body(messages=NO_ID_B), 400, "immediately after: toolu_b"),
    ("tool_result for an unknown id", body(messages=EXTRA_ID), 400, "unexpected `tool_use_id`"),
    (
        "tool_result not first",
        body(messages=[*HI, TOOL_TURN, {"role": "user", "content": TEXT_FIRST}]),
        400,
        "must come first",
    ),
    (
        "tool_result, no tool_use",
        body(messages=[{"role": "user", "content": [result("toolu_a")]}]),
        400,
        "unexpected `tool_use_id`",
    ),
    ("tool_use as the last turn", body(messages=[*HI, TOOL_TURN]), 400, "without `tool_result`"),
    ("five cache breakpoints", body(system=FIVE), 400, "A maximum of 4 blocks with cache_control"),
    (
        "automatic with four explicit",
        body(system=FOUR, messages=BLOCK_Q, cache_control=AUTO),
        400,
        "free breakpoint slot",
    ),
    ("1h after 5m", body(system=[cached("a"), ONE_HOUR]), 400, "ttl='1h'"),
    ("temperature", body(temperature=0.2), 400, "temperature"),
    ("top_p", body(top_p=0.9), 400, "top_p"),
    ("top_k", body(top_k=5), 400, "top_k"),
    ("unknown field", body(max_output=5), 400, "max_output: Extra inputs are not permitted"),
    (
        "any on Opus 5.5",
        body(model=OPUS55, tools=BASH, tool_choice={"type": "any"}),
        400,
        NOT_FORCED,
    ),
    (
        "tool on Sonnet 5.5",
        body(model=SONNET55, tools=BASH, tool_choice={"type": "tool", "name": "bash"}),
        400,
        NOT_FORCED,
    ),
    (
        "any on Fable 5.1",
        body(model="claude-fable-5-1", tools=BASH, tool_choice={"type": "any"}),
        400,
        NOT_FORCED,
    ),
    (
        "disabled on Opus 5.5",
        body(model=OPUS55, thinking={"type": "disabled"}),
        400,
        OPUS55_THINKING,
    ),
    (
        "enabled on Opus 5.5",
        body(model=OPUS55, max_tokens=5000, thinking={"type": "enabled", "budget_tokens": 2000}),
        400,
        '"thinking.type.enabled" is not supported for this model',
    ),
    (
        "disabled on Sonnet 5.5",
        body(model=SONNET55, thinking={"type": "disabled"}),
        400,
        '"thinking.type.disabled" is not supported',
    ),
    (
        "between_tools at xhigh",
        body(model=SONNET55, thinking={"type": "between_tools"}, output_config={"effort": "xhigh"}),
        400,
        "xhigh",
    ),
    (
        "disabled at max on Opus 5",
        body(model="claude-opus-5", thinking={"type": "disabled"}, output_config={"effort": "max"}),
        400,
        "at most",
    ),
    (
        "xhigh on Opus 4.6",
        body(model="claude-opus-4-6", output_config={"effort": "xhigh"}),
        400,
        '"xhigh" is not supported',
    ),
    ("empty text block", body(messages=EMPTY_TEXT), 400, "must be non-empty"),
]


@pytest.mark.parametrize(
    ("payload", "status", "text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_invalid_requests_get_the_api_error(payload, status, text):
    error, error_type = ERRORS[status]
    with SimServer({"steps": {"default": ["never sent"]}}) as sim:
        with pytest.raises(error) as caught:
            post(sim, payload)
        assert sim.unused() == {"default": 1}  # a refused request consumes no reply
    exc = caught.value
    assert exc.status_code == status
    assert exc.type == error_type
    assert text in exc.api_message
    assert exc.request_id and exc.body["request_id"] == exc.request_id


ACCEPTED = [
    (
        "tool_result answers both, text after",
        body(
            messages=[
                *HI,
                TOOL_TURN,
                {
                    "role": "user",
                    "content": [
                        result("toolu_b"),
                        result("toolu_a"),
                        {"type": "text", "text": "go on"},
                    ],
                },
            ]
        ),
    ),
    (
        "between_tools on Sonnet 5.5",
        body(
            model="claude-sonnet-5-5",
            thinking={"type": "between_tools"},
            output_config={"effort": "high"},
        ),
    ),
    ("adaptive on Opus 5.5", body(model="claude-opus-5-5", thinking={"type": "adaptive"})),
    (
        "auto tool_choice on Opus 5.5",
        body(model="claude-opus-5-5", tools=BASH, tool_choice={"type": "auto"}),
    ),
    ("forced any on Sonnet 5", body(tools=BASH, tool_choice={"type": "any"})),
    ("disabled on Opus 4.6", body(model="claude-opus-4-6", thinking={"type": "disabled"})),
    (
        "enabled on Sonnet 4.6",
        body(
            model="claude-sonnet-4-6",
            max_tokens=5000,
            thinking={"type": "enabled", "budget_tokens": 2000},
        ),
    ),
    ("prefill", body(messages=[*HI, {"role": "assistant", "content": "The answer is"}])),
    ("four breakpoints", body(system=[cached(f"part {i}") for i in range(4)])),
    ("deprecated model", body(model="claude-sonnet-4-5")),
]


@pytest.mark.parametrize(
    "payload", [case[1] for case in ACCEPTED], ids=[case[0] for case in ACCEPTED]
)
def test_valid_requests_are_accepted(payload):
    with SimServer({"steps": {"default": ["fine"]}}) as sim:
        message = post(sim, payload)
    assert message.content[0].text == "fine"
