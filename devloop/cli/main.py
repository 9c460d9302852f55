"""The `devloop` command line: parses and renders; the work is done elsewhere.

The command group and its config loading are app.py's; each command family is a module
(setup, routes, cost, checks, feature, ab, simcmd), imported here to register. `main` maps
errors to the documented exit codes; the hook fast path (fast.py) shares them.
"""

from __future__ import annotations

import sys

import click

from devloop.cli import (  # noqa: F401 (register the commands)
    ab,
    checks,
    cost,
    evalcmd,
    feature,
    routes,
    setup,
    simcmd,
)
from devloop.cli.app import cli
from devloop.errors import EXIT_INTERRUPTED, DevloopError

__all__ = ["cli", "main"]


def main(argv: list[str] | None = None) -> None:
    """Console-script entry: map errors to the documented exit codes, never a traceback."""
    from devloop.cli import helpcache

    if (sys.argv[1:] if argv is None else argv) in helpcache.HELP_ARGS:
        _print_help(helpcache)
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


def _print_help(helpcache) -> None:
    """`devloop --help`, as click's own option prints it, kept for the next time."""
    with cli.make_context("devloop", [], resilient_parsing=True) as ctx:
        text = ctx.get_help() + "\n"
    click.echo(text, nl=False)
    helpcache.store(text)
    sys.exit(0)
