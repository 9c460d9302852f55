"""What each Claude model accepts: a data-only table shared by the sim and the model layer.

Facts come from the API brief (shared/anthropic-api.md, mid-November 2026, SDK 2.10.0),
section by section: identity and limits from §1, efforts from §5, thinking types and forced
tool_choice from §4, minimum cacheable prefixes from §3. Where the brief says "not verified"
the row says so in a comment and uses the documented default, so one edit fixes it later.
Prices live in prices.toml, not here.
"""

from __future__ import annotations

from dataclasses import dataclass

EFFORTS: tuple[str, ...] = ("low", "medium", "high", "xhigh", "max")
THINKING_TYPES: tuple[str, ...] = ("adaptive", "enabled", "disabled", "between_tools")
LIFECYCLES: tuple[str, ...] = ("active", "deprecated", "retired")

ALL_EFFORTS = frozenset(EFFORTS)
NO_XHIGH = frozenset({"low", "medium", "high", "max"})

# Used where the brief has no verified minimum cacheable prefix: the most common documented
# value (Sonnet 5, Sonnet 4.6, Opus 4.8).
DEFAULT_MIN_CACHE_TOKENS = 1024

_1M = 1_000_000
_128K = 128_000


@dataclass(frozen=True)
class ModelCapability:
    id: str
    display_name: str
    created_at: str  # release date, ISO "YYYY-MM-DD"
    lifecycle: str  # "active" | "deprecated" | "retired"; "legacy" models are still active
    line: str | None  # "haiku" | "sonnet" | "opus" | "fable" | "mythos" | None
    max_input_tokens: int
    max_output_tokens: int
    default_effort: str | None  # None: the model takes no effort setting
    # Efforts the API accepts. None means the brief could not verify the set: callers should
    # read the live Models API (`capabilities.effort`); the sim accepts every level.
    efforts: frozenset[str] | None
    thinking_types: frozenset[str]  # `thinking.type` values accepted; the others get a 400
    rejects_forced_tool_choice: bool  # tool_choice any/tool -> 400
    min_cache_tokens: int  # shorter cacheable prefixes are silently not cached
    # Turning thinking off (`disabled` / `between_tools`) is allowed only up to this effort.
    thinking_off_max_effort: str | None = None
    deprecated_at: str | None = None
    retires_at: str | None = None

    def accepts_effort(self, effort: str) -> bool:
        return self.efforts is None or effort in self.efforts


_ADAPTIVE_ONLY = frozenset({"adaptive"})
_ADAPTIVE_OR_OFF = frozenset({"adaptive", "disabled"})
_ALL_THINKING = frozenset({"adaptive", "enabled", "disabled"})

