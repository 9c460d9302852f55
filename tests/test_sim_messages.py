"""The sim answers the real anthropic SDK over loopback: streaming, JSON, tools, structured output."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import anthropic
import pytest
from pydantic import BaseModel

from devloop.promptcache import MESSAGE_OVERHEAD, estimate
from devloop.sim import SimServer

MODEL = "claude-sonnet-5"
HI = [{"role": "user", "content": "hi"}]


def client(sim: SimServer, **kwargs) -> anthropic.Anthropic:
    kwargs.setdefault("max_retries", 0)
    return anthropic.Anthropic(base_url=sim.base_url, api_key="test-key", **kwargs)


def step(name: str) -> dict:
    return {"X-Devloop-Step": name}


def test_stream_accumulates_text_and_usage():
    text = "Hello there, this reply arrives in several text deltas."
    with SimServer({"steps": {"default": [text]}}) as sim:
        with client(sim).messages.stream(model=MODEL, max_tokens=200, messages=HI) as stream:
            pieces = list(stream.text_stream)
            message = stream.get_final_message()
            request_id = stream.request_id
    assert len(pieces) > 1 and "".join(pieces) == text
    assert message.content[0].text == text
    assert message.stop_reason == "end_turn"
    assert message.model == MODEL
    assert message.usage.input_tokens == MESSAGE_OVERHEAD + estimate("hi")
    assert message.usage.output_tokens == estimate(text)
    assert request_id == sim.requests[0].request_id


def test_non_streaming_create_has_the_full_message_shape():
    with SimServer({"steps": {"default": ["Hi."]}}) as sim:
        message = client(sim).messages.create(model=MODEL, max_tokens=100, messages=HI)
    assert message.id.startswith("msg_")
    assert message.type == "message" and message.role == "assistant"
    assert [b.type for b in message.content] == ["text"]
    assert message.stop_reason == "end_turn" and message.stop_details is None
    usage = message.usage
    assert usage.service_tier == "standard"
    assert usage.speed == "standard"
    assert usage.inference_geo == "global"
    assert usage.cache_creation.ephemeral_5m_input_tokens == 0
    assert usage.cache_read_input_tokens == 0
    assert message._request_id == sim.requests[0].request_id
    assert sim.requests[0].body["max_tokens"] == 100


def test_blocks_stream_in_order_with_thinking_text_and_tool_use():
    scenario = {
        "steps": {
            "implement": [
                {
                    "thinking": "Look before editing.",
                    "text": "I'll look.",
                    "tool_use": [
                        {"name": "bash", "input": {"command": "ls -la"}},
                        {"name": "bash", "input": {"command": "cat README.md", "n": [1, 2]}},
                    ],
                }
            ]
        }
    }
    with SimServer(scenario) as sim:
        sdk = client(sim)
        with sdk.messages.stream(
            model=MODEL, max_tokens=500, messages=HI, extra_headers=step("implement")
        ) as stream:
            message = stream.get_final_message()
    assert [b.type for b in message.content] == ["thinking", "text", "tool_use", "tool_use"]
    assert message.content[0].thinking == "Look before editing."
    assert message.content[0].signature
    assert message.content[2].input == {"command": "ls -la"}
    assert message.content[3].input == {"command": "cat README.md", "n": [1, 2]}
    assert message.content[2].id != message.content[3].id
    assert message.stop_reason == "tool_use"
    assert message.usage.output_tokens_details.thinking_tokens == estimate("Look before editing.")


def test_tool_use_round_trip():
    scenario = {
        "steps": {
            "implement": [
                {"tool_use": {"name": "bash", "input": {"command": "pytest -q"}}},
                {"text": "All tests pass."},
            ]
        }
    }
    tools = [{"type": "bash_20250124", "name": "bash"}]
    with SimServer(scenario) as sim:
        sdk = client(sim)
        history: list = [{"role": "user", "content": "Run the tests."}]
        first = sdk.messages.create(
            model=MODEL,
            max_tokens=300,
            messages=history,
            tools=tools,
            extra_headers=step("implement"),
        )
        assert first.stop_reason == "tool_use"
        call = first.content[0]
        history += [
            first.to_param(),
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "3 passed"}],
            },
        ]
        with sdk.messages.stream(
            model=MODEL,
            max_tokens=300,
            messages=history,
            tools=tools,
            extra_headers=step("implement"),
        ) as stream:
            second = stream.get_final_message()
    assert second.content[0].text == "All tests pass."
    assert second.stop_reason == "end_turn"
    sent = sim.message_requests("implement")[1].body["messages"]
    assert sent[1]["content"][0]["id"] == call.id
    assert sent[2]["content"][0]["tool_use_id"] == call.id
    assert sim.unused() == {}


class Verdict(BaseModel):
    verdict: str
    issues: list[str]


def test_structured_output_text_is_the_scenario_json():
    verdict = {"verdict": "fail", "issues": ["no tests for login()"]}
    schema = {
        "type": "object",
        "properties": {
            "verdict": {"type": "string"},
            "issues": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["verdict", "issues"],
        "additionalProperties": False,
    }
    with SimServer({"steps": {"validate": [{"json": verdict}, {"json": verdict}]}}) as sim:
        sdk = client(sim)
        message = sdk.messages.create(
            model=MODEL,
            max_tokens=300,
            messages=HI,
            output_config={"format": {"type": "json_schema", "schema": schema}},
            extra_headers=step("validate"),
        )
        parsed = sdk.messages.parse(
            model=MODEL,
            max_tokens=300,
            messages=HI,
            output_format=Verdict,
            extra_headers=step("validate"),
        )
    assert json.loads(message.content[0].text) == verdict
    assert parsed.parsed_output == Verdict(**verdict)
    assert sim.requests[1].body["output_config"]["format"]["type"] == "json_schema"


def test_served_model_can_differ_from_the_requested_one():
    with SimServer({"steps": {"default": [{"text": "ok", "model": "claude-sonnet-4-6"}]}}) as sim:
        message = client(sim).messages.create(model=MODEL, max_tokens=50, messages=HI)
    assert message.model == "claude-sonnet-4-6"
    assert sim.requests[0].body["model"] == MODEL


def test_steps_are_routed_by_header_and_consumed_in_order():
    scenario = {"steps": {"plan": ["plan 1", "plan 2"], "review": ["review 1"], "default": ["d"]}}
    with SimServer(scenario) as sim:
        sdk = client(sim)

        def ask(name: str | None) -> str:
            headers = step(name) if name else {}
            message = sdk.messages.create(
                model=MODEL, max_tokens=50, messages=HI, extra_headers=headers
            )
            return message.content[0].text

        assert [ask("plan"), ask("review"), ask("plan"), ask(None)] == [
            "plan 1",
            "review 1",
            "plan 2",
            "d",
        ]
    assert [r.step for r in sim.requests] == ["plan", "review", "plan", None]


def test_wildcard_step_catches_steps_the_scenario_does_not_name():
    with SimServer({"steps": {"plan": ["p"], "*": ["any 1", "any 2"]}}) as sim:
        sdk = client(sim)
        texts = [
            sdk.messages.create(model=MODEL, max_tokens=50, messages=HI, extra_headers=step(s))
            .content[0]
            .text
            for s in ("plan", "review", "audit")
        ]
    assert texts == ["p", "any 1", "any 2"]


def test_scenario_gaps_are_loud_400s_naming_the_step():
    with SimServer({"steps": {"plan": ["only one"]}}) as sim:
        sdk = client(sim)
        sdk.messages.create(model=MODEL, max_tokens=50, messages=HI, extra_headers=step("plan"))
        with pytest.raises(anthropic.BadRequestError) as used_up:
            sdk.messages.create(model=MODEL, max_tokens=50, messages=HI, extra_headers=step("plan"))
        with pytest.raises(anthropic.BadRequestError) as unknown:
            sdk.messages.create(
                model=MODEL, max_tokens=50, messages=HI, extra_headers=step("audit")
            )
        with pytest.raises(anthropic.BadRequestError) as no_header:
            sdk.messages.create(model=MODEL, max_tokens=50, messages=HI)
    assert used_up.value.type == "invalid_request_error"
    assert "'plan' is used up" in used_up.value.api_message
    assert "'audit'" in unknown.value.api_message and "plan" in unknown.value.api_message
    assert "'default'" in no_header.value.api_message


def test_omitted_thinking_is_billed_but_empty():
    scenario = {"steps": {"default": [{"thinking": "secret reasoning here", "text": "ok"}]}}
    with SimServer(scenario) as sim:
        with client(sim).messages.stream(
            model="claude-opus-5-5",
            max_tokens=200,
            messages=HI,
            thinking={"type": "adaptive", "display": "omitted"},
        ) as stream:
            message = stream.get_final_message()
    assert message.content[0].type == "thinking"
    assert message.content[0].thinking == "" and message.content[0].signature
    assert message.usage.output_tokens_details.thinking_tokens == estimate("secret reasoning here")


def test_max_tokens_zero_prewarms_without_using_a_reply():
    system = [{"type": "text", "text": "x" * 8000, "cache_control": {"type": "ephemeral"}}]
    with SimServer({"steps": {"default": ["answer"]}}) as sim:
        sdk = client(sim)
        warm = sdk.messages.create(model=MODEL, max_tokens=0, system=system, messages=HI)
        real = sdk.messages.create(model=MODEL, max_tokens=50, system=system, messages=HI)
    assert warm.content == [] and warm.stop_reason == "max_tokens"
    assert warm.usage.output_tokens == 0
    assert warm.usage.cache_creation_input_tokens == 2000
    assert real.content[0].text == "answer"
    assert real.usage.cache_read_input_tokens == 2000


def test_requests_are_recorded_with_headers_and_body():
    with SimServer({"steps": {"plan": ["p"]}}) as sim:
        assert sim.requests == []
        client(sim).messages.create(
            model=MODEL, max_tokens=50, messages=HI, extra_headers=step("plan")
        )
    (request,) = sim.requests
    assert (request.method, request.path, request.status) == ("POST", "/v1/messages", 200)
    assert request.headers["authorization"] == "Bearer test-key"
    assert request.headers["anthropic-version"]
    assert request.body["messages"] == HI
    assert request.step == "plan"


def test_concurrent_steps_are_served_in_parallel():
    scenario = {"steps": {"validate-requirements": [{"text": "a", "delay": 0.4}]}}
    scenario["steps"]["validate-integration"] = [{"text": "b", "delay": 0.4}]
    with SimServer(scenario) as sim:
        sdk = client(sim)

        def ask(name: str) -> str:
            message = sdk.messages.create(
                model=MODEL, max_tokens=50, messages=HI, extra_headers=step(name)
            )
            return message.content[0].text

        began = time.monotonic()
        with ThreadPoolExecutor(max_workers=2) as pool:
            texts = list(pool.map(ask, ["validate-requirements", "validate-integration"]))
        elapsed = time.monotonic() - began
    assert texts == ["a", "b"]
    assert elapsed < 0.75  # both delays ran at the same time
