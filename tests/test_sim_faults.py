"""Scripted faults reach the real SDK the way the API's do: statuses, retries, broken streams."""

from __future__ import annotations

import time

import anthropic
import httpx2
import pytest

from devloop.sim import SimServer

MODEL = "claude-sonnet-5"
HI = [{"role": "user", "content": "hi"}]


def client(sim: SimServer, **kwargs) -> anthropic.Anthropic:
    kwargs.setdefault("max_retries", 0)
    return anthropic.Anthropic(base_url=sim.base_url, api_key="test-key", **kwargs)


def create(sim: SimServer, **kwargs):
    sdk = client(sim, **{k: kwargs.pop(k) for k in ("max_retries", "timeout") if k in kwargs})
    return sdk.messages.create(
        model=MODEL, max_tokens=kwargs.pop("max_tokens", 100), messages=HI, **kwargs
    )


def stream_final(sim: SimServer, **kwargs):
    sdk = client(sim, **{k: kwargs.pop(k) for k in ("max_retries",) if k in kwargs})
    with sdk.messages.stream(
        model=MODEL, max_tokens=kwargs.pop("max_tokens", 100), messages=HI, **kwargs
    ) as stream:
        return stream.get_final_message()


def test_overloaded_then_success_is_retried_by_the_sdk():
    scenario = {"steps": {"default": [{"status": 529, "retry_after": 0.01}, "recovered"]}}
    with SimServer(scenario) as sim:
        message = create(sim, max_retries=2)
    assert message.content[0].text == "recovered"
    assert [r.status for r in sim.message_requests()] == [529, 200]
    assert [r.headers["x-stainless-retry-count"] for r in sim.requests] == ["0", "1"]


def test_retry_after_is_honoured():
    scenario = {"steps": {"default": [{"status": 429, "retry_after": 0.6}, "ok"]}}
    with SimServer(scenario) as sim:
        began = time.monotonic()
        create(sim, max_retries=1)
        elapsed = time.monotonic() - began
    assert len(sim.requests) == 2
    assert elapsed >= 0.6


def test_rate_limit_error_when_retries_are_exhausted():
    scenario = {"steps": {"default": [{"status": 429, "retry_after": 0.01, "times": 2}]}}
    with SimServer(scenario) as sim:
        with pytest.raises(anthropic.RateLimitError) as caught:
            create(sim, max_retries=1)
    assert caught.value.status_code == 429
    assert caught.value.type == "rate_limit_error"
    assert caught.value.request_id == sim.requests[-1].request_id
    assert caught.value.body["request_id"] == caught.value.request_id
    assert len(sim.requests) == 2


@pytest.mark.parametrize(
    ("status", "error", "error_type"),
    [
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
        (402, anthropic.PaymentRequiredError, "billing_error"),
    ],
)
def test_http_faults_raise_the_sdk_class_for_their_status(status, error, error_type):
    with SimServer({"steps": {"default": [{"status": status}]}}) as sim:
        with pytest.raises(error) as caught:
            create(sim)
    assert caught.value.status_code == status
    assert caught.value.type == error_type


def test_should_retry_false_stops_sdk_retries():
    scenario = {"steps": {"default": [{"status": 429, "should_retry": False, "times": 3}]}}
    with SimServer(scenario) as sim:
        with pytest.raises(anthropic.RateLimitError):
            create(sim, max_retries=2)
    assert len(sim.requests) == 1
    assert sim.unused() == {"default": 2}


def test_mid_stream_error_raises_api_status_error():
    scenario = {
        "steps": {
            "default": [{"text": "Partial answer that breaks", "stream_error": "overloaded_error"}]
        }
    }
    with SimServer(scenario) as sim:
        with pytest.raises(anthropic.APIStatusError) as caught:
            stream_final(sim, max_retries=2)
    assert caught.value.body["error"]["type"] == "overloaded_error"
    assert caught.value.status_code == 200  # the stream had already started
    assert len(sim.requests) == 1  # an error event is not retried


