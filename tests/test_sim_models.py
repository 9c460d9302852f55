"""The capabilities table, and the Models and count_tokens endpoints the sim serves from it."""

from __future__ import annotations

import dataclasses

import anthropic
import pytest

from devloop.capabilities import MODELS, capability
from devloop.promptcache import MESSAGE_OVERHEAD, estimate
from devloop.sim import SimServer

NEWEST_FIRST = [
    "claude-fable-5-2",
    "claude-haiku-5-5",
    "claude-sonnet-5-5",
    "claude-opus-5-5",
    "claude-fable-5-1",
    "claude-opus-5",
    "claude-sonnet-5",
    "claude-sonnet-4-6",
    "claude-opus-4-6",
    "claude-sonnet-4-5",
]


@pytest.fixture
def sdk():
    with SimServer() as sim:
        yield anthropic.Anthropic(base_url=sim.base_url, api_key="test-key", max_retries=0)


def test_capability_table_facts():
    assert set(MODELS) == set(NEWEST_FIRST)
    assert capability("claude-nope") is None
    opus55 = capability("claude-opus-5-5")
    assert opus55.default_effort == "medium"
    assert "disabled" not in opus55.thinking_types and "enabled" not in opus55.thinking_types
    sonnet55 = capability("claude-sonnet-5-5")
    assert "between_tools" in sonnet55.thinking_types and "disabled" not in sonnet55.thinking_types
    forced = {m.id for m in MODELS.values() if m.rejects_forced_tool_choice}
    assert forced == {"claude-fable-5-1", "claude-opus-5-5", "claude-sonnet-5-5"}
    assert capability("claude-opus-4-6").min_cache_tokens == 4096
    assert capability("claude-opus-5").min_cache_tokens == 512
    assert not capability("claude-opus-4-6").accepts_effort("xhigh")
    old = capability("claude-sonnet-4-5")
    assert (old.lifecycle, old.max_input_tokens, old.retires_at) == (
        "deprecated",
        200_000,
        "2026-11-30",
    )
    with pytest.raises(dataclasses.FrozenInstanceError):
        opus55.lifecycle = "retired"


def test_models_list_is_newest_first_and_pages(sdk):
    first = sdk.models.list(limit=3)
    assert [m.id for m in first.data] == NEWEST_FIRST[:3]
    assert first.has_more is True
    assert first.first_id == NEWEST_FIRST[0] and first.last_id == NEWEST_FIRST[2]
    assert [m.id for m in sdk.models.list(limit=3)] == NEWEST_FIRST  # auto-paging via after_id
    assert [m.id for m in sdk.models.list(before_id="claude-opus-5", limit=2).data] == NEWEST_FIRST[
        3:5
    ]
    assert sdk.models.list().has_more is False


def test_models_list_lifecycle_filter(sdk):
    assert [m.id for m in sdk.models.list(lifecycle=["deprecated"])] == ["claude-sonnet-4-5"]
    assert list(sdk.models.list(lifecycle=["retired"])) == []
    assert len(list(sdk.models.list(lifecycle=["active", "deprecated", "retired"]))) == 10


def test_models_list_rejects_a_bad_limit(sdk):
    with pytest.raises(anthropic.BadRequestError):
        sdk.models.list(limit=0)


def test_models_retrieve_has_model_info_fields(sdk):
    info = sdk.models.retrieve("claude-opus-5-5")
    assert info.type == "model" and info.display_name == "Claude Opus 5.5"
    assert info.created_at.date().isoformat() == "2026-09-22"
    assert (info.lifecycle, info.line) == ("active", "opus")
    assert (info.max_input_tokens, info.max_tokens) == (1_000_000, 128_000)
    assert info.deprecated_at is None and info.retires_at is None
    types = info.capabilities.thinking.types
    assert types.adaptive.supported and not types.disabled.supported and not types.enabled.supported
    opus46 = sdk.models.retrieve("claude-opus-4-6").capabilities.effort
    assert opus46.max.supported and not opus46.xhigh.supported
    assert sdk.models.retrieve("claude-sonnet-4-5").retires_at.year == 2026


def test_models_retrieve_unknown_is_404(sdk):
    with pytest.raises(anthropic.NotFoundError) as caught:
        sdk.models.retrieve("claude-nope-1")
    assert caught.value.type == "not_found_error"


def test_count_tokens(sdk):
    counted = sdk.messages.count_tokens(
        model="claude-haiku-5-5", messages=[{"role": "user", "content": "count me please"}]
    )
    assert counted.input_tokens == MESSAGE_OVERHEAD + estimate("count me please")


def test_count_tokens_validates_like_messages(sdk):
    with pytest.raises(anthropic.NotFoundError):
        sdk.messages.count_tokens(
            model="claude-nope-1", messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(anthropic.BadRequestError):
        sdk.messages.count_tokens(
            model="claude-sonnet-5", messages=[{"role": "assistant", "content": "x"}]
        )
