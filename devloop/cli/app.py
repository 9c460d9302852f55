"""The `devloop` command group, its shared options, and the repository's config.

Every command module in cli/ registers on `cli`; cli/main.py imports them all and maps
errors to exit codes. Heavy libraries (anthropic, git, rich) are imported inside the
commands that need them so `devloop --help`, `devloop routing`, `devloop cost` and the hooks
stay fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from devloop.cli.options import PathParam
from devloop.errors import UsageError

if TYPE_CHECKING:
    from pathlib import Path


def load_config(ctx: click.Context, unsandboxed: bool = False):
    """The repository's config (imported lazily: `--help` must not pay for it);
    `unsandboxed`: the --unsandboxed opt-out, applied to it."""
    from devloop import config as config_mod

    cfg = config_mod.load(ctx.obj["start"])
    if unsandboxed:
        from devloop import sandbox

        sandbox.opt_out(cfg)
    return cfg


DIRECTORY_HELP = "Run as if devloop was started in this directory."


def _start_dir(directory: Path, base: Path | None = None) -> Path:
    """-C DIR resolved (against `base`, an earlier -C, like git's), or a UsageError."""
    path = directory if base is None else base / directory
    if not path.is_dir():
        raise UsageError(f"-C {directory}: no such directory. Give an existing directory.")
    return path.resolve()


class OutputClosed(Exception):
    """stdout's reader went away (`devloop cost | head -1`). Not an OSError, so click's
    main does not swallow it into a silent exit 1; cli/main.py exits quietly with 141."""


class DevloopGroup(click.Group):
    """The group whose parsing (where --help prints) and invoking turn a closed stdout
    into OutputClosed."""

    def make_context(self, *args, **kwargs) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except BrokenPipeError as exc:
            raise OutputClosed() from exc

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise OutputClosed() from exc


@click.group(cls=DevloopGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-C", "directory", type=PathParam(file_okay=False), default=None, help=DIRECTORY_HELP)
@click.version_option(package_name="devloop")
@click.pass_context
def cli(ctx: click.Context, directory: Path | None) -> None:
    """Drive one feature from spec to committed change through a routed plan, build and verify loop.

    Every model call is priced and logged next to its always-frontier baseline.
    """
    from pathlib import Path

    ctx.obj = {"start": _start_dir(directory) if directory is not None else Path.cwd().resolve()}


def _after_subcommand(ctx: click.Context, _param: click.Parameter, value: Path | None) -> None:
    if value is not None:
        ctx.obj["start"] = _start_dir(value, ctx.obj["start"])


def add_directory_option(command: click.Command) -> None:
    """Give `command` (and every command under it) its own -C, so `devloop status -C DIR`
    works like `devloop -C DIR status`: the group's callback has set the start directory
    by the time a subcommand's options are parsed, and this one replaces it."""
    command.params.append(
        click.Option(
            ["-C", "subcommand_directory"],
            type=PathParam(file_okay=False),
            default=None,
            expose_value=False,
            callback=_after_subcommand,
            help=DIRECTORY_HELP,
        )
    )
    for sub in getattr(command, "commands", {}).values():
        add_directory_option(sub)