MODELS: dict[str, ModelCapability] = {
    m.id: m
    for m in (
        ModelCapability(
            id="claude-fable-5-2",
            display_name="Claude Fable 5.2",
            created_at="2026-11-09",
            lifecycle="active",
            line="fable",
            max_input_tokens=_1M,
            max_output_tokens=_128K,
            default_effort="high",
            efforts=None,  # brief §5: read capabilities.effort
            thinking_types=_ADAPTIVE_ONLY,  # "adaptive, always on"
            rejects_forced_tool_choice=False,  # not verified for 5.2 (verified for 5.1)
            min_cache_tokens=DEFAULT_MIN_CACHE_TOKENS,  # not verified
        ),
        ModelCapability(
            id="claude-fable-5-1",
            display_name="Claude Fable 5.1",
            created_at="2026-09-01",
            lifecycle="active",  # legacy status after 5.2 not verified
            line="fable",
            max_input_tokens=_1M,
            max_output_tokens=_128K,
            default_effort="high",
            efforts=None,  # brief §5: read capabilities.effort
            thinking_types=_ADAPTIVE_ONLY,
            rejects_forced_tool_choice=True,
            min_cache_tokens=DEFAULT_MIN_CACHE_TOKENS,  # not verified
        ),
        ModelCapability(
            id="claude-opus-5-5",
            display_name="Claude Opus 5.5",
            created_at="2026-09-22",
            lifecycle="active",
            line="opus",
            max_input_tokens=_1M,
            max_output_tokens=_128K,
            default_effort="medium",
            efforts=None,  # brief §5: read capabilities.effort
            thinking_types=_ADAPTIVE_ONLY,  # disabled and enabled are 400s
            rejects_forced_tool_choice=True,
            min_cache_tokens=DEFAULT_MIN_CACHE_TOKENS,  # not verified
        ),
        ModelCapability(
            id="claude-opus-5",
            display_name="Claude Opus 5",
            created_at="2026-07-24",
            lifecycle="active",  # legacy; retirement not before 2027-07-24
            line="opus",
            max_input_tokens=_1M,
            max_output_tokens=_128K,
            default_effort="high",
            efforts=ALL_EFFORTS,
            thinking_types=_ADAPTIVE_OR_OFF,
            rejects_forced_tool_choice=False,
            min_cache_tokens=512,
            thinking_off_max_effort="high",  # `disabled` only at effort <= high
        ),
        ModelCapability(
            id="claude-sonnet-5-5",
            display_name="Claude Sonnet 5.5",
            created_at="2026-09-28",
            lifecycle="active",
            line="sonnet",
            max_input_tokens=_1M,
            max_output_tokens=_128K,
            default_effort="high",
            efforts=ALL_EFFORTS,
            # `between_tools` is its "off" switch; `disabled` is a 400.
            thinking_types=frozenset({"adaptive", "between_tools"}),
            rejects_forced_tool_choice=True,
            min_cache_tokens=DEFAULT_MIN_CACHE_TOKENS,  # not verified
            thinking_off_max_effort="high",  # between_tools: 400 at xhigh/max
        ),
        ModelCapability(
            id="claude-sonnet-5",
            display_name="Claude Sonnet 5",
            created_at="2026-06-30",
            lifecycle="active",  # legacy
            line="sonnet",
            max_input_tokens=_1M,
            max_output_tokens=_128K,
            default_effort="high",
            efforts=ALL_EFFORTS,
            thinking_types=_ADAPTIVE_OR_OFF,
            rejects_forced_tool_choice=False,
            min_cache_tokens=1024,
        ),
        ModelCapability(
            id="claude-haiku-5-5",
            display_name="Claude Haiku 5.5",
            created_at="2026-10-07",
            lifecycle="active",
            line="haiku",
            max_input_tokens=_1M,
            max_output_tokens=_128K,
            default_effort="medium",
            efforts=ALL_EFFORTS,  # third-party source only
            thinking_types=_ADAPTIVE_OR_OFF,
            rejects_forced_tool_choice=False,  # not verified
            min_cache_tokens=512,  # third-party source only
        ),
        ModelCapability(
            id="claude-opus-4-6",
            display_name="Claude Opus 4.6",
            created_at="2026-02-05",
            lifecycle="active",  # legacy
            line="opus",
            max_input_tokens=_1M,
            max_output_tokens=_128K,
            default_effort="high",
            efforts=NO_XHIGH,
            thinking_types=_ALL_THINKING,  # `enabled` (extended) is deprecated but accepted
            rejects_forced_tool_choice=False,
            min_cache_tokens=4096,
        ),
        ModelCapability(
            id="claude-sonnet-4-6",
            display_name="Claude Sonnet 4.6",
            created_at="2026-02-17",
            lifecycle="active",  # legacy
            line="sonnet",
            max_input_tokens=_1M,
            max_output_tokens=_128K,
            default_effort="high",
            efforts=NO_XHIGH,
            thinking_types=_ALL_THINKING,
            rejects_forced_tool_choice=False,
            min_cache_tokens=1024,
        ),
        ModelCapability(
            id="claude-sonnet-4-5",
            display_name="Claude Sonnet 4.5",
            created_at="2025-09-29",  # from its dated id claude-sonnet-4-5-20250929
            lifecycle="deprecated",
            line="sonnet",
            max_input_tokens=200_000,
            max_output_tokens=64_000,  # not in the brief; the model's published limit
            default_effort=None,  # predates effort
            efforts=frozenset(),
            thinking_types=frozenset({"enabled", "disabled"}),  # predates adaptive
            rejects_forced_tool_choice=False,
            min_cache_tokens=1024,
            deprecated_at=None,  # date not in the brief
            retires_at="2026-11-30",
        ),
    )
}


def capability(model: str) -> ModelCapability | None:
    """The capability row for an exact model id, or None for a model devloop does not know."""
    return MODELS.get(model)
