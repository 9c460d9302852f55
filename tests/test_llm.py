"""The model door (devloop/model/model.py) against the offline server, through the real anthropic SDK."""

from __future__ import annotations

from decimal import Decimal

import pytest
from door_harness import FAKE_KEY, SYSTEM, VERDICT_SCHEMA, ask

from devloop import model
from devloop.errors import EXIT_API, EXIT_BUDGET, ApiError, BudgetExceeded, UsageError
from devloop.model import worstcase


def test_plain_text_step_is_recorded_and_priced(harness):
    h = harness({"research": [{"text": "## Research notes\nThe login module lives in auth.py."}]})
    reply = h.door.call("research", "frontier", ask())
    assert reply.text.startswith("## Research notes")
    assert reply.model == "claude-opus-5-5" and reply.stop_reason == "end_turn"
    (row,) = h.rows()
    assert row["outcome"] == "ok" and row["step_key"] == "research" and row["tier"] == "frontier"
    assert row["request_id"] == reply.request_id and reply.request_id
    assert row["input_tokens"] + row["cache_creation_input_tokens"] > 1000
    # Priced exactly: Opus 5.5 at $4 in, $5 5m-write, $0.20 read, $20 out per MTok.
    expected = (
        Decimal(row["input_tokens"]) * 4
        + Decimal(row["cache_write_5m_tokens"]) * 5
        + Decimal(row["cache_read_input_tokens"]) * Decimal("0.20")
        + Decimal(row["output_tokens"]) * 20
    ) / 1_000_000
    assert reply.cost_usd == expected and row["cost_pico"] == int(expected * 10**12)
    assert row["baseline_pico"] == row["cost_pico"]  # frontier step: baseline is itself
    # The request carried the attribution headers, the cached prefix and no temperature.
    (sent,) = h.sim.message_requests("research")
    assert sent.headers["x-devloop-feature"] == "login"
    assert sent.body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "temperature" not in sent.body and "thinking" not in sent.body


def test_mid_tier_baseline_is_the_frontier_price(harness):
    h = harness({"review": [{"text": "No findings."}]})
    reply = h.door.call("review", "mid", ask("Review this diff."))
    (row,) = h.rows()
    assert (
        row["requested_model"] == "claude-sonnet-5-5" and row["baseline_model"] == "claude-opus-5-5"
    )
    assert reply.baseline_usd > reply.cost_usd  # Opus 5.5 costs 2x Sonnet 5.5 on every category


def test_structured_verdict(harness):
    h = harness(
        {"validate-requirements": [{"json": {"verdict": "fail", "findings": ["no logout"]}}]}
    )
    reply = h.door.call("validate-requirements", "frontier", ask(schema=VERDICT_SCHEMA))
    assert reply.data == {"verdict": "fail", "findings": ["no logout"]}
    (sent,) = h.sim.message_requests()
    assert sent.body["output_config"]["format"] == {"type": "json_schema", "schema": VERDICT_SCHEMA}
    assert "tool_choice" not in sent.body


def test_effort_comes_from_config(harness):
    h = harness({"plan": [{"text": "plan"}]})
    h.cfg.effort = {"plan": "high"}
    h.door.call("plan", "frontier", ask())
    assert h.sim.message_requests()[0].body["output_config"] == {"effort": "high"}


def test_tool_use_round_trip(harness):
    tool = {"type": "bash_20250124", "name": "bash"}
    h = harness(
        {
            "implement": [
                {"text": "Let me look.", "tool_use": {"name": "bash", "input": {"command": "ls"}}},
                {"text": "Done: the files are listed."},
            ]
        }
    )
    first = h.door.call("implement", "mid", ask("List files.", tools=[tool]))
    assert first.stop_reason == "tool_use"
    (use,) = first.tool_uses
    assert use["input"] == {"command": "ls"}
    messages = [
        {"role": "user", "content": "List files."},
        first.assistant_message(),
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use["id"], "content": "a.py"}],
        },
    ]
    second = h.door.call(
        "implement", "mid", model.Request(messages=messages, system=SYSTEM, tools=[tool])
    )
    assert second.text == "Done: the files are listed."
    assert [r["outcome"] for r in h.rows()] == ["ok", "ok"]
    # the conversation's moving breakpoint sits on the tool result; at most 4 in all
    body = h.sim.message_requests()[1].body
    assert body["messages"][-1]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert model.count_breakpoints(body) == 2


