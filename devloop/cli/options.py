"""Option types and parsers shared by the commands: steps, paths, money, stop points."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from devloop.errors import DevloopError, UnknownStepError, UsageError

if TYPE_CHECKING:
    from decimal import Decimal


class StepType(click.ParamType):
    """A step given by its number or its key (see `devloop routing`)."""

    name = "STEP"

    def convert(self, value, param, ctx):
        from devloop.steps import resolve_step

        try:
            return resolve_step(value)
        except DevloopError as exc:
            self.fail(exc.message, param, ctx)


STEP = StepType()


class PathParam(click.ParamType):
    """A path argument, converted to a pathlib.Path when used. Not click.Path: building one
    looks up gettext translations, and pathlib's import costs too; with several of them at
    import time, `devloop --help` paid about 15 ms for paths it never reads."""

    name = "path"

    def __init__(self, *, file_okay: bool = True, dir_okay: bool = True) -> None:
        self.file_okay, self.dir_okay = file_okay, dir_okay

    def convert(self, value, param, ctx):
        from pathlib import Path

        path = Path(value)
        if not self.dir_okay and path.is_dir():
            self.fail(f"'{value}' is a directory; give a file.", param, ctx)
        if not self.file_okay and path.exists() and not path.is_dir():
            self.fail(f"'{value}' is a file; give a directory.", param, ctx)
        return path


def parse_budget(text: str | None) -> Decimal | None:
    """--budget USD: an exact amount, or None when not given."""
    if text is None:
        return None
    from devloop.money import parse_usd

    return parse_usd(text, "--budget")


def parse_stop_after(text: str | None) -> int | None:
    """--stop-after: a phase (its last step), a step number or a key; None when not given."""
    if text is None:
        return None
    from devloop.steps import PHASES, stop_point

    try:
        return stop_point(text).number
    except UnknownStepError as exc:
        raise UsageError(
            f"--stop-after {text}: {exc.message} Phases: {', '.join(PHASES)}."
        ) from None


def unsandboxed_option(whose: str = "the build agent's commands and the tests"):
    """--unsandboxed: run `whose` commands without the OS sandbox (warned and recorded)."""
    return click.option(
        "--unsandboxed",
        is_flag=True,
        help=f"Run {whose} without the OS sandbox (warned and recorded).",
    )