def test_stream_error_on_a_non_streaming_request_is_its_http_error():
    scenario = {
        "steps": {
            "default": [{"text": "x", "stream_error": {"type": "api_error", "message": "boom"}}]
        }
    }
    with SimServer(scenario) as sim:
        with pytest.raises(anthropic.InternalServerError) as caught:
            create(sim)
    assert caught.value.api_message == "boom"


def test_truncated_stream_raises_a_transport_error():
    with SimServer({"steps": {"default": [{"text": "cut off here", "truncate": True}]}}) as sim:
        # SDK 2.10.0 lets the transport error through unwrapped while iterating a stream.
        with pytest.raises((anthropic.APIConnectionError, httpx2.TransportError)):
            stream_final(sim)


def test_truncated_json_body_is_a_connection_error_and_retried():
    scenario = {"steps": {"default": [{"text": "x", "truncate": True}, "second try"]}}
    with SimServer(scenario) as sim:
        message = create(sim, max_retries=1)
        assert message.content[0].text == "second try"
    with SimServer({"steps": {"default": [{"text": "x", "truncate": True}]}}) as sim:
        with pytest.raises(anthropic.APIConnectionError):
            create(sim)


@pytest.mark.parametrize("streaming", [False, True])
def test_empty_reply_is_billed_with_no_content(streaming):
    with SimServer({"steps": {"default": [{"empty": True}]}}) as sim:
        message = stream_final(sim) if streaming else create(sim)
    assert message.content == []
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens > 0
    assert message.usage.output_tokens == 0


@pytest.mark.parametrize("streaming", [False, True])
def test_refusal_has_stop_details(streaming):
    refusal = {"category": "cyber", "explanation": "Simulated."}
    scenario = {"steps": {"default": [{"text": "I can't help with that.", "refusal": refusal}]}}
    with SimServer(scenario) as sim:
        message = stream_final(sim) if streaming else create(sim)
    assert message.stop_reason == "refusal"
    assert message.stop_details.type == "refusal"
    assert message.stop_details.category == "cyber"
    assert message.stop_details.explanation == "Simulated."


def test_refusal_with_only_a_category_and_no_text():
    with SimServer({"steps": {"default": [{"refusal": "bio"}]}}) as sim:
        message = create(sim)
    assert message.content == [] and message.stop_details.category == "bio"


@pytest.mark.parametrize("streaming", [False, True])
def test_reply_longer_than_max_tokens_is_cut(streaming):
    long_text = "word " * 100
    with SimServer({"steps": {"default": [long_text]}}) as sim:
        message = stream_final(sim, max_tokens=5) if streaming else create(sim, max_tokens=5)
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 5
    assert message.content[0].text == long_text[:20]


def test_tool_use_cut_by_max_tokens_has_no_input():
    scenario = {
        "steps": {
            "default": [
                {"text": "ok", "tool_use": {"name": "bash", "input": {"command": "x" * 200}}}
            ]
        }
    }
    with SimServer(scenario) as sim:
        message = stream_final(sim, max_tokens=10)
    assert message.stop_reason == "max_tokens"
    assert message.content[1].type == "tool_use" and message.content[1].input == {}


def test_stop_reason_override():
    with SimServer({"steps": {"default": [{"text": "short", "stop_reason": "max_tokens"}]}}) as sim:
        message = create(sim)
    assert message.stop_reason == "max_tokens"


def test_delay_trips_the_client_timeout():
    with SimServer({"steps": {"default": [{"text": "late", "delay": 5}]}}) as sim:
        began = time.monotonic()
        with pytest.raises(anthropic.APITimeoutError):
            create(sim, timeout=0.3)
    assert time.monotonic() - began < 3  # close() woke the sleeping reply too


def test_delay_then_reply():
    with SimServer({"steps": {"default": [{"text": "late", "delay": 0.2}]}}) as sim:
        began = time.monotonic()
        message = create(sim)
    assert message.content[0].text == "late"
    assert time.monotonic() - began >= 0.2