def test_breakpoints_are_counted_on_blocks_not_text():
    request = ask('Explain "cache_control" and {"cache_control": 1}.')
    request.messages.append({"role": "assistant", "content": "ok"})
    request.messages.append({"role": "user", "content": "again"})
    params = model.build_params(request, "claude-opus-5-5", None)
    assert model.count_breakpoints(params) == 2  # the system prefix and the moving one


def test_529_twice_then_success_is_one_row_with_two_retries(harness):
    h = harness({"research": [{"status": 529, "retry_after": 0.01, "times": 2}, {"text": "notes"}]})
    reply = h.door.call("research", "frontier", ask())
    assert reply.text == "notes" and reply.retries == 2
    assert len(h.sim.message_requests()) == 3
    (row,) = h.rows()
    assert row["outcome"] == "ok" and row["retries"] == 2


def test_retries_exhausted_is_exit_4_and_recorded(harness):
    h = harness({"research": [{"status": 529, "retry_after": 0.01, "times": 3}]})
    with pytest.raises(ApiError) as info:
        h.door.call("research", "frontier", ask())
    assert info.value.exit_code == EXIT_API
    assert "overloaded_error after 3 attempts" in info.value.message
    (row,) = h.rows()
    assert row["outcome"] == "api_error:overloaded_error" and row["retries"] == 2
    assert row["cost_pico"] == 0


def test_midstream_error_event_is_retried(harness):
    h = harness(
        {"research": [{"text": "partial", "stream_error": "overloaded_error"}, {"text": "whole"}]}
    )
    reply = h.door.call("research", "frontier", ask())
    assert reply.text == "whole"
    assert len(h.sim.message_requests()) == 2


def test_empty_billed_reply_is_loud_recorded_and_retried_once(harness):
    h = harness({"research": [{"empty": True}, {"empty": True}]})
    with pytest.raises(model.EmptyReplyError) as info:
        h.door.call("research", "frontier", ask())
    message = info.value.message
    assert "step 'research'" in message and "claude-opus-5-5" in message and "req" in message
    assert "empty answer" in message
    rows = h.rows()
    assert [(r["outcome"], r["attempt"]) for r in rows] == [("empty", 1), ("empty", 2)]
    assert all(r["cost_pico"] > 0 for r in rows)  # billed input, recorded before the error
    assert len(h.warnings) == 1 and "retrying once" in h.warnings[0]


def test_empty_then_good_reply_recovers_on_the_fresh_retry(harness):
    h = harness({"research": [{"empty": True}, {"text": "notes"}]})
    assert h.door.call("research", "frontier", ask()).text == "notes"
    assert [r["outcome"] for r in h.rows()] == ["empty", "ok"]


def test_unparsable_structured_answer(harness):
    bad = {"text": "Sure! Here is the verdict: pass"}
    h = harness({"double-check": [bad, {"json": {"verdict": "maybe", "findings": []}}]})
    with pytest.raises(model.InvalidOutputError) as info:
        h.door.call("double-check", "frontier", ask(schema=VERDICT_SCHEMA))
    assert "'maybe' is not one of" in info.value.message
    assert [r["outcome"] for r in h.rows()] == ["invalid_output", "invalid_output"]


def test_a_tool_call_where_a_structured_answer_was_asked_is_invalid_and_retried(harness):
    tool = {"tool_use": {"name": "bash", "input": {"command": "ls"}}}
    good = {"json": {"verdict": "pass", "findings": []}}
    h = harness({"double-check": [tool, good]})
    reply = h.door.call("double-check", "frontier", ask(schema=VERDICT_SCHEMA))
    assert reply.data == {"verdict": "pass", "findings": []}
    assert [r["outcome"] for r in h.rows()] == ["invalid_output", "ok"]


def test_truncation(harness):
    h = harness({"plan": [{"text": "a long plan", "stop_reason": "max_tokens"}]})
    with pytest.raises(model.TruncatedReplyError) as info:
        h.door.call("plan", "frontier", ask())
    assert "cut off (stop_reason max_tokens" in info.value.message
    assert [r["outcome"] for r in h.rows()] == ["truncated"]
    assert len(h.sim.message_requests()) == 1  # truncation is not retried blindly


