"""Scenarios: what the sim replies, step by step, read from TOML, JSON or a Python dict.

A scenario maps a step key to an ordered list of replies. A request's step is its
``X-Devloop-Step`` header (``default`` when the header is absent); each request to
``POST /v1/messages`` consumes the next reply of its step; a step missing from the scenario
falls back to the ``"*"`` list if there is one. A request the scenario does not cover (no list,
or the list is used up) gets a 400 ``invalid_request_error`` naming the step, so gaps are loud.
count_tokens, the Models API and ``max_tokens: 0`` cache pre-warming consume no reply.

    name = "login feature, happy path"      # optional

    [[steps.plan]]                          # one reply for the first `plan` request
    text = "## Plan ..."

    [[steps.validate-requirements]]         # structured output: the text is this JSON
    json = { coverage = [], findings = [], verdict = "pass" }

    [[steps.implement]]                     # several blocks, in order
    thinking = "Look first."                # optional thinking block, always first
    text = "I'll look."
    tool_use = [{ name = "bash", input = { command = "ls" } }]

    [[steps.implement]]                     # 529 twice, then the next reply
    status = 529
    retry_after = 0.01
    times = 2

Content keys (any mix; emitted as thinking, text/json, tool_use):
  text (str) | json (any JSON value, sent as the text block's JSON string) |
  thinking (str) | tool_use ({name, input, id?} or a list of them) |
  blocks (explicit list of {type = "text"|"thinking"|"redacted_thinking"|"tool_use", ...},
  instead of the shorthands) | empty = true (no content at all; still billed, end_turn).
  A plain string in the list is shorthand for ``{text = "..."}``.
Stop and serving:
  stop_reason (override; otherwise tool_use when a tool_use block exists, else end_turn;
  a reply longer than the request's max_tokens is cut and stops with max_tokens) |
  refusal (category string, or {category, explanation}: stop_reason refusal + stop_details) |
  model (the served model, when it should differ from the requested one).
Faults:
  status (HTTP error: 429, 500, 529, ...) with optional error_type, message, retry_after
  (seconds, fractions allowed) and should_retry (sets x-should-retry) |
  stream_error (error type string or {type, message}: an ``event: error`` after the first
  content delta; on a non-streaming request the matching HTTP error) |
  truncate = true (the connection is closed mid-stream, or mid-body when not streaming) |
  delay (seconds to wait before answering; combine with any reply). A streamed answer
  begins at once and takes this long to generate after its first event.
Repetition: times = N uses the same reply for N requests.
"""

from __future__ import annotations

import json
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devloop.errors import UsageError

DEFAULT_STEP = "default"
WILDCARD_STEP = "*"

BLOCK_TYPES = ("text", "thinking", "redacted_thinking", "tool_use")
STOP_REASONS = (
    "end_turn",
    "max_tokens",
    "stop_sequence",
    "tool_use",
    "pause_turn",
    "refusal",
    "model_context_window_exceeded",
)
REFUSAL_CATEGORIES = ("cyber", "bio", "frontier_llm", "reasoning_extraction", "general_harms")

# The API's error type for each status (brief §6); a scenario may override it.
ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    409: "conflict_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
STATUS_FOR_TYPE = {t: s for s, t in ERROR_TYPES.items() if s != 408}

DEFAULT_MESSAGES = {
    "overloaded_error": "Overloaded",
    "rate_limit_error": "Number of request tokens has exceeded your per-minute rate limit.",
    "api_error": "Internal server error",
    "timeout_error": "Request timed out",
}

_CONTENT_KEYS = {"text", "json", "thinking", "tool_use", "blocks", "empty"}
_FAULT_KEYS = {"status", "error_type", "message", "retry_after", "should_retry"}
_OTHER_KEYS = {"stop_reason", "refusal", "model", "stream_error", "truncate", "delay", "times"}
_REPLY_KEYS = _CONTENT_KEYS | _FAULT_KEYS | _OTHER_KEYS


class ScenarioError(UsageError):
    """A scenario file or dict that does not follow the documented format."""


@dataclass(frozen=True)
class Block:
    """One content block of a scripted reply."""

    type: str  # "text" | "thinking" | "redacted_thinking" | "tool_use"
    text: str = ""  # the text, the thinking, or the redacted data
    name: str = ""  # tool_use only
    input: dict = field(default_factory=dict)  # tool_use only
    id: str | None = None  # tool_use only; the sim makes one when absent


