"""The `devloop` command line: parses and renders; the work is done elsewhere.

Heavy libraries (anthropic, git, rich) are imported inside the commands that need them so
`devloop --help`, `devloop routing`, `devloop cost` and the hooks stay fast.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

from devloop.errors import EXIT_INTERRUPTED, DevloopError, UsageError


class StepType(click.ParamType):
    """A step given by number (1-15) or key (plan, review, ...)."""

    name = "STEP"

    def convert(self, value, param, ctx):
        from devloop.steps import resolve_step

        try:
            return resolve_step(value)
        except DevloopError as exc:
            self.fail(exc.message, param, ctx)


STEP = StepType()


def load_config(ctx: click.Context):
    """The repository's config (imported lazily: `--help` must not pay for it)."""
    from devloop import config as config_mod

    return config_mod.load(ctx.obj["start"])


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "-C",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Run as if devloop was started in this directory.",
)
@click.version_option(package_name="devloop")
@click.pass_context
def cli(ctx: click.Context, directory: Path | None) -> None:
    """Drive one feature from spec to committed change through a routed 15-step loop.

    Every model call is priced and logged next to its always-frontier baseline.
    """
    if directory is not None and not directory.is_dir():
        raise UsageError(f"-C {directory}: no such directory.")
    ctx.obj = {"start": (directory or Path.cwd()).resolve()}


# ------------------------------------------------------------------ init


@cli.command()
@click.option("--force", is_flag=True, help="Overwrite an existing devloop.toml and ROUTING.md.")
@click.pass_context
def init(ctx: click.Context, force: bool) -> None:
    """Write devloop.toml, ROUTING.md and ignore .devloop/ in this repository."""
    from devloop.project import init_repo

    for line in init_repo(ctx.obj["start"], force=force):
        click.echo(line)


# ---------------------------------------------------------------- routing


@cli.group(invoke_without_command=True)
@click.option("--markdown", is_flag=True, help="Print ROUTING.md for this config.")
@click.pass_context
def routing(ctx: click.Context, markdown: bool) -> None:
    """Show which worker runs each step, and why."""
    if ctx.invoked_subcommand is not None:
        return
    from devloop import routing as routing_mod

    cfg = load_config(ctx)
    if markdown:
        click.echo(routing_mod.render_markdown(cfg), nl=False)
        return
    from devloop.tables import print_table

    rows = [
        [str(r.step.number), r.step.key, r.step.phase, r.worker, r.model or "-", r.reason]
        for r in routing_mod.routes(cfg)
    ]
    print_table(["#", "step", "phase", "worker", "model", "why"], rows, title="Routing")


@routing.command("check")
@click.pass_context
def routing_check(ctx: click.Context) -> None:
    """Exit 1 when ROUTING.md no longer matches the config."""
    from devloop import routing as routing_mod
    from devloop.errors import CheckFailed

    cfg = load_config(ctx)
    path = cfg.root / routing_mod.ROUTING_DOC
    expected = routing_mod.render_markdown(cfg)
    if not path.is_file():
        raise CheckFailed(f"{path}: missing. Run `devloop routing --markdown > ROUTING.md`.")
    if path.read_text(encoding="utf-8", errors="replace") != expected:
        raise CheckFailed(
            f"{path}: out of date with the routing config. "
            "Run `devloop routing --markdown > ROUTING.md` and commit it."
        )
    click.echo(f"{path.name} matches the routing config.")


# ------------------------------------------------------------ entry point


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: map errors to the documented exit codes, never a traceback."""
    try:
        cli.main(args=argv, prog_name="devloop", standalone_mode=False)
    except DevloopError as exc:
        click.echo(f"devloop: error: {exc.message}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("devloop: interrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("devloop: interrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    sys.exit(0)
