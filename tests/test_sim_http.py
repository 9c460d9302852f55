"""The wire itself, with plain http.client: auth, headers, error bodies and the SSE framing."""

from __future__ import annotations

import http.client
import json

import pytest

from devloop.sim import SimServer

VERSION = {"anthropic-version": "2026-10-21"}
BODY = {
    "model": "claude-sonnet-5",
    "max_tokens": 100,
    "messages": [{"role": "user", "content": "hi"}],
}


def request(sim: SimServer, method: str, path: str, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", sim.port, timeout=5)
    data = (
        body
        if isinstance(body, bytes)
        else (json.dumps(body).encode() if body is not None else None)
    )
    conn.request(
        method, path, body=data, headers={"content-type": "application/json", **(headers or {})}
    )
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response, payload


def test_missing_key_is_a_401_authentication_error():
    with SimServer({"steps": {"default": ["x"]}}) as sim:
        response, payload = request(sim, "POST", "/v1/messages", BODY, VERSION)
        (recorded,) = sim.requests
    error = json.loads(payload)
    assert response.status == 401
    assert error["type"] == "error"
    assert error["error"]["type"] == "authentication_error"
    assert error["request_id"] == response.getheader("request-id") == recorded.request_id
    assert recorded.status == 401
    assert sim.unused() == {"default": 1}


@pytest.mark.parametrize("auth", [{"x-api-key": "k"}, {"authorization": "Bearer k"}])
def test_either_auth_header_is_accepted(auth):
    with SimServer({"steps": {"default": ["x"]}}) as sim:
        response, payload = request(sim, "POST", "/v1/messages", BODY, {**VERSION, **auth})
    assert response.status == 200
    assert response.getheader("content-type") == "application/json"
    assert json.loads(payload)["content"][0]["text"] == "x"


def test_anthropic_version_header_is_required():
    with SimServer() as sim:
        response, payload = request(sim, "GET", "/v1/models", headers={"x-api-key": "k"})
    assert response.status == 400
    assert "anthropic-version" in json.loads(payload)["error"]["message"]


def test_unknown_path_and_bad_json():
    with SimServer() as sim:
        missing, _ = request(sim, "GET", "/v1/nothing", headers={"x-api-key": "k", **VERSION})
        bad, payload = request(
            sim, "POST", "/v1/messages", b"{not json", {"x-api-key": "k", **VERSION}
        )
    assert missing.status == 404
    assert bad.status == 400 and json.loads(payload)["error"]["type"] == "invalid_request_error"


def test_retry_after_header_on_a_fault():
    with SimServer({"steps": {"default": [{"status": 529, "retry_after": 2}]}}) as sim:
        response, payload = request(
            sim, "POST", "/v1/messages", BODY, {"x-api-key": "k", **VERSION}
        )
    assert response.status == 529
    assert response.getheader("retry-after") == "2"
    assert json.loads(payload)["error"] == {"type": "overloaded_error", "message": "Overloaded"}


def parse_sse(raw: bytes) -> list[tuple[str, dict]]:
    events = []
    for chunk in raw.decode().split("\n\n"):
        if not chunk.strip():
            continue
        lines = chunk.split("\n")
        assert lines[0].startswith("event: "), f"event without an event: line: {chunk!r}"
        assert lines[1].startswith("data: ")
        events.append((lines[0][7:], json.loads(lines[1][6:])))
    return events


def test_sse_framing_follows_the_wire_format():
    scenario = {
        "steps": {
            "default": [
                {
                    "thinking": "hmm",
                    "text": "Hello, streaming world!",
                    "tool_use": {"name": "bash", "input": {"command": "ls"}},
                }
            ]
        }
    }
    with SimServer(scenario) as sim:
        response, raw = request(
            sim, "POST", "/v1/messages", {**BODY, "stream": True}, {"x-api-key": "k", **VERSION}
        )
    assert response.getheader("content-type") == "text/event-stream"
    assert response.getheader("request-id")
    events = parse_sse(raw)
    names = [name for name, _ in events]
    assert all(data["type"] == name for name, data in events)
    assert names[0] == "message_start" and "ping" in names
    assert names[-2:] == ["message_delta", "message_stop"]
    start = events[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    starts = [data for name, data in events if name == "content_block_start"]
    assert [s["index"] for s in starts] == [0, 1, 2]
    assert [s["content_block"]["type"] for s in starts] == ["thinking", "text", "tool_use"]
    assert starts[2]["content_block"]["input"] == {}
    deltas = [data for name, data in events if name == "content_block_delta"]
    partial = "".join(d["delta"]["partial_json"] for d in deltas if d["index"] == 2)
    assert json.loads(partial) == {"command": "ls"}
    thinking_deltas = [d["delta"]["type"] for d in deltas if d["index"] == 0]
    assert thinking_deltas[-1] == "signature_delta"
    final = events[-2][1]
    assert final["delta"]["stop_reason"] == "tool_use"
    assert final["usage"]["output_tokens"] > 1
    assert final["usage"]["input_tokens"] == start["usage"]["input_tokens"]


def test_mid_stream_error_event():
    scenario = {
        "steps": {
            "default": [{"text": "abcdefghijklmnopqrstuvwxyz", "stream_error": "overloaded_error"}]
        }
    }
    with SimServer(scenario) as sim:
        response, raw = request(
            sim, "POST", "/v1/messages", {**BODY, "stream": True}, {"x-api-key": "k", **VERSION}
        )
    events = parse_sse(raw)
    assert response.status == 200
    assert [n for n, _ in events] == [
        "message_start",
        "ping",
        "content_block_start",
        "content_block_delta",
        "error",
    ]
    assert events[-1][1]["error"]["type"] == "overloaded_error"


def test_a_ready_signal_with_nothing_to_accept_cannot_hang_the_server():
    """serve_forever accepts when select() says the socket is ready; if the connection is
    gone by then, a blocking accept() would wait for the next client and close() (shutdown)
    would wait forever: a test's teardown hung that way. The same call, with nothing
    queued, must return at once."""
    import threading

    from devloop.sim import SimServer

    server = SimServer().start()
    try:
        handle = server._httpd._handle_request_noblock  # what serve_forever calls on "ready"
        worker = threading.Thread(target=handle, daemon=True)
        worker.start()
        worker.join(2)
        assert not worker.is_alive()
    finally:
        server.close()