def test_refusal_with_category(harness):
    h = harness({"research": [{"refusal": {"category": "cyber", "explanation": "exploit code"}}]})
    with pytest.raises(model.RefusalError) as info:
        h.door.call("research", "frontier", ask())
    assert "refused (category cyber): exploit code" in info.value.message
    assert [r["outcome"] for r in h.rows()] == ["refusal"]


def test_served_model_differs_is_recorded_and_warned(harness):
    h = harness({"review": [{"text": "ok", "model": "claude-sonnet-5"}]})
    reply = h.door.call("review", "mid", ask())
    assert reply.model == "claude-sonnet-5" and reply.requested_model == "claude-sonnet-5-5"
    (row,) = h.rows()
    assert (
        row["served_model"] == "claude-sonnet-5" and row["requested_model"] == "claude-sonnet-5-5"
    )
    assert any("claude-sonnet-5 answered" in w for w in h.warnings)


def test_401_says_which_variable_to_set(harness):
    h = harness({"research": [{"status": 401}]})
    with pytest.raises(ApiError) as info:
        h.door.call("research", "frontier", ask())
    assert "HTTP 401" in info.value.message and "ANTHROPIC_API_KEY" in info.value.message
    assert FAKE_KEY not in info.value.message
    assert len(h.sim.message_requests()) == 1  # not retried
    (step, _params, response, _meta) = h.log.items[-1]  # the failed exchange is transcribed too
    assert step == "research" and response["error"]["status"] == 401


def test_missing_key_is_a_usage_error_before_any_request(harness, monkeypatch):
    h = harness({"research": [{"text": "x"}]})
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    with pytest.raises(UsageError, match="ANTHROPIC_API_KEY"):
        h.door.call("research", "frontier", ask())
    assert h.sim.requests == []


def test_budget_ceiling_blocks_the_call_before_it_is_sent(harness):
    h = harness({"research": [{"text": "x"}]}, feature_usd=0.05)
    # worst case: ~1,300 input tokens at $4/MTok + 16,000 output tokens at $20/MTok = ~$0.33
    with pytest.raises(BudgetExceeded) as info:
        h.door.call("research", "frontier", ask())
    assert info.value.exit_code == EXIT_BUDGET
    message = info.value.message
    assert "feature 'login' has $0.0500 left of $0.05 (spent $0.0000)" in message
    assert "could cost up to $0.3" in message
    assert h.sim.requests == [] and h.rows() == []


def test_step_ceiling_counts_what_the_step_spent(harness):
    h = harness({"review": [{"text": "x"}, {"text": "y"}]})
    small = ask("Review.", max_tokens=1000)
    h.door.call("review", "mid", small)
    spent = h.ledger.spent_usd("login", "review")
    big = ask("Review again.", max_tokens=16_000)
    worst = worstcase.worst_case_usd(
        "claude-sonnet-5-5", model.build_params(big, "claude-sonnet-5-5", None)
    )
    h.cfg.budget.step_usd = worst + spent / 2  # the big call alone fits; not after the first
    with pytest.raises(BudgetExceeded, match="step 'review'"):
        h.door.call("review", "mid", big)
    assert spent > 0 and len(h.sim.message_requests()) == 1


def test_second_call_reads_the_shared_prefix_from_cache(harness):
    h = harness({"research": [{"text": "notes"}], "plan": [{"text": "plan"}]})
    h.door.call("research", "frontier", ask("Research this."))
    h.door.call("plan", "frontier", ask("Plan this."))
    first, second = h.rows()
    assert first["cache_creation_input_tokens"] > 1000 and first["cache_read_input_tokens"] == 0
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] == 0


def test_no_trace_of_the_key_under_dot_devloop(harness, git_repo):
    h = harness({"research": [{"text": "notes"}, {"status": 401}]})
    h.door.call("research", "frontier", ask())
    with pytest.raises(ApiError):
        h.door.call("research", "frontier", ask())
    h.ledger.close()
    files = [p for p in (git_repo / ".devloop").rglob("*") if p.is_file()]
    assert files
    for path in files:
        assert FAKE_KEY.encode() not in path.read_bytes(), path
