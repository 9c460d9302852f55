"""Usage is computed from the request: token estimates and per-model prompt caching."""

from __future__ import annotations

import anthropic
import pytest

from devloop.promptcache import (
    MESSAGE_OVERHEAD,
    TOOL_OVERHEAD,
    canonical,
    count_input_tokens,
    estimate,
)
from devloop.sim import SimServer

MODEL = "claude-sonnet-5"  # minimum cacheable prefix 1024
HI = [{"role": "user", "content": "hi"}]
HI_TOKENS = MESSAGE_OVERHEAD + estimate("hi")


def system(tokens: int, ttl: str | None = "5m", char: str = "x") -> list[dict]:
    block: dict = {"type": "text", "text": char * (tokens * 4)}
    if ttl:
        block["cache_control"] = {"type": "ephemeral", "ttl": ttl}
    return [block]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sim_for(n: int = 10, clock=None) -> SimServer:
    kwargs = {"clock": clock} if clock else {}
    return SimServer({"steps": {"*": ["ok"] * n}}, **kwargs)


def ask(sim: SimServer, model: str = MODEL, **kwargs):
    sdk = anthropic.Anthropic(base_url=sim.base_url, api_key="test-key", max_retries=0)
    kwargs.setdefault("messages", HI)
    return sdk.messages.create(model=model, max_tokens=100, **kwargs).usage


def split(usage) -> tuple[int, int, int]:
    return usage.input_tokens, usage.cache_creation_input_tokens, usage.cache_read_input_tokens


def test_token_estimate_rule():
    assert estimate("") == 0
    assert estimate("abcd") == 1
    assert estimate("abcde") == 2
    assert estimate("é") == 1  # utf-8 bytes, not characters
    tool = {"name": "bash", "type": "bash_20250124", "cache_control": {"type": "ephemeral"}}
    body = {"tools": [tool], "system": "sys!", "messages": HI}
    assert count_input_tokens(body) == TOOL_OVERHEAD + estimate(canonical(tool)) + 1 + HI_TOKENS
    assert "cache_control" not in canonical(tool)


def test_input_and_output_tokens_follow_the_rule():
    with SimServer({"steps": {"default": ["abcdefgh"]}}) as sim:
        usage = ask(sim, system="You are terse.")
    assert usage.input_tokens == estimate("You are terse.") + HI_TOKENS
    assert usage.output_tokens == 2


def test_identical_prefix_reads_the_cache_on_the_same_model_only():
    with sim_for() as sim:
        first = ask(sim, system=system(2000))
        second = ask(sim, system=system(2000))
        other_model = ask(sim, "claude-sonnet-5-5", system=system(2000))
    assert split(first) == (HI_TOKENS, 2000, 0)
    assert first.cache_creation.ephemeral_5m_input_tokens == 2000
    assert first.cache_creation.ephemeral_1h_input_tokens == 0
    assert split(second) == (HI_TOKENS, 0, 2000)
    assert second.cache_creation.ephemeral_5m_input_tokens == 0
    assert split(other_model) == (HI_TOKENS, 2000, 0)


def test_changed_prefix_misses():
    with sim_for() as sim:
        ask(sim, system=system(2000))
        changed = ask(sim, system=system(2000, char="y"))
    assert split(changed) == (HI_TOKENS, 2000, 0)


@pytest.mark.parametrize(
    ("model", "tokens", "cached"),
    [
        (MODEL, 1000, False),
        (MODEL, 1024, True),
        ("claude-opus-5", 600, True),  # minimum 512
        ("claude-opus-4-6", 2000, False),  # minimum 4096
        ("claude-opus-4-6", 4096, True),
    ],
)
def test_prefix_below_the_model_minimum_is_silently_uncached(model, tokens, cached):
    with sim_for() as sim:
        ask(sim, model, system=system(tokens))
        usage = ask(sim, model, system=system(tokens))
    if cached:
        assert split(usage) == (HI_TOKENS, 0, tokens)
    else:
        assert split(usage) == (tokens + HI_TOKENS, 0, 0)


