"""What a run tells the person watching (Event), what it was asked (RunOptions), how it
ended (RunResult), and the failures it stops on."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from devloop.errors import CheckFailed
from devloop.money import exact_text


class StepFailed(CheckFailed):
    """A step or a gate failed (exit 1); the run's state is saved."""


class Stop(Exception):
    """--stop-after was reached; `number` is the last step finished."""

    def __init__(self, number: int) -> None:
        super().__init__(number)
        self.number = number


@dataclass
class Event:
    """One progress event. `kind`: start, step, note, warning, end."""

    kind: str
    slug: str
    step: int | None = None
    key: str | None = None
    status: str | None = None  # for kind "step": running, done, skipped, failed, ...
    worker: str | None = None
    model: str | None = None
    elapsed_s: float | None = None
    cost_usd: str | None = None  # what this run of the step cost
    total_usd: str | None = None  # the feature's spend so far
    message: str = ""
    artifact: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


Emit = Callable[[Event], None]


@dataclass
class RunOptions:
    budget_usd: Decimal | None = None
    stop_after: int | None = None
    allow_dirty: bool = False
    from_step: int | None = None


@dataclass
class RunResult:
    slug: str
    status: str  # done | stopped | already-done
    message: str
    feature_dir: Path


def event_usd(value: Decimal | None) -> str | None:
    """Money in an event: exact to the micro-dollar, as text (the JSON progress stream)."""
    return exact_text(value, 6)