@dataclass(frozen=True)
class Fault:
    """An API error: an HTTP status, or the body of a mid-stream ``event: error``."""

    status: int
    error_type: str
    message: str
    retry_after: float | None = None
    should_retry: bool | None = None


@dataclass(frozen=True)
class Reply:
    blocks: tuple[Block, ...] = ()
    stop_reason: str | None = None
    refusal: dict | None = None  # stop_details of a refusal
    model: str | None = None
    delay: float = 0.0
    error: Fault | None = None  # answer with this HTTP error instead of a message
    stream_error: Fault | None = None
    truncate: bool = False


@dataclass(frozen=True)
class Scenario:
    steps: dict[str, tuple[Reply, ...]]
    name: str = ""
    source: str = "<dict>"

    @classmethod
    def from_dict(cls, data: dict, *, source: str = "<dict>") -> Scenario:
        return parse_scenario(data, source=source)


BUNDLED_DIR = Path(__file__).resolve().parent / "scenarios"
SCENARIO_SUFFIXES = (".toml", ".json")


def bundled_scenarios() -> dict[str, Path]:
    """The scenarios shipped with devloop, by name (the file name without its suffix)."""
    files = sorted(BUNDLED_DIR.iterdir()) if BUNDLED_DIR.is_dir() else []
    return {p.stem: p for p in files if p.suffix in SCENARIO_SUFFIXES}


def find_scenario(name: str, start: Path) -> Path:
    """What `--scenario NAME` means: a scenario file (relative to `start`), else the bundled
    scenario of that name; a ScenarioError naming both when it is neither."""
    path = Path(name).expanduser()
    path = path if path.is_absolute() else start / path
    if path.is_file():
        return path
    bundled = bundled_scenarios()
    if name in bundled:
        return bundled[name]
    from devloop.errors import did_you_mean

    what = "is a directory" if path.is_dir() else "is no file"
    raise ScenarioError(
        f"--scenario {name}: {what} ({path}) and no bundled scenario has that name."
        f"{did_you_mean(name, bundled)} Give a scenario file (TOML or JSON) or a bundled name: "
        f"{', '.join(bundled) or '(none installed)'}."
    )