def test_entries_expire_after_their_ttl_and_hits_refresh_them():
    clock = Clock()
    with sim_for(clock=clock) as sim:
        ask(sim, system=system(2000))
        clock.now += 200
        assert ask(sim, system=system(2000)).cache_read_input_tokens == 2000
        clock.now += 250  # 450 s after the write, 250 s after the refreshing hit
        assert ask(sim, system=system(2000)).cache_read_input_tokens == 2000
        clock.now += 301
        expired = ask(sim, system=system(2000))
    assert split(expired) == (HI_TOKENS, 2000, 0)


def test_one_hour_ttl_and_the_write_split():
    clock = Clock()
    blocks = [system(2000, "1h")[0], system(1000, "5m", char="z")[0]]
    with sim_for(clock=clock) as sim:
        first = ask(sim, system=blocks)
        clock.now += 1800  # the 5m entry is gone, the 1h one is not
        later = ask(sim, system=blocks)
    assert first.cache_creation.ephemeral_1h_input_tokens == 2000
    assert first.cache_creation.ephemeral_5m_input_tokens == 1000
    assert first.cache_creation_input_tokens == 3000
    assert split(later) == (HI_TOKENS, 1000, 2000)
    assert later.cache_creation.ephemeral_5m_input_tokens == 1000


def test_automatic_caching_moves_forward_with_the_conversation():
    auto = {"type": "ephemeral"}
    turn1 = [{"role": "user", "content": "q1"}]
    turn2 = [*turn1, {"role": "assistant", "content": "a1"}, {"role": "user", "content": "q2"}]
    with sim_for() as sim:
        first = ask(sim, system=system(2000, None), messages=turn1, cache_control=auto)
        second = ask(sim, system=system(2000, None), messages=turn2, cache_control=auto)
    prefix = 2000 + MESSAGE_OVERHEAD + estimate("q1")
    assert split(first) == (0, prefix, 0)
    assert split(second) == (0, 2 * (MESSAGE_OVERHEAD + 1), prefix)


def test_effort_change_invalidates_messages_but_not_system():
    messages = [
        {
            "role": "user",
            "content": [{"type": "text", "text": "q", "cache_control": {"type": "ephemeral"}}],
        }
    ]
    full = 2000 + MESSAGE_OVERHEAD + 1
    with sim_for() as sim:
        ask(sim, system=system(2000), messages=messages)
        low = ask(sim, system=system(2000), messages=messages, output_config={"effort": "low"})
        default = ask(sim, system=system(2000), messages=messages, output_config={"effort": "high"})
    assert split(low) == (0, MESSAGE_OVERHEAD + 1, 2000)
    assert split(default) == (0, 0, full)  # explicit default effort is a no-op


def test_tools_change_invalidates_everything():
    tools = [{"type": "bash_20250124", "name": "bash"}]
    with sim_for() as sim:
        ask(sim, system=system(2000))
        with_tools = ask(sim, system=system(2000), tools=tools)
    assert with_tools.cache_read_input_tokens == 0
    assert with_tools.cache_creation_input_tokens == 2000 + TOOL_OVERHEAD + estimate(
        canonical(tools[0])
    )


def test_count_tokens_matches_billing_and_never_caches():
    with sim_for() as sim:
        sdk = anthropic.Anthropic(base_url=sim.base_url, api_key="test-key", max_retries=0)
        counted = sdk.messages.count_tokens(model=MODEL, system=system(2000), messages=HI)
        usage = ask(sim, system=system(2000))
        assert sim.unused() == {"*": 9}  # count_tokens took no reply
    assert counted.input_tokens == 2000 + HI_TOKENS
    assert split(usage) == (HI_TOKENS, 2000, 0)  # a write: count_tokens did not cache
