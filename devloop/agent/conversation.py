"""One piece of build-agent work as conversations: attempts, limits and escalation.

A piece of work (a task of step 8, the findings of 11, the failure of 13, the docs of 14)
runs like this:

- A conversation on the routed tier: the opening user message, then model turns. Every
  tool_use of a reply runs in order and all the results go back in one user message.
  The model is done when it answers without a tool_use; devloop then runs the checks.
- An attempt ends when the model is done (checks pass: success; fail: a failed attempt), or
  early, as failed, at [agent] max_turns model calls, at [agent] max_tool_calls tool calls,
  or when the same tool call (name and input) fails twice in a row.
- The next attempt continues the same conversation with one user message saying what
  failed (tool results still owed go first), up to [agent] attempts.
- Then, with [agent] escalate, a fresh conversation on the frontier tier opens with the
  work, the current diff and the failure log, and gets as many attempts. Its calls carry
  `escalated_from` = the last call of the routed tier. A conversation never changes model.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from devloop.agent.contract import StepContext
from devloop.agent.tools.workspace import ToolResult
from devloop.agent.worktree import CONTINUE
from devloop.config import AgentConfig
from devloop.model import TruncatedReplyError
from devloop.steps import ESCALATION_EFFORT

FRONTIER = "frontier"


Blocks = list[dict[str, Any]]
RunTool = Callable[[str, Any], ToolResult]


def text_block(text: str) -> dict[str, Any]:
    return {"type": "text", "text": text}


def cached_block(text: str) -> dict[str, Any]:
    """A text block with a cache breakpoint after it: the end of a part that several
    conversations open with (build_params adds at most two more: system, last turn)."""
    return {"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}


@dataclass
class Work:
    """What one piece of work needs. `opening` builds the first user message's blocks at
    the moment a conversation starts (so file contents are current); `escalation` builds
    the frontier's opening from the failure log; `check` runs devloop's checks and returns
    None when they pass, else the failure text for the model."""

    label: str  # for progress notes: "T1", "remediation", ...
    opening: Callable[[], Blocks]
    escalation: Callable[[list[str]], Blocks]
    check: Callable[[], str | None]
    tools: list[dict[str, Any]]
    run_tool: RunTool
    # What to say after a failure, besides the failure itself (worktree.Checks.advice).
    advice: Callable[[str], str] = lambda failure: CONTINUE
    # When set, the last turn [agent] max_turns allows goes with this text and no tool may
    # be called (tool_choice none): the work ends with an answer instead of at the limit.
    last_turn: str = ""


@dataclass
class WorkResult:
    ok: bool = False
    attempts: int = 0
    turns: int = 0
    tool_calls: int = 0
    tier: str | None = None  # the tier whose attempt passed
    escalated: bool = False
    first_attempt_pass: bool = False
    calls: list[int] = field(default_factory=list)  # ledger call ids, in order
    summary: str = ""  # the model's final text of the passing attempt
    failure: str = ""  # what failed last, when not ok

    def record(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Attempt:
    done: bool  # the model answered without a tool call
    text: str = ""  # its final text
    reason: str = ""  # why the attempt ended early
    owed: Blocks = field(default_factory=list)  # tool results the next user message opens with


def run_work(ctx: StepContext, work: Work, limits: AgentConfig) -> WorkResult:
    """Run `work` to success or until every attempt on every tier has failed."""
    result = WorkResult()
    failures: list[str] = []
    tiers = [ctx.tier]
    if limits.escalate and ctx.tier != FRONTIER:
        tiers.append(FRONTIER)
    for tier in tiers:
        escalated_from = None
        if tier != tiers[0]:
            result.escalated = True
            escalated_from = result.calls[-1] if result.calls else None
            ctx.note(f"{work.label}: escalating to the {tier} tier, in a fresh conversation")
            opening = work.escalation(list(failures))
        else:
            opening = work.opening()
        messages: list[dict[str, Any]] = [{"role": "user", "content": opening}]
        owed: Blocks = []
        for attempt in range(1, limits.attempts + 1):
            result.attempts += 1
            if attempt > 1:  # same conversation: what failed goes back to the model
                retry = f"{failures[-1]}\n\n{work.advice(failures[-1])}"
                messages.append({"role": "user", "content": [*owed, text_block(retry)]})
            outcome = _attempt(ctx, work, messages, tier, escalated_from, limits, result)
            owed = outcome.owed
            if outcome.done:
                failure = work.check()
                if failure is None:
                    result.ok, result.tier, result.summary = True, tier, outcome.text.strip()
                    result.first_attempt_pass = result.attempts == 1
                    return result
                failures.append(f"devloop ran the checks and they failed:\n\n{failure}")
            else:
                failures.append(outcome.reason)
            ctx.note(f"{work.label}: attempt {attempt} on the {tier} tier failed")
    result.failure = failures[-1] if failures else "no attempt was made"
    return result


def _attempt(
    ctx: StepContext,
    work: Work,
    messages: list[dict[str, Any]],
    tier: str,
    escalated_from: int | None,
    limits: AgentConfig,
    result: WorkResult,
) -> _Attempt:
    """Model turns until the model is done or a limit ends the attempt. `messages` grows."""
    turns = tool_calls = 0
    last_failed: str | None = None  # the previous call, when it failed
    room: int | None = None  # max_tokens, once a turn was cut off and is given more
    last = work.last_turn and limits.max_turns <= 1  # the only turn is the last one
    choice: dict[str, Any] | None = {"type": "none"} if last else None  # a work's last turn
    while True:
        try:
            reply = ctx.call(
                ctx.request(messages, tools=work.tools, max_tokens=room, tool_choice=choice),
                tier=tier,
                escalated_from=escalated_from,
                effort=ESCALATION_EFFORT if escalated_from is not None else None,
            )
        except TruncatedReplyError:
            if room is not None:
                raise  # cut off again with twice the room: a real problem, exit 4
            # Thinking counts against max_tokens: the same turn, once, with twice the room.
            room = min(ctx.max_tokens * 2, MAX_TURN_TOKENS)
            ctx.note(f"{work.label}: a turn was cut off at max_tokens; sent again with {room:,}")
            continue
        turns += 1
        result.turns += 1
        result.calls.append(reply.call_id)
        messages.append(reply.assistant_message())
        uses = reply.tool_uses
        if not uses:
            return _Attempt(True, text=reply.text)
        results: Blocks = []
        stop = ""
        for use in uses:
            if not stop and tool_calls >= limits.max_tool_calls:
                stop = (
                    f"This attempt used its {limits.max_tool_calls} tool calls ([agent] "
                    "max_tool_calls) without finishing, so devloop did not run the checks."
                    f"{_FINISH}"
                )
            if stop:  # every tool_use still gets its result, as the API requires
                results.append(ToolResult(_NOT_RUN, is_error=True).as_block(use["id"]))
                continue
            done = work.run_tool(use["name"], use.get("input"))
            tool_calls += 1
            result.tool_calls += 1
            results.append(done.as_block(use["id"]))
            signature = json.dumps([use["name"], use.get("input")], sort_keys=True)
            if done.is_error and signature == last_failed:
                stop = (
                    f"The same {use['name']} call failed twice in a row, so devloop ended the "
                    "attempt. Repeating it will not help: read the error, look at the file "
                    "again, and change the call or take another approach."
                )
            last_failed = signature if done.is_error else None
        if stop:
            return _Attempt(False, reason=stop, owed=results)
        if turns >= limits.max_turns:
            reason = (
                f"This attempt used its {limits.max_turns} model turns ([agent] max_turns) "
                f"without finishing, so devloop did not run the checks.{_FINISH}"
            )
            return _Attempt(False, reason=reason, owed=results)
        if work.last_turn and turns == limits.max_turns - 1:
            choice = {"type": "none"}
            results = [*results, text_block(work.last_turn)]
        messages.append({"role": "user", "content": results})


MAX_TURN_TOKENS = 64_000  # the most room a cut-off agent turn is given on its retry
_NOT_RUN = "Not run: the attempt ended before this call."
_FINISH = (
    " Finish in fewer steps: make the remaining edits, run the relevant tests once, then "
    "reply without a tool call."
)