def load_scenario(path: str | Path) -> Scenario:
    """Read a scenario file: `.json` as JSON, anything else as TOML."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"scenario {path}: cannot read it ({exc.strerror}).") from exc
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(raw)
        else:
            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ScenarioError(f"scenario {path}: not valid {_format_name(path)}: {exc}") from exc
    return parse_scenario(data, source=str(path))


def _format_name(path: Path) -> str:
    return "JSON" if path.suffix.lower() == ".json" else "TOML"


def parse_scenario(data: Any, *, source: str = "<dict>") -> Scenario:
    if not isinstance(data, dict):
        raise ScenarioError(f"scenario {source}: the top level must be a table/object.")
    unknown = set(data) - {"name", "description", "steps"}
    if unknown:
        raise ScenarioError(
            f"scenario {source}: unknown top-level key(s) {sorted(unknown)}; "
            "expected `steps` (and optional `name`, `description`)."
        )
    steps = data.get("steps")
    if not isinstance(steps, dict) or not steps:
        raise ScenarioError(
            f"scenario {source}: needs a `steps` table mapping step keys to lists of replies."
        )
    parsed: dict[str, tuple[Reply, ...]] = {}
    for step, replies in steps.items():
        if not isinstance(replies, list):
            raise ScenarioError(f"scenario {source}: steps.{step} must be a list of replies.")
        out: list[Reply] = []
        for i, raw in enumerate(replies):
            where = f"scenario {source}: steps.{step}[{i}]"
            reply, times = _parse_reply(raw, where)
            out.extend([reply] * times)
        parsed[str(step)] = tuple(out)
    return Scenario(parsed, name=str(data.get("name", "")), source=source)


def _parse_reply(raw: Any, where: str) -> tuple[Reply, int]:
    if isinstance(raw, str):
        raw = {"text": raw}
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: a reply must be a table/object or a string.")
    unknown = set(raw) - _REPLY_KEYS
    if unknown:
        raise ScenarioError(
            f"{where}: unknown key(s) {sorted(unknown)}; known keys: {sorted(_REPLY_KEYS)}."
        )
    times = raw.get("times", 1)
    if not isinstance(times, int) or isinstance(times, bool) or times < 1:
        raise ScenarioError(f"{where}: `times` must be a whole number >= 1.")
    delay = _number(raw.get("delay", 0), where, "delay")

    if "status" in raw:
        extra = set(raw) & (_CONTENT_KEYS | {"stop_reason", "refusal", "stream_error", "truncate"})
        if extra:
            raise ScenarioError(f"{where}: an HTTP error reply cannot also have {sorted(extra)}.")
        return Reply(delay=delay, error=_parse_fault(raw, where)), times

    stream_error = None
    if "stream_error" in raw:
        stream_error = _parse_stream_error(raw["stream_error"], where)
    refusal = _parse_refusal(raw["refusal"], where) if "refusal" in raw else None
    stop_reason = raw.get("stop_reason")
    if stop_reason is not None and stop_reason not in STOP_REASONS:
        # A stop reason the API may add one day: allowed when spelled like one (x_future),
        # so clients can be tested on it; a typo of a known one is still an error.
        import difflib
        import re

        close = difflib.get_close_matches(str(stop_reason), STOP_REASONS, n=1, cutoff=0.75)
        if close or not re.fullmatch(r"[a-z][a-z_]*", str(stop_reason)):
            raise ScenarioError(
                f"{where}: stop_reason must be one of {list(STOP_REASONS)}"
                + (f" (did you mean {close[0]!r}?)" if close else "")
                + ", or a new lower_case name to test an unknown one."
            )
    model = raw.get("model")
    if model is not None and not isinstance(model, str):
        raise ScenarioError(f"{where}: `model` must be a model id string.")
    blocks = _parse_content(raw, where, allow_empty=refusal is not None)
    reply = Reply(
        blocks=blocks,
        stop_reason=stop_reason,
        refusal=refusal,
        model=model,
        delay=delay,
        stream_error=stream_error,
        truncate=bool(raw.get("truncate", False)),
    )
    return reply, times


def _parse_content(raw: dict, where: str, *, allow_empty: bool) -> tuple[Block, ...]:
    if raw.get("empty"):
        given = set(raw) & (_CONTENT_KEYS - {"empty"})
        if given:
            raise ScenarioError(f"{where}: `empty = true` cannot come with {sorted(given)}.")
        return ()
    if "blocks" in raw:
        given = set(raw) & (_CONTENT_KEYS - {"blocks", "empty"})
        if given:
            raise ScenarioError(f"{where}: use either `blocks` or {sorted(given)}, not both.")
        if not isinstance(raw["blocks"], list):
            raise ScenarioError(f"{where}: `blocks` must be a list.")
        return tuple(_parse_block(b, f"{where}.blocks[{i}]") for i, b in enumerate(raw["blocks"]))
    blocks: list[Block] = []
    if "thinking" in raw:
        blocks.append(Block("thinking", text=_string(raw["thinking"], where, "thinking")))
    if "text" in raw and "json" in raw:
        raise ScenarioError(f"{where}: give `text` or `json`, not both.")
    if "text" in raw:
        blocks.append(Block("text", text=_string(raw["text"], where, "text")))
    if "json" in raw:
        blocks.append(Block("text", text=json.dumps(raw["json"], ensure_ascii=False)))
    if "tool_use" in raw:
        calls = raw["tool_use"] if isinstance(raw["tool_use"], list) else [raw["tool_use"]]
        for i, call in enumerate(calls):
            blocks.append(_parse_tool_use(call, f"{where}.tool_use[{i}]"))
    if not blocks and not allow_empty:
        raise ScenarioError(
            f"{where}: a reply needs content (text, json, thinking, tool_use or blocks), "
            "`empty = true`, or an HTTP `status`."
        )
    return tuple(blocks)


def _parse_block(raw: Any, where: str) -> Block:
    if not isinstance(raw, dict) or raw.get("type") not in BLOCK_TYPES:
        raise ScenarioError(f"{where}: a block needs `type` in {list(BLOCK_TYPES)}.")
    kind = raw["type"]
    if kind == "tool_use":
        return _parse_tool_use({k: v for k, v in raw.items() if k != "type"}, where)
    key = {"text": "text", "thinking": "thinking", "redacted_thinking": "data"}[kind]
    return Block(kind, text=_string(raw.get(key, ""), where, key))


def _parse_tool_use(raw: Any, where: str) -> Block:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str) or not raw["name"]:
        raise ScenarioError(f"{where}: a tool_use needs a `name` (and an `input` table).")
    tool_input = raw.get("input", {})
    if not isinstance(tool_input, dict):
        raise ScenarioError(f"{where}: tool_use `input` must be a table/object.")
    unknown = set(raw) - {"name", "input", "id"}
    if unknown:
        raise ScenarioError(f"{where}: unknown tool_use key(s) {sorted(unknown)}.")
    return Block("tool_use", name=raw["name"], input=tool_input, id=raw.get("id"))


def _parse_fault(raw: dict, where: str) -> Fault:
    status = raw["status"]
    if not isinstance(status, int) or isinstance(status, bool) or not 400 <= status <= 599:
        raise ScenarioError(f"{where}: `status` must be an HTTP error status (400-599).")
    error_type = raw.get("error_type") or ERROR_TYPES.get(status, "api_error")
    retry_after = raw.get("retry_after")
    if retry_after is not None:
        retry_after = _number(retry_after, where, "retry_after")
    should_retry = raw.get("should_retry")
    if should_retry is not None and not isinstance(should_retry, bool):
        raise ScenarioError(f"{where}: `should_retry` must be true or false.")
    message = raw.get("message") or DEFAULT_MESSAGES.get(error_type, f"Simulated {error_type}")
    return Fault(status, str(error_type), str(message), retry_after, should_retry)


def _parse_stream_error(raw: Any, where: str) -> Fault:
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise ScenarioError(f"{where}: `stream_error` is an error type or {{type, message}}.")
    error_type = raw["type"]
    message = raw.get("message") or DEFAULT_MESSAGES.get(error_type, f"Simulated {error_type}")
    return Fault(STATUS_FOR_TYPE.get(error_type, 500), error_type, str(message))


def _parse_refusal(raw: Any, where: str) -> dict:
    if raw is None or isinstance(raw, str):
        raw = {"category": raw}
    if not isinstance(raw, dict):
        raise ScenarioError(f"{where}: `refusal` is a category or {{category, explanation}}.")
    category = raw.get("category")
    if category is not None and category not in REFUSAL_CATEGORIES:
        raise ScenarioError(f"{where}: refusal category must be one of {REFUSAL_CATEGORIES}.")
    return {"type": "refusal", "category": category, "explanation": raw.get("explanation")}


def _string(value: Any, where: str, key: str) -> str:
    if not isinstance(value, str):
        raise ScenarioError(f"{where}: `{key}` must be a string.")
    return value


def _number(value: Any, where: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ScenarioError(f"{where}: `{key}` must be a number of seconds >= 0.")
    return float(value)


class ScenarioGap(Exception):
    """A request the scenario has no reply for."""


class ReplyQueue:
    """Hands out a scenario's replies in order, one per request, across threads."""

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        self._lock = threading.Lock()
        self._used: dict[str, int] = {}

    def next(self, step: str | None) -> Reply:
        key = step or DEFAULT_STEP
        if key not in self.scenario.steps and WILDCARD_STEP in self.scenario.steps:
            key = WILDCARD_STEP
        replies = self.scenario.steps.get(key)
        if replies is None:
            known = ", ".join(sorted(self.scenario.steps)) or "none"
            raise ScenarioGap(
                f"devloop sim: scenario {self.scenario.source} has no replies for step "
                f"{step or DEFAULT_STEP!r} (X-Devloop-Step header; steps it has: {known})."
            )
        with self._lock:
            used = self._used.get(key, 0)
            if used >= len(replies):
                raise ScenarioGap(
                    f"devloop sim: scenario {self.scenario.source} step {key!r} is used up: "
                    f"all {len(replies)} of its replies were consumed by earlier requests."
                )
            self._used[key] = used + 1
        return replies[used]

    def unused(self) -> dict[str, int]:
        """Replies not consumed yet, per step (steps with none left are omitted)."""
        with self._lock:
            left = {k: len(v) - self._used.get(k, 0) for k, v in self.scenario.steps.items()}
        return {k: n for k, n in left.items() if n > 0}
