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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "directory",
    type=PathParam(file_okay=False),
    default=None,
    help="Run as if devloop was started in this directory.",
)
@click.version_option(package_name="devloop")
@click.pass_context
def cli(ctx: click.Context, directory: Path | None) -> None:
    """Drive one feature from spec to committed change through a routed plan, build and verify loop.

    Every model call is priced and logged next to its always-frontier baseline.
    """
    if directory is not None and not directory.is_dir():
        raise UsageError(f"-C {directory}: no such directory.")
    from pathlib import Path

    ctx.obj = {"start": (directory or Path.cwd()).resolve()}
